"""Normalise one cell to its Kusto column type, whatever shape the data arrived in.

Data reaches us as JSON objects (data export), all-strings JSON (``az monitor log-analytics
query``), query-API responses (dynamic as JSON text) and portal CSV exports (everything text,
times as ``M/D/YYYY, h:mm:ss.fff AM/PM``). Every reader sends each cell through ``normalise``,
so all sources hand ``detect`` the same values. A value that cannot be read raises ``ValueError``
with the reason; the caller adds the file, line and column.

A query-API response types each column, and a cell of a column it types ``dynamic`` is that
value's JSON text: ``"Contractor"`` (quotes included) is the string Contractor, ``5`` the number 5.
Readers of a response (the live source and ``.json`` response fixtures) build their rows with
``api_row``, which decodes each such cell exactly once (``JsonCell``); text that is not JSON stays
as it came. Untyped data (data exports, CSV) is read by the column's type alone.

Any character is data: NUL, every control character and lone surrogates (JSON's ``"\ud800"``)
pass through unchanged. A dynamic value is held as a structure only up to ``MAX_NESTING`` levels
of arrays and objects, however it arrived (a JSON structure, or JSON text in a cell): real values
nest a few levels, and the bound keeps every consumer that walks a value (``json``, ``tostring``,
the output's serialisation) far from Python's recursion limit. A deeper value is kept as its JSON
text, in both paths alike (fixtures and live), so it can neither crash a run nor stop a window.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from shared import kql
from shared.display import shown
from shared.models import Row

_PORTAL_TIME = re.compile(
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}),?\s+(?P<hour>\d{1,2}):(?P<minute>\d{2})"
    r"(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,7}))?)?\s*(?P<ampm>[AaPp][Mm])"
)
_LONG_FRACTION = re.compile(r"(\.\d{6})\d+")

# The deepest nesting of arrays and objects a dynamic value may have ("[[1]]" nests 2 deep).
MAX_NESTING: Final = 100
_TOO_DEEP: Final = f"JSON nested deeper than {MAX_NESTING} levels"


def too_deep(value: Any) -> bool:
    """Whether ``value`` (parsed JSON) nests arrays and objects more than ``MAX_NESTING`` deep.

    Level by level, without recursion, so that any depth is measured safely.
    """
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        return False
    for child in children:  # the usual value, an object of scalars (Status), in one quick look
        if isinstance(child, (dict, list)):
            break
    else:
        return False
    level = [value]  # the arrays and objects at one depth
    for _ in range(MAX_NESTING):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _as_text(value: Any) -> str:
    """A structure too deep to hold, as its JSON text (what ``tostring`` would give)."""
    try:
        return kql.tostring(value)
    except RecursionError:  # only a structure deeper than json itself can build
        raise ValueError(_TOO_DEEP) from None


def _held_dynamic(value: Any) -> Any:
    """A parsed dynamic value as held: itself, or its JSON text when nested beyond ``MAX_NESTING``."""
    return _as_text(value) if too_deep(value) else value


def parse_datetime(value: Any) -> datetime | None:
    """A datetime cell: ISO 8601 (offset or Z; none means UTC), the portal's US format, or empty."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if not isinstance(value, str):
        raise ValueError(f"expected a datetime, got {type(value).__name__} {shown(value)}")
    text = value.strip()
    portal = _PORTAL_TIME.fullmatch(text)
    if portal:
        return _portal_datetime(portal)
    # Kusto writes 7 fraction digits (100 ns ticks); Python keeps microseconds.
    try:
        parsed = datetime.fromisoformat(_LONG_FRACTION.sub(r"\1", text))
    except ValueError:
        raise ValueError(f"not a datetime: {shown(value)} (expected ISO 8601 or M/D/YYYY, h:mm:ss AM/PM)") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _portal_datetime(match: re.Match[str]) -> datetime:
    hour = int(match["hour"])
    if not 1 <= hour <= 12:
        raise ValueError(f"not a 12-hour clock time: {match.group(0)!r}")
    hour = hour % 12 + (12 if match["ampm"].upper() == "PM" else 0)
    micro = int((match["fraction"] or "0").ljust(6, "0")[:6])
    try:
        return datetime(
            int(match["year"]),
            int(match["month"]),
            int(match["day"]),
            hour,
            int(match["minute"]),
            int(match["second"] or 0),
            micro,
            tzinfo=UTC,
        )
    except ValueError as error:
        raise ValueError(f"not a datetime: {match.group(0)!r} ({error})") from None


