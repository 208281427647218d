"""POST a body to a webhook within a wall-clock deadline, with bounded retries and clear errors.

``timeout`` bounds one delivery as a whole: connecting, sending, the response headers and the few
KB of body read, and the retries within the run. httpx's own timeouts apply to each network
operation, so a receiver that drips a byte a second would hold a request open for ever; the
deadline here is an asyncio timeout around the whole exchange, the approach httpx's maintainers
recommend (encode/httpx#1450). Only the first ``MAX_BODY_BYTES`` of a response are ever read.

Retried within the deadline: connection errors, HTTP 408, 429 and 5xx (honouring ``Retry-After``).
A timeout is not retried in the same run (the time is spent). Not retried: any other 4xx or a
redirect (``DeliveryError(permanent=True)``): sending the same request again cannot help, and
following a redirect would send the alert to a host nobody configured. What is still undelivered
stays in the outbox for a later run.

Webhook URLs carry their credential (Teams Workflows' ``sig=``), so nothing here ever prints one:
errors and log lines name the sink and the URL's host only, anything a server or library echoes is
redacted (``shared.redaction``), and httpx's own request log is redacted.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx
import tenacity

from shared import __version__
from shared.errors import ConfigError, DeliveryError
from shared.redaction import Redactor
from shared.urls import check_http_url

logger = logging.getLogger(__name__)

USER_AGENT: Final = f"mfa-rejected/{__version__}"
RETRIED_STATUSES: Final = frozenset({408, 429})
# Of a response body we read at most this much, for the error message; the rest is never read.
MAX_BODY_BYTES: Final = 4096
_SNIPPET_CHARS: Final = 200

Headers = Callable[[], Mapping[str, str]] | Mapping[str, str]


def url_host(url: str) -> str:
    """What may be shown of a webhook URL: its host (and port when not the default)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return "?"
    host = parsed.host or "?"
    return f"{host}:{parsed.port}" if parsed.port and parsed.port not in (80, 443) else host


def check_webhook_url(url: str, *, setting: str) -> str:
    """``url`` if the settings would accept it (``check_http_url``), else ``ConfigError`` naming
    the setting, never the URL: a sink built in code is held to the same rule as one from settings."""
    try:
        check_http_url(url, secret=True)
    except ValueError as error:
        raise ConfigError(f"{setting}: {error}") from None
    return url


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request at INFO with its full URL and the server's reason phrase (which a
    hostile server can fill with the URL, decoded): keep only scheme and host, drop the phrase."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            args = [
                f"{arg.scheme}://{arg.host}/[redacted]" if isinstance(arg, httpx.URL) else arg for arg in record.args
            ]
            if str(record.msg).startswith("HTTP Request:") and args and isinstance(args[-1], str):
                args[-1] = "[reason not shown]"
            record.args = tuple(args)
        return True


def _install_log_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxUrls())
    # httpcore's DEBUG trace prints response headers as received, echoes of the URL included; it
    # has no hook to redact them, so it is kept off.
    logging.getLogger("httpcore").setLevel(logging.INFO)


_install_log_redaction()


