"""The JSON Lines reader: the block-scanning reader keeps the line-by-line semantics exactly, and a
bad line deep in a big file is named by its line number."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import InputError
from shared.sources import json_lines, raw_prefilter
from shared.sources.fixture_files import Counter, check_columns
from shared.sources.fixtures import FixtureSource, read_records
from shared.sources.json_lines import _json_reason
from shared.sources.raw_prefilter import RawFilter
from tests.sources.test_fixtures import ALL, SIGNIN, SUCCESS, write_tables


def _error(directory: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        FixtureSource(directory, **kwargs).read(ALL)
    return str(caught.value)


def _reference_records(path: Path, table: str, line_filter: RawFilter | None) -> tuple[list[tuple[str, dict]], int]:
    """The reader as it was, one line at a time: the semantics the block scanner must keep."""
    records, rows, first = [], 0, True
    with path.open("rb") as stream:
        for number, line in enumerate(stream, 1):
            stripped = line.strip()
            if not stripped:
                continue
            rows += 1
            if not first and line_filter is not None and not line_filter.may_match(stripped):
                if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
                    raise InputError(f"{path}: line {number}: not a JSON object")
                continue
            try:
                record = json.loads(stripped)
            except ValueError as error:
                raise InputError(f"{path}: line {number}: invalid JSON: {_json_reason(error)}") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
            if first:
                check_columns(path, table, record)
                first = False
            records.append((f"line {number}", record))
    return records, rows


def _outcome(read: Callable[[], tuple[list[tuple[str, dict]], int]]) -> tuple[list[tuple[str, dict]], int] | str:
    try:
        return read()
    except InputError as error:
        return f"InputError: {error}"


FRAUD = SIGNIN | {"Status": {"errorCode": 500121, "additionalDetails": "MFA denied; Fraud Code entered"}}
OTHER_500121 = SIGNIN | {"Status": {"errorCode": 500121, "additionalDetails": "MFA denied; no answer"}}
LINE_KINDS = [
    json.dumps(SUCCESS),
    json.dumps(SUCCESS, separators=(",", ":")),
    json.dumps(SIGNIN),
    json.dumps(FRAUD),
    json.dumps(OTHER_500121),
    json.dumps(SUCCESS) + "\r",  # a Windows line end
    "  " + json.dumps(SIGNIN) + " \t",
    "  " + json.dumps(SUCCESS),
    "",
    " \t ",
    "\r",
    json.dumps(SUCCESS | {"UserDisplayName": "Zo\u00eb \\ O'Neil"}),  # a backslash: always parsed
    json.dumps(SUCCESS, ensure_ascii=False) + "\u00e9",  # irrelevant, not "{…}"
    '{"ResultType": "0", x}',  # irrelevant, "{…}", not JSON: skipped unread
    '{"ResultType": "500121", "Status": {"additionalDetails": "fraud"}, x}',  # relevant, not JSON
    '{"ResultType": "0"',
    '{"ResultType": "0"\r',  # a Windows line end after a line that is not "{…}"
    "[1, 2]",
    "{",
    "}",
    json.dumps(SIGNIN | {"TimeGenerated": "yesterday"}),
]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.sampled_from([json.dumps(SUCCESS), json.dumps(SIGNIN), "", '{"ResultType": "0"}', "[1]"]),
    body=st.lists(st.sampled_from(LINE_KINDS), max_size=40),
    final_newline=st.booleans(),
    block=st.sampled_from([1, 7, 64, 300, 1 << 20]),
    strict=st.booleans(),
)
def test_the_block_reader_reads_exactly_what_the_line_reader_read(
    first: str, body: list[str], final_newline: bool, block: int, strict: bool
) -> None:
    text = "\n".join([first, *body]) + ("\n" if final_newline else "")
    line_filter = None if strict else raw_prefilter.SIGNIN_FILTER
    saved = json_lines._BLOCK_BYTES
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "SigninLogs.jsonl"
        path.write_bytes(text.encode())

        def blocks() -> tuple[list[tuple[str, dict]], int]:
            counter = Counter()
            records = list(read_records(path, "SigninLogs", line_filter=line_filter, counter=counter))
            return records, counter.rows

        try:
            json_lines._BLOCK_BYTES = block
            got = _outcome(blocks)
        finally:
            json_lines._BLOCK_BYTES = saved
        assert got == _outcome(lambda: _reference_records(path, "SigninLogs", line_filter))


def test_a_bad_line_deep_in_a_big_file_is_named_by_its_line_number(tmp_path: Path) -> None:
    # ~12 MB: several blocks, the bad line far into the third, found by the fast path's outline check.
    success = json.dumps(SUCCESS | {"Padding": "x" * 300})
    lines = [json.dumps(SIGNIN)] + [success] * 29_999
    lines[24_999] = success[:-1]  # line 25000 lacks its closing brace
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.jsonl").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "SigninLogs.jsonl").stat().st_size > 2 * json_lines._BLOCK_BYTES
    assert "SigninLogs.jsonl: line 25000: not a JSON object" in _error(tmp_path, strict=False)

    lines[24_999] = success
    lines[29_998] = json.dumps(SIGNIN | {"TimeGenerated": "yesterday"})  # a row that matters, unreadable
    (tmp_path / "SigninLogs.jsonl").write_text("\n".join(lines) + "\n")
    assert "SigninLogs.jsonl: line 29999: column TimeGenerated: not a datetime" in _error(tmp_path, strict=False)

    lines[29_998] = json.dumps(FRAUD)
    (tmp_path / "SigninLogs.jsonl").write_text("\r\n".join(lines))  # Windows line ends, no final one
    tables = FixtureSource(tmp_path, strict=False).read(ALL)
    assert tables.scanned["SigninLogs"] == 30_000
    assert [r["Status"] for r in tables.signins] == [SIGNIN["Status"], FRAUD["Status"]]
