"""Retries, timeouts and errors of the webhook transport, against a real loopback HTTP server."""

from __future__ import annotations

import gzip
import random
import socket
import time
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from shared.errors import ConfigError, DeliveryError
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host
from tests.sinks import hostile
from tests.sinks.receiver import Receiver, Reply


class FakeTime:
    """A clock that sleeping advances: retries run instantly, waits are recorded."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def transport(fake: FakeTime, **options: float) -> HttpTransport:
    settings = {"timeout": 2.0, "max_attempts": 4, "max_elapsed": 60.0, **options}
    return HttpTransport(sleep=fake.sleep, clock=fake.clock, rng=random.Random(7), **settings)  # type: ignore[arg-type]


def test_success_is_one_request_with_body_and_headers() -> None:
    fake = FakeTime()
    with Receiver([Reply(202)]) as server:
        status = transport(fake).post(server.url(), b'{"a":1}', headers={"x-test": "1"}, label="t")

    assert status == 202
    assert len(server.requests) == 1
    assert server.requests[0].body == b'{"a":1}'
    assert server.requests[0].headers["x-test"] == "1"
    assert server.requests[0].headers["user-agent"].startswith("mfa-rejected/")
    assert fake.sleeps == []


def test_429_honours_retry_after_seconds() -> None:
    fake = FakeTime()
    with Receiver([Reply(429, headers={"Retry-After": "7"}), Reply(200)]) as server:
        transport(fake).post(server.url(), b"{}", headers={}, label="t")

    assert len(server.requests) == 2
    assert fake.sleeps == [7.0]


def test_429_honours_retry_after_http_date() -> None:
    fake = FakeTime()
    when = format_datetime(datetime.fromtimestamp(fake.now + 12, UTC), usegmt=True)
    with Receiver([Reply(429, headers={"Retry-After": when}), Reply(200)]) as server:
        transport(fake).post(server.url(), b"{}", headers={}, label="t")

    assert len(server.requests) == 2
    assert fake.sleeps == [pytest.approx(12.0, abs=1.0)]


def test_retry_after_beyond_the_cap_is_left_for_a_later_run() -> None:
    fake = FakeTime()
    with Receiver([Reply(429, headers={"Retry-After": "3600"})]) as server, pytest.raises(DeliveryError) as caught:
        transport(fake, max_retry_after=30).post(server.url(), b"{}", headers={}, label="teams (h)")

    assert len(server.requests) == 1
    assert fake.sleeps == []
    assert caught.value.permanent is False
    assert "HTTP 429" in str(caught.value)
    assert "Retry-After 3600 s is beyond the 30 s cap" in str(caught.value)


def test_503_then_200_is_retried_with_backoff() -> None:
    fake = FakeTime()
    with Receiver([Reply(503), Reply(503), Reply(200)]) as server:
        transport(fake, initial_backoff=1.0).post(server.url(), b"{}", headers={}, label="t")

    assert len(server.requests) == 3
    # Equal jitter: attempt n waits between half and all of 1 s * 2^(n-1).
    assert 0.5 <= fake.sleeps[0] <= 1.0
    assert 1.0 <= fake.sleeps[1] <= 2.0


def test_backoff_is_capped() -> None:
    fake = FakeTime()
    with Receiver(default=Reply(500)) as server, pytest.raises(DeliveryError):
        transport(fake, max_attempts=6, initial_backoff=1.0, max_backoff=3.0, max_elapsed=1000).post(
            server.url(), b"{}", headers={}, label="t"
        )

    assert len(server.requests) == 6
    assert max(fake.sleeps) <= 3.0


def test_400_is_permanent_and_not_retried() -> None:
    fake = FakeTime()
    with (
        Receiver([Reply(400, body=b"Bad card: body.0 is invalid")]) as server,
        pytest.raises(DeliveryError) as caught,
    ):
        transport(fake).post(server.url(), b"{}", headers={}, label="teams (example.org)")

    assert len(server.requests) == 1
    assert fake.sleeps == []
    assert caught.value.permanent is True
    assert str(caught.value) == "teams (example.org): HTTP 400 Bad Request, not retried: Bad card: body.0 is invalid"


def test_redirect_is_permanent() -> None:
    fake = FakeTime()
    with (
        Receiver([Reply(301, headers={"Location": "https://elsewhere.example/"})]) as server,
        pytest.raises(DeliveryError, match=r"HTTP 301 .*redirect") as caught,
    ):
        transport(fake).post(server.url(), b"{}", headers={}, label="t")

    assert caught.value.permanent is True
    assert len(server.requests) == 1


def test_attempts_are_bounded() -> None:
    fake = FakeTime()
    with Receiver(default=Reply(502)) as server, pytest.raises(DeliveryError) as caught:
        transport(fake, max_attempts=3).post(server.url(), b"{}", headers={}, label="webhook (h)")

    assert len(server.requests) == 3
    assert caught.value.permanent is False
    assert str(caught.value).startswith("webhook (h): HTTP 502 Bad Gateway; gave up after 3 attempt(s)")


def test_total_time_is_bounded() -> None:
    fake = FakeTime()
    with (
        Receiver(default=Reply(503, headers={"Retry-After": "20"})) as server,
        pytest.raises(DeliveryError, match="beyond the time left"),
    ):
        transport(fake, max_attempts=100, max_elapsed=50).post(server.url(), b"{}", headers={}, label="t")

    # 20 s + 20 s fit in 50 s; a third pause would not.
    assert fake.sleeps == [20.0, 20.0]
    assert len(server.requests) == 3


def test_a_hang_times_out_and_is_retried_when_the_delivery_has_time_left() -> None:
    started = time.monotonic()
    with Receiver([Reply(200, hang=5.0), Reply(200)]) as server:
        status = HttpTransport(timeout=0.3, max_attempts=2, max_elapsed=5.0, sleep=lambda _: None).post(
            server.url(), b"{}", headers={}, label="t"
        )

    assert status == 200
    assert len(server.requests) == 2
    assert time.monotonic() - started < 3.0


def test_a_hang_every_time_is_a_transient_timeout_error() -> None:
    with (
        Receiver(default=Reply(200, hang=5.0)) as server,
        pytest.raises(DeliveryError, match=r"timed out after 0\.3 s \(no complete answer\)") as caught,
    ):
        HttpTransport(timeout=0.3, max_attempts=2, max_elapsed=5.0, sleep=lambda _: None).post(
            server.url(), b"{}", headers={}, label="t"
        )

    assert caught.value.permanent is False
    assert len(server.requests) == 2


def test_connection_refused_is_retried_then_transient() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    fake = FakeTime()

    with pytest.raises(DeliveryError, match=r"connection failed \(ConnectError") as caught:
        transport(fake, max_attempts=3).post(f"http://127.0.0.1:{port}/hook", b"{}", headers={}, label="t")

    assert caught.value.permanent is False
    assert len(fake.sleeps) == 2


def test_headers_callable_is_called_for_every_attempt() -> None:
    fake = FakeTime()
    stamps = iter(["first", "second"])
    with Receiver([Reply(503), Reply(200)]) as server:
        transport(fake).post(server.url(), b"{}", headers=lambda: {"x-stamp": next(stamps)}, label="t")

    assert [r.headers["x-stamp"] for r in server.requests] == ["first", "second"]


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]:9/hook", "https://example.org/hook?sig=x"],
)
def test_https_or_loopback_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url, setting="MFA_WEBHOOK_URL") == url


def test_plain_http_to_another_host_is_refused_without_showing_the_url() -> None:
    with pytest.raises(ConfigError) as caught:
        check_webhook_url("http://hooks.example.org/path/secret-token?sig=abc", setting="MFA_WEBHOOK_URL")

    assert str(caught.value) == (
        "MFA_WEBHOOK_URL: must use https (plain http only for loopback hosts), got host hooks.example.org"
    )


def test_url_host_shows_only_the_host() -> None:
    assert (
        url_host("https://prod-12.westus.logic.azure.com:443/workflows/abc?sig=s3cr3t")
        == "prod-12.westus.logic.azure.com"
    )
    assert url_host("http://127.0.0.1:8123/hook") == "127.0.0.1:8123"


# --- the deadline covers the whole delivery -------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [hostile.drip_headers(every=0.2, for_seconds=30), hostile.drip_body(status=500, every=0.2, for_seconds=30)],
    ids=["headers", "error-body"],
)
def test_a_receiver_that_drips_is_cut_off_at_the_deadline(answer: hostile.Answer) -> None:
    started = time.monotonic()
    with Receiver(default=Reply(answer=answer)) as server, pytest.raises(DeliveryError) as caught:
        HttpTransport(timeout=1.0, max_attempts=3, sleep=lambda _: None).post(
            server.url(), b"{}", headers={}, label="t"
        )

    assert time.monotonic() - started < 2.0  # per-read timeouts alone would wait for the whole drip
    assert caught.value.permanent is False
    assert len(server.requests) == 1  # the deadline is spent: no retry in this run


def test_a_dripping_error_body_still_reports_the_status() -> None:
    with (
        Receiver(default=Reply(answer=hostile.drip_body(status=503, every=0.2, for_seconds=30))) as server,
        pytest.raises(DeliveryError, match="HTTP 503") as caught,
    ):
        HttpTransport(timeout=1.0, sleep=lambda _: None).post(server.url(), b"{}", headers={}, label="t")

    assert caught.value.permanent is False


def test_a_2xx_with_a_dripping_body_is_delivered_without_reading_it() -> None:
    started = time.monotonic()
    with Receiver(default=Reply(answer=hostile.drip_body(status=200, every=0.5, for_seconds=30))) as server:
        status = HttpTransport(timeout=5.0).post(server.url(), b"{}", headers={}, label="t")

    assert status == 200
    assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("status", [200, 500])
def test_a_2_gib_body_is_never_read_beyond_a_few_kb(status: int) -> None:
    transport = HttpTransport(timeout=5.0, max_attempts=1)
    with Receiver(default=Reply(answer=hostile.huge_body(status=status))) as server:
        started = time.monotonic()
        if status == 200:
            assert transport.post(server.url(), b"{}", headers={}, label="t") == 200
        else:
            with pytest.raises(DeliveryError, match="HTTP 500 Big: 0123456789abcdef") as caught:
                transport.post(server.url(), b"{}", headers={}, label="t")
            assert len(str(caught.value)) < 600  # a snippet, not the body

    assert time.monotonic() - started < 2.0  # 2 GiB would take far longer even on loopback


def test_a_compressed_error_body_is_not_inflated() -> None:
    bomb = gzip.compress(b"\0" * (64 * 2**20))  # 64 MiB of zeros in about 64 KiB
    reply = Reply(500, headers={"Content-Encoding": "gzip"}, body=bomb)
    with Receiver(default=reply) as server, pytest.raises(DeliveryError) as caught:
        HttpTransport(timeout=5.0, max_attempts=1).post(server.url(), b"{}", headers={}, label="t")

    assert str(caught.value).startswith("t: HTTP 500 Internal Server Error; gave up")


def test_we_ask_for_an_uncompressed_answer() -> None:
    with Receiver() as server:
        HttpTransport().post(server.url(), b"{}", headers={}, label="t")

    assert server.requests[0].headers["accept-encoding"] == "identity"


def test_a_307_to_another_host_is_not_followed_and_is_permanent() -> None:
    with (
        Receiver(default=Reply(answer=hostile.redirect("http://127.0.0.2:9/steal"))) as server,
        pytest.raises(DeliveryError, match=r"HTTP 307 Moved.*redirect") as caught,
    ):
        HttpTransport(timeout=2.0, sleep=lambda _: None).post(server.url(), b"{}", headers={}, label="t")

    assert caught.value.permanent is True
    assert len(server.requests) == 1


def test_any_exception_in_a_delivery_is_a_delivery_error() -> None:
    # A header value httpx refuses to send raises a library error that is none of the network ones.
    with Receiver() as server, pytest.raises(DeliveryError, match=r"request failed \(LocalProtocolError") as caught:
        HttpTransport(timeout=1.0, max_attempts=1).post(server.url(), b"{}", headers={"x-bad": "a\nb"}, label="t")

    assert caught.value.permanent is False


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://hooks.example.org/h?sig=abc\n", "control character (U+000A) at character 36"),
        (" https://hooks.example.org/h", "(U+0020) at character 1"),
        ("https://hooks.example.org:99999/h", "port 99999 is out of range"),
        ("https://hooks.exa\tmple.org/h", "(U+0009)"),
        ("https://[::1/h", "is not a URL that can be sent to (InvalidURL)"),
        ("https:///no-host", "must be an absolute https URL"),
    ],
)
def test_urls_httpx_would_refuse_are_a_config_error_naming_the_setting(url: str, problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        check_webhook_url(url, setting="MFA_TEAMS_WEBHOOK_URL")

    assert str(caught.value).startswith("MFA_TEAMS_WEBHOOK_URL: ")
    assert problem in str(caught.value)
    assert "sig=abc" not in str(caught.value)


def test_request_reads_a_json_answer_when_asked() -> None:
    fake = FakeTime()
    with Receiver([Reply(200, body=b'{"issues": [{"key": "SEC-1"}]}')]) as server:
        answer = transport(fake).request("GET", server.url() + "?jql=x", headers={}, label="jira", read=True)

    assert server.requests[0].method == "GET"
    assert answer.status == 200
    assert answer.json(label="jira") == {"issues": [{"key": "SEC-1"}]}


def test_an_answer_that_is_not_json_is_a_transient_error() -> None:
    fake = FakeTime()
    with Receiver([Reply(200, body=b"<html>proxy login</html>")]) as server:
        answer = transport(fake).request("GET", server.url(), headers={}, label="jira", read=True)

    with pytest.raises(DeliveryError, match=r"jira: HTTP 200 answer is not JSON") as caught:
        answer.json(label="jira")
    assert not caught.value.permanent


def test_an_answer_over_the_bound_is_not_read_whole() -> None:
    fake = FakeTime()
    big = b"[" + b"1," * 200_000 + b"1]"
    with Receiver(default=Reply(200, body=big)) as server, pytest.raises(DeliveryError, match="longer than") as caught:
        transport(fake, max_attempts=2).request("GET", server.url(), headers={}, label="t", read=True)

    assert not caught.value.permanent


def test_without_retry_a_503_is_one_attempt() -> None:
    """A request that creates a ticket is not sent again blind: the 503 may have come after the create."""
    fake = FakeTime()
    with Receiver([Reply(503), Reply(201)]) as server, pytest.raises(DeliveryError, match="503") as caught:
        transport(fake).request("POST", server.url(), body=b"{}", headers={}, label="t", retry=False)

    assert len(server.requests) == 1
    assert not caught.value.permanent
    assert fake.sleeps == []


def test_secrets_are_redacted_from_what_a_server_echoes() -> None:
    fake = FakeTime()
    token = "ATATT3xFfGF0-token-value"
    with Receiver([Reply(401, body=f"bad token {token}".encode())]) as server, pytest.raises(DeliveryError) as caught:
        transport(fake).request("GET", server.url(), headers={}, label="jira", secrets=[token])

    assert token not in str(caught.value)
    assert "[redacted]" in str(caught.value)
    assert caught.value.permanent


def test_an_http_failure_carries_its_status_for_the_sink_to_explain() -> None:
    fake = FakeTime()
    with Receiver([Reply(404), Reply(503)], default=Reply(503)) as server:
        with pytest.raises(DeliveryError) as permanent:
            transport(fake).post(server.url(), b"{}", headers={}, label="t")
        with pytest.raises(DeliveryError) as transient:
            transport(fake, max_attempts=1).post(server.url(), b"{}", headers={}, label="t")

    assert (permanent.value.status, permanent.value.permanent) == (404, True)
    assert (transient.value.status, transient.value.permanent) == (503, False)