def parse_string(value: Any) -> str:
    """A string cell: never null in Kusto; a non-string value becomes its ``tostring`` text."""
    if isinstance(value, str):
        return value
    return _as_text(value)


_INTEGER = re.compile(r"[+-]?\d+")


def parse_int(value: Any) -> int | None:
    """An int cell: an integer, integer text ("5", as az CLI prints), or empty for null."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        try:
            return int(value.strip())
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits())
            pass
    raise ValueError(f"expected an integer, got {shown(value)}")


_TRUE = frozenset({"true", "1"})
_FALSE = frozenset({"false", "0"})


def parse_bool(value: Any) -> bool | None:
    """A bool cell: true/false in any case (CSV writes TRUE), 1/0, or empty for null."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected a bool, got {shown(value)}")


def parse_dynamic(value: Any) -> Any:
    """A dynamic cell: JSON text is parsed (as ingestion into a dynamic column does); text that
    is not JSON stays a plain string; an empty cell is null.

    A value nested deeper than ``MAX_NESTING`` (or too deeply for ``json`` to parse at all) is kept
    as its JSON text, a string: the row is still evaluated, with that cell as text, rather than the
    window failing on every run (one odd value must never stop the others).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        return value if too_deep(parsed) else parsed
    return _held_dynamic(value)


def parse_string_or_dynamic(value: Any) -> Any:
    """IdentityInfo.Tags: a string column that some workspaces fill with a JSON array."""
    if isinstance(value, list):
        return _held_dynamic(value)
    if isinstance(value, str) and kql.OPEN_TAGS_ARRAY_TEXT_IS_DYNAMIC and value.lstrip().startswith("["):
        try:
            parsed = json.loads(value)
        except (ValueError, RecursionError):
            return value
        if isinstance(parsed, list) and not too_deep(parsed):
            return parsed
        return value
    return parse_string(value)


@dataclass(frozen=True, slots=True)
class JsonCell:
    """A cell the query API typed ``dynamic``, its JSON text already decoded: never decoded again
    (the dynamic string ``"[1]"`` stays that string, it does not become an array)."""

    value: Any


def api_row(columns: Sequence[str], types: Sequence[str], cells: Sequence[Any]) -> dict[str, Any]:
    """One row of a query-API response: ``dynamic`` cells' JSON text decoded once, others as sent.

    A dynamic cell whose text is not JSON (or nests too deeply for ``json`` to parse) stays text.
    """
    row = dict(zip(columns, cells, strict=True))
    for column, kusto_type in zip(columns, types, strict=False):
        cell = row[column]
        if kusto_type == "dynamic" and isinstance(cell, str):
            with contextlib.suppress(ValueError, RecursionError):
                row[column] = JsonCell(json.loads(cell))
    return row


def _decoded_string_or_dynamic(value: Any) -> Any:
    # Tags typed dynamic: an array stays an array, anything else is its tostring text.
    return _held_dynamic(value) if isinstance(value, list) else parse_string(value)


PARSERS: Mapping[str, Callable[[Any], Any]] = {
    "datetime": parse_datetime,
    "string": parse_string,
    "int": parse_int,
    "long": parse_int,
    "bool": parse_bool,
    "dynamic": parse_dynamic,
    "string_or_dynamic": parse_string_or_dynamic,
}
# For a ``JsonCell``: the value is already what the JSON text says, so no text is parsed again.
DECODED_PARSERS: Mapping[str, Callable[[Any], Any]] = PARSERS | {
    "string": parse_string,
    "dynamic": _held_dynamic,
    "string_or_dynamic": _decoded_string_or_dynamic,
}


class CellError(ValueError):
    """A cell that cannot be read as its column's type; carries the column for the message."""

    def __init__(self, column: str, reason: str) -> None:
        super().__init__(f"column {column}: {reason}")
        self.column = column


def normalise_row(raw: Mapping[str, Any], schema: Mapping[str, str]) -> Row:
    """The schema's columns of ``raw``, each normalised to its type (absent -> "" or null)."""
    row: Row = {}
    for column, kusto_type in schema.items():
        cell = raw.get(column)
        try:
            if isinstance(cell, JsonCell):
                row[column] = DECODED_PARSERS[kusto_type](cell.value)
            else:
                row[column] = PARSERS[kusto_type](cell)
        except ValueError as error:
            raise CellError(column, str(error)) from None
    return row
