"""The literal encoder: no value can break a query or change what it selects.

Two independent readers of KQL check every literal: Microsoft's Kusto language service (the
decoded value of each string literal, and zero diagnostics) and duckdb-kql (built on Microsoft's
ANTLR grammar), which also executes the value tests over a table of hostile values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import duckdb_kql
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.sources.kql_text import (
    datetime_literal,
    is_exact,
    literal_cost,
    string_literal,
    value_in,
    writable_prefix,
)
from tests.harness.kusto_check import KustoChecker

HOSTILE = [
    "",
    "plain@contoso.com",
    'quote"inside@x.com',
    "single'quote@x.com",
    "back\\slash@x.com",
    "ends with backslash\\",
    '\\"',
    '""',
    "new\nline",
    "carriage\rreturn",
    "tab\there",
    "pipe | where true",
    "comment // not a comment",
    '" or 1==1 or "',
    "') or true //",
    'x" | project-away * //',
    "let where project summarize take",
    'h"hidden"',
    '@"verbatim"',
    "```multi```",
    "ünïcödé@exämple.com",
    "İstanbul@x.com",
    "日本語@例え.jp",
    "emoji 😀 mail@x.com",
    "\u2028line\u2029separators\x85",
    "control\x01\x07\x1b\x7f",
    "zero\u200bwidth\ufeffbom",
    "right\u202eto-left",
    "{curly} [square] (paren) $dollar %percent",
]

# Text that has no safe literal form: written as a wider prefix test instead.
UNWRITABLE = ["nul\x00inside", "\x00leading", "lone\ud800surrogate"]


@pytest.fixture(scope="module")
def checker(kusto_checker: KustoChecker) -> KustoChecker:
    return kusto_checker


@pytest.fixture(scope="module")
def hostile_table() -> Iterator[object]:
    con = duckdb_kql.connect()
    con.execute("CREATE TABLE T (s VARCHAR)")
    rows = [*HOSTILE, *(v for v in UNWRITABLE if "\ud800" not in v), "nul", "plain", "PLAIN@CONTOSO.COM"]
    con.executemany("INSERT INTO T VALUES (?)", [[v] for v in rows])
    yield con
    con.close()


def _select(con: object, predicate: str) -> list[str]:
    return sorted(row[0] for row in duckdb_kql.query(con, f"T | where {predicate} | project s").fetchall())


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", '"abc"'),
        ('a"b', '"a\\"b"'),
        ("a\\b", '"a\\\\b"'),
        ("a\nb\rc\td", '"a\\nb\\rc\\td"'),
        ("\\n", '"\\\\n"'),
        ("a'b|c//d", '"a\'b|c//d"'),
        ("ü😀", '"ü😀"'),
    ],
)
def test_string_literal_escapes_only_the_documented_characters(value: str, expected: str) -> None:
    assert string_literal(value) == expected


def test_hostile_values_parse_and_decode_to_themselves_in_the_kusto_language_service(checker: KustoChecker) -> None:
    results = checker.check([f"print v = {string_literal(value)}" for value in HOSTILE])
    for value, result in zip(HOSTILE, results, strict=True):
        assert result.diagnostics == [], (value, result.messages)
        assert result.literals == [value]
        assert result.columns == [("v", "string")]


def test_hostile_values_decode_to_themselves_in_duckdb_kql() -> None:
    query = "print " + ", ".join(f"v{i} = {string_literal(v)}" for i, v in enumerate(HOSTILE))
    con = duckdb_kql.connect()
    assert list(duckdb_kql.query(con, query).fetchall()[0]) == HOSTILE


@settings(max_examples=25, deadline=None)
@given(st.lists(st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00")), min_size=1, max_size=30))
def test_any_writable_text_round_trips_through_both_parsers(checker: KustoChecker, texts: list[str]) -> None:
    [result] = checker.check(["print " + ", ".join(f"v{i} = {string_literal(t)}" for i, t in enumerate(texts))])
    assert result.diagnostics == [], result.messages
    assert result.literals == texts
    row = duckdb_kql.query(
        duckdb_kql.connect(), "print " + ", ".join(f"v{i} = {string_literal(t)}" for i, t in enumerate(texts))
    )
    assert list(row.fetchall()[0]) == texts


@pytest.mark.parametrize("value", UNWRITABLE)
def test_text_without_a_safe_literal_form_is_refused(value: str) -> None:
    assert not is_exact(value)
    with pytest.raises(ValueError, match="no safe Kusto literal"):
        string_literal(value)


def test_only_strings_become_string_literals() -> None:
    with pytest.raises(TypeError):
        string_literal(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("chosen", [[v] for v in HOSTILE] + [HOSTILE[:5], HOSTILE[5:20], HOSTILE])
def test_value_in_selects_exactly_the_given_values(hostile_table: object, chosen: list[str]) -> None:
    assert _select(hostile_table, value_in("s", chosen)) == sorted(chosen)


def test_value_in_is_case_sensitive(hostile_table: object) -> None:
    assert _select(hostile_table, value_in("s", ["PLAIN@contoso.com"])) == []


def test_unwritable_values_select_a_superset_through_their_prefix(hostile_table: object) -> None:
    predicate = value_in("s", ["nul\x00inside", "plain"])
    assert "startswith_cs" in predicate
    selected = _select(hostile_table, predicate)
    assert "nul\x00inside" in selected
    assert "plain" in selected
    assert "nul" in selected  # admitted by the prefix; the caller re-checks exactly
    assert "plain@contoso.com" not in selected


def test_a_value_without_any_writable_prefix_selects_everything(hostile_table: object) -> None:
    assert value_in("s", ["\x00leading", "plain"]) == "true"
    assert len(_select(hostile_table, "true")) == len(_select(hostile_table, value_in("s", ["\x00leading"])))


def test_no_values_select_nothing(hostile_table: object) -> None:
    assert value_in("s", []) == "false"
    assert _select(hostile_table, value_in("s", [])) == []


def test_over_long_values_are_tested_by_a_bounded_prefix() -> None:
    long_value = "a" * 5000
    predicate = value_in("s", [long_value, "b"], max_chars=100)
    assert len(predicate) < 400
    assert writable_prefix(long_value, max_chars=100) == "a" * 100
    assert f"s startswith_cs {string_literal('a' * 100)}" in predicate
    assert 's in ("b")' in predicate


def test_value_predicates_parse_in_the_kusto_language_service(checker: KustoChecker) -> None:
    predicates = [
        value_in("UserPrincipalName", HOSTILE),
        value_in("UserPrincipalName", [*HOSTILE, *UNWRITABLE[:1]]),
        value_in("UserPrincipalName", UNWRITABLE),
        value_in("tolower(UserPrincipalName)", ["a" * 3000, "b"], max_chars=64),
        value_in("UserPrincipalName", []),
    ]
    results = checker.check([f"SigninLogs | where {p} | project UserPrincipalName" for p in predicates])
    for result in results:
        assert result.diagnostics == [], result.messages
        assert result.columns == [("UserPrincipalName", "string")]


def test_literal_cost_bounds_what_value_in_writes() -> None:
    for value in [*HOSTILE, '"' * 50, "\\" * 50, "\n" * 50]:
        written = len(value_in("s", [value])) - len("s in ()")
        assert written <= literal_cost(value)


def test_datetime_literal_is_utc_to_the_microsecond(checker: KustoChecker) -> None:
    moment = datetime(2026, 11, 28, 10, 30, 15, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert datetime_literal(moment) == "datetime(2026-11-28T09:30:15.123456Z)"
    [result] = checker.check([f"print d = {datetime_literal(moment)}"])
    assert result.diagnostics == []
    assert result.columns == [("d", "datetime")]
    value = duckdb_kql.query(duckdb_kql.connect(), f"print d = {datetime_literal(moment)}").fetchall()[0][0]
    assert value.replace(tzinfo=UTC) == moment


def test_datetime_literal_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        datetime_literal(datetime(2026, 11, 28))
