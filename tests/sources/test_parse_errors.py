"""Every parse problem in a fixture file is one InputError naming the file and the line (or record),
and exit code 2 from the command line, never a traceback: JSON nested 10,000 deep (a RecursionError
inside ``json``), text that is not UTF-8, a raw NUL, and JSON text nested too deeply in a dynamic
cell, in every format, on the full and the fast path. A lone surrogate escape is valid JSON, so it
is data, not an error.
"""

from __future__ import annotations

import csv
import io
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from shared.cli import main
from shared.errors import InputError
from shared.models import SCHEMAS, ReadRequest
from shared.sources import fixture_files, fixtures, json_lines, json_stream
from shared.sources.fixtures import FixtureSource
from shared.sources.values import MAX_NESTING, normalise_row, parse_dynamic, parse_string_or_dynamic, too_deep
from tests.builders import DECLINED
from tests.sources.test_fixtures import BEHAVIOR, IDENTITY, SIGNIN, SUCCESS, write_tables

REPO = Path(__file__).resolve().parents[2]
ALL = ReadRequest.same(None)
DEEP = 10_000
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
TOO_DEEP = "nested too deeply for the JSON parser (RecursionError)"


def error_of(directory: Path, **options: object) -> str:
    with pytest.raises(InputError) as caught:
        FixtureSource(directory, **options).read(ALL)
    message = str(caught.value)
    assert "\n" not in message
    return message.replace(f"{directory}/", "")


