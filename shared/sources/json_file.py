"""The records of a ``<Table>.json`` file: a JSON array of objects (a data export, or the output of
``az monitor log-analytics query``), or a saved query API response (``api_response_file``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from shared.errors import InputError
from shared.sources.api_response_file import api_response_records
from shared.sources.fixture_files import Counter, RawRecord, check_columns, open_text
from shared.sources.json_stream import JsonText


def json_records(path: Path, table: str, counter: Counter) -> Iterator[RawRecord]:
    """Every record of a ``.json`` file, array or API response as its first character says."""
    with open_text(path) as stream:
        reader = JsonText(path, stream)
        first = reader.peek()
        line = reader.line()
    if first == "[":
        yield from _json_array_records(path, table, counter)
    elif first == "{":
        yield from api_response_records(path, table, counter)
    else:
        raise InputError(f"{path}: line {line}: expected a JSON array of objects or a query API response")


def _json_array_records(path: Path, table: str, counter: Counter) -> Iterator[RawRecord]:
    with open_text(path) as stream:
        reader = JsonText(path, stream)
        reader.expect("[")
        for index, _ in enumerate(reader.elements(), 1):
            line = reader.line()
            record = reader.value()
            counter.rows += 1
            if not isinstance(record, dict):
                raise InputError(
                    f"{path}: record {index} (line {line}): expected a JSON object, got {type(record).__name__}"
                )
            if index == 1:
                check_columns(path, table, record)
            yield f"record {index} (line {line})", record
        reader.end()
