"""FixtureSource: every accepted format, normalisation, windows, streaming, and one clear error per problem."""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import InputError
from shared.models import ReadRequest, Window
from shared.sources import fixtures, raw_prefilter
from shared.sources.fixtures import FixtureSource, _check_columns, _json_reason, read_records
from shared.sources.raw_prefilter import RawFilter
from shared.sources.values import parse_datetime
from tests.builders import DECLINED

SIGNIN = {
    "TimeGenerated": "2026-11-28T09:10:00.1234567Z",
    "ResultType": "500121",
    "Status": {"errorCode": 500121, "additionalDetails": DECLINED},
    "UserPrincipalName": "John.Doe@Contoso.com",
    "UserId": "u1",
    "AADTenantId": "t1",
    "IPAddress": "203.0.113.7",
    "AppDisplayName": "Azure Portal",  # unknown extra columns are fine
}
SUCCESS = SIGNIN | {"ResultType": "0", "Status": {"errorCode": 0}, "UserPrincipalName": "ann@contoso.com"}
IDENTITY = {
    "TimeGenerated": "2026-11-28T09:00:00Z",
    "AccountUPN": "john.doe@contoso.com",
    "Tags": ["VIP"],
    "GroupMembership": ["IT"],
    "AssignedRoles": ["Global Administrator"],
    "UserType": "Member",
    "IsAccountEnabled": True,
}
BEHAVIOR = {
    "TimeGenerated": "2026-11-28T09:05:00Z",
    "ActivityType": "LogOn",
    "SourceIPAddress": "203.0.113.7",
    "UserName": "john.doe",
    "InvestigationPriority": 7,
}
ALL = ReadRequest.same(None)


def write_jsonl(directory: Path, table: str, rows: list[dict]) -> Path:
    path = directory / f"{table}.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def write_tables(directory: Path, signins=(SIGNIN, SUCCESS), identities=(IDENTITY,), behaviors=(BEHAVIOR,)) -> Path:
    write_jsonl(directory, "SigninLogs", list(signins))
    write_jsonl(directory, "IdentityInfo", list(identities))
    write_jsonl(directory, "BehaviorAnalytics", list(behaviors))
    return directory


def test_jsonl_rows_are_normalised_to_kusto_types(tmp_path: Path) -> None:
    tables = FixtureSource(write_tables(tmp_path)).read(ALL)
    [row] = tables.signins
    assert row["TimeGenerated"] == datetime(2026, 11, 28, 9, 10, 0, 123456, tzinfo=UTC)
    assert row["Status"] == {"errorCode": 500121, "additionalDetails": DECLINED}
    assert row["UserPrincipalName"] == "John.Doe@Contoso.com"  # lower-casing is the detection's job
    assert tables.identities[0]["IsAccountEnabled"] is True
    assert tables.behaviors[0]["InvestigationPriority"] == 7
    assert tables.scanned == {"SigninLogs": 2, "IdentityInfo": 1, "BehaviorAnalytics": 1}


def test_rows_that_cannot_matter_are_not_kept(tmp_path: Path) -> None:
    other = IDENTITY | {"AccountUPN": "ann@contoso.com"}
    stranger = BEHAVIOR | {"UserName": "ann"}
    tables = FixtureSource(write_tables(tmp_path, identities=(IDENTITY, other), behaviors=(BEHAVIOR, stranger))).read(
        ALL
    )
    assert [r["UserPrincipalName"] for r in tables.signins] == ["John.Doe@Contoso.com"]
    assert [r["AccountUPN"] for r in tables.identities] == ["john.doe@contoso.com"]
    assert [r["UserName"] for r in tables.behaviors] == ["john.doe"]


