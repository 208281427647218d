"""The few KQL primitives the rule needs, each with Kusto's exact semantics (docs/rule-semantics.md).

Every function here is pure and small; ``tests/test_kql.py`` holds a table of cases for each.
Points the Kusto docs leave open are decided in the "OPEN" section at the bottom, and nowhere else.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from shared.models import Row

# --- scalar functions -------------------------------------------------------------------------


def tolower(text: str) -> str:
    """``tolower(s)``: Unicode lower case, one character for one character (simple case mapping).

    Python's ``str.lower`` applies the *full* mapping, which turns some characters into two
    (U+0130 "İ" -> "i̇"); Kusto maps character by character, so those take their simple mapping.
    """
    if text.isascii():
        return text.lower()
    return "".join(_simple_lower(ch) for ch in text)


def toupper(text: str) -> str:
    """``toupper(s)`` with the simple, one-for-one mapping ("ß" stays "ß")."""
    if text.isascii():
        return text.upper()
    return "".join(_simple_upper(ch) for ch in text)


def _simple_lower(ch: str) -> str:
    lowered = ch.lower()
    return lowered if len(lowered) == 1 else OPEN_SIMPLE_LOWER.get(ch, ch)


def _simple_upper(ch: str) -> str:
    upper = ch.upper()
    return upper if len(upper) == 1 else ch


def equals_ci(left: str, right: str) -> bool:
    """``left =~ right``: whole-string equality ignoring case (not a substring test).

    Kusto compares with ordinal-ignore-case, which folds both sides to upper case one character
    at a time.
    """
    return len(left) == len(right) and toupper(left) == toupper(right)


@lru_cache(maxsize=64)
def _term_pattern(term: str) -> re.Pattern[str]:
    # A term is a maximal run of letters and digits: the match must not touch another letter or
    # digit on either side. [^\W_] is "a Unicode letter or digit" (\w without the underscore).
    return re.compile(rf"(?<![^\W_]){re.escape(term)}(?![^\W_])", re.IGNORECASE)


def has(text: str, term: str) -> bool:
    """``text has term``: ``term`` is a whole term of ``text``, ignoring case.

    Every character that is not a letter or digit separates terms: "fraud_code", "fraud." and
    "user-reported-fraud" have the term "fraud"; "fraudulent", "antifraud" and "fraud123" do not.
    """
    if not term:
        return False
    return _term_pattern(term).search(text) is not None


def tostring(value: Any) -> str:
    """``tostring(x)`` of a dynamic value: null -> "", a string -> its bare text, a bool ->
    true/false, a number -> its decimal text, an object or array -> compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _real_text(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _real_text(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def member(value: Any, key: str) -> Any:
    """``value.key`` on a dynamic value: null when ``value`` is not an object or lacks the key
    (key names are case-sensitive)."""
    if isinstance(value, Mapping):
        return value.get(key)
    return None


def split_part(text: str, delimiter: str, index: int) -> str:
    """``tostring(split(text, delimiter, index)[0])``: the index-th part, or "" when there is none."""
    parts = text.split(delimiter)
    return parts[index] if 0 <= index < len(parts) else ""


def isnotempty(text: str) -> bool:
    """``isnotempty(s)`` on a string: false only for "" (a blank " " is not empty)."""
    return text != ""


def equals_long(value: Any, literal: int) -> bool:
    """``column == <long literal>`` where the column is a string (``ResultType == 500121``).

    Kusto accepts the comparison and matches the canonical decimal text; a number (from a fixture)
    matches by value. Non-canonical text is decided in OPEN below.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return value == literal
    if isinstance(value, float):
        return value == literal
    if isinstance(value, str):
        return value == str(literal) or (OPEN_NONCANONICAL_LONG_TEXT_MATCHES and _loose_long(value) == literal)
    return False


def _loose_long(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


def greater_than(value: int | float | None, cutoff: int | float) -> bool:
    """``value > cutoff`` where a null value compares as null: the row is dropped."""
    return value is not None and value > cutoff


# --- aggregations ----------------------------------------------------------------------------


def min_skip_null(values: Iterable[Any]) -> Any:
    """``min(x)``: nulls skipped; null only when every value is null."""
    present = [v for v in values if v is not None]
    return min(present) if present else None


def max_skip_null(values: Iterable[Any]) -> Any:
    """``max(x)``: nulls skipped; null only when every value is null."""
    present = [v for v in values if v is not None]
    return max(present) if present else None


def make_set(values: Iterable[Any], max_size: int = 1000) -> list[Any]:
    """``make_set(x, max_size)``: distinct values, nulls ignored, a dynamic array contributing its
    elements (flattened one level). Element order is first-seen; Kusto leaves it undefined."""
    seen: set[Hashable] = set()
    result: list[Any] = []
    for value in values:
        for element in value if isinstance(value, list) else (value,):
            if element is None or (element == "" and not OPEN_MAKE_SET_KEEPS_EMPTY_STRING):
                continue
            key = _dynamic_key(element)
            if key in seen:
                continue
            if len(result) >= max_size:
                return result
            seen.add(key)
            result.append(element)
    return result


def _dynamic_key(value: Any) -> Hashable:
    # Values of different dynamic types are different set elements ("1" vs 1 vs true), and objects
    # and arrays are compared by content.
    if isinstance(value, (dict, list)):
        return ("json", json.dumps(value, sort_keys=True, separators=(",", ":")))
    return (type(value).__name__, value)


def arg_max(rows: Iterable[Row], *, by: str, of: str) -> dict[Any, Row]:
    """``summarize arg_max(of, *) by by``: per exact ``by`` value, the row with the greatest ``of``.

    A null ``of`` loses to any value; ties are decided in OPEN below. Returns key -> row, in the
    order the keys were first seen.
    """
    best: dict[Any, Row] = {}
    for row in rows:
        key = row[by]
        current = best.get(key)
        if current is None or _beats(row.get(of), current.get(of)):
            best[key] = row
    return best


def _beats(candidate: Any, incumbent: Any) -> bool:
    if candidate is None:
        return False
    if incumbent is None:
        return True
    if candidate == incumbent:
        return OPEN_ARG_MAX_TIE_TAKES_LATER_ROW
    return candidate > incumbent


# --- tabular operators -----------------------------------------------------------------------


def null_of(kusto_type: str) -> Any:
    """The value of an empty cell: "" for a string (strings are never null), null otherwise."""
    return "" if kusto_type == "string" else None


def leftouter_join(
    left: Sequence[Row],
    right: Sequence[Row],
    *,
    left_columns: Sequence[str],
    right_columns: Mapping[str, str],
    on: Sequence[str],
) -> list[Row]:
    """``left | join kind=leftouter (right) on k1, k2 ...``.

    Keys compare with case-sensitive ``==``, all keys ANDed. A left row matching k right rows
    gives k rows; an unmatched left row gives one row whose right cells are empty (``null_of``
    each right column's Kusto type). Output columns: the left columns, then the right columns; a
    right column whose name is taken gets the smallest free numeric suffix (Name -> Name1).
    ``right_columns`` maps each right column to its Kusto type, in output order.
    """
    renamed = _suffix_duplicates(left_columns, list(right_columns))
    index: dict[tuple[Any, ...], list[Row]] = {}
    for row in right:
        index.setdefault(tuple(row[k] for k in on), []).append(row)
    empty = {out: null_of(right_columns[col]) for col, out in renamed}
    joined: list[Row] = []
    for row in left:
        base = {col: row[col] for col in left_columns}
        matches = index.get(tuple(row[k] for k in on))
        if not matches:
            joined.append(base | empty)
            continue
        for match in matches:
            joined.append(base | {out: match[col] for col, out in renamed})
    return joined


def _suffix_duplicates(left_columns: Sequence[str], right_columns: Sequence[str]) -> list[tuple[str, str]]:
    taken = set(left_columns)
    pairs: list[tuple[str, str]] = []
    for column in right_columns:
        name = column
        suffix = 1
        while name in taken:
            name = f"{column}{suffix}"
            suffix += 1
        taken.add(name)
        pairs.append((column, name))
    return pairs


def project_away_suffix(rows: Iterable[Row], suffix: str) -> list[Row]:
    """``project-away *<suffix>``: drop every column whose name ends with ``suffix``."""
    return [{k: v for k, v in row.items() if not k.endswith(suffix)} for row in rows]


def sort_desc_nulls_last(rows: Iterable[Row], column: str) -> list[Row]:
    """``sort by column desc``: largest first, nulls last; ties keep their order (stable)."""
    rows = list(rows)
    present = [r for r in rows if r[column] is not None]
    absent = [r for r in rows if r[column] is None]
    present.sort(key=_by(column), reverse=True)
    return present + absent


def _by(column: str) -> Callable[[Row], Any]:
    return lambda row: row[column]


# --- OPEN -------------------------------------------------------------------------------------
# The points docs/rule-semantics.md marks OPEN (the Kusto docs leave them undefined), decided here and
# nowhere else. Golden tests do not depend on them; tests/test_kql.py pins each decision.

# `ResultType == 500121` with non-canonical text ("0500121", " 500121"): no match.
OPEN_NONCANONICAL_LONG_TEXT_MATCHES = False

# `make_set` and the empty string "": kept as an element (it is not null).
OPEN_MAKE_SET_KEEPS_EMPTY_STRING = True

# `arg_max` ties on TimeGenerated: the first row read is kept.
OPEN_ARG_MAX_TIE_TAKES_LATER_ROW = False

# `tolower` for the characters whose full lower case is longer than one character: their simple
# Unicode mapping (U+0130 LATIN CAPITAL LETTER I WITH DOT ABOVE -> "i").
OPEN_SIMPLE_LOWER = {"\u0130": "i"}

# IdentityInfo.Tags given as text that parses as a JSON array (`["VIP"]`): treated as that array
# (the spec's "string_or_dynamic"); any other text stays a plain string. Applied by the readers.
OPEN_TAGS_ARRAY_TEXT_IS_DYNAMIC = True
