"""Reading a server's answer: a 2xx body when asked for (bounded), the start of an error body for the
message (bounded, never a compressed one), and ``Retry-After``."""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass
from typing import Any, Final

import httpx

from shared.errors import DeliveryError

# Of a response body we read at most this much, for the error message; the rest is never read.
MAX_BODY_BYTES: Final = 4096
_SNIPPET_CHARS: Final = 200

# Of a 2xx answer that is read (``request(read=True)``: a search result), at most this much.
MAX_ANSWER_BYTES: Final = 256 * 1024


class AnswerTooLongError(Exception):
    """A 2xx answer longer than ``MAX_ANSWER_BYTES``: not read further."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A 2xx answer: its status, and its body when it was asked for (``request(read=True)``)."""

    status: int
    body: bytes = b""

    def json(self, *, label: str) -> Any:
        """The body as JSON, or ``DeliveryError`` (transient: a proxy's page instead of the API's answer)."""
        try:
            return json.loads(self.body)
        except ValueError:
            raise DeliveryError(f"{label}: HTTP {self.status} answer is not JSON", permanent=False) from None


async def read_start(response: httpx.Response, *, into: list[bytes]) -> None:
    """Append the start of an error response's body to ``into``: at most ``MAX_BODY_BYTES`` are read,
    and nothing of a compressed body (a small one can inflate to gigabytes)."""
    if response.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return
    size = 0
    async for chunk in response.aiter_raw():
        into.append(chunk[: MAX_BODY_BYTES - size])
        size += len(into[-1])
        if size >= MAX_BODY_BYTES:
            return


def one_line(data: bytes) -> str:
    return " ".join(data.decode("utf-8", errors="replace").split())[:_SNIPPET_CHARS]


def retry_after_seconds(response: httpx.Response, *, now: float) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP-date (RFC 9110); None if absent or
    unreadable (then the usual backoff applies)."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


async def read_answer(response: httpx.Response) -> bytes:
    """At most ``MAX_ANSWER_BYTES`` of a 2xx answer's body, decoded; ``AnswerTooLongError`` if longer."""
    data = bytearray()
    async for chunk in response.aiter_bytes():
        data += chunk
        if len(data) > MAX_ANSWER_BYTES:
            raise AnswerTooLongError(f"the answer is longer than {MAX_ANSWER_BYTES} bytes")
    return bytes(data)