def test_window_is_half_open_on_time_generated(tmp_path: Path) -> None:
    rows = [
        SIGNIN | {"TimeGenerated": t}
        for t in (
            "2026-11-28T09:00:00Z",
            "2026-11-28T09:59:59.9999999Z",
            "2026-11-28T10:00:00Z",
            "2026-11-28T08:59:59Z",
            "",
        )
    ]
    window = Window(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))
    tables = FixtureSource(write_tables(tmp_path, signins=rows)).read(ReadRequest.same(window))
    assert [r["TimeGenerated"].minute for r in tables.signins] == [0, 59]


def _as_az_cli(row: dict) -> dict:
    # `az monitor log-analytics query` prints every value as a string.
    return {k: json.dumps(v) if isinstance(v, (dict, list)) else str(v) for k, v in row.items()} | {
        "TableName": "PrimaryResult"
    }


def _as_api_response(rows: list[dict], types: dict[str, str]) -> dict:
    columns = list(rows[0])
    return {
        "tables": [
            {
                "name": "PrimaryResult",
                "columns": [{"name": c, "type": types.get(c, "string")} for c in columns],
                "rows": [[json.dumps(r[c]) if isinstance(r[c], (dict, list)) else r[c] for c in columns] for r in rows],
            }
        ]
    }


def _portal_time(iso: str) -> str:
    moment = datetime.fromisoformat(iso[:26].rstrip("Z") if "." in iso else iso.rstrip("Z"))
    hour = moment.hour % 12 or 12
    return f"{moment.month}/{moment.day}/{moment.year}, {hour}:{moment:%M:%S}.{moment.microsecond // 1000:03d} " + (
        "AM" if moment.hour < 12 else "PM"
    )


def _write_csv(path: Path, rows: list[dict]) -> None:
    columns = list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow([f"{c} [UTC]" if c == "TimeGenerated" else c for c in columns])
        for row in rows:
            writer.writerow(
                [
                    _portal_time(v)
                    if c == "TimeGenerated"
                    else json.dumps(v)
                    if isinstance(v, (dict, list))
                    else str(v).upper()
                    if isinstance(v, bool)
                    else v
                    for c, v in row.items()
                ]
            )


@pytest.mark.parametrize("fmt", ["jsonl", "json-array", "az-cli", "api", "csv"])
def test_every_format_gives_the_same_rows(tmp_path: Path, fmt: str) -> None:
    tables = {"SigninLogs": [SIGNIN, SUCCESS], "IdentityInfo": [IDENTITY], "BehaviorAnalytics": [BEHAVIOR]}
    types = {
        "TimeGenerated": "datetime",
        "Status": "dynamic",
        "Tags": "dynamic",
        "GroupMembership": "dynamic",
        "AssignedRoles": "dynamic",
        "IsAccountEnabled": "bool",
        "InvestigationPriority": "int",
    }
    for table, rows in tables.items():
        if fmt == "jsonl":
            write_jsonl(tmp_path, table, rows)
        elif fmt == "json-array":
            (tmp_path / f"{table}.json").write_text(json.dumps(rows, indent=2))
        elif fmt == "az-cli":
            (tmp_path / f"{table}.json").write_text(json.dumps([_as_az_cli(r) for r in rows], indent=2))
        elif fmt == "api":
            (tmp_path / f"{table}.json").write_text(json.dumps(_as_api_response(rows, types)))
        else:
            _write_csv(tmp_path / f"{table}.csv", rows)
    got = FixtureSource(tmp_path).read(ALL)
    reference = tmp_path / "reference"
    reference.mkdir()
    expected = FixtureSource(write_tables(reference)).read(ALL)
    if fmt == "csv":  # the portal writes milliseconds
        for row in expected.signins:
            row["TimeGenerated"] = row["TimeGenerated"].replace(microsecond=123000)
    assert got.signins == expected.signins
    assert got.identities == expected.identities
    assert got.behaviors == expected.behaviors


