"""Late-arriving rows: a fixture row's ``_ingested`` (when it arrived in the workspace) hides it from a
read as of an earlier time (``ReadRequest.as_of``), in every format and every table; a row without one
is always there; the column never reaches the rule; a bad value is one error naming the file and line,
whatever ``as_of``; the fast path reads the same; the time-shifted source keeps what is visible."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.cli import main
from shared.errors import InputError
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SCHEMAS, SIGNIN_TABLE, ReadRequest, Tables
from shared.sources import fixtures, json_lines, raw_prefilter
from shared.sources.fixture_files import Counter
from shared.sources.fixtures import FixtureSource, read_records
from shared.sources.time_shift import TimeShiftedSource
from tests.sources.test_fixtures import BEHAVIOR, IDENTITY, SIGNIN, SUCCESS, _as_api_response, _write_csv
from tests.sources.test_json_lines import LINE_KINDS, _outcome, _reference_records

FORMATS = ["jsonl", "json-array", "api", "csv"]
ARRIVED = "2026-11-28T11:40:00Z"
ARRIVED_AT = datetime(2026, 11, 28, 11, 40, tzinfo=UTC)
LATE = SIGNIN | {"UserPrincipalName": "late@contoso.com", "_ingested": ARRIVED}
# The same instant as 09:05Z, written with an offset.
EARLY = SIGNIN | {"UserPrincipalName": "early@contoso.com", "_ingested": "2026-11-28T10:05:00+01:00"}
BLANK = SIGNIN | {"UserPrincipalName": "blank@contoso.com", "_ingested": ""}
NULL = SIGNIN | {"UserPrincipalName": "null@contoso.com", "_ingested": None}
ABSENT = SIGNIN | {"UserPrincipalName": "absent@contoso.com"}  # no _ingested at all (in CSV: empty)
# John Doe's, whose IdentityInfo and UEBA rows are kept (the rows of other users cannot matter).
JOHN = SIGNIN | {"_ingested": "2026-11-28T09:15:00Z"}
LATE_IDENTITY = IDENTITY | {"_ingested": "2026-11-28T12:00:00.1234567Z"}  # Kusto's 7 fraction digits
LATE_BEHAVIOR = BEHAVIOR | {"_ingested": "2026-11-28T12:00:00Z"}
TYPES = {
    "TimeGenerated": "datetime",
    "_ingested": "datetime",
    "Status": "dynamic",
    "Tags": "dynamic",
    "GroupMembership": "dynamic",
    "AssignedRoles": "dynamic",
    "IsAccountEnabled": "bool",
    "InvestigationPriority": "int",
}
EXTENSION = {"jsonl": "jsonl", "json-array": "json", "api": "json", "csv": "csv"}


def write(directory: Path, fmt: str, tables: dict[str, list[dict]]) -> Path:
    """The tables as ``fmt`` files: one record per line, so that record ``i`` of a JSON array is on
    line ``i + 1``; in a response or a CSV, a row lacking a column has it null or empty."""
    for table, rows in tables.items():
        path = directory / f"{table}.{EXTENSION[fmt]}"
        columns = list(dict.fromkeys(column for row in rows for column in row))
        if fmt == "jsonl":
            path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
        elif fmt == "json-array":
            path.write_text("[\n" + ",\n".join(json.dumps(row) for row in rows) + "\n]\n", encoding="utf-8")
        elif fmt == "api":
            full = [{column: row.get(column) for column in columns} for row in rows]
            path.write_text(json.dumps(_as_api_response(full, TYPES)), encoding="utf-8")
        else:
            full = [{column: "" if row.get(column) is None else row[column] for column in columns} for row in rows]
            _write_csv(path, full)
    return directory


def tables_with(signins: list[dict], identities: list[dict] = (), behaviors: list[dict] = ()) -> dict:
    return {
        SIGNIN_TABLE: [*signins, SUCCESS],
        IDENTITY_TABLE: [IDENTITY, *identities],
        BEHAVIOR_TABLE: [BEHAVIOR, *behaviors],
    }


def read(directory: Path, as_of: datetime | None, **options: object) -> Tables:
    return FixtureSource(directory, **options).read(ReadRequest(None, None, None, as_of=as_of))


def upns(tables: Tables) -> list[str]:
    return [row["UserPrincipalName"] for row in tables.signins]


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_row_ingested_after_as_of_is_not_there_yet_and_one_ingested_by_then_is(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, fmt, tables_with([LATE, EARLY]))
    before = read(tmp_path, ARRIVED_AT - timedelta(microseconds=1))
    assert upns(before) == ["early@contoso.com"]
    assert before.scanned[SIGNIN_TABLE] == 2  # EARLY and SUCCESS: LATE is not in the workspace yet
    at = read(tmp_path, ARRIVED_AT)  # arrived exactly at as_of: there
    assert upns(at) == ["late@contoso.com", "early@contoso.com"]
    assert at.scanned[SIGNIN_TABLE] == 3
    assert upns(read(tmp_path, ARRIVED_AT + timedelta(days=1))) == upns(at)


@pytest.mark.parametrize("fmt", FORMATS)
def test_without_as_of_every_row_is_there(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, fmt, tables_with([JOHN, LATE, EARLY], [LATE_IDENTITY], [LATE_BEHAVIOR]))
    tables = read(tmp_path, None)
    assert upns(tables) == ["John.Doe@Contoso.com", "late@contoso.com", "early@contoso.com"]
    assert len(tables.identities) == 2
    assert len(tables.behaviors) == 2
    assert tables.scanned == {SIGNIN_TABLE: 4, IDENTITY_TABLE: 2, BEHAVIOR_TABLE: 2}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_row_without_an_ingestion_time_is_always_there(tmp_path: Path, fmt: str) -> None:
    rows = [BLANK, NULL, ABSENT] if fmt in ("jsonl", "json-array") else [BLANK, ABSENT]
    write(tmp_path, fmt, tables_with(rows))
    expected = [row["UserPrincipalName"] for row in rows]
    assert upns(read(tmp_path, datetime(1970, 1, 1, tzinfo=UTC))) == expected
    assert upns(read(tmp_path, None)) == expected


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_table_hides_rows_that_have_not_arrived(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, fmt, tables_with([JOHN], [LATE_IDENTITY], [LATE_BEHAVIOR]))
    early = read(tmp_path, ARRIVED_AT)  # before 12:00
    assert len(early.identities) == 1
    assert len(early.behaviors) == 1
    assert early.scanned == {SIGNIN_TABLE: 2, IDENTITY_TABLE: 1, BEHAVIOR_TABLE: 1}
    late = read(tmp_path, datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC))
    assert len(late.identities) == 2
    assert len(late.behaviors) == 2


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_ingestion_time_is_never_a_column_of_the_rule(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, fmt, tables_with([LATE, EARLY], [LATE_IDENTITY], [LATE_BEHAVIOR]))
    tables = read(tmp_path, None)
    assert all(set(row) == set(SCHEMAS[SIGNIN_TABLE]) for row in tables.signins)
    assert all(set(row) == set(SCHEMAS[IDENTITY_TABLE]) for row in tables.identities)
    assert all(set(row) == set(SCHEMAS[BEHAVIOR_TABLE]) for row in tables.behaviors)


# Where the second sign-in is, as each format names it (see ``write``).
SECOND_ROW = {
    "jsonl": "SigninLogs.jsonl: line 2: ",
    "json-array": "SigninLogs.json: record 2 (line 3): ",
    "api": "SigninLogs.json: row 2 (line 1): ",
    "csv": "SigninLogs.csv: line 3: ",
}
BAD_VALUES = {
    "not a time": "yesterday",
    "no timezone": "2026-11-28T11:40:00",
    "a date": "2026-11-28",
    "the portal's format": "11/28/2026, 11:40:00.000 AM",
}


@pytest.mark.parametrize("bad", BAD_VALUES.values(), ids=BAD_VALUES.keys())
@pytest.mark.parametrize("as_of", [None, ARRIVED_AT], ids=["no-as-of", "as-of"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_a_bad_ingestion_time_is_one_error_naming_file_and_line(
    tmp_path: Path, fmt: str, as_of: datetime | None, bad: str
) -> None:
    # In a row that cannot matter to the rule (a success), and whatever as_of: bad files are found early.
    write(tmp_path, fmt, {**tables_with([]), SIGNIN_TABLE: [EARLY, SUCCESS | {"_ingested": bad}]})
    with pytest.raises(InputError) as caught:
        read(tmp_path, as_of)
    message = str(caught.value).replace(f"{tmp_path}/", "")
    assert message.startswith(SECOND_ROW[fmt] + "column _ingested: not an ISO 8601 time with a timezone: ")
    assert "\n" not in message


@pytest.mark.parametrize("fmt", ["jsonl", "json-array"])
@pytest.mark.parametrize("value", [1764330000, True, ["2026-11-28T11:40:00Z"], {"at": "2026-11-28T11:40:00Z"}])
def test_an_ingestion_time_that_is_not_text_is_one_error(tmp_path: Path, fmt: str, value: object) -> None:
    write(tmp_path, fmt, {**tables_with([]), SIGNIN_TABLE: [EARLY, SUCCESS | {"_ingested": value}]})
    with pytest.raises(InputError) as caught:
        read(tmp_path, None)
    message = str(caught.value).replace(f"{tmp_path}/", "")
    assert message.startswith(SECOND_ROW[fmt] + "column _ingested: expected ISO 8601 text with a timezone, got ")


def test_a_query_api_response_may_type_the_column_dynamic(tmp_path: Path) -> None:
    rows = [{**row, "_ingested": json.dumps(row["_ingested"])} for row in (LATE, EARLY)]
    path = tmp_path / "SigninLogs.json"
    path.write_text(json.dumps(_as_api_response(rows, TYPES | {"_ingested": "dynamic"})), encoding="utf-8")
    write(tmp_path, "jsonl", {IDENTITY_TABLE: [IDENTITY], BEHAVIOR_TABLE: [BEHAVIOR]})
    assert upns(read(tmp_path, ARRIVED_AT - timedelta(seconds=1))) == ["early@contoso.com"]


def test_the_command_line_gives_exit_2_for_a_bad_ingestion_time(tmp_path: Path) -> None:
    write(tmp_path, "jsonl", {**tables_with([]), SIGNIN_TABLE: [EARLY, SUCCESS | {"_ingested": "soon"}]})
    out, err = io.StringIO(), io.StringIO()
    assert main(["detect", "--fixtures", str(tmp_path)], out=out, err=err) == 2
    assert "SigninLogs.jsonl: line 2: column _ingested: not an ISO 8601 time with a timezone: 'soon'" in err.getvalue()


# --- the fast path (bulk replays): the same rows, the same counts -------------------------------


@pytest.mark.parametrize("as_of", [None, ARRIVED_AT - timedelta(seconds=1), ARRIVED_AT])
def test_the_fast_path_reads_what_the_full_path_reads(tmp_path: Path, as_of: datetime | None) -> None:
    # Irrelevant lines that arrive late too: the fast path would leave them unparsed, but they must
    # not be counted as there when they are not.
    late_success = SUCCESS | {"_ingested": ARRIVED}
    escaped = json.dumps(late_success).replace('"_ingested"', '"\\u005fingested"')
    signins = [EARLY, LATE, late_success, SUCCESS, late_success]
    write(tmp_path, "jsonl", tables_with(signins, [LATE_IDENTITY], [LATE_BEHAVIOR]))
    with (tmp_path / "SigninLogs.jsonl").open("a", encoding="utf-8") as stream:
        stream.write(escaped + "\n")
    full, fast = read(tmp_path, as_of, strict=True), read(tmp_path, as_of, strict=False)
    assert (fast.signins, fast.identities, fast.behaviors) == (full.signins, full.identities, full.behaviors)
    assert fast.scanned == full.scanned
    assert full.scanned[SIGNIN_TABLE] == (7 if as_of is None or as_of >= ARRIVED_AT else 3)


ARRIVALS = [
    json.dumps(SUCCESS | {"_ingested": ARRIVED}),
    json.dumps(SUCCESS | {"_ingested": "later"}),  # unparsable, so an error once parsed
    json.dumps(SIGNIN | {"_ingested": ARRIVED}, separators=(",", ":")),
    '{"_ingested": "' + ARRIVED + '", "ResultType": "0", x}',  # "{…}" mentioning it, not JSON
    '{"Status": {"_ingested": 1}}',  # nested: parsed all the same
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.sampled_from([json.dumps(SUCCESS), json.dumps(LATE), ""]),
    body=st.lists(st.sampled_from(LINE_KINDS + ARRIVALS), max_size=30),
    block=st.sampled_from([1, 7, 64, 1 << 20]),
)
def test_with_as_of_the_fast_path_parses_every_line_that_mentions_an_ingestion_time(
    tmp_path_factory: pytest.TempPathFactory, first: str, body: list[str], block: int
) -> None:
    # The filter the fast path uses with as_of is the sign-in filter plus every line mentioning
    # _ingested; the block reader reads exactly what reading line by line with it reads.
    line_filter = fixtures._arrival_aware(raw_prefilter.SIGNIN_FILTER, ARRIVED_AT)
    path = tmp_path_factory.mktemp("arrivals") / "SigninLogs.jsonl"
    path.write_bytes(("\n".join([first, *body]) + "\n").encode())

    def blocks() -> tuple[list[tuple[str, dict]], int]:
        counter = Counter()
        return list(read_records(path, SIGNIN_TABLE, line_filter=line_filter, counter=counter)), counter.rows

    saved = json_lines._BLOCK_BYTES
    try:
        json_lines._BLOCK_BYTES = block
        got = _outcome(blocks)
    finally:
        json_lines._BLOCK_BYTES = saved
    assert got == _outcome(lambda: _reference_records(path, SIGNIN_TABLE, line_filter))
    for line in body:
        if '_ingested"' in line or raw_prefilter.SIGNIN_FILTER.may_match(line.strip().encode()):
            assert line_filter.may_match(line.strip().encode())


def test_without_as_of_the_fast_path_filter_is_unchanged() -> None:
    assert fixtures._arrival_aware(raw_prefilter.SIGNIN_FILTER, None) is raw_prefilter.SIGNIN_FILTER


# --- MFA_FIXTURES_TIME_SHIFT: the clock moves with the data ----------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_time_shifted_source_keeps_what_is_visible(tmp_path: Path, fmt: str) -> None:
    write(tmp_path, fmt, tables_with([JOHN, LATE, EARLY], [LATE_IDENTITY]))
    source = FixtureSource(tmp_path)
    shift = timedelta(days=400, minutes=7)
    moved = TimeShiftedSource(source, shift)
    for as_of in (ARRIVED_AT - timedelta(microseconds=1), ARRIVED_AT, None):
        shifted = moved.read(ReadRequest(None, None, None, as_of=None if as_of is None else as_of + shift))
        original = source.read(ReadRequest(None, None, None, as_of=as_of))
        assert upns(shifted) == upns(original)
        assert [r["TimeGenerated"] for r in shifted.signins] == [r["TimeGenerated"] + shift for r in original.signins]
        assert len(shifted.identities) == len(original.identities)
        assert shifted.scanned == original.scanned
    # The clock is moved back with the data: just before the late row's arrival, moved, it is not there.
    assert upns(moved.read(ReadRequest(None, None, None, as_of=ARRIVED_AT + shift - timedelta(seconds=1)))) == [
        "John.Doe@Contoso.com",
        "early@contoso.com",
    ]
    assert len(moved.read(ReadRequest(None, None, None, as_of=ARRIVED_AT + shift)).identities) == 1
    assert len(moved.read(ReadRequest(None, None, None, as_of=None)).identities) == 2
