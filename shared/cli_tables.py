"""What ``detect`` prints: result rows as JSON or as an aligned text table, in characters the stream can write."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.display import printable
from shared.serialise import json_text, jsonable, rows_to_json

_TABLE_COLUMNS = (
    ("UEBARiskScore", "Score"),
    ("UserPrincipalName", "User"),
    ("FailedIPAddress", "IP"),
    ("StartTime", "First"),
    ("EndTIme", "Last"),
    ("AccountUPN", "IdentityInfo"),
    ("AssignedRoles", "Roles"),
    ("GroupMembership", "Groups"),
)
_MAX_CELL = 40
# User names are shown whole: a guest's UPN (alice_contoso.com#EXT#@fabrikam.onmicrosoft.com) is
# long, and cut short it names nobody.
_WHOLE_COLUMNS = frozenset({"UserPrincipalName", "AccountUPN"})


def rows_text(rows: Sequence[dict[str, Any]], *, fmt: str, encoding: str | None) -> str:
    """``rows`` as ``fmt`` ("json" or "table") text, one final newline, writable in ``encoding``."""
    text = (rows_to_json(rows) if fmt == "json" else render_table(rows)) + "\n"
    # Both forms are free of surrogates, so they encode to UTF-8. A stream with a narrower encoding
    # (a Windows pipe, PYTHONIOENCODING=ascii) gets the same data in characters it can write: JSON
    # with \uXXXX escapes (still the same values), a table with backslash escapes.
    if encoding:
        try:
            text.encode(encoding)
        except UnicodeEncodeError:
            if fmt == "json":
                text = json.dumps([jsonable(row) for row in rows], indent=2) + "\n"
            else:
                text = text.encode(encoding, "backslashreplace").decode(encoding)
        except LookupError:
            pass  # an encoding Python does not know: write as is, the stream decides
    return text


def render_table(rows: Sequence[dict[str, Any]]) -> str:
    """The main columns of result rows as an aligned text table (``--format json`` has all 16).

    Each cell shows control characters, separators, bidirectional controls and lone surrogates as
    backslash escapes (``\\x00``, ``\\n``, ``\\x1b``, ``\\u202e``, ``\\ud800``), so that every
    row is one line and the table cannot drive the terminal; ``--format json`` has the exact values.
    """
    if not rows:
        return "No result rows."
    header = [title for _, title in _TABLE_COLUMNS]
    body = [[_cell(row[column], whole=column in _WHOLE_COLUMNS) for column, _ in _TABLE_COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *body]
    ]
    lines.insert(1, "  ".join("-" * width for width in widths))
    lines.append(f"{len(rows)} row(s).")
    return "\n".join(lines)


def _cell(value: Any, *, whole: bool = False) -> str:
    """``value`` as a table cell: ``-`` when empty (null, "", [] or {}), cut to ``_MAX_CELL``
    characters unless ``whole``."""
    if value is None or (isinstance(value, str | list | dict) and not value):
        return "-"
    if isinstance(value, datetime):
        # A table cell for a person: date and time to the second (--format json has the exact time).
        text = value.strftime("%Y-%m-%d %H:%M:%S")
    elif isinstance(value, list):
        text = ", ".join(str(jsonable(v)) for v in value)
    elif isinstance(value, dict):
        text = json_text(jsonable(value))
    else:
        text = str(value)
    text = printable(text)
    return text if whole or len(text) <= _MAX_CELL else text[: _MAX_CELL - 1] + "…"
