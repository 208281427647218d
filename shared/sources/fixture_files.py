"""What the fixture file readers share: the record type, the row counter, opening a file, the
column check, the size limit, the wording of the errors every format reports alike, and the
``_ingested`` column (when a row arrived in the workspace)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from shared.display import shown
from shared.errors import InputError
from shared.models import REQUIRED_COLUMNS
from shared.sources.values import CellError, JsonCell

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


# A fixture's own column, in any table and any format: when the row arrived in the workspace (ISO
# 8601 with a timezone). A read as of an earlier time does not see the row (``FixtureSource``);
# no value (column absent, null or empty) means the row is always there. Never a column of the rule.
INGESTED: Final = "_ingested"


def ingested_at(raw: Mapping[str, Any]) -> datetime | None:
    """When the row ``raw`` arrived in the workspace (its ``_ingested``), UTC; None when it does not say.

    CellError (naming the column) for a value that is not ISO 8601 text with a timezone.
    """
    value = raw.get(INGESTED)
    if isinstance(value, JsonCell):  # a query API response that typed the column dynamic
        value = value.value
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise CellError(INGESTED, f"expected ISO 8601 text with a timezone, got {type(value).__name__} {shown(value)}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise CellError(INGESTED, f"not an ISO 8601 time with a timezone: {shown(value)} (e.g. 2026-11-28T11:40:00Z)")
    return moment.astimezone(UTC)


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
