"""Writing values into KQL text so that no value can change the query: literals and value-set tests.

Every value that comes from data (a UPN, an IP address, a user name) reaches a query only through
``string_literal``. The form is the regular double-quoted Kusto string, using only the escapes the
Kusto documentation lists (``\\\\``, ``\\"``, ``\\n``, ``\\r``, ``\\t``; "The string data type"). Both
Microsoft's parsers (Kusto.Language's lexer and the ANTLR grammar in Kusto-Query-Language) end a
double-quoted literal only at an unescaped ``"``, a line break or the end of the text, and treat a
backslash as the start of an escape; with those five characters escaped, every other character —
``|``, ``//``, ``'``, keywords, any Unicode — is plain content of the literal. That includes every
other control character (U+0001-U+001F, DEL, C1, U+2028/U+2029), written as itself: Kusto.Language
(the Kusto language service, ``tests/harness/kusto_check.py``) and duckdb-kql (the loopback
workspace's engine) both read each back as itself, with no diagnostic
(``tests/sources/test_hostile_values.py`` checks every one, in every query the source sends).

The other literal forms do not help: a verbatim ``@"..."`` string has no escapes at all, so it
cannot hold a line break; ``h"..."`` only hides a literal from logs; a multi-line ```` ``` ````
literal has no escapes either. The undocumented escapes disagree between readers:
Kusto.Language reads ``\\0``, ``\\000``, ``\\x00`` and ``\\u0000`` as NUL and ``\\ud800`` as a
lone surrogate, but duckdb-kql reads ``\\u0000`` as the text "u0000" (only ``\\0`` as NUL), and the
service documents none of them.

Two kinds of text therefore have no literal form known to read back exactly, and ``is_exact``
says so:
- a NUL character: no escape for it is documented, and the readers disagree on the undocumented
  ones. Written raw, both readers here read it back as NUL (the test checks it), but nothing
  documents NUL in query text, and a wrong guess would silently select other rows where the
  prefix test below costs a few rows more;
- a surrogate code point (a lone half of a UTF-16 pair): Kusto stores UTF-8 and replaces text that
  is not valid UTF-8 with U+FFFD at ingestion, so no column can hold one; the query travels as
  JSON, where ``\\ud800`` would be an escape the service may read, pair or replace.
Over-long values (more than ``max_chars``) are also not written in full, to bound the query size.
For these ``value_in`` tests a *prefix* that can be written (``startswith_cs``, the text up to the
first such character) — a wider test, never a narrower one — or, when not even one character can be
written, no test at all (``true``: the pushdown is dropped for that batch). The caller re-checks
every returned row exactly in Python, so no row is lost and none is kept wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

# The documented escapes; a backslash first, so that no escape is escaped twice.
_ESCAPES: Final = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_UNWRITABLE: Final = re.compile("[\x00\ud800-\udfff]")

# No value longer than this is written in full (a UPN has at most 113 characters in Entra ID).
DEFAULT_MAX_VALUE_CHARS: Final = 1024
# What one value may add to a query's text at most: every character escaped (2 characters), the
# quotes, and the separator or the ``or <expr> startswith_cs`` of a prefix test.
VALUE_OVERHEAD_CHARS: Final = 64


def is_exact(value: str, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> bool:
    """True when ``value`` can be written as a literal in full (see the module docstring)."""
    return len(value) <= max_chars and _UNWRITABLE.search(value) is None


def string_literal(value: str) -> str:
    """``value`` as a Kusto string literal; ValueError for text that has no safe literal form."""
    if not isinstance(value, str):
        raise TypeError(f"a string literal needs a str, got {type(value).__name__}")
    bad = _UNWRITABLE.search(value)
    if bad is not None:
        raise ValueError(f"no safe Kusto literal for text containing U+{ord(bad.group()):04X}")
    return '"' + value.translate(_ESCAPES) + '"'


def writable_prefix(value: str, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """The longest prefix of ``value`` that ``string_literal`` can write, at most ``max_chars`` long."""
    bad = _UNWRITABLE.search(value)
    end = len(value) if bad is None else bad.start()
    return value[: min(end, max_chars)]


def literal_cost(value: str, *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> int:
    """An upper bound on the characters ``value_in`` spends on ``value`` (for batching)."""
    return 2 * min(len(value), max_chars) + VALUE_OVERHEAD_CHARS


def datetime_literal(moment: datetime) -> str:
    """``datetime(2026-11-28T09:00:00.000000Z)``: an aware datetime, in UTC, to the microsecond."""
    if moment.tzinfo is None:
        raise ValueError(f"a datetime literal needs a timezone-aware datetime, got {moment.isoformat()}")
    return "datetime(" + moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + ")"


def value_in(expression: str, values: Iterable[str], *, max_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """A KQL predicate true for every row whose ``expression`` is one of ``values``.

    Exact (``in``, case-sensitive) for values that ``is_exact``; for the others a prefix test that
    also admits other rows. ``true`` when some value has no writable prefix at all; ``false`` for
    no values. ``expression`` is KQL text the caller wrote, never data.
    """
    distinct = sorted(set(values))
    exact = [v for v in distinct if is_exact(v, max_chars=max_chars)]
    prefixes = sorted(
        {writable_prefix(v, max_chars=max_chars) for v in distinct if not is_exact(v, max_chars=max_chars)}
    )
    if "" in prefixes:
        return "true"
    terms = []
    if exact:
        terms.append(f"{expression} in ({', '.join(string_literal(v) for v in exact)})")
    terms.extend(f"{expression} startswith_cs {string_literal(p)}" for p in prefixes)
    if not terms:
        return "false"
    return terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")"
