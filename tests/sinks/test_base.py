"""Every sink implements the one-method protocol (delivery across sinks: tests/test_dispatch.py)."""

from __future__ import annotations

from shared.sinks import ConsoleSink, Sink, TeamsSink, WebhookSink
from shared.sinks.transport import HttpTransport

SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="


def test_every_sink_satisfies_the_protocol() -> None:
    transport = HttpTransport()
    sinks = [
        ConsoleSink(),
        TeamsSink("https://example.org/x", transport=transport),
        WebhookSink("https://example.org/y", SECRET, transport=transport),
    ]

    assert all(isinstance(sink, Sink) for sink in sinks)
    assert [sink.name for sink in sinks] == ["console", "teams", "webhook"]
