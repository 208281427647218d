"""POST a body to a webhook (or send any request to a vendor's API) within a wall-clock deadline,
with bounded retries and clear errors.

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
import functools
import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import httpx
import tenacity

from shared import __version__
from shared.errors import ConfigError, DeliveryError
from shared.redaction import Redactor
from shared.sinks.http_answer import (
    Answer,
    AnswerTooLongError,
    one_line,
    read_answer,
    read_start,
    retry_after_seconds,
)
from shared.sinks.http_log import install_log_redaction
from shared.urls import check_http_url

logger = logging.getLogger(__name__)
install_log_redaction()

USER_AGENT: Final = f"mfa-rejected/{__version__}"
RETRIED_STATUSES: Final = frozenset({408, 429})
Headers = Callable[[], Mapping[str, str]] | Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Exchange:
    method: str
    url: str
    body: bytes | None
    headers: Headers
    label: str
    read: bool
    retry: bool


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


class _RetryableError(Exception):
    """One failed attempt worth retrying; ``retry_after`` is what the server asked for, if anything."""

    def __init__(self, reason: str, *, retry_after: float | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.status = status


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

    def post(self, url: str, body: bytes, *, headers: Headers, label: str, secrets: Iterable[str] = ()) -> int:
        """POST ``body`` until a 2xx, a permanent failure, the attempt bound or the deadline.

        ``headers`` may be a callable, called before every attempt (a signature must carry the time
        of sending). ``label`` names the destination in errors, e.g. "teams (host)"; never the URL.
        ``secrets`` (a token, a password) are redacted from every message, as the URL is.
        Returns the 2xx status; raises ``DeliveryError``, whose message is redacted.
        """
        return self.request("POST", url, body=body, headers=headers, label=label, secrets=secrets).status

    def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Headers,
        label: str,
        secrets: Iterable[str] = (),
        read: bool = False,
        retry: bool = True,
    ) -> Answer:
        """``post`` for any method: the same deadline, retries and answers. With ``read``, the first
        ``MAX_ANSWER_BYTES`` of a 2xx answer's body are read and returned (a ticketing API's search
        result); otherwise a 2xx body is never read. With ``retry=False`` one attempt only: a request
        that creates something (a ticket) must not be sent again blind after a timeout or a 5xx, which
        may have created it; the caller looks first, on a later run."""
        redact = _redactor_for(url, tuple(secrets))
        # A loop of our own rather than asyncio.run: closing it does not wait for a DNS lookup still
        # running in the default executor after its deadline.
        loop = asyncio.new_event_loop()
        try:
            exchange = _Exchange(method, url, body, headers, label, read, retry)
            return loop.run_until_complete(self._post(exchange, redact=redact))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _post(self, exchange: _Exchange, *, redact: Redactor) -> Answer:
        label = exchange.label
        started = self.clock()
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts if exchange.retry else 1)
            | self._out_of_time(started),
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

            async def attempt() -> Answer:
                # Each attempt gets the time left, at most ``timeout`` (a retry only starts with time left).
                budget = max(min(self.timeout, self.policy.max_elapsed - (self.clock() - started)), 0.05)
                return await self._attempt(client, exchange, budget=budget)

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
                    status=failure.status,
                ) from None
            except DeliveryError as error:
                raise DeliveryError(redact(str(error)), permanent=error.permanent, status=error.status) from None
            except Exception as error:  # whatever a library raises is this delivery's failure, not the run's
                raise DeliveryError(
                    redact(f"{label}: request failed ({type(error).__name__}: {error})"), permanent=False
                ) from None

    async def _attempt(self, client: httpx.AsyncClient, exchange: _Exchange, *, budget: float) -> Answer:
        label = exchange.label
        headers = exchange.headers
        sent_headers = dict(headers() if callable(headers) else headers)
        deadline = asyncio.get_running_loop().time() + budget
        snippet: list[bytes] = []
        status: int | None = None
        try:
            async with asyncio.timeout_at(deadline):
                # httpx's own timeouts apply per network operation; a little longer, so the deadline decides.
                async with client.stream(
                    exchange.method, exchange.url, content=exchange.body, headers=sent_headers, timeout=budget + 1.0
                ) as response:
                    status = response.status_code
                    if 200 <= status < 300:
                        logger.info("%s: %s answered HTTP %d", label, exchange.method, status)
                        if not exchange.read:
                            return Answer(status)  # the body is never read: closing the stream drops it
                        try:
                            return Answer(status, await read_answer(response))
                        except AnswerTooLongError as error:
                            raise _RetryableError(str(error)) from None
                    await read_start(response, into=snippet)
        except (TimeoutError, httpx.TimeoutException):
            if status is None:
                raise _RetryableError(f"timed out after {budget:.1f} s (no complete answer)") from None
            # The status came, then the body dripped past the deadline: the status is what matters.
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _RetryableError(f"connection failed ({type(error).__name__}: {error})") from None
        assert status is not None  # set before any line that could leave the block without raising
        status_line = f"HTTP {status} {response.reason_phrase}".rstrip()
        text = one_line(b"".join(snippet))
        said = f": {text}" if text else ""
        if status in RETRIED_STATUSES or status >= 500:
            raise _RetryableError(
                status_line + said, retry_after=retry_after_seconds(response, now=self.clock()), status=status
            )
        if 300 <= status < 400:
            said = " (a redirect: the webhook URL is out of date)"
        raise DeliveryError(f"{label}: {status_line}, not retried{said}", permanent=True, status=status)

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


@functools.lru_cache(maxsize=64)
def _redactor_for(url: str, secrets: tuple[str, ...]) -> Redactor:
    """Every spelling of ``url``'s parts and of ``secrets``, worked out once rather than per delivery."""
    return Redactor(urls=[url], secrets=secrets)