class _RetryableError(Exception):
    """One failed attempt worth retrying; ``retry_after`` is what the server asked for, if anything."""

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard one delivery tries within a run (the outbox retries across runs)."""

    max_attempts: int = 4
    max_elapsed: float = 10.0  # seconds for the whole delivery, every attempt and pause included
    initial_backoff: float = 1.0
    max_backoff: float = 20.0
    max_retry_after: float = 30.0  # a server asking for a longer pause is left for a later run


class HttpTransport:
    """Sends one POST with retries, all within ``max_elapsed`` seconds (default: ``timeout``, so that
    ``MFA_HTTP_TIMEOUT`` bounds a whole delivery); each attempt gets at most ``timeout`` of what is left.

    ``sleep`` and ``clock`` (unix seconds) are injectable so tests run retries instantly.
    """

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_attempts: int = 4,
        max_elapsed: float | None = None,
        initial_backoff: float = 1.0,
        max_backoff: float = 20.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        max_elapsed = timeout if max_elapsed is None else max_elapsed
        if timeout <= 0 or max_attempts < 1 or max_elapsed <= 0:
            raise ValueError("timeout and max_elapsed must be positive and max_attempts at least 1")
        self.timeout = timeout
        self.policy = RetryPolicy(max_attempts, max_elapsed, initial_backoff, max_backoff, max_retry_after)
        self._sleep = sleep
        self.clock = clock
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"HttpTransport(timeout={self.timeout}, policy={self.policy})"

    @property
    def worst_case(self) -> float:
        """Seconds one ``post`` can take at most (the outbox lease must be longer)."""
        return self.policy.max_elapsed

    def post(self, url: str, body: bytes, *, headers: Headers, label: str) -> int:
        """POST ``body`` until a 2xx, a permanent failure, the attempt bound or the deadline.

        ``headers`` may be a callable, called before every attempt (a signature must carry the time
        of sending). ``label`` names the destination in errors, e.g. "teams (host)"; never the URL.
        Returns the 2xx status; raises ``DeliveryError``, whose message is redacted.
        """
        redact = _redactor_for(url)
        # A loop of our own rather than asyncio.run: closing it does not wait for a DNS lookup still
        # running in the default executor after its deadline.
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(self._post(url, body, headers=headers, label=label, redact=redact))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _post(self, url: str, body: bytes, *, headers: Headers, label: str, redact: Redactor) -> int:
        started = self.clock()
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts) | self._out_of_time(started),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableError),
            sleep=self._pause_for,
            before_sleep=lambda state: logger.warning(
                "%s: attempt %d failed (%s); retrying in %.1f s",
                label,
                state.attempt_number,
                redact(str(state.outcome.exception())) if state.outcome else "?",
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        async with httpx.AsyncClient(
            follow_redirects=False, headers={"user-agent": USER_AGENT, "accept-encoding": "identity"}
        ) as client:

            async def attempt() -> int:
                # Each attempt gets the time left, at most ``timeout`` (a retry only starts with time left).
                budget = max(min(self.timeout, self.policy.max_elapsed - (self.clock() - started)), 0.05)
                return await self._attempt(client, url, body, headers=headers, label=label, budget=budget)

            try:
                return await retrying(attempt)
            except _RetryableError as failure:
                attempts = retrying.statistics.get("attempt_number", 1)
                logger.info("%s: attempt %d failed (%s); no retry in this run", label, attempts, redact(failure.reason))
                raise DeliveryError(
                    redact(
                        f"{label}: {failure.reason}; gave up after {attempts} attempt(s) in "
                        f"{self.clock() - started:.1f} s (will be retried on a later run)"
                    ),
                    permanent=False,
                ) from None
            except DeliveryError as error:
                raise DeliveryError(redact(str(error)), permanent=error.permanent) from None
            except Exception as error:  # whatever a library raises is this delivery's failure, not the run's
                raise DeliveryError(
                    redact(f"{label}: request failed ({type(error).__name__}: {error})"), permanent=False
                ) from None

    async def _attempt(
        self, client: httpx.AsyncClient, url: str, body: bytes, *, headers: Headers, label: str, budget: float
    ) -> int:
        sent_headers = dict(headers() if callable(headers) else headers)
        deadline = asyncio.get_running_loop().time() + budget
        snippet: list[bytes] = []
        status: int | None = None
        try:
            async with asyncio.timeout_at(deadline):
                # httpx's own timeouts apply per network operation; a little longer, so the deadline decides.
                async with client.stream(
                    "POST", url, content=body, headers=sent_headers, timeout=budget + 1.0
                ) as response:
                    status = response.status_code
                    if 200 <= status < 300:
                        logger.info("%s: delivered (HTTP %d)", label, status)
                        return status  # the body is never read: closing the stream drops it
                    await _read_start(response, into=snippet)
        except (TimeoutError, httpx.TimeoutException):
            if status is None:
                raise _RetryableError(f"timed out after {budget:.1f} s (no complete answer)") from None
            # The status came, then the body dripped past the deadline: the status is what matters.
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _RetryableError(f"connection failed ({type(error).__name__}: {error})") from None
        assert status is not None  # set before any line that could leave the block without raising
        status_line = f"HTTP {status} {response.reason_phrase}".rstrip()
        text = _one_line(b"".join(snippet))
        said = f": {text}" if text else ""
        if status in RETRIED_STATUSES or status >= 500:
            raise _RetryableError(status_line + said, retry_after=retry_after_seconds(response, now=self.clock()))
        if 300 <= status < 400:
            said = " (a redirect: the webhook URL is out of date)"
        raise DeliveryError(f"{label}: {status_line}, not retried{said}", permanent=True)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableError) and failure.retry_after is not None:
            return failure.retry_after
        # Exponential backoff with "equal jitter": half fixed, half random, so retries from several
        # instances spread out but never collapse to zero.
        backoff = min(self.policy.max_backoff, self.policy.initial_backoff * 2 ** (state.attempt_number - 1))
        return backoff / 2 + self._rng.uniform(0, backoff / 2)

    def _out_of_time(self, started: float) -> Callable[[tenacity.RetryCallState], bool]:
        """Stop when the pause the server asks for is over the cap, or the next attempt would start
        past the deadline; the reason is added to the failure's message."""

        def stop(state: tenacity.RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            if not isinstance(failure, _RetryableError):
                return True
            asked = failure.retry_after
            if asked is not None and asked > self.policy.max_retry_after:
                failure.reason += f" (Retry-After {asked:.0f} s is beyond the {self.policy.max_retry_after:.0f} s cap)"
                return True
            if self.clock() - started + state.upcoming_sleep >= self.policy.max_elapsed:
                if asked is not None:
                    failure.reason += f" (Retry-After {asked:.0f} s is beyond the time left)"
                return True
            return False

        return stop

    async def _pause_for(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        else:
            await asyncio.sleep(seconds)


@functools.lru_cache(maxsize=16)
def _redactor_for(url: str) -> Redactor:
    """Every spelling of ``url``'s parts, worked out once per URL rather than once per delivery."""
    return Redactor(urls=[url])


async def _read_start(response: httpx.Response, *, into: list[bytes]) -> None:
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


def _one_line(data: bytes) -> str:
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
