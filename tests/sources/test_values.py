"""Cell normalisation to Kusto types, whatever shape the value arrived in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from shared.sources.values import (
    CellError,
    api_row,
    normalise_row,
    parse_bool,
    parse_datetime,
    parse_dynamic,
    parse_int,
    parse_string,
    parse_string_or_dynamic,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-28T09:10:00Z", datetime(2026, 11, 28, 9, 10, tzinfo=UTC)),
        ("2026-11-28T09:10:00.1234567Z", datetime(2026, 11, 28, 9, 10, 0, 123456, tzinfo=UTC)),
        ("2026-11-28T10:10:00+01:00", datetime(2026, 11, 28, 9, 10, tzinfo=UTC)),
        ("2026-11-28 09:10:00", datetime(2026, 11, 28, 9, 10, tzinfo=UTC)),  # no zone: UTC
        ("11/28/2026, 9:10:00.500 AM", datetime(2026, 11, 28, 9, 10, 0, 500000, tzinfo=UTC)),
        ("11/28/2026, 12:00:00.000 AM", datetime(2026, 11, 28, 0, 0, tzinfo=UTC)),
        ("", None),
        (None, None),
    ],
)
def test_datetimes_become_aware_utc(text: str | None, expected: datetime | None) -> None:
    assert parse_datetime(text) == expected


def test_an_aware_datetime_is_converted_to_utc() -> None:
    moment = datetime(2026, 11, 28, 10, 10, tzinfo=timezone(timedelta(hours=1)))
    assert parse_datetime(moment) == datetime(2026, 11, 28, 9, 10, tzinfo=UTC)
    assert parse_datetime(moment).tzinfo is UTC


@pytest.mark.parametrize("bad", ["yesterday", "13/45/2026, 9:00 AM", "2026-13-01T00:00:00Z", 12345])
def test_unreadable_datetimes_raise(bad: object) -> None:
    with pytest.raises(ValueError, match="datetime"):
        parse_datetime(bad)


@pytest.mark.parametrize(
    ("value", "expected"), [(None, ""), ("x", "x"), (500121, "500121"), (True, "true"), ({"a": 1}, '{"a":1}')]
)
def test_strings_are_never_null(value: object, expected: str) -> None:
    assert parse_string(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(5, 5), ("5", 5), (" 7 ", 7), (5.0, 5), ("", None), (None, None)])
def test_ints_accept_integer_text(value: object, expected: int | None) -> None:
    assert parse_int(value) == expected


@pytest.mark.parametrize("bad", ["high", "5.5", 5.5, True])
def test_non_integers_raise(bad: object) -> None:
    with pytest.raises(ValueError, match="integer"):
        parse_int(bad)


@pytest.mark.parametrize(
    ("value", "expected"), [(True, True), ("TRUE", True), ("False", False), ("0", False), ("", None), (1, True)]
)
def test_bools(value: object, expected: bool | None) -> None:
    assert parse_bool(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('{"additionalDetails":"x"}', {"additionalDetails": "x"}),  # JSON text is parsed
        ('["a"]', ["a"]),
        ("not json", "not json"),  # text that is not JSON stays a plain string
        ("", None),
        ({"a": 1}, {"a": 1}),
        ("42", 42),
    ],
)
def test_dynamic_text_is_parsed(value: object, expected: object) -> None:
    assert parse_dynamic(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [('["VIP"]', ["VIP"]), (["VIP"], ["VIP"]), ("VIP", "VIP"), ("[not json", "[not json"), (None, ""), ("", "")],
)
def test_tags_are_a_string_unless_they_hold_an_array(value: object, expected: object) -> None:
    assert parse_string_or_dynamic(value) == expected


def test_normalise_row_names_the_bad_column_and_fills_absent_ones() -> None:
    schema = {"TimeGenerated": "datetime", "Name": "string", "Score": "int"}
    assert normalise_row({"TimeGenerated": ""}, schema) == {"TimeGenerated": None, "Name": "", "Score": None}
    with pytest.raises(CellError, match="column Score: expected an integer") as caught:
        normalise_row({"Score": "x"}, schema)
    assert caught.value.column == "Score"


# --- query-API rows: a column typed dynamic holds JSON text, decoded exactly once ------------------

API_SCHEMA = {"Tags": "string_or_dynamic", "GroupMembership": "dynamic", "JobTitle": "string"}


@pytest.mark.parametrize(
    ("text", "as_tags", "as_dynamic"),
    [
        ('"Contractor"', "Contractor", "Contractor"),
        ('"[VIP]"', "[VIP]", "[VIP]"),  # a string, never parsed a second time
        ('"[\\"VIP\\"]"', '["VIP"]', '["VIP"]'),  # the string holding array text stays that string
        ("5", "5", 5),
        ("-2.5", "-2.5", -2.5),
        ("true", "true", True),
        ("false", "false", False),
        ("null", "", None),
        ('["VIP","Finance"]', ["VIP", "Finance"], ["VIP", "Finance"]),
        ('{"level":"high"}', '{"level":"high"}', {"level": "high"}),
        ("not json", "not json", "not json"),  # not JSON: the text as it came
        ("", "", None),
        ("[" * 5000, "[" * 5000, "[" * 5000),  # too deep for json to parse: the text as it came
    ],
)
def test_api_rows_decode_dynamic_cells_once(text: str, as_tags: Any, as_dynamic: Any) -> None:
    raw = api_row(["Tags", "GroupMembership", "JobTitle"], ["dynamic", "dynamic", "string"], [text, text, text])
    row = normalise_row(raw, API_SCHEMA)
    assert row["Tags"] == as_tags
    assert row["GroupMembership"] == as_dynamic
    assert row["JobTitle"] == text  # a string column is never decoded


def test_api_rows_leave_untyped_and_non_text_cells_to_the_schema() -> None:
    raw = api_row(["Tags", "GroupMembership"], [None, "dynamic"], ['["VIP"]', ["IT"]])
    assert normalise_row(raw, API_SCHEMA) == {"Tags": ["VIP"], "GroupMembership": ["IT"], "JobTitle": ""}
