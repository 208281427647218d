"""The records of a JSON Lines file (``<Table>.jsonl``), read in blocks of bytes.

Each line is parsed whole by ``json.loads``, except where a ``raw_prefilter`` filter (the fast
path of a bulk replay) proves a line cannot hold a row the rule uses: such a line is only checked
to be one JSON object (``{…}``). Line numbers, errors and counts are those of reading line by line.
A big file is read by every core at once, range by range, with this same reader
(``json_lines_parallel``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Final

from shared.errors import InputError
from shared.sources import fixture_files, raw_prefilter
from shared.sources.fixture_files import (
    TOO_DEEP,
    Counter,
    RawRecord,
    check_columns,
    not_utf8,
    open_binary,
    too_long,
)


def jsonl_records(
    path: Path, table: str, line_filter: raw_prefilter.RawFilter | None, counter: Counter
) -> Iterator[RawRecord]:
    """Every record of a JSON Lines file, with its line; lines ``line_filter`` rejects go unparsed."""
    lines = JsonLines(path, table, line_filter, counter)
    with open_binary(path) as stream:
        try:
            for buffer, start, stop in line_blocks(stream):
                yield from lines.block(buffer, start, stop)
        except LineTooLongError:
            raise InputError(f"{path}: line {lines.lines_read + 1}: {too_long()}") from None


# Bytes read at a time: big enough that per-read costs vanish, small enough not to weigh on memory.
_BLOCK_BYTES = 1 << 22


class LineTooLongError(Exception):
    """A line (or a JSON value) longer than ``MAX_RECORD_CHARS``."""


def line_blocks(stream: Any) -> Iterator[tuple[bytes, int, int]]:
    """The file as ``(buffer, start, stop)``: ``buffer[start:stop]`` is whole lines, each ending in
    a newline (one is added to a last line without), in file order. LineTooLongError for a line longer than
    ``MAX_RECORD_CHARS`` bytes (raised once it is known, with every line before it given)."""
    pieces: list[bytes] = []  # the start of a line that continues in the next read
    while data := stream.read(_BLOCK_BYTES):
        last = data.rfind(b"\n")
        if last < 0:
            pieces.append(data)
            if sum(map(len, pieces)) > fixture_files.MAX_RECORD_CHARS:
                raise LineTooLongError
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


class JsonLines:
    """The records of a JSON Lines file, block by block, with the line numbers of the file.

    Per line, exactly: a blank line is ignored; the first non-blank line is parsed (its columns are
    checked); a line the filter proves irrelevant is only checked to be ``{…}``; every other line
    is parsed. The filter's marks say which lines need that test at all: a line without a mark
    that is ``{…}`` is counted and skipped without any per-line Python work beyond finding its end.
    """

    __slots__ = ("_counter", "_filter", "_first", "_number", "_path", "_pos", "_table")

    def __init__(
        self,
        path: Path,
        table: str,
        line_filter: raw_prefilter.RawFilter | None,
        counter: Counter,
        *,
        first: bool = True,
    ) -> None:
        self._path = path
        self._table = table
        self._filter = line_filter
        self._counter = counter
        # Whether the file's first record is still to come (``first=False``: a later range of the
        # file, ``json_lines_parallel``, whose first record was another range's).
        self._first = first
        self._number = 0
        self._pos = 0

    @property
    def lines_read(self) -> int:
        """The lines read so far (blank ones included)."""
        return self._number

    @property
    def expects_first(self) -> bool:
        """Whether no record has been read yet (its columns are checked when it is)."""
        return self._first

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
        record = parse_record(stripped, self._path, self._number)
        if self._first:
            check_columns(self._path, self._table, record)
            self._first = False
        return record


def parse_record(stripped: bytes, path: Path, number: int) -> dict[str, Any]:
    """Line ``number`` of ``path`` (stripped) as the JSON object it must be; InputError otherwise."""
    record = _parse_json_line(stripped, path, number)
    if not isinstance(record, dict):
        raise InputError(f"{path}: line {number}: expected a JSON object, got {type(record).__name__}")
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
        raise InputError(f"{path}: line {number}: {not_utf8(error.object[error.start])}") from None
    except RecursionError:
        raise InputError(f"{path}: line {number}: invalid JSON: {TOO_DEEP}") from None
    except ValueError as error:
        if line.startswith(_BOM):
            return _parse_json_line(line[len(_BOM) :], path, number)
        raise InputError(f"{path}: line {number}: invalid JSON: {_json_reason(error)}") from None


_BOM: Final = b"\xef\xbb\xbf"


def _json_reason(error: ValueError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} (column {error.colno})"
    return str(error)