def test_the_real_portal_csv_excerpts_are_read(tmp_path: Path) -> None:
    # Excerpts of real portal exports (see tests/data/portal/README.md).
    samples = Path(__file__).resolve().parents[1] / "data" / "portal"
    (tmp_path / "SigninLogs.csv").write_bytes((samples / "SigninLogs_portal_export_2rows.csv").read_bytes())
    (tmp_path / "BehaviorAnalytics.csv").write_bytes(
        (samples / "BehaviorAnalytics_SampleData-Custom_Behavior-Analytics_excerpt.csv").read_bytes()
    )
    write_jsonl(tmp_path, "IdentityInfo", [IDENTITY])
    tables = FixtureSource(tmp_path).read(ALL)
    assert tables.scanned == {"SigninLogs": 2, "IdentityInfo": 1, "BehaviorAnalytics": 6}
    assert tables.signins == []  # the excerpts hold no MFA rejections


def test_portal_time_format_is_parsed_as_utc(tmp_path: Path) -> None:
    assert parse_datetime("9/19/2023, 1:45:17.287 PM") == datetime(2023, 9, 19, 13, 45, 17, 287000, tzinfo=UTC)
    assert parse_datetime("9/19/2023, 12:05:00.000 AM") == datetime(2023, 9, 19, 0, 5, tzinfo=UTC)
    assert parse_datetime("9/19/2023, 12:05:00.000 PM") == datetime(2023, 9, 19, 12, 5, tzinfo=UTC)


# --- bad input: one clear error naming the file and the line ---------------------------------


def _error(directory: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        FixtureSource(directory, **kwargs).read(ALL)
    return str(caught.value)


def test_missing_table_file_names_the_files_looked_for(tmp_path: Path) -> None:
    write_jsonl(tmp_path, "SigninLogs", [SIGNIN])
    write_jsonl(tmp_path, "BehaviorAnalytics", [BEHAVIOR])
    message = _error(tmp_path)
    assert "IdentityInfo.jsonl, IdentityInfo.json, IdentityInfo.csv" in message


def test_invalid_json_line_names_file_and_line(tmp_path: Path) -> None:
    path = write_tables(tmp_path)
    relevant_but_broken = '{"ResultType": "500121", "Status": {"additionalDetails": "Fraud Code entered"}, oops}'
    path.joinpath("SigninLogs.jsonl").write_text(json.dumps(SUCCESS) + "\n" + relevant_but_broken + "\n")
    message = _error(tmp_path)
    assert "SigninLogs.jsonl: line 2: invalid JSON" in message


@pytest.mark.parametrize("bad", ['{"ResultType": "0", "truncated', "not json at all", "[1, 2]"])
def test_a_broken_line_is_reported_even_when_it_cannot_matter(tmp_path: Path, bad: str) -> None:
    path = write_tables(tmp_path)
    path.joinpath("SigninLogs.jsonl").write_text(json.dumps(SUCCESS) + "\n" + bad + "\n")
    assert "SigninLogs.jsonl: line 2:" in _error(tmp_path)


def test_every_line_of_a_file_up_to_the_size_limit_is_parsed(tmp_path: Path) -> None:
    path = write_tables(tmp_path)
    path.joinpath("SigninLogs.jsonl").write_text(json.dumps(SUCCESS) + "\n" + '{"ResultType": "0", x}\n')
    assert "SigninLogs.jsonl: line 2: invalid JSON" in _error(tmp_path)
    # Above the limit, the fast path proves the line irrelevant without parsing it ...
    FixtureSource(tmp_path, validate_up_to=10).read(ALL)
    FixtureSource(tmp_path, strict=False).read(ALL)
    # ... unless told to parse everything.
    assert "SigninLogs.jsonl: line 2: invalid JSON" in _error(tmp_path, strict=True, validate_up_to=10)


def test_a_wrong_type_in_a_row_that_cannot_matter_is_still_reported_in_a_small_file(tmp_path: Path) -> None:
    write_tables(tmp_path, behaviors=[BEHAVIOR, BEHAVIOR | {"UserName": "nobody", "InvestigationPriority": "high"}])
    assert "BehaviorAnalytics.jsonl: line 2: column InvestigationPriority: expected an integer" in _error(tmp_path)


def test_missing_required_column_names_table_and_column(tmp_path: Path) -> None:
    row = {k: v for k, v in SIGNIN.items() if k != "IPAddress"}
    write_tables(tmp_path, signins=[row])
    message = _error(tmp_path)
    assert "SigninLogs" in message
    assert "IPAddress" in message


def test_unparsable_time_names_file_line_and_column(tmp_path: Path) -> None:
    write_tables(tmp_path, signins=[SUCCESS, SIGNIN | {"TimeGenerated": "yesterday"}])
    message = _error(tmp_path)
    assert "SigninLogs.jsonl: line 2: column TimeGenerated: not a datetime: 'yesterday'" in message


def test_non_integer_priority_names_file_line_and_column(tmp_path: Path) -> None:
    write_tables(tmp_path, behaviors=[BEHAVIOR, BEHAVIOR | {"InvestigationPriority": "high"}])
    message = _error(tmp_path)
    assert "BehaviorAnalytics.jsonl: line 2: column InvestigationPriority: expected an integer" in message


def test_csv_with_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "BehaviorAnalytics.jsonl").unlink()
    (tmp_path / "BehaviorAnalytics.csv").write_text(
        "TimeGenerated [UTC],ActivityType,SourceIPAddress,UserName,InvestigationPriority\n"
        '"11/28/2026, 9:05:00.000 AM",LogOn,203.0.113.7,john.doe,7\n'
        "11/28/2026 9:06,LogOn,203.0.113.7\n"
    )
    assert "BehaviorAnalytics.csv: line 3: 3 fields, the header has 5" in _error(tmp_path)


