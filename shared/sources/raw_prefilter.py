"""Skip JSON Lines that provably hold no row the rule can use, without parsing them.

Parsing is what a replay spends its time on, and almost every sign-in is irrelevant (the rule
wants ResultType 500121). A line is skipped only when its bytes *prove* that the row fails one of
the rule's filters (``shared.candidates``); every other line is parsed and filtered for real.

The proofs rest on how JSON text holds a value: a string value appears in the line either
verbatim (as UTF-8) or with backslash escapes. So a line without a backslash holds each of its
string values verbatim, and:
- a sign-in whose ResultType is 500121 (the text "500121", or that number) contains b"500121";
- a log-on row (ActivityType "LogOn" or "FailedLogOn") contains b"LogOn", and its
  SourceIPAddress verbatim;
- an identity row whose tolower(AccountUPN) is a candidate u: if the line is ASCII, AccountUPN is
  ASCII, so ``line.lower()`` (ASCII lowering) contains u verbatim. Non-ASCII lines are parsed,
  because Unicode lowering can map a non-ASCII character to an ASCII one (K, U+212A -> "k").
Any line with a backslash is parsed. ``tests/test_raw_prefilter.py`` checks each proof.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from shared.candidates import LOGON_ACTIVITY_TYPES, MFA_DENIED_RESULT_TYPE, Candidates

LineFilter = Callable[[bytes], bool]

# Above this many candidates a regex alternation costs more than it saves: parse every line.
MAX_NEEDLES = 64

_RESULT_TYPE = str(MFA_DENIED_RESULT_TYPE).encode()
# "LogOn" is a substring of both activity types the rule keeps.
_LOGON = b"LogOn"
assert all(_LOGON.decode() in kind for kind in LOGON_ACTIVITY_TYPES)


def signin_line_may_match(line: bytes) -> bool:
    return _RESULT_TYPE in line or b"\\" in line


def _keep_all(line: bytes) -> bool:
    return True


def _needles(values: set[str] | frozenset[str]) -> re.Pattern[bytes] | None:
    if not values or len(values) > MAX_NEEDLES:
        return None
    encoded = sorted((value.encode() for value in values), key=len, reverse=True)
    return re.compile(b"|".join(re.escape(value) for value in encoded))


def identity_line_filter(candidates: Candidates) -> LineFilter:
    if not candidates:
        return lambda line: b"\\" in line or not line.isascii()
    pattern = _needles(candidates.upns)
    if pattern is None:
        return _keep_all
    search = pattern.search
    return lambda line: b"\\" in line or not line.isascii() or search(line.lower()) is not None


def behavior_line_filter(candidates: Candidates) -> LineFilter:
    if not candidates:
        return lambda line: b"\\" in line
    pattern = _needles({ip for ip, _ in candidates.ip_names})
    if pattern is None:
        return lambda line: _LOGON in line or b"\\" in line
    search = pattern.search
    return lambda line: b"\\" in line or (_LOGON in line and search(line) is not None)
