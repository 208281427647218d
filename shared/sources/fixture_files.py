"""What the fixture file readers share: the record type, the row counter, opening a file, the
column check, the size limit, and the wording of the errors every format reports alike."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from shared.errors import InputError
from shared.models import REQUIRED_COLUMNS

RawRecord = tuple[str, Mapping[str, Any]]  # (where it is, e.g. "line 12"; the raw values)

# No record Log Analytics holds is longer than 64 MB, which JSON text writes in at most six times
# as many characters (a control character as "\\u001f"); a line or a value longer than this is
# refused before it is held whole. (The readers read it as ``fixture_files.MAX_RECORD_CHARS``, so
# that a test can lower it for every format at once.)
MAX_RECORD_CHARS: Final = 384 * 2**20

TOO_DEEP: Final = "nested too deeply for the JSON parser (RecursionError)"
# What errors="surrogateescape" makes of a byte that is not part of UTF-8 text.
UNDECODABLE: Final = re.compile("[\udc80-\udcff]")


@dataclass(slots=True)
class Counter:
    """The records of a table file seen so far (read or skipped), for ``Tables.scanned``."""

    rows: int = 0


def check_columns(path: Path, table: str, columns: Any) -> None:
    """InputError naming the required columns of ``table`` that ``columns`` lacks, if any."""
    missing = [c for c in REQUIRED_COLUMNS[table] if c not in columns]
    if missing:
        raise InputError(f"{path}: table {table} lacks required column(s) {', '.join(missing)}")


def too_long() -> str:
    """The reason given for a line or a value longer than ``MAX_RECORD_CHARS``."""
    return f"longer than {MAX_RECORD_CHARS // 2**20} MB, more than any record Log Analytics holds (64 MB)"


def not_utf8(byte: int) -> str:
    """The reason given for text that is not UTF-8, naming the first byte that is not."""
    return f"not UTF-8 text (byte 0x{byte:02x})"


def open_binary(path: Path) -> Any:
    """``path`` opened for reading bytes; InputError if it cannot be."""
    try:
        return path.open("rb")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None


def open_text(path: Path) -> Any:
    """``path`` opened for reading UTF-8 text (a byte order mark skipped); InputError if it cannot be."""
    # surrogateescape: a byte that is not UTF-8 becomes U+DC80-U+DCFF, which strict UTF-8 never
    # gives, so the reader can say on which line it is.
    try:
        return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")
    except OSError as error:
        raise InputError(f"{path}: cannot open: {error.strerror}") from None
