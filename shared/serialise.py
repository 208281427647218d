"""Result rows as JSON: datetimes as ``shared.instants.format_instant`` writes them (ISO 8601 UTC
ending in Z, fraction digits only when present), dynamic values as JSON.

``json_text`` is the one way the product writes JSON text that may carry values from data (result
rows, alert documents, Teams messages): any string value, whatever characters it holds, gives
text that encodes to UTF-8 and reads back as the same value.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, Final

from shared.instants import format_instant

# A surrogate code point. In a Python str it can only be a lone one (a UTF-16 half without its
# partner: "\ud800" in JSON text reads as one), which UTF-8 cannot encode.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_text(
    value: Any,
    *,
    indent: int | None = None,
    separators: tuple[str, str] | None = None,
    allow_nan: bool = True,
) -> str:
    """``value`` as JSON text: characters as they are (``ensure_ascii=False``), except that every
    surrogate code point is written as its ``\\uXXXX`` escape.

    So the text always encodes to UTF-8, and ``json.loads(json_text(x)) == x`` for every str ``x``
    but one kind: a high surrogate directly followed by a low one (two code points in a Python str)
    is written as two escapes, which every JSON reader, Python's included, joins into the one
    astral character the pair stands for ("\\ud83d\\ude00" reads as "😀"). JSON text cannot tell
    the two apart; such a str cannot come from UTF-8 or from a JSON reader in the first place.
    Text without surrogates is exactly ``json.dumps(value, ensure_ascii=False, ...)``.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent, separators=separators, allow_nan=allow_nan)
    if _SURROGATE.search(text) is None:
        return text
    # json.dumps writes a surrogate only inside a string (a key or a value), where \uXXXX is an
    # escape every JSON reader decodes back to that code point.
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def rows_to_json(rows: Iterable[Mapping[str, Any]], *, indent: int | None = 2) -> str:
    return json_text([jsonable(row) for row in rows], indent=indent)