def test_invalid_json_array_names_the_line(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "IdentityInfo.jsonl").unlink()
    (tmp_path / "IdentityInfo.json").write_text(
        '[\n  {"TimeGenerated": "2026-11-28T09:00:00Z",\n   "AccountUPN": x}\n]\n'
    )
    assert "IdentityInfo.json: line 3: invalid JSON" in _error(tmp_path)


def test_two_files_for_one_table_is_an_error(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.csv").write_text("TimeGenerated\n")
    assert "more than one SigninLogs file" in _error(tmp_path)


def test_not_a_directory_is_an_error(tmp_path: Path) -> None:
    assert "not a directory" in _error(tmp_path / "missing")


# --- the block-scanning reader keeps the line-by-line semantics exactly ------------------------


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
                _check_columns(path, table, record)
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
    saved = fixtures._BLOCK_BYTES
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "SigninLogs.jsonl"
        path.write_bytes(text.encode())

        def blocks() -> tuple[list[tuple[str, dict]], int]:
            counter = fixtures._Counter()
            records = list(read_records(path, "SigninLogs", line_filter=line_filter, counter=counter))
            return records, counter.rows

        try:
            fixtures._BLOCK_BYTES = block
            got = _outcome(blocks)
        finally:
            fixtures._BLOCK_BYTES = saved
        assert got == _outcome(lambda: _reference_records(path, "SigninLogs", line_filter))


def test_a_bad_line_deep_in_a_big_file_is_named_by_its_line_number(tmp_path: Path) -> None:
    # ~12 MB: several blocks, the bad line far into the third, found by the fast path's outline check.
    success = json.dumps(SUCCESS | {"Padding": "x" * 300})
    lines = [json.dumps(SIGNIN)] + [success] * 29_999
    lines[24_999] = success[:-1]  # line 25000 lacks its closing brace
    write_tables(tmp_path)
    (tmp_path / "SigninLogs.jsonl").write_text("\n".join(lines) + "\n")
    assert (tmp_path / "SigninLogs.jsonl").stat().st_size > 2 * fixtures._BLOCK_BYTES
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
