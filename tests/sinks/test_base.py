"""Delivering one alert to several sinks: a failing sink never stops the others."""

from __future__ import annotations

import io
import logging

import pytest

from shared.alerts import Alert
from shared.errors import DeliveryError
from shared.sinks import ConsoleSink, Sink, TeamsSink, WebhookSink, deliver_all
from shared.sinks.transport import HttpTransport
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, result_row

SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="


class Broken:
    name = "broken"

    def deliver(self, alert: Alert) -> None:
        raise RuntimeError("boom at https://hooks.example.org/path?sig=leaky")


def test_every_sink_is_tried_and_each_result_reported() -> None:
    transport = HttpTransport(timeout=2, max_attempts=1, sleep=lambda _: None)
    stream = io.StringIO()
    alert = alert_of([result_row()])
    with Receiver([Reply(400)]) as teams, Receiver([Reply(200)]) as webhook:
        results = deliver_all(
            alert,
            [
                TeamsSink(teams.url(), transport=transport),
                Broken(),
                WebhookSink(webhook.url(), SECRET, transport=transport),
                ConsoleSink(stream=stream),
            ],
        )

    assert list(results) == ["teams", "broken", "webhook", "console"]
    assert isinstance(results["teams"], DeliveryError)
    assert results["teams"].permanent is True
    assert isinstance(results["broken"], DeliveryError)
    assert str(results["broken"]) == "broken: unexpected RuntimeError while delivering"
    assert results["webhook"] is None
    assert results["console"] is None
    assert len(webhook.requests) == 1
    assert alert.id in stream.getvalue()


def test_failures_are_logged_with_the_alert_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    alert = alert_of([result_row()])

    deliver_all(alert, [Broken()])

    assert f"alert {alert.id} not delivered to broken: broken: unexpected RuntimeError" in caplog.text
    assert "leaky" not in caplog.text


def test_duplicate_sink_names_are_refused() -> None:
    with pytest.raises(ValueError, match="two sinks are named 'console'"):
        deliver_all(alert_of([result_row()]), [ConsoleSink(stream=io.StringIO()), ConsoleSink(stream=io.StringIO())])


def test_every_sink_satisfies_the_protocol() -> None:
    transport = HttpTransport()
    sinks = [
        ConsoleSink(),
        TeamsSink("https://example.org/x", transport=transport),
        WebhookSink("https://example.org/y", SECRET, transport=transport),
    ]

    assert all(isinstance(sink, Sink) for sink in sinks)
    assert [sink.name for sink in sinks] == ["console", "teams", "webhook"]
