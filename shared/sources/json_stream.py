"""A JSON file read piece by piece, value by value, by Python's ``json`` itself (``JsonText``).

Used for ``.json`` fixture files (an array of records, or a saved query API response), so that only
the value being read and one piece of the text are held, whatever the size of the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, TextIO

from shared.errors import InputError
from shared.sources import fixture_files
from shared.sources.fixture_files import TOO_DEEP, UNDECODABLE, not_utf8, too_long

# Characters read at a time from a .json file.
_PIECE_CHARS = 1 << 20
# An error this close to the end of the text read so far may be the text being cut off there
# ("tru", "-Infinit", "\\ud83d\\ude0"): read on and decode again before calling it an error.
_CUT_OFF_CHARS = 16
_JSON_SPACE: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()


class JsonText:
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
        bad = UNDECODABLE.search(piece)
        if bad is not None:
            where = self._read_lines + piece.count("\n", 0, bad.start())
            self._broken = f"{self._path}: line {where}: {not_utf8(ord(bad.group()) - 0xDC00)}"
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
        if read > fixture_files.MAX_RECORD_CHARS:
            raise InputError(f"{self._path}: line {self.line()}: a JSON value {too_long()}")
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
                raise self._invalid(TOO_DEEP, self._pos) from None
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