def cli_error(directory: Path, *extra: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(["detect", "--fixtures", str(directory), *extra], out=out, err=err) == 2
    assert out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("python -m shared detect: error: ")
    return lines[0]


def nested(depth: int, leaf: object = 1) -> object:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


RELEVANT = json.dumps(SIGNIN | {"Status": {"errorCode": 500121, "additionalDetails": "fraud"}})[:-1]


# --- JSON nested 10,000 deep ------------------------------------------------------------------


@pytest.mark.parametrize("strict", [True, False])
def test_a_deep_json_lines_line_is_one_error_on_both_paths(tmp_path: Path, strict: bool) -> None:
    # On the fast path the line is parsed because it may matter (a 500121 with "fraud").
    write_tables(tmp_path)
    line = RELEVANT + ', "Deep": ' + DEEP_ARRAY + "}"
    (tmp_path / "SigninLogs.jsonl").write_text(json.dumps(SUCCESS) + "\n" + line + "\n")
    assert error_of(tmp_path, strict=strict) == f"SigninLogs.jsonl: line 2: invalid JSON: {TOO_DEEP}"
    assert cli_error(tmp_path, "--strict" if strict else "--no-strict").endswith(
        f"SigninLogs.jsonl: line 2: invalid JSON: {TOO_DEEP}"
    )


def test_the_fast_path_leaves_a_deep_irrelevant_line_unparsed(tmp_path: Path) -> None:
    # The fast path's contract: a line proven irrelevant is only checked to be "{...}".
    write_tables(tmp_path)
    line = json.dumps(SUCCESS)[:-1] + ', "Deep": ' + DEEP_ARRAY + "}"
    (tmp_path / "SigninLogs.jsonl").write_text(json.dumps(SIGNIN) + "\n" + line + "\n")
    assert len(FixtureSource(tmp_path, strict=False).read(ALL).signins) == 1
    assert error_of(tmp_path, strict=True) == f"SigninLogs.jsonl: line 2: invalid JSON: {TOO_DEEP}"


def test_a_deep_record_in_a_json_array_is_one_error(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "IdentityInfo.jsonl").unlink()
    text = "[\n" + json.dumps(IDENTITY) + ",\n" + '{"AccountUPN": "x", "Deep": ' + DEEP_ARRAY + "}\n]\n"
    (tmp_path / "IdentityInfo.json").write_text(text)
    assert error_of(tmp_path) == f"IdentityInfo.json: line 3: invalid JSON: {TOO_DEEP} (column 1)"
    assert cli_error(tmp_path).endswith(f"IdentityInfo.json: line 3: invalid JSON: {TOO_DEEP} (column 1)")


def _api_response(rows: str, columns: str | None = None) -> str:
    columns = columns or json.dumps([{"name": c, "type": "string"} for c in BEHAVIOR])
    return '{"tables": [{"name": "PrimaryResult",\n"columns": ' + columns + ',\n"rows": [' + rows + "]}]}"


def test_a_deep_query_api_response_is_one_error(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "BehaviorAnalytics.jsonl").unlink()
    path = tmp_path / "BehaviorAnalytics.json"
    good = json.dumps(list(BEHAVIOR.values()))
    path.write_text(_api_response(good + ",\n" + DEEP_ARRAY))
    assert error_of(tmp_path) == f"BehaviorAnalytics.json: line 4: invalid JSON: {TOO_DEEP} (column 1)"
    path.write_text(_api_response(good, columns=DEEP_ARRAY))
    assert error_of(tmp_path) == f"BehaviorAnalytics.json: line 2: invalid JSON: {TOO_DEEP} (column 12)"
    assert cli_error(tmp_path).endswith(f"BehaviorAnalytics.json: line 2: invalid JSON: {TOO_DEEP} (column 12)")


def test_deep_nesting_under_long_keys_takes_neither_time_nor_memory(tmp_path: Path) -> None:
    # ijson's yajl backend held every level's path: this 10 MB file took a gigabyte there.
    write_tables(tmp_path)
    (tmp_path / "IdentityInfo.jsonl").unlink()
    key = '"' + "k" * 100_000 + '"'
    (tmp_path / "IdentityInfo.json").write_text("[" + ("{" + key + ":") * 100 + "1" + "}" * 100 + "]")
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    error_of(tmp_path)  # the record has no AccountUPN column
    assert time.monotonic() - started < 10
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 300_000  # KiB


# --- JSON nested too deeply in a dynamic cell: kept as its text, never an error ------------------
# A window must not fail on every run for one odd value (in the live path that would stop detection
# for good): the row is read, with that cell as a string.


def _csv_signins(tmp_path: Path, status: str) -> None:
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.jsonl").unlink()
    header = "TimeGenerated,ResultType,Status,UserPrincipalName,UserId,AADTenantId,IPAddress\n"
    good = f'2026-11-28T09:10:00Z,500121,"{{""additionalDetails"": ""{DECLINED}""}}",john@x.com,u1,t1,1.2.3.4\n'
    (tmp_path / "SigninLogs.csv").write_text(header + good + f'2026-11-28T09:10:00Z,500121,"{status}",a@x.com,u,t,ip\n')


def _statuses(tmp_path: Path) -> list[object]:
    return [row["Status"] for row in records(tmp_path, "SigninLogs")]


def records(directory: Path, table: str) -> list[dict[str, object]]:
    path = fixtures.table_file(directory, table)
    return [normalise_row(raw, SCHEMAS[table]) for _, raw in fixtures.read_records(path, table)]


@pytest.mark.parametrize("depth", [DEEP, MAX_NESTING + 1])
def test_deep_json_text_in_a_csv_dynamic_cell_is_kept_as_text(tmp_path: Path, depth: int) -> None:
    text = "[" * depth + "]" * depth
    _csv_signins(tmp_path, text)
    assert _statuses(tmp_path) == [{"additionalDetails": DECLINED}, text]
    assert len(FixtureSource(tmp_path).read(ALL).signins) == 1  # the good row still counts


def test_json_text_as_deep_as_allowed_is_read_as_a_structure(tmp_path: Path) -> None:
    _csv_signins(tmp_path, "[" * MAX_NESTING + "]" * MAX_NESTING)
    assert _statuses(tmp_path)[1] == nested(MAX_NESTING - 1, leaf=[])


@pytest.mark.parametrize("column", ["Status", "GroupMembership", "Tags"])
def test_deep_json_text_in_an_all_strings_json_cell_is_kept_as_text(tmp_path: Path, column: str) -> None:
    write_tables(tmp_path)
    table = "SigninLogs" if column == "Status" else "IdentityInfo"
    (tmp_path / f"{table}.jsonl").unlink()
    row = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in (SIGNIN if column == "Status" else IDENTITY).items()
    }
    (tmp_path / f"{table}.json").write_text(json.dumps([row, row | {column: DEEP_ARRAY}], indent=2))
    assert records(tmp_path, table)[1][column] == DEEP_ARRAY


