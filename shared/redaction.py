"""Keep secrets out of every text we show: logs, errors, the outbox's ``last_error``, ``status``.

A webhook URL carries its credential (Teams Workflows' ``sig=``; the workflow id in the path), and
receivers, proxies and libraries echo URLs back in many spellings: raw, percent-decoded, form-decoded
(``+`` as a space) or re-encoded. A ``Redactor`` knows the secrets and every spelling of each part,
and replaces any of them, longest first, with ``[redacted]``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final
from urllib.parse import quote, quote_plus, unquote, unquote_plus, urlsplit

MASK: Final = "[redacted]"
# Query values shorter than this are switches such as ``sv=1.0``: masking them would garble messages
# ("HTTP/1.0") without hiding anything. Values of parameters named like a credential are masked
# whatever their length.
MIN_QUERY_VALUE: Final = 6
CREDENTIAL_PARAMETERS: Final = frozenset({"sig", "signature", "code", "key", "token", "secret", "password", "sas"})
# Path segments this long are identifiers (a workflow id, a GUID), not words like "triggers".
MIN_PATH_SEGMENT: Final = 12


def spellings(text: str) -> set[str]:
    """``text`` as it may come back: raw, percent-decoded, form-decoded and percent-encoded."""
    decoded = unquote(text)
    forms = {text, decoded, unquote_plus(text), quote(decoded, safe=""), quote_plus(decoded, safe="")}
    return {form for form in forms if form}


def url_parts(url: str) -> set[str]:
    """The parts of ``url`` that may carry a credential: all of it, its path and query, each query
    value and each long path segment."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not even a URL: hide it whole
        return {url}
    found = {url, parts.query, parts.path + ("?" + parts.query if parts.query else "")}
    if len(parts.path) > 1:
        found.add(parts.path)
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if len(value) >= MIN_QUERY_VALUE or unquote_plus(name).lower() in CREDENTIAL_PARAMETERS:
            found.add(value)  # spellings() adds its decoded forms
    found.update(segment for segment in parts.path.split("/") if len(segment) >= MIN_PATH_SEGMENT)
    return {part for part in found if part}


class Redactor:
    """Replaces every spelling of the given secrets. ``Redactor()`` redacts nothing."""

    __slots__ = ("_needles",)

    def __init__(self, *, urls: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        needles: set[str] = set()
        for url in urls:
            for part in url_parts(url):
                needles |= spellings(part)
        for secret in secrets:
            needles |= spellings(secret)
            _, _, body = secret.partition("_")  # whsec_<base64>: the key without its prefix
            if body:
                needles |= spellings(body)
        needles.discard(MASK)
        # Longest first, so that a whole URL is replaced before the parts it contains.
        self._needles = tuple(sorted((n for n in needles if len(n) > 1), key=len, reverse=True))

    def __repr__(self) -> str:
        return f"Redactor({len(self._needles)} needle(s))"

    def __call__(self, text: str) -> str:
        for needle in self._needles:
            if needle in text:
                text = text.replace(needle, MASK)
        return text

    def __or__(self, other: Redactor) -> Redactor:
        merged = Redactor()
        merged._needles = tuple(sorted(set(self._needles) | set(other._needles), key=len, reverse=True))
        return merged
