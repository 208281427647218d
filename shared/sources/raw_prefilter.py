"""Skip JSON Lines that provably hold no row the rule can use, without parsing them.

Parsing is what a replay spends its time on, and almost every line is irrelevant (the rule wants
ResultType 500121, and only the IdentityInfo and UEBA rows of those sign-ins' users and IPs). A
line is skipped only when its bytes *prove* that the row fails one of the rule's filters
(``shared.candidates``); every other line is parsed and filtered for real.

The proofs rest on how JSON text holds a value. A line that is to be skipped starts with ``{`` and
ends with ``}`` (the reader checks that outline); the reader decodes a line it parses as UTF-8,
strictly, so a line that is not UTF-8 can hold no row at all (parsed, it is reported). In a line
without a backslash, no string has an escape, so every key and every string value appears
verbatim between two quotes, and a quote always opens or closes a string. A top-level cell
``"Key": value`` therefore shows as the bytes ``Key"``, JSON whitespace (never a newline inside a
line), ``:``, whitespace, then either ``"<the string>"`` or the first character of another value.
Duplicate and nested keys only add occurrences, so looking at *every* occurrence of ``Key"``
covers the cell ``json.loads`` keeps.
A cell that is not a string becomes its ``tostring`` text: ``true``/``false``, a number's decimal
text, ``NaN``/``Infinity``, or compact JSON starting with ``{``/``[`` (``_NON_STRING_TEXT``); an
absent or null cell becomes ``""``.

- sign-ins: ``ResultType == 500121`` holds only for the string ``"500121"`` or a number (``5.00121e5``
  and ``500120.99999999999999`` are 500121 too): a ``ResultType"`` occurrence followed by
  ``"500121"`` or by ``-``/a digit. (With ``kql.OPEN_NONCANONICAL_LONG_TEXT_MATCHES``, every string
  ResultType is tested with ``kql.equals_long``.) And ``tostring(Status.additionalDetails)`` must
  ``=~`` the declined text or have the term ``fraud``: only a string or an object/array cell can,
  and its characters are in the line. ``has`` ignores case by simple case folding, which maps no
  non-ASCII character to f, r, a, u or d; ``=~`` upper-cases character by character, and only
  ``ı`` and ``ſ`` upper-case to ASCII letters (I, S). So the line, lower-cased as ASCII, contains
  ``fraud`` or ``ned the authent`` (the longest run of the declined text without an i or an s).
- IdentityInfo: ``tolower(AccountUPN)`` must be a candidate UPN: some ``AccountUPN"`` string that
  lowers (``kql.tolower``) to a candidate, or a non-string value when some candidate looks like a
  non-string's text. A candidate ``""`` (a sign-in without a UPN) matches rows without the column,
  which have no occurrence: then every line is parsed.
- BehaviorAnalytics: ActivityType ``LogOn``/``FailedLogOn`` (only a string can be either, so the
  line contains ``LogOn``), and (SourceIPAddress, UserName) a candidate pair, both found as for
  IdentityInfo. SourceIPAddress is never ``""`` (the rule wants a non-empty source IP); a pair whose
  name is ``""`` also matches rows without a UserName, so for it the IP alone decides.

Any line with a backslash is parsed. Each filter answers two questions: ``may_match(line)`` for one
line, and ``marks(buffer, start, stop)``, positions in a block of whole lines such that every line
for which ``may_match`` holds contains a mark (lines without a mark need no per-line test: this
is what lets the reader skip a million lines at the speed of a few byte searches).
``tests/sources/test_raw_prefilter.py`` checks each proof on random rows and writers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shared import kql
from shared.candidates import (
    DECLINED_DETAILS,
    FRAUD_TERM,
    LOGON_ACTIVITY_TYPES,
    MFA_DENIED_RESULT_TYPE,
    Candidates,
)

_BACKSLASH = b"\\"
_RESULT_TYPE_TEXT = str(MFA_DENIED_RESULT_TYPE).encode()
_FRAUD = FRAUD_TERM.encode()
# The longest run of the declined text free of "i" and "s", whose upper case has non-ASCII
# preimages (U+0131, U+017F); every other character of it matches only itself in either ASCII case.
# ("ned the authent": derived from the rule's constant, so that a change there moves the needle.)
_DECLINED_RUN = max(re.split("[is]", DECLINED_DETAILS.lower()), key=len).encode()
# The shortest activity type the rule keeps, which is in every one of them ("LogOn" is in "FailedLogOn").
_LOGON = min(LOGON_ACTIVITY_TYPES, key=len).encode()
if not all(_LOGON.decode() in kind for kind in LOGON_ACTIVITY_TYPES):
    raise RuntimeError(f"no one needle for the activity types {LOGON_ACTIVITY_TYPES}: raw_prefilter needs one")
# JSON whitespace that can occur inside one line (a newline ends the line).
_WS = rb"[ \t\r]*"
# The tostring text of any value that is not a string (ignoring case, so that tolower'd text matches
# too): a bool, an int, a float (repr or integral), NaN/Infinity, an object or an array.
_NON_STRING_TEXT = re.compile(
    r"true|false|-?[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?|nan|-?infinity|[\[{].*", re.IGNORECASE | re.DOTALL
)
# ResultType is "500121" or a number (JSON numbers start with "-" or a digit).
_SIGNIN_MAY_MATCH = re.compile(rb'ResultType"' + _WS + rb":" + _WS + rb'(?:"' + _RESULT_TYPE_TEXT + rb'"|[-0-9])')


class RawFilter:
    """A proof, on a line's bytes, that its row fails the rule's filters (see the module docstring)."""

    __slots__ = ()

    def may_match(self, line: bytes) -> bool:
        """False only if the row on ``line`` (one JSON object, no newline) cannot pass the rule."""
        raise NotImplementedError

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        """Sorted positions in ``buffer[start:stop]`` (whole lines) such that every line for which
        ``may_match`` holds contains one; None when every line must be tested on its own."""
        return None

    def __call__(self, line: bytes) -> bool:
        return self.may_match(line)


def _positions(buffer: bytes, needle: bytes, start: int, stop: int) -> list[int]:
    found = []
    find = buffer.find
    at = find(needle, start, stop)
    while at >= 0:
        found.append(at)
        at = find(needle, at + 1, stop)
    return found


def _merge(first: list[int], second: list[int]) -> list[int]:
    # Backslashes are rare in real exports: usually there is nothing to merge.
    return sorted(first + second) if first and second else first or second


class _KeepAll(RawFilter):
    __slots__ = ()

    def may_match(self, line: bytes) -> bool:
        return True


class _ResultTypeFilter(RawFilter):
    """Sign-ins: some ResultType occurrence is "500121" or a number."""

    __slots__ = ()

    def may_match(self, line: bytes) -> bool:
        if _BACKSLASH in line:
            return True
        return _SIGNIN_MAY_MATCH.search(line) is not None and _may_reject_mfa(line)

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        hits = [match.start() for match in _SIGNIN_MAY_MATCH.finditer(buffer, start, stop)]
        return _merge(hits, _positions(buffer, _BACKSLASH, start, stop))


class _Cell:
    """Where the cell ``key`` shows in a line: group 1 is a string value's bytes, or None for the
    first character of any other value."""

    __slots__ = ("finditer",)

    def __init__(self, key: str) -> None:
        pattern = re.compile(re.escape(key.encode()) + b'"' + _WS + b":" + _WS + rb'(?:"([^"\n]*)"|[^"\s])')
        self.finditer = pattern.finditer

    def values(self, line: bytes) -> list[bytes | None]:
        return [match[1] for match in self.finditer(line)]


_RESULT_TYPE = _Cell("ResultType")
_ACCOUNT_UPN = _Cell("AccountUPN")
_SOURCE_IP = _Cell("SourceIPAddress")
_USER_NAME = _Cell("UserName")


class _NoncanonicalResultTypeFilter(RawFilter):
    """Sign-ins when non-canonical text may equal 500121: some ResultType that is a string
    ``kql.equals_long`` takes, or that is not a string."""

    __slots__ = ()

    @staticmethod
    def _takes(token: bytes | None) -> bool:
        if token is None:
            return True
        try:
            text = token.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return True  # parsed, so that the bad text is reported
        return kql.equals_long(text, MFA_DENIED_RESULT_TYPE)

    def may_match(self, line: bytes) -> bool:
        if _BACKSLASH in line:
            return True
        return any(self._takes(value) for value in _RESULT_TYPE.values(line)) and _may_reject_mfa(line)

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        takes = self._takes
        hits = [match.start() for match in _RESULT_TYPE.finditer(buffer, start, stop) if takes(match[1])]
        return _merge(hits, _positions(buffer, _BACKSLASH, start, stop))


class _IdentityFilter(RawFilter):
    """IdentityInfo: some AccountUPN whose ``tolower`` is a candidate UPN (none of them ``""``)."""

    __slots__ = ("_ascii", "_non_strings", "_upns")

    def __init__(self, upns: frozenset[str]) -> None:
        self._upns = upns
        self._ascii = frozenset(upn.encode() for upn in upns if upn.isascii())
        self._non_strings = _could_be_non_string(upns)

    def _takes(self, token: bytes | None) -> bool:
        if token is None:
            return self._non_strings
        if token.isascii():
            # kql.tolower of ASCII text is ASCII lowering, which bytes.lower() is.
            return token.lower() in self._ascii
        try:
            text = token.decode("utf-8", "surrogatepass")
        except UnicodeDecodeError:
            return True  # parsed, so that the bad text is reported
        return kql.tolower(text) in self._upns

    def may_match(self, line: bytes) -> bool:
        return _BACKSLASH in line or any(self._takes(value) for value in _ACCOUNT_UPN.values(line))

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        takes = self._takes
        hits = [match.start() for match in _ACCOUNT_UPN.finditer(buffer, start, stop) if takes(match[1])]
        return _merge(hits, _positions(buffer, _BACKSLASH, start, stop))


class _BehaviorFilter(RawFilter):
    """BehaviorAnalytics: a log-on whose (SourceIPAddress, UserName) is a candidate pair.

    A pair whose name is ``""`` also matches rows without a UserName (no occurrence to look at): its
    IP alone decides. Marks are the UserName occurrences of candidate names (plus the source IPs of
    such pairs), which are far fewer than the occurrences of candidate IPs: office IPs are shared.
    """

    __slots__ = ("_ip_non_strings", "_name_non_strings", "_names", "_pairs", "_wild_ips")

    def __init__(self, ip_names: frozenset[tuple[str, str]]) -> None:
        # isnotempty(SourceIPAddress): a row whose source IP is "" never passes.
        pairs = {(ip, name) for ip, name in ip_names if ip}
        self._pairs = frozenset((_utf8(ip), _utf8(name)) for ip, name in pairs)
        self._names = frozenset(name for _, name in self._pairs)
        self._wild_ips = frozenset(ip for ip, name in self._pairs if not name)
        self._ip_non_strings = _could_be_non_string(ip for ip, _ in pairs)
        self._name_non_strings = _could_be_non_string(name for _, name in pairs)

    def may_match(self, line: bytes) -> bool:
        if _BACKSLASH in line:
            return True
        if _LOGON not in line:
            return False
        names = _USER_NAME.values(line)
        for ip in _SOURCE_IP.values(line):
            if ip is None:
                if self._ip_non_strings:
                    return True
                continue
            if ip in self._wild_ips:
                return True
            for name in names:
                if (ip, name) in self._pairs or (name is None and self._name_non_strings):
                    return True
        return False

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        names = self._names
        hits = [match.start() for match in _USER_NAME.finditer(buffer, start, stop) if match[1] in names]
        if self._name_non_strings:
            hits += [match.start() for match in _USER_NAME.finditer(buffer, start, stop) if match[1] is None]
        if self._wild_ips or self._ip_non_strings:
            wild, non_strings = self._wild_ips, self._ip_non_strings
            hits += [
                match.start()
                for match in _SOURCE_IP.finditer(buffer, start, stop)
                if (match[1] in wild if match[1] is not None else non_strings)
            ]
        return _merge(sorted(hits), _positions(buffer, _BACKSLASH, start, stop))


def _may_reject_mfa(line: bytes) -> bool:
    """Whether the additional details in ``line`` (no backslash) may be a decline or a fraud report."""
    lowered = line.lower()
    return _FRAUD in lowered or _DECLINED_RUN in lowered


def _could_be_non_string(values: Iterable[str]) -> bool:
    return any(_NON_STRING_TEXT.fullmatch(value) for value in values)


def _utf8(value: str) -> bytes:
    # A candidate may hold a lone surrogate (from a "\ud800" escape, in a line that was parsed):
    # "surrogatepass" gives it bytes, which can show only in a line that is not UTF-8 (marked, such
    # a line is parsed, and reported).
    return value.encode("utf-8", "surrogatepass")


SIGNIN_FILTER: RawFilter = (
    _NoncanonicalResultTypeFilter() if kql.OPEN_NONCANONICAL_LONG_TEXT_MATCHES else _ResultTypeFilter()
)


def signin_line_may_match(line: bytes) -> bool:
    return SIGNIN_FILTER.may_match(line)


def signin_line_filter() -> RawFilter:
    return SIGNIN_FILTER


def identity_line_filter(candidates: Candidates) -> RawFilter:
    # A candidate "" matches rows without an AccountUPN, which show no occurrence: parse them all.
    return _KeepAll() if "" in candidates.upns else _IdentityFilter(candidates.upns)


def behavior_line_filter(candidates: Candidates) -> RawFilter:
    return _BehaviorFilter(candidates.ip_names)
