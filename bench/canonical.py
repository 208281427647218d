"""Result rows in a form two implementations can be compared in: order-free, exact where it matters.

The rule's rows have no defined order beyond the score, ``make_set`` arrays have no defined element
order, and the two engines hold datetimes differently (Python keeps microseconds; so does DuckDB's
TIMESTAMP). So a row becomes a tuple of its 16 columns in output order with datetimes as UTC text
to the microsecond and arrays as sorted lists of their elements' JSON text; the rows are then
sorted. Two results are equal when their canonical forms are.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from shared.models import OUTPUT_COLUMNS

CanonicalRow = list[Any]


def canonical_value(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, list | tuple | set | frozenset):
        return sorted({json.dumps(item, sort_keys=True, ensure_ascii=True) for item in value})
    return value


def canonical_rows(rows: Iterable[Mapping[str, Any]]) -> list[CanonicalRow]:
    """Every row as its output columns' canonical values, the rows sorted (as JSON text)."""
    converted = [[canonical_value(row.get(column)) for column in OUTPUT_COLUMNS] for row in rows]
    return sorted(converted, key=lambda row: json.dumps(row, sort_keys=True, ensure_ascii=True))


def differences(ours: Sequence[CanonicalRow], theirs: Sequence[CanonicalRow], *, limit: int = 3) -> list[str]:
    """A few human-readable differences between two canonical results (empty when equal)."""
    mine = {json.dumps(row, ensure_ascii=True) for row in ours}
    other = {json.dumps(row, ensure_ascii=True) for row in theirs}
    found = []
    if len(ours) != len(theirs):
        found.append(f"{len(ours)} rows against {len(theirs)}")
    found += [f"only ours: {row}" for row in sorted(mine - other)[:limit]]
    found += [f"only DuckDB's: {row}" for row in sorted(other - mine)[:limit]]
    if not found and list(ours) != list(theirs):
        found.append("the same distinct rows, in different multiplicities")
    return found
