"""The records of a saved query API response (a ``<Table>.json`` file holding ``{"tables": [...]}``),
as the live source reads a response: each row's values named by the columns, dynamic cells decoded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from shared.errors import InputError
from shared.sources.fixture_files import Counter, RawRecord, check_columns, open_text
from shared.sources.json_stream import JsonText
from shared.sources.values import api_row


def api_response_records(path: Path, table: str, counter: Counter) -> Iterator[RawRecord]:
    """Every row of a saved query API response holding exactly one table, as raw values by column."""
    # A query API response: {"tables":[{"name", "columns":[{"name","type"}], "rows":[[...]]}]}.
    # Two streaming passes, so that "columns" may come after "rows" in the file; the first reads
    # (and so checks) the whole file, keeping only the columns.
    columns: dict[int, Any] = {}
    tables = 0
    with open_text(path) as stream:
        for part, index, value, _ in _api_parts(JsonText(path, stream)):
            tables = max(tables, index + 1)
            if part == "columns":
                columns[index] = value
    if tables != 1:
        raise InputError(f"{path}: a query API response with {tables} tables; expected exactly one")
    try:
        names = [column["name"] if isinstance(column, dict) else str(column) for column in columns.get(0, [])]
        types = [column.get("type") if isinstance(column, dict) else None for column in columns.get(0, [])]
    except (KeyError, TypeError):
        raise InputError(f"{path}: the response's columns are not objects with a name") from None
    check_columns(path, table, names)
    with open_text(path) as stream:
        index = 0
        for part, _, values, line in _api_parts(JsonText(path, stream)):
            if part != "row":
                continue
            index += 1
            counter.rows += 1
            if not isinstance(values, list) or len(values) != len(names):
                raise InputError(f"{path}: row {index} (line {line}): expected an array of {len(names)} values")
            # As the live source reads a response: each dynamic cell's JSON text decoded once.
            yield f"row {index} (line {line})", api_row(names, types, values)


def _api_parts(reader: JsonText) -> Iterator[tuple[str, int, Any, int]]:
    """A query API response as ``(part, table, value, line)`` in file order: ``("table", table,
    None, line)`` for each entry of "tables" (counted from 0), then its ``("columns", table,
    columns, line)`` and each ``("row", table, row, line)``. Other members are read and passed over."""
    reader.expect("{")
    table = -1
    for key in reader.members():
        if key != "tables":
            reader.value()
            continue
        reader.expect("[", 'an array of tables for "tables"')
        for _ in reader.elements():
            table += 1
            yield "table", table, None, reader.line()
            reader.expect("{", "a table object")
            for member in reader.members():
                if member == "columns":
                    line = reader.line()
                    yield "columns", table, reader.value(), line
                elif member == "rows":
                    reader.expect("[", 'an array of rows for "rows"')
                    for _ in reader.elements():
                        line = reader.line()
                        yield "row", table, reader.value(), line
                else:
                    reader.value()
    reader.end()
