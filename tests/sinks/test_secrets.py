"""Webhook URLs carry signatures and the signing key is a secret: neither may appear in logs, error
messages, reprs or alerts, whatever goes wrong."""

from __future__ import annotations

import logging
import socket

import pytest

from shared.alerts import Alert
from shared.errors import DeliveryError
from shared.sinks import TeamsSink, WebhookSink
from shared.sinks.transport import HttpTransport
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, result_row

SIG = "sIgN4tUrEvAlUe0123456789abcdef"
PATH = f"/workflows/4f1d0c7a5e2b/triggers/manual/paths/invoke?api-version=1&sp=%2Ftriggers&sig={SIG}"
SECRET_B64 = "MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="
SECRET = "whsec_" + SECRET_B64
FORBIDDEN = (SIG, "4f1d0c7a5e2b", "triggers/manual", SECRET_B64)


def assert_clean(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into: {text}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    return caplog


def deliver(sink: TeamsSink | WebhookSink, alert: Alert) -> DeliveryError | None:
    try:
        sink.deliver(alert)
    except DeliveryError as error:
        return error
    return None


def transport() -> HttpTransport:
    return HttpTransport(timeout=0.3, max_attempts=2, sleep=lambda _: None)


@pytest.mark.parametrize(
    "replies",
    [
        [Reply(202)],
        [Reply(400, body=f"Invalid request to {PATH}".encode())],  # a server echoing the URL
        [Reply(503, body=PATH.encode()), Reply(503, body=PATH.encode())],
        [Reply(429, headers={"Retry-After": "999"})],
        [Reply(200, hang=5.0), Reply(200, hang=5.0)],
    ],
    ids=["delivered", "400-echo", "503-echo", "429", "timeout"],
)
def test_secrets_stay_out_of_logs_errors_and_reprs(debug_logs: pytest.LogCaptureFixture, replies: list[Reply]) -> None:
    alert = alert_of([result_row()])
    with Receiver(replies) as teams_server, Receiver(replies) as hook_server:
        sinks = [
            TeamsSink(teams_server.url(PATH), transport=transport()),
            WebhookSink(hook_server.url(PATH), SECRET, transport=transport()),
        ]
        results = [deliver(sink, alert) for sink in sinks]

    assert teams_server.requests[0].path == PATH  # the real URL was used...
    for sink in sinks:
        assert_clean(repr(sink))  # ...but is never shown
        assert_clean(str(vars(sink).get("host")))
    for error in results:
        assert_clean(str(error))
        assert_clean(repr(error))
    assert_clean(debug_logs.text)
    assert_clean(alert.to_json())
    assert "127.0.0.1" in debug_logs.text  # the logs do say where


def test_connection_errors_do_not_show_the_url(debug_logs: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sink = WebhookSink(f"http://127.0.0.1:{port}{PATH}", SECRET, transport=transport())

    with pytest.raises(DeliveryError) as caught:
        sink.deliver(alert_of([result_row()]))

    assert_clean(str(caught.value))
    assert caught.value.__cause__ is None
    assert_clean(debug_logs.text)
