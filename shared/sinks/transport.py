"""POST a body to a webhook: timeouts, bounded retries with backoff and jitter, clear errors.

Retried: connection errors, timeouts, HTTP 408, 429 and 5xx (honouring ``Retry-After``). Not
retried: any other 4xx or a redirect (``DeliveryError(permanent=True)``): sending the same request
again cannot help. Both the number of attempts and the total time are bounded; what is still
undelivered then stays in the outbox for a later run.

Webhook URLs carry their credential (Teams Workflows' ``sig=``), so nothing here ever prints one:
errors and log lines name the sink and the URL's host only, and httpx's own request log is redacted.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import tenacity

from shared import __version__
from shared.errors import ConfigError, DeliveryError
from shared.settings import is_loopback_url

logger = logging.getLogger(__name__)

USER_AGENT = f"mfa-rejected/{__version__}"
RETRIED_STATUSES = frozenset({408, 429})
_SNIPPET_CHARS = 200


def url_host(url: str) -> str:
    """What may be shown of a webhook URL: its host (and port when not the default)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port and parts.port not in (80, 443) else host


def check_webhook_url(url: str, *, setting: str) -> str:
    """An absolute https URL, or plain http to a loopback host (local tests); else ConfigError."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{setting}: must be an absolute https URL")
    if parts.scheme != "https" and not is_loopback_url(url):
        raise ConfigError(f"{setting}: must use https (plain http only for loopback hosts), got host {url_host(url)}")
    return url


class _RedactHttpxUrls(logging.Filter):
    """httpx logs every request with its full URL at INFO; keep only scheme and host."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{arg.scheme}://{arg.host}/[redacted]" if isinstance(arg, httpx.URL) else arg for arg in record.args
            )
        return True


def _install_httpx_redaction() -> None:
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactHttpxUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(_RedactHttpxUrls())


_install_httpx_redaction()


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
    max_elapsed: float = 60.0  # seconds, from the first attempt to giving up
    initial_backoff: float = 1.0
    max_backoff: float = 20.0
    max_retry_after: float = 30.0  # a server asking for a longer pause is left for a later run


class HttpTransport:
    """Sends one POST with retries. ``sleep`` and ``clock`` (unix seconds) are injectable for tests."""

    def __init__(
        self,
        *,
        timeout: float = 10.0,
        max_attempts: int = 4,
        max_elapsed: float = 60.0,
        initial_backoff: float = 1.0,
        max_backoff: float = 20.0,
        max_retry_after: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0 or max_attempts < 1 or max_elapsed <= 0:
            raise ValueError("timeout and max_elapsed must be positive and max_attempts at least 1")
        self.timeout = timeout
        self.policy = RetryPolicy(max_attempts, max_elapsed, initial_backoff, max_backoff, max_retry_after)
        self._sleep = sleep
        self.clock = clock
        self._rng = rng or random.Random()

    def __repr__(self) -> str:
        return f"HttpTransport(timeout={self.timeout}, policy={self.policy})"

    def post(
        self,
        url: str,
        body: bytes,
        *,
        headers: Callable[[], Mapping[str, str]] | Mapping[str, str],
        label: str,
    ) -> httpx.Response:
        """POST ``body`` until a 2xx, a permanent failure or the retry bounds.

        ``headers`` may be a callable, called before every attempt (a signature must carry the time
        of sending). ``label`` names the destination in errors, e.g. "teams (host)"; never the URL.
        Raises ``DeliveryError``.
        """
        started = self.clock()
        deadline = started + self.policy.max_elapsed
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.policy.max_attempts) | self._past_deadline(deadline),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryableError),
            sleep=self._sleep,
            before_sleep=lambda state: logger.warning(
                "%s: attempt %d failed (%s); retrying in %.1f s",
                label,
                state.attempt_number,
                state.outcome.exception() if state.outcome else "?",
                state.upcoming_sleep,
            ),
            reraise=True,
        )
        with httpx.Client(follow_redirects=False, headers={"user-agent": USER_AGENT}) as client:
            try:
                return retrying(
                    lambda: self._attempt(client, url, body, headers=headers, label=label, deadline=deadline)
                )
            except _RetryableError as failure:
                attempts = retrying.statistics.get("attempt_number", 1)
                raise DeliveryError(
                    f"{label}: {failure.reason}; gave up after {attempts} attempt(s) in "
                    f"{self.clock() - started:.1f} s (will be retried on a later run)",
                    permanent=False,
                ) from None

    def _attempt(
        self,
        client: httpx.Client,
        url: str,
        body: bytes,
        *,
        headers: Callable[[], Mapping[str, str]] | Mapping[str, str],
        label: str,
        deadline: float,
    ) -> httpx.Response:
        # Never let one attempt run past the total bound (at least a short attempt, though).
        timeout = max(min(self.timeout, deadline - self.clock()), 0.05)
        sent_headers = dict(headers() if callable(headers) else headers)
        try:
            response = client.post(url, content=body, headers=sent_headers, timeout=timeout)
        except httpx.TimeoutException as error:
            raise _RetryableError(f"timed out after {timeout:.1f} s ({type(error).__name__})") from None
        except (httpx.NetworkError, httpx.RemoteProtocolError) as error:
            raise _RetryableError(f"connection failed ({type(error).__name__}: {_strip(str(error), url)})") from None
        except httpx.HTTPError as error:
            raise DeliveryError(
                f"{label}: request failed ({type(error).__name__}: {_strip(str(error), url)})", permanent=True
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            logger.info("%s: delivered (HTTP %d)", label, status)
            return response
        reason = f"HTTP {status} {response.reason_phrase}".rstrip()
        snippet = _snippet(response, url)
        if status in RETRIED_STATUSES or status >= 500:
            raise _RetryableError(reason + snippet, retry_after=retry_after_seconds(response, now=self.clock()))
        if 300 <= status < 400:
            reason += " (a redirect: the webhook URL is out of date)"
        raise DeliveryError(f"{label}: {reason}, not retried{snippet}", permanent=True)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _RetryableError) and failure.retry_after is not None:
            return failure.retry_after
        # Exponential backoff with "equal jitter": half fixed, half random, so retries from several
        # instances spread out but never collapse to zero.
        backoff = min(self.policy.max_backoff, self.policy.initial_backoff * 2 ** (state.attempt_number - 1))
        return backoff / 2 + self._rng.uniform(0, backoff / 2)

    def _past_deadline(self, deadline: float) -> Callable[[tenacity.RetryCallState], bool]:
        def stop(state: tenacity.RetryCallState) -> bool:
            failure = state.outcome.exception() if state.outcome else None
            if not isinstance(failure, _RetryableError):
                return True
            asked = failure.retry_after
            if asked is not None and asked > self.policy.max_retry_after:
                failure.reason += f" (Retry-After {asked:.0f} s is beyond the {self.policy.max_retry_after:.0f} s cap)"
                return True
            if self.clock() + state.upcoming_sleep >= deadline:
                if asked is not None:
                    failure.reason += f" (Retry-After {asked:.0f} s is beyond the time left)"
                return True
            return False

        return stop


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


def _snippet(response: httpx.Response, url: str) -> str:
    text = " ".join(response.text.split())[:_SNIPPET_CHARS]
    return f": {_strip(text, url)}" if text else ""


def _strip(text: str, url: str) -> str:
    """Remove the URL and its secret-bearing parts should a server or library echo them."""
    parts = urlsplit(url)
    for secret in (url, parts.path + ("?" + parts.query if parts.query else ""), parts.query, parts.path):
        if len(secret) > 1:
            text = text.replace(secret, "[redacted]")
    return text
