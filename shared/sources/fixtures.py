"""Read the three tables from local files: data exports, CLI output, API responses, portal CSVs.

A directory holds one file per table, ``<Table>.jsonl`` | ``.json`` | ``.csv``. Files are
streamed: only rows that can matter to the rule are kept (``shared.candidates``), so memory grows
with those rows, not with the file. Every problem becomes one ``InputError`` naming the file and
line (or record) and what is wrong: text that is not UTF-8 (a lone surrogate written as raw bytes
included), invalid JSON or CSV, JSON nested too deeply for Python's parser (a RecursionError
inside), a value of the wrong type (``shared.sources.values``).

Every string is data, whatever it holds: NUL and every other control character (JSON escapes them;
a CSV field holds them as they are, a bare CR or LF inside quotes included) and, in JSON text, a
lone surrogate escape such as ``"\ud800"`` (valid JSON; UTF-8 cannot carry one any other way).

All JSON is decoded by Python's ``json`` (a JSON Lines line whole; a ``.json`` file value by
value, streamed), so every format reads every escape, and refuses every depth, alike. (ijson's
yajl backend, which streamed ``.json`` files before, turns a lone surrogate escape into "?", pairs
two high surrogates into a wrong character, raises UnicodeDecodeError past its own error type, and
holds each level's path text, so that deep nesting under long keys takes memory quadratic in
the depth: a 10 MB file, 1 GB.)
"""

from __future__ import annotations

import csv
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

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
from shared.sources.values import CellError, api_row, normalise_row

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

    def close(self) -> None:
        """Nothing to release: each read opens and closes its files."""

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
        try:
            for buffer, start, stop in _line_blocks(stream):
                yield from lines.block(buffer, start, stop)
        except _LineTooLongError:
            raise InputError(f"{path}: line {lines.lines_read + 1}: {_too_long()}") from None


# Bytes read at a time: big enough that per-read costs vanish, small enough not to weigh on memory.
_BLOCK_BYTES = 1 << 22


# No record Log Analytics holds is longer than 64 MB, which JSON text writes in at most six times
# as many characters (a control character as "\\u001f"); a line or a value longer than this is
# refused before it is held whole.
MAX_RECORD_CHARS: Final = 384 * 2**20


class _LineTooLongError(Exception):
    """A line (or a JSON value) longer than ``MAX_RECORD_CHARS``."""


def _too_long() -> str:
    return f"longer than {MAX_RECORD_CHARS // 2**20} MB, more than any record Log Analytics holds (64 MB)"


def _line_blocks(stream: Any) -> Iterator[tuple[bytes, int, int]]:
    """The file as ``(buffer, start, stop)``: ``buffer[start:stop]`` is whole lines, each ending in
    a newline (one is added to a last line without), in file order. _LineTooLongError for a line longer than
    ``MAX_RECORD_CHARS`` bytes (raised once it is known, with every line before it given)."""
    pieces: list[bytes] = []  # the start of a line that continues in the next read
    while data := stream.read(_BLOCK_BYTES):
        last = data.rfind(b"\n")
        if last < 0:
            pieces.append(data)
            if sum(map(len, pieces)) > MAX_RECORD_CHARS:
                raise _LineTooLongError
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

    @property
    def lines_read(self) -> int:
        """The lines read so far (blank ones included)."""
        return self._number

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
        record = _parse_json_line(stripped, self._path, self._number)
        if not isinstance(record, dict):
            raise InputError(f"{self._path}: line {self._number}: expected a JSON object, got {type(record).__name__}")
        if self._first:
            _check_columns(self._path, self._table, record)
            self._first = False
        return record


def _parse_json_line(line: bytes, path: Path, number: int) -> Any:
    """One JSON Lines line (stripped) as its value; InputError naming the file and line for text
    that is not UTF-8, invalid JSON, or JSON nested too deeply for ``json`` (its RecursionError).

    Strict UTF-8, as every format is read (``json.loads`` of the bytes would let a lone surrogate
    written as raw bytes through); a UTF-8 byte order mark is skipped, as ``json.loads`` skips it.
    """
    try:
        return json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: line {number}: {_not_utf8(error.object[error.start])}") from None
    except RecursionError:
        raise InputError(f"{path}: line {number}: invalid JSON: {_TOO_DEEP}") from None
    except ValueError as error:
        if line.startswith(_BOM):
            return _parse_json_line(line[len(_BOM) :], path, number)
        raise InputError(f"{path}: line {number}: invalid JSON: {_json_reason(error)}") from None


_BOM: Final = b"\xef\xbb\xbf"
_TOO_DEEP: Final = "nested too deeply for the JSON parser (RecursionError)"
# What errors="surrogateescape" makes of a byte that is not part of UTF-8 text.
_UNDECODABLE: Final = re.compile("[\udc80-\udcff]")


