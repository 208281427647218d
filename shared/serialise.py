"""Result rows as JSON: datetimes as ISO 8601 UTC ending in Z, dynamic values as JSON."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any


def format_datetime(moment: datetime) -> str:
    """``2026-11-28T09:12:03.123456Z``: always UTC, always six fraction digits."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def rows_to_json(rows: Iterable[Mapping[str, Any]], *, indent: int | None = 2) -> str:
    return json.dumps([jsonable(row) for row in rows], indent=indent, ensure_ascii=False)
