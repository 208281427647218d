"""Building the configured sinks from settings."""

from __future__ import annotations

import io

import pytest
from standardwebhooks import Webhook

from shared.errors import ConfigError
from shared.settings import load_settings
from shared.sinks import ConsoleSink, TeamsSink, WebhookSink, build_sinks
from tests.sinks.receiver import Receiver
from tests.sinks.rows import alert_of, result_row

SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="


def test_no_sink_configured_gives_none() -> None:
    assert build_sinks(load_settings(MFA_CONSOLE=False)) == []


def test_every_sink_configured() -> None:
    settings = load_settings(
        MFA_CONSOLE=True,
        MFA_TEAMS_WEBHOOK_URL="https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers/manual?sig=s3cr3t",
        MFA_WEBHOOK_URL="https://tickets.example.org/hooks/mfa",
        MFA_WEBHOOK_SECRET=SECRET,
        MFA_HTTP_TIMEOUT=3.5,
    )

    sinks = build_sinks(settings)

    assert [type(s) for s in sinks] == [ConsoleSink, TeamsSink, WebhookSink]
    assert [repr(s) for s in sinks] == [
        "ConsoleSink(name='console')",
        "TeamsSink(name='teams', host='prod-01.westeurope.logic.azure.com')",
        "WebhookSink(name='webhook', host='tickets.example.org')",
    ]


def test_console_sink_writes_to_the_given_stream() -> None:
    stream = io.StringIO()
    (sink,) = build_sinks(load_settings(MFA_CONSOLE=True), stream=stream)

    sink.deliver(alert_of([result_row()]))

    assert "MFA Rejected by User" in stream.getvalue()


def test_built_webhook_sink_delivers_signed_with_the_configured_secret() -> None:
    alert = alert_of([result_row()])
    with Receiver() as server:
        settings = load_settings(MFA_WEBHOOK_URL=server.url(), MFA_WEBHOOK_SECRET=SECRET, MFA_HTTP_TIMEOUT=1.5)
        (sink,) = build_sinks(settings)
        sink.deliver(alert)

    (request,) = server.requests
    assert Webhook(SECRET).verify(request.body, request.headers)["id"] == alert.id


def test_plain_http_to_a_remote_host_is_refused_by_settings() -> None:
    with pytest.raises(ConfigError, match="MFA_TEAMS_WEBHOOK_URL"):
        load_settings(MFA_TEAMS_WEBHOOK_URL="http://prod-01.westeurope.logic.azure.com/x?sig=s3cr3t")
