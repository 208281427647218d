"""FixtureSource: every accepted format, normalisation, windows, streaming, and one clear error per problem."""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import InputError
from shared.models import ReadRequest, Window
from shared.sources.fixtures import FixtureSource
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
