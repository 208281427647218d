"""Read the three tables from local files: data exports, CLI output, API responses, portal CSVs.

A directory holds one file per table, ``<Table>.jsonl`` | ``.json`` | ``.csv``. Files are
streamed: only rows that can matter to the rule are kept (``shared.candidates``), so memory grows
with those rows, not with the file. Every problem becomes one ``InputError`` naming the file and
line (or record) and what is wrong.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ijson

from shared.candidates import Candidates, is_rejected_mfa
from shared.errors import InputError
from shared.models import (
    BEHAVIOR_TABLE,
    IDENTITY_TABLE,
    REQUIRED_COLUMNS,
    SCHEMAS,
    SIGNIN_TABLE,
    ReadRequest,
    Row,
    Tables,
    Window,
)
from shared.sources import raw_prefilter
from shared.sources.values import CellError, normalise_row

logger = logging.getLogger(__name__)

EXTENSIONS = (".jsonl", ".json", ".csv")
# JSON Lines up to this size (the three files together) are parsed and checked line by line in full
# (about a second per 100 MB); more take the fast path that leaves provably irrelevant lines unparsed.
FULL_VALIDATION_MAX_BYTES = 128 * 2**20
# The portal suffixes time columns with their zone: "TimeGenerated [UTC]".
_HEADER_SUFFIX = re.compile(r"\s*\[[^\]]*\]\s*$")

RawRecord = tuple[str, Mapping[str, Any]]  # (where it is, e.g. "line 12"; the raw values)


def table_file(directory: Path, table: str) -> Path:
    """The one file holding ``table`` in ``directory``, or an InputError naming what was looked for."""
    found = [directory / f"{table}{ext}" for ext in EXTENSIONS if (directory / f"{table}{ext}").is_file()]
    if not found:
        looked = ", ".join(f"{table}{ext}" for ext in EXTENSIONS)
        raise InputError(f"{directory}: no {table} file (looked for {looked})")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"{directory}: more than one {table} file ({names}); keep one")
    return found[0]


@dataclass(frozen=True, slots=True)
class FixtureSource:
    """A ``DataSource`` over a directory of table files.

    Every line of a file is parsed and every value checked, so that any bad line is reported —
    except when the JSON Lines files hold more than ``validate_up_to`` bytes together (a bulk replay
    of data exports): there, lines that provably cannot hold a row the rule uses are only checked for being one JSON
    object (``{…}``), not parsed, which is the difference between replaying a million sign-ins in
    seconds and in a minute. ``strict=True`` parses every line whatever the size; ``strict=False``
    takes the fast path whatever the size.
    """

    directory: Path
    strict: bool | None = None
    validate_up_to: int = FULL_VALIDATION_MAX_BYTES

    def read(self, request: ReadRequest) -> Tables:
        directory = Path(self.directory)
        if not directory.is_dir():
            raise InputError(f"{directory}: not a directory of fixture files")
        files = {table: table_file(directory, table) for table in SCHEMAS}
        parse_all = self._validates_all(files)
        scanned: dict[str, int] = {}

        signins = self._rows(
            files[SIGNIN_TABLE],
            SIGNIN_TABLE,
            request.signins,
            keep=is_rejected_mfa,
            line_filter=None if parse_all else raw_prefilter.signin_line_filter(),
            scanned=scanned,
        )
        candidates = Candidates.from_signins(signins)
        identities = self._rows(
            files[IDENTITY_TABLE],
            IDENTITY_TABLE,
            request.identities,
            keep=candidates.may_enrich,
            line_filter=None if parse_all else raw_prefilter.identity_line_filter(candidates),
            scanned=scanned,
        )
        behaviors = self._rows(
            files[BEHAVIOR_TABLE],
            BEHAVIOR_TABLE,
            request.behaviors,
            keep=candidates.may_score,
            line_filter=None if parse_all else raw_prefilter.behavior_line_filter(candidates),
            scanned=scanned,
        )
        logger.debug("read fixtures from %s: %s", directory, scanned)
        return Tables(signins=signins, identities=identities, behaviors=behaviors, scanned=scanned)

    def _rows(
        self,
        path: Path,
        table: str,
        window: Window | None,
        *,
        keep: Callable[[Row], bool],
        line_filter: raw_prefilter.RawFilter | None,
        scanned: dict[str, int],
    ) -> list[Row]:
        schema = SCHEMAS[table]
        counter = _Counter()
        records = read_records(path, table, line_filter=line_filter, counter=counter)
        kept: list[Row] = []
        for where, raw in records:
            try:
                row = normalise_row(raw, schema)
            except CellError as error:
                raise InputError(f"{path}: {where}: {error}") from None
            if (window is None or window.contains(row["TimeGenerated"])) and keep(row):
                kept.append(row)
        scanned[table] = counter.rows
        return kept

    def _validates_all(self, files: dict[str, Path]) -> bool:
        """Whether every line is parsed: yes, unless ``strict`` says otherwise or the JSON Lines
        files together are a bulk replay (over ``validate_up_to`` bytes)."""
        if self.strict is not None:
            return self.strict
        jsonl = [path for path in files.values() if path.suffix.lower() == ".jsonl"]
        size = sum(path.stat().st_size for path in jsonl)
        if size <= self.validate_up_to:
            return True
        logger.info(
            "%s holds %d MB of JSON Lines: lines that cannot matter to the rule are checked for shape only, "
            "not parsed (--strict parses every line)",
            self.directory,
            size // 2**20,
        )
        return False


@dataclass(slots=True)
class _Counter:
    rows: int = 0


def read_records(
    path: Path, table: str, *, line_filter: raw_prefilter.RawFilter | None = None, counter: _Counter | None = None
) -> Iterator[RawRecord]:
    """Every record of a table file as raw values, with where it is; raises InputError on bad data.

    ``line_filter`` (JSON Lines only) lets lines it rejects go unparsed.
    """
    counter = counter if counter is not None else _Counter()
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return _jsonl_records(path, table, line_filter, counter)
    if suffix == ".json":
        return _json_records(path, table, counter)
    return _csv_records(path, table, counter)


def _check_columns(path: Path, table: str, columns: Any) -> None:
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in columns]
    if missing:
        raise InputError(f"{path}: table {table} lacks required column(s) {', '.join(missing)}")


def _jsonl_records(
    path: Path, table: str, line_filter: raw_prefilter.RawFilter | None, counter: _Counter
) -> Iterator[RawRecord]:
    lines = _JsonLines(path, table, line_filter, counter)
    with _open_binary(path) as stream:
        for buffer, start, stop in _line_blocks(stream):
            yield from lines.block(buffer, start, stop)


# Bytes read at a time: big enough that per-read costs vanish, small enough not to weigh on memory.
_BLOCK_BYTES = 1 << 22


def _line_blocks(stream: Any) -> Iterator[tuple[bytes, int, int]]:
    """The file as ``(buffer, start, stop)``: ``buffer[start:stop]`` is whole lines, each ending in
    a newline (one is added to a last line without), in file order."""
    pieces: list[bytes] = []  # the start of a line that continues in the next read
    while data := stream.read(_BLOCK_BYTES):
        last = data.rfind(b"\n")
        if last < 0:
            pieces.append(data)
            continue
        start = 0
        if pieces:
            start = data.find(b"\n") + 1
            pieces.append(data[:start])
            line = b"".join(pieces)
            pieces = []
            yield line, 0, len(line)
        if start <= last:
            yield data, start, last + 1
        if last + 1 < len(data):
            pieces.append(data[last + 1 :])
    if pieces:
        line = b"".join(pieces) + b"\n"
        yield line, 0, len(line)


class _JsonLines:
    """The records of a JSON Lines file, block by block, with the line numbers of the file.

    Per line, exactly: a blank line is ignored; the first non-blank line is parsed (its columns are
    checked); a line the filter proves irrelevant is only checked to be ``{…}``; every other line
    is parsed. The filter's marks say which lines need that test at all: a line without a mark
    that is ``{…}`` is counted and skipped without any per-line Python work beyond finding its end.
    """

    __slots__ = ("_counter", "_filter", "_first", "_number", "_path", "_pos", "_table")

    def __init__(self, path: Path, table: str, line_filter: raw_prefilter.RawFilter | None, counter: _Counter) -> None:
        self._path = path
        self._table = table
        self._filter = line_filter
        self._counter = counter
        self._first = True
        self._number = 0
        self._pos = 0

    def _each_line(self, buffer: bytes, pos: int, stop: int, *, until_first: bool) -> Iterator[RawRecord]:
        """Every line from ``pos`` the old-fashioned way (or only until the first record is read);
        ``self._pos`` is where it stopped."""
        while pos < stop and (self._first or not until_first):
            end = buffer.find(b"\n", pos, stop)
            self._number += 1
            record = self._line(buffer[pos:end].strip())
            if record is not None:
                yield f"line {self._number}", record
            pos = end + 1
        self._pos = pos

    def block(self, buffer: bytes, start: int, stop: int) -> Iterator[RawRecord]:
        find = buffer.find
        # Until the first record is read (and its columns checked) every line is parsed.
        yield from self._each_line(buffer, start, stop, until_first=True)
        pos = self._pos
        marks = self._filter.marks(buffer, pos, stop) if self._filter is not None and pos < stop else None
        if marks is None:
            yield from self._each_line(buffer, pos, stop, until_first=False)
            return
        marks.append(stop)  # a sentinel past every line
        next_mark = marks[0]
        index = 0
        number = first_number = self._number
        handled = 0  # lines given to _line, which counts the non-blank ones itself
        while pos < stop:
            end = find(b"\n", pos, stop)
            number += 1
            # No mark in the line: the filter rejects it; if it is "{…}" (or "{…}\r"), that is all.
            if (
                end < next_mark
                and buffer[pos] == 123  # "{"
                and (buffer[end - 1] == 125 or (buffer[end - 1] == 13 and buffer[end - 2] == 125))  # "}", "}\r"
            ):
                pos = end + 1
                continue
            while next_mark < end:
                index += 1
                next_mark = marks[index]
            handled += 1
            self._number = number
            record = self._line(buffer[pos:end].strip())
            if record is not None:
                yield f"line {number}", record
            pos = end + 1
        self._number = number
        self._counter.rows += number - first_number - handled

    def _line(self, stripped: bytes) -> Mapping[str, Any] | None:
        """One line, stripped, the old-fashioned way: the record, or None for a line not parsed."""
        if not stripped:
            return None
        self._counter.rows += 1
        if not self._first and self._filter is not None and not self._filter.may_match(stripped):
            if not (stripped.startswith(b"{") and stripped.endswith(b"}")):
                raise InputError(f"{self._path}: line {self._number}: not a JSON object")
            return None
        try:
            record = json.loads(stripped)
        except ValueError as error:
            raise InputError(f"{self._path}: line {self._number}: invalid JSON: {_json_reason(error)}") from None
        if not isinstance(record, dict):
            raise InputError(f"{self._path}: line {self._number}: expected a JSON object, got {type(record).__name__}")
        if self._first:
            _check_columns(self._path, self._table, record)
            self._first = False
        return record


def _json_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    with _open_binary(path) as stream:
        head = stream.read(4096).lstrip()
    if head.startswith(b"["):
        records = _json_array_records(path, table, counter)
    elif head.startswith(b"{"):
        records = _api_response_records(path, table, counter)
    else:
        raise InputError(f"{path}: line 1: expected a JSON array of objects or a query API response")
    try:
        yield from records
    except ijson.JSONError as error:
        raise InputError(f"{path}: {_locate_json_error(path, error)}") from None


def _json_array_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    with _open_binary(path) as stream:
        for index, record in enumerate(ijson.items(stream, "item", use_float=True), 1):
            counter.rows += 1
            if not isinstance(record, dict):
                raise InputError(f"{path}: record {index}: expected a JSON object, got {type(record).__name__}")
            if index == 1:
                _check_columns(path, table, record)
            yield f"record {index}", record


def _api_response_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    # A query API response: {"tables":[{"name", "columns":[{"name","type"}], "rows":[[...]]}]}.
    # Two streaming passes, so that "columns" may come after "rows" in the file.
    with _open_binary(path) as stream:
        tables = list(ijson.items(stream, "tables.item.columns"))
    if len(tables) != 1:
        raise InputError(f"{path}: a query API response with {len(tables)} tables; expected exactly one")
    try:
        names = [column["name"] if isinstance(column, dict) else str(column) for column in tables[0]]
    except (KeyError, TypeError):
        raise InputError(f"{path}: the response's columns are not objects with a name") from None
    _check_columns(path, table, names)
    with _open_binary(path) as stream:
        for index, values in enumerate(ijson.items(stream, "tables.item.rows.item", use_float=True), 1):
            counter.rows += 1
            if not isinstance(values, list) or len(values) != len(names):
                raise InputError(f"{path}: row {index}: expected an array of {len(names)} values")
            yield f"row {index}", dict(zip(names, values, strict=True))


def _csv_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    with _open_text(path) as stream:
        reader = csv.reader(stream, strict=True)
        try:
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty file (expected a CSV header line)")
            names = [_HEADER_SUFFIX.sub("", name.lstrip("\ufeff")).strip() for name in header]
            _check_columns(path, table, names)
            for values in reader:
                if not values or values == [""]:
                    continue
                counter.rows += 1
                if len(values) != len(names):
                    raise InputError(
                        f"{path}: line {reader.line_num}: {len(values)} fields, the header has {len(names)}"
                    )
                yield f"line {reader.line_num}", dict(zip(names, values, strict=True))
        except csv.Error as error:
            raise InputError(f"{path}: line {reader.line_num}: invalid CSV: {error}") from None
        except UnicodeDecodeError as error:
            raise InputError(f"{path}: after line {reader.line_num}: not UTF-8 text: {error.reason}") from None


def _open_binary(path: Path) -> Any:
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None


def _open_text(path: Path) -> Any:
    try:
        return path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None


def _json_reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    return str(error)


def _locate_json_error(path: Path, error: Exception) -> str:
    # ijson does not say where; the standard parser does. Only on this error path do we read the
    # file whole to find the line.
    try:
        json.loads(path.read_bytes())
    except json.JSONDecodeError as located:
        return f"line {located.lineno}: invalid JSON: {located.msg} (column {located.colno})"
    except (ValueError, OSError):
        pass
    return f"invalid JSON: {error}"
