"""docs/data.md, "Your own tables": the column table is ``SCHEMAS`` / ``REQUIRED_COLUMNS`` exactly, and
the export queries project exactly those columns, keep the rule's own sign-in filters, and parse and
type-check in Microsoft's Kusto language service."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.models import REQUIRED_COLUMNS, SCHEMAS, SIGNIN_TABLE, Window
from shared.sources import la_queries
from tests.harness.kusto_check import KustoChecker, KustoCheckerError

DOC = Path(__file__).resolve().parents[1] / "docs" / "data.md"
# How the table writes a type of shared.models; every other type is written as it is named there.
DOC_TYPES = {"string_or_dynamic": "string (a JSON array in it is read as one)"}
# The type Kusto gives each column (IdentityInfo.Tags is a string column).
KUSTO_TYPES = {"string_or_dynamic": "string"}


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    match = re.search(rf"^### {re.escape(title)}\n(.*?)(?=^##)", text + "\n##", re.S | re.M)
    assert match, f"docs/data.md has no section {title!r}"
    return match.group(1)


def documented_columns() -> dict[str, list[tuple[str, str, bool]]]:
    """``{table: [(column, type, required), ...]}`` in the order of the table's rows."""
    rows = re.findall(r"^\| (\w+) \| `(\w+)` \| ([^|]+?) \| (yes|no) \|$", section("Columns"), re.M)
    assert rows, "no column rows found"
    tables: dict[str, list[tuple[str, str, bool]]] = {}
    for table, column, kind, required in rows:
        tables.setdefault(table, []).append((column, kind, required == "yes"))
    return tables


def queries() -> dict[str, str]:
    """The export queries by the table each reads (its first line)."""
    blocks = re.findall(r"```kusto\n(.*?)```", section("Queries"), re.S)
    found = {block.splitlines()[0]: block.strip() for block in blocks}
    assert len(found) == len(blocks), "two queries read the same table"
    return found


def projected(query: str) -> list[str]:
    [line] = [line for line in query.splitlines() if line.startswith("| project ")]
    assert query.splitlines()[-1] == line, "project is not the query's last step"
    return line.removeprefix("| project ").split(", ")


def test_the_column_table_is_the_schemas_exactly() -> None:
    expected = {
        table: [
            (column, DOC_TYPES.get(kind, kind), column in REQUIRED_COLUMNS[table]) for column, kind in columns.items()
        ]
        for table, columns in SCHEMAS.items()
    }
    assert documented_columns() == expected
    # and REQUIRED_COLUMNS names only columns of the schema (so "no" is the complement of it)
    for table, required in REQUIRED_COLUMNS.items():
        assert set(required) <= set(SCHEMAS[table]), table


def test_each_query_projects_exactly_the_schema_columns() -> None:
    found = queries()
    assert sorted(found) == sorted(SCHEMAS)
    for table, query in found.items():
        assert projected(query) == list(SCHEMAS[table]), table


def test_the_signin_query_is_the_live_sources_without_its_time_filter() -> None:
    window = Window(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))
    live = [line for line in la_queries.signin_query(window).splitlines() if "TimeGenerated >=" not in line]
    assert queries()[SIGNIN_TABLE].splitlines() == live


def test_the_queries_parse_and_type_check(kusto_checker: KustoChecker) -> None:
    found = queries()
    try:
        results = kusto_checker.check(list(found.values()))
    except KustoCheckerError as error:
        pytest.fail(f"the KQL check needs node and node_modules: {error}", pytrace=False)
    for table, result in zip(found, results, strict=True):
        assert result.diagnostics == [], (table, result.messages)
        expected = [(column, KUSTO_TYPES.get(kind, kind)) for column, kind in SCHEMAS[table].items()]
        assert result.columns == expected, table