def _not_utf8(byte: int) -> str:
    return f"not UTF-8 text (byte 0x{byte:02x})"


def _json_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    with _open_json(path) as stream:
        reader = _JsonText(path, stream)
        first = reader.peek()
        line = reader.line()
    if first == "[":
        yield from _json_array_records(path, table, counter)
    elif first == "{":
        yield from _api_response_records(path, table, counter)
    else:
        raise InputError(f"{path}: line {line}: expected a JSON array of objects or a query API response")


def _json_array_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    with _open_json(path) as stream:
        reader = _JsonText(path, stream)
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
                _check_columns(path, table, record)
            yield f"record {index} (line {line})", record
        reader.end()


def _api_response_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    # A query API response: {"tables":[{"name", "columns":[{"name","type"}], "rows":[[...]]}]}.
    # Two streaming passes, so that "columns" may come after "rows" in the file; the first reads
    # (and so checks) the whole file, keeping only the columns.
    columns: dict[int, Any] = {}
    tables = 0
    with _open_json(path) as stream:
        for part, index, value, _ in _api_parts(_JsonText(path, stream)):
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
    _check_columns(path, table, names)
    with _open_json(path) as stream:
        index = 0
        for part, _, values, line in _api_parts(_JsonText(path, stream)):
            if part != "row":
                continue
            index += 1
            counter.rows += 1
            if not isinstance(values, list) or len(values) != len(names):
                raise InputError(f"{path}: row {index} (line {line}): expected an array of {len(names)} values")
            # As the live source reads a response: each dynamic cell's JSON text decoded once.
            yield f"row {index} (line {line})", api_row(names, types, values)


def _api_parts(reader: _JsonText) -> Iterator[tuple[str, int, Any, int]]:
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


# Characters read at a time from a .json file.
_PIECE_CHARS = 1 << 20
# An error this close to the end of the text read so far may be the text being cut off there
# ("tru", "-Infinit", "\\ud83d\\ude0"): read on and decode again before calling it an error.
_CUT_OFF_CHARS = 16
_JSON_SPACE: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


