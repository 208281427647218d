"""Tables of rows written as jsonl fixture files (``<Table>.jsonl``), the input every oracle and the
product read. Imports nothing from the product."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")


def json_line(value: Any) -> str:
    """``value`` as one line of JSON text, characters as they are except surrogate code points,
    which are written as their ``\\uXXXX`` escapes (a lone one cannot be encoded as UTF-8; the
    escape reads back as the same value)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False))


def _fixture_value(value: Any) -> Any:
    if isinstance(value, datetime):
        # Log Analytics export style: seven fraction digits.
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"
    return value


def write_tables(
    directory: Path | str,
    *,
    signins: Iterable[Mapping[str, Any]] = (),
    identities: Iterable[Mapping[str, Any]] = (),
    behaviors: Iterable[Mapping[str, Any]] = (),
) -> Path:
    """Write normalised rows (column -> value, datetimes as ``datetime``) as jsonl fixture files.

    Lines are written by ``json_line``, so a lone surrogate in a value does not fail to encode.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for table, rows in (("SigninLogs", signins), ("IdentityInfo", identities), ("BehaviorAnalytics", behaviors)):
        with (directory / f"{table}.jsonl").open("w", encoding="utf-8", newline="") as handle:
            for row in rows:
                record = {column: _fixture_value(value) for column, value in row.items()}
                handle.write(json_line(record) + "\n")
    return directory