def test_deep_json_text_in_a_query_api_dynamic_cell_is_kept_as_text(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.jsonl").unlink()
    columns = json.dumps([{"name": c, "type": "dynamic" if c == "Status" else "string"} for c in SIGNIN])
    good = [json.dumps(v) if isinstance(v, dict) else v for v in SIGNIN.values()]
    bad = [DEEP_ARRAY if c == "Status" else v for c, v in zip(SIGNIN, good, strict=True)]
    text = '{"tables": [{"columns": ' + columns + ',\n"rows": [\n' + json.dumps(good) + ",\n" + json.dumps(bad) + "]}]}"
    (tmp_path / "SigninLogs.json").write_text(text)
    assert _statuses(tmp_path)[1] == DEEP_ARRAY
    assert len(FixtureSource(tmp_path).read(ALL).signins) == 1


def test_a_json_structure_nested_too_deeply_becomes_its_json_text(tmp_path: Path) -> None:
    deep_status = {"additionalDetails": "fraud", "x": nested(MAX_NESTING)}
    write_tables(tmp_path, signins=[SIGNIN, SIGNIN | {"Status": deep_status}])
    assert _statuses(tmp_path)[1] == json.dumps(deep_status, separators=(",", ":"))
    # A string column holding a structure becomes its tostring text, however deep.
    write_tables(tmp_path, identities=[IDENTITY | {"UserType": nested(MAX_NESTING + 1)}])
    assert records(tmp_path, "IdentityInfo")[0]["UserType"] == "[" * (MAX_NESTING + 1) + "1" + "]" * (MAX_NESTING + 1)


# --- text that is not UTF-8 -----------------------------------------------------------------------

NOT_UTF8 = [(b"\xff", "0xff"), (b"\xed\xa0\x80", "0xed"), (b"\xc0\x80", "0xc0"), (b"\xf4\x90\x80\x80", "0xf4")]


@pytest.mark.parametrize(("bad", "byte"), NOT_UTF8)
@pytest.mark.parametrize("strict", [True, False])
def test_bytes_that_are_not_utf8_in_json_lines_are_one_error(
    tmp_path: Path, bad: bytes, byte: str, strict: bool
) -> None:
    # Raw ED A0 80 is a surrogate written as bytes (CESU-8): not UTF-8, unlike the escape "\ud800".
    write_tables(tmp_path)
    line = RELEVANT.encode() + b', "UserDisplayName": "a' + bad + b'"}'
    (tmp_path / "SigninLogs.jsonl").write_bytes(json.dumps(SUCCESS).encode() + b"\n\n" + line + b"\n")
    assert error_of(tmp_path, strict=strict) == f"SigninLogs.jsonl: line 3: not UTF-8 text (byte {byte})"


@pytest.mark.parametrize(("bad", "byte"), NOT_UTF8)
@pytest.mark.parametrize("fmt", ["json", "api", "csv"])
def test_bytes_that_are_not_utf8_are_one_error_naming_the_line(tmp_path: Path, bad: bytes, byte: str, fmt: str) -> None:
    # Far into the file (the text is decoded in pieces), the line is still the exact one.
    write_tables(tmp_path)
    (tmp_path / "BehaviorAnalytics.jsonl").unlink()
    pad = "x" * 1000
    rows = [BEHAVIOR | {"UserName": f"user{i}", "Note": pad} for i in range(3000)]
    if fmt == "json":
        path, text = tmp_path / "BehaviorAnalytics.json", "[\n" + ",\n".join(json.dumps(r) for r in rows) + "\n]\n"
        line_of_row = 2  # row i is on line i + 2
    elif fmt == "api":
        cells = ",\n".join(json.dumps([r[c] for c in rows[0]]) for r in rows)
        path = tmp_path / "BehaviorAnalytics.json"
        text = _api_response(cells, columns=json.dumps([{"name": c, "type": "string"} for c in rows[0]]))
        line_of_row = 3
    else:
        path = tmp_path / "BehaviorAnalytics.csv"
        text = ",".join(rows[0]) + "\n" + "".join(",".join(str(v) for v in r.values()) + "\n" for r in rows)
        line_of_row = 2
    data = text.encode().replace(b"user2500", b"user" + bad + b"2500")
    path.write_bytes(data)
    expected = f"{path.name}: line {2500 + line_of_row}: not UTF-8 text (byte {byte})"
    assert error_of(tmp_path) == expected
    assert cli_error(tmp_path).endswith(expected)


# --- NUL, and what JSON allows ------------------------------------------------------------------


def test_a_raw_nul_byte_in_json_is_one_error(tmp_path: Path) -> None:
    write_tables(tmp_path)
    line = RELEVANT.encode() + b', "UserDisplayName": "a\x00b"}'
    (tmp_path / "SigninLogs.jsonl").write_bytes(json.dumps(SIGNIN).encode() + b"\n" + line + b"\n")
    column = line.index(b"\x00") + 1
    assert (
        error_of(tmp_path) == f"SigninLogs.jsonl: line 2: invalid JSON: Invalid control character at (column {column})"
    )
    (tmp_path / "SigninLogs.jsonl").unlink()
    (tmp_path / "SigninLogs.json").write_bytes(b'[\n{"UserPrincipalName": "a\x00b"}]')
    assert error_of(tmp_path) == "SigninLogs.json: line 2: invalid JSON: Invalid control character at (column 25)"


def test_a_raw_nul_in_a_csv_field_is_data(tmp_path: Path) -> None:
    # CSV has no escapes: a NUL (or a CR or LF inside quotes) is the field's text.
    write_tables(tmp_path)
    (tmp_path / "IdentityInfo.jsonl").unlink()
    (tmp_path / "IdentityInfo.csv").write_bytes(
        b'TimeGenerated,AccountUPN,UserType\n2026-11-28T09:00:00Z,john.doe@contoso.com,"Mem\x00b\r\ne\rr"\n'
    )
    [identity] = FixtureSource(tmp_path).read(ALL).identities
    assert identity["UserType"] == "Mem\x00b\r\ne\rr"


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_a_lone_surrogate_escape_is_data(tmp_path: Path, fmt: str) -> None:
    upn = "jo\ud800hn\udfff@x.com"
    row = SIGNIN | {"UserPrincipalName": upn}
    write_tables(tmp_path, signins=[row])
    if fmt == "json":
        (tmp_path / "SigninLogs.jsonl").unlink()
        (tmp_path / "SigninLogs.json").write_text(json.dumps([row]))
    assert "\\ud800" in next(tmp_path.glob("SigninLogs.*")).read_text()
    [signin] = FixtureSource(tmp_path).read(ALL).signins
    assert signin["UserPrincipalName"] == upn


def test_a_byte_order_mark_is_skipped_in_every_format(tmp_path: Path) -> None:
    write_tables(tmp_path)
    path = tmp_path / "SigninLogs.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    (tmp_path / "IdentityInfo.jsonl").unlink()
    (tmp_path / "IdentityInfo.json").write_bytes(b"\xef\xbb\xbf" + json.dumps([IDENTITY]).encode())
    tables = FixtureSource(tmp_path).read(ALL)
    assert (len(tables.signins), len(tables.identities)) == (1, 1)


def test_python_dash_m_shared_reports_a_deep_line_in_one_line(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.jsonl").write_text(RELEVANT + ', "Deep": ' + "[" * 100_000 + "]" * 100_000 + "}\n")
    result = subprocess.run(
        [sys.executable, "-m", "shared", "detect", "--fixtures", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(f"SigninLogs.jsonl: line 1: invalid JSON: {TOO_DEEP}\n")


# --- sizes: a line or value longer than any record, a long CSV cell, a long bad value ---------------


def test_a_line_or_value_longer_than_any_record_is_refused_before_it_is_held(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fixture_files, "MAX_RECORD_CHARS", 100_000)
    monkeypatch.setattr(json_lines, "_BLOCK_BYTES", 4096)
    monkeypatch.setattr(json_stream, "_PIECE_CHARS", 4096)
    write_tables(tmp_path)
    long_line = json.dumps(SUCCESS | {"Padding": "x" * 200_000})
    (tmp_path / "SigninLogs.jsonl").write_text(json.dumps(SIGNIN) + "\n\n" + long_line + "\n")
    assert "SigninLogs.jsonl: line 3: longer than" in error_of(tmp_path)
    (tmp_path / "SigninLogs.jsonl").unlink()
    (tmp_path / "SigninLogs.json").write_text("[\n" + json.dumps(SIGNIN) + ",\n" + long_line + "]")
    assert "SigninLogs.json: line 3: a JSON value longer than" in error_of(tmp_path)
    under = json.dumps(SUCCESS | {"Padding": "x" * 90_000})
    (tmp_path / "SigninLogs.json").write_text("[\n" + json.dumps(SIGNIN) + ",\n" + under + "]")
    assert len(FixtureSource(tmp_path).read(ALL).signins) == 1  # under the limit: read, in many pieces


def test_a_csv_cell_longer_than_the_csv_modules_default_limit_is_read(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "IdentityInfo.jsonl").unlink()
    policies = json.dumps([{"id": "x" * 100, "displayName": "policy"}] * 2000)  # ~250 KB
    with (tmp_path / "IdentityInfo.csv").open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["TimeGenerated", "AccountUPN", "GroupMembership"])
        writer.writerow(["2026-11-28T09:00:00Z", "john.doe@contoso.com", policies])
    [identity] = FixtureSource(tmp_path).read(ALL).identities
    assert len(identity["GroupMembership"]) == 2000


def test_a_long_or_hostile_bad_value_is_shown_short_and_on_one_line(tmp_path: Path) -> None:
    write_tables(tmp_path, behaviors=[BEHAVIOR | {"InvestigationPriority": "\x00\n\ud800" + "9" * 1_000_000}])
    message = error_of(tmp_path)
    assert message.startswith("BehaviorAnalytics.jsonl: line 1: column InvestigationPriority: expected an integer, got")
    assert "'\\x00\\n\\ud800999" in message
    assert len(message) < 300


# --- the nesting bound itself -----------------------------------------------------------------------


def test_the_nesting_bound_is_exact_for_every_shape_of_value() -> None:
    for value in (nested(MAX_NESTING), {"a": nested(MAX_NESTING - 1)}, [1, {"b": [nested(MAX_NESTING - 3)]}]):
        assert not too_deep(value)
        assert parse_dynamic(json.dumps(value)) == value
    for value in (nested(MAX_NESTING + 1), {"a": nested(MAX_NESTING)}, [1, {"b": [nested(MAX_NESTING - 2)]}]):
        assert too_deep(value)
        assert parse_dynamic(json.dumps(value)) == json.dumps(value)
        assert parse_dynamic(value) == json.dumps(value, separators=(",", ":"))
    assert parse_string_or_dynamic(DEEP_ARRAY) == DEEP_ARRAY
    assert parse_dynamic("[" * DEEP) == "[" * DEEP  # too deep for json to parse: text, as it came


def test_text_that_is_not_json_stays_text_however_it_starts() -> None:
    assert parse_dynamic("[[[ not json") == "[[[ not json"
    assert parse_dynamic("\x00\ud800") == "\x00\ud800"
