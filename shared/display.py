"""Values from the data, shown to a person: at a terminal (the CLI's table, the console sink) and in
error messages.

Values from sign-in logs are whatever a tenant's users and admins typed: a control character would
drive the terminal, and a lone surrogate cannot be written to a UTF-8 stream at all. Shown text
escapes them; the JSON outputs carry the exact values.
"""

from __future__ import annotations

import reprlib
from typing import Any, Final

# Values in error messages: a cell may hold megabytes, or nest deep.
_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 80, 80
_SHOWN.maxlist = _SHOWN.maxtuple = _SHOWN.maxdict = _SHOWN.maxset = 5


def shown(value: Any) -> str:
    """``value`` as an error message shows it: its ``repr`` (control characters and lone surrogates
    escaped, so the message stays one line), cut short."""
    return _SHOWN.repr(value)


# Characters shown as an escape instead of being written to a terminal: C0 and C1 controls
# and DEL (NUL, line breaks, ESC sequences that would drive the terminal), the Unicode line and
# paragraph separators, the bidirectional controls that reorder what follows (U+200E/F,
# U+202A-E, U+2066-9), and surrogates (a lone UTF-16 half, which UTF-8 cannot encode).
_ESCAPED: Final[dict[int, str]] = {
    code: {9: "\\t", 10: "\\n", 13: "\\r"}.get(code, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    for code in (
        *range(0x20),
        *range(0x7F, 0xA0),
        0x200E,
        0x200F,
        0x2028,
        0x2029,
        *range(0x202A, 0x202F),
        *range(0x2066, 0x206A),
        *range(0xD800, 0xE000),
    )
}


def printable(text: str) -> str:
    """``text`` with control characters, separators, bidirectional controls and surrogates as
    backslash escapes (``\\x00``, ``\\n``, ``\\x1b``, ``\\u202e``, ``\\ud800``): one line, safe to print."""
    return text.translate(_ESCAPED)