class _JsonText:
    """A JSON file read piece by piece, its values decoded one at a time by ``json`` itself.

    ``raw_decode`` reads each record (or each member of the outer structure) exactly as
    ``json.loads`` would: the same escapes, the same RecursionError for deep nesting. Only the
    record being read and one piece of text are held. The text is decoded strictly as UTF-8 (a
    leading byte order mark skipped); the first byte that is not UTF-8 ends the text, and is
    reported when the reading gets there, so that problems are reported in file order.
    """

    def __init__(self, path: Path, stream: TextIO) -> None:
        self._path = path
        self._stream = stream
        self._text = ""  # text read and not yet dropped
        self._pos = 0  # where reading is, in _text
        self._line = 1  # the line, and the column (from 0), of _text[0]
        self._column = 0
        self._counted = 0  # _line_at has counted lines up to here in _text ...
        self._counted_line = 1  # ... which is on this line
        self._read_lines = 1  # the line where the text read so far ends
        self._ended = False
        self._broken: str | None = None  # the error where the text ends, if it does not end well

    # --- reading ---------------------------------------------------------------------------

    def _read(self, at_least: int = 0) -> bool:
        """Appends a piece, or ``at_least`` more characters if more (fewer at the end); False at
        the end, when nothing changed (positions in the text stay valid)."""
        if self._ended:
            if self._broken is not None:
                raise InputError(self._broken)
            return False
        piece = self._stream.read(max(at_least, _PIECE_CHARS))
        if not piece:
            self._ended = True
            return self._read()
        bad = _UNDECODABLE.search(piece)
        if bad is not None:
            where = self._read_lines + piece.count("\n", 0, bad.start())
            self._broken = f"{self._path}: line {where}: {_not_utf8(ord(bad.group()) - 0xDC00)}"
            piece = piece[: bad.start()]
            self._ended = True
        self._read_lines += piece.count("\n")
        self._drop_read()
        self._text += piece
        return True

    def _read_on(self) -> bool:
        """More of the value that starts at the reading position: as much again as is read of it
        (so that reading a long value takes linear time); InputError past ``MAX_RECORD_CHARS``."""
        read = len(self._text) - self._pos
        if read > MAX_RECORD_CHARS:
            raise InputError(f"{self._path}: line {self.line()}: a JSON value {_too_long()}")
        return self._read(read)

    def _drop_read(self) -> None:
        """Forgets the text before the reading position (keeping count of its lines)."""
        pos = self._pos
        if pos == 0:
            return
        newline = self._text.rfind("\n", 0, pos)
        if newline < 0:
            self._column += pos
        else:
            self._line += self._text.count("\n", 0, pos)
            self._column = pos - newline - 1
        self._text = self._text[pos:]
        self._pos = 0
        self._counted, self._counted_line = 0, self._line

    def peek(self) -> str:
        """The next character after JSON whitespace ("" at the end); reading stops before it."""
        while True:
            self._pos = _JSON_SPACE.match(self._text, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._text):
                return self._text[self._pos]
            if not self._read():
                return ""

    def value(self) -> Any:
        """The JSON value that comes next, as ``json.loads`` reads it; reading goes past it."""
        self.peek()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._text, self._pos)
            except json.JSONDecodeError as error:
                cut_off = error.pos >= len(self._text) - _CUT_OFF_CHARS or error.msg.startswith("Unterminated")
                if cut_off and self._read_on():
                    continue
                raise self._invalid(error.msg, error.pos) from None
            except RecursionError:
                raise self._invalid(_TOO_DEEP, self._pos) from None
            # A number at the end of the text read may go on in the next piece.
            if end == len(self._text) and self._read_on():
                continue
            self._pos = end
            return value

    # --- structure -------------------------------------------------------------------------

    def expect(self, char: str, shape: str | None = None) -> None:
        """Reading goes past ``char``, which must come next: invalid JSON if not, or, where the
        JSON may be valid but not of the expected ``shape``, that shape's error."""
        if self.peek() != char:
            if shape is None:
                raise self._invalid(f"Expecting {char!r}" + " delimiter" * (char == ":"), self._pos)
            raise self._invalid(f"expected {shape}", self._pos, kind="not a query API response")
        self._pos += 1

    def elements(self) -> Iterator[None]:
        """After a "[": once per element, reading at it (the caller reads it); ends past the "]"."""
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            self.peek()
            yield
            after = self.peek()
            self._pos += 1
            if after == "]":
                return
            if after != ",":
                raise self._invalid("Expecting ',' delimiter", self._pos - 1)

    def members(self) -> Iterator[str]:
        """After a "{": each member's key, reading at its value (the caller reads it); ends past the "}"."""
        if self.peek() == "}":
            self._pos += 1
            return
        while True:
            if self.peek() != '"':
                raise self._invalid("Expecting property name enclosed in double quotes", self._pos)
            key = self.value()
            self.expect(":")
            yield key
            after = self.peek()
            self._pos += 1
            if after == "}":
                return
            if after != ",":
                raise self._invalid("Expecting ',' delimiter", self._pos - 1)

    def end(self) -> None:
        """Only whitespace may follow the outer value."""
        if self.peek() != "":
            raise self._invalid("Extra data", self._pos)

    # --- where -----------------------------------------------------------------------------

    def line(self) -> int:
        """The line of the reading position."""
        return self._line_at(self._pos)

    def _line_at(self, pos: int) -> int:
        if pos < self._counted:
            self._counted, self._counted_line = 0, self._line
        self._counted_line += self._text.count("\n", self._counted, pos)
        self._counted = pos
        return self._counted_line

    def _invalid(self, message: str, pos: int, *, kind: str = "invalid JSON") -> InputError:
        line = self._line_at(pos)
        newline = self._text.rfind("\n", 0, pos)
        column = (pos - newline) if newline >= 0 else (self._column + pos + 1)
        return InputError(f"{self._path}: line {line}: {kind}: {message} (column {column})")


def _csv_lines(path: Path, stream: TextIO) -> Iterator[str]:
    """The lines of a CSV file as ``csv.reader`` counts them; InputError at the first byte that is
    not UTF-8 (the stream decodes with surrogateescape, so that the line is known)."""
    for number, line in enumerate(stream, 1):
        bad = _UNDECODABLE.search(line)
        if bad is not None:
            raise InputError(f"{path}: line {number}: {_not_utf8(ord(bad.group()) - 0xDC00)}")
        yield line


def _csv_records(path: Path, table: str, counter: _Counter) -> Iterator[RawRecord]:
    # The csv module refuses a field over 128 KB unless told otherwise (a process-wide setting); a
    # portal export's cell may be longer (ConditionalAccessPolicies in a tenant with many policies),
    # up to what a record holds.
    if csv.field_size_limit() < MAX_RECORD_CHARS:
        csv.field_size_limit(MAX_RECORD_CHARS)
    with _open_text(path) as stream:
        reader = csv.reader(_csv_lines(path, stream), strict=True)
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


def _open_binary(path: Path) -> Any:
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None


def _open_text(path: Path) -> Any:
    # surrogateescape: a byte that is not UTF-8 becomes U+DC80-U+DCFF, which strict UTF-8 never
    # gives, so the reader can say on which line it is.
    try:
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None


_open_json = _open_text


def _json_reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    return str(error)
