"""The sinks the settings ask for."""

from __future__ import annotations

from typing import TextIO

from shared.settings import Settings
from shared.sinks.base import Sink
from shared.sinks.console import ConsoleSink
from shared.sinks.teams import TeamsSink
from shared.sinks.transport import HttpTransport
from shared.sinks.webhook import WebhookSink


def build_sinks(
    settings: Settings, *, stream: TextIO | None = None, transport: HttpTransport | None = None
) -> list[Sink]:
    """Console (MFA_CONSOLE), Teams (MFA_TEAMS_WEBHOOK_URL) and the signed webhook (MFA_WEBHOOK_URL +
    MFA_WEBHOOK_SECRET), each only when configured; an empty list when none is."""
    transport = transport or HttpTransport(timeout=settings.http_timeout)
    sinks: list[Sink] = []
    if settings.console:
        sinks.append(ConsoleSink(stream=stream))
    if settings.teams_webhook_url is not None:
        sinks.append(TeamsSink(settings.teams_webhook_url.get_secret_value(), transport=transport))
    if settings.webhook_url is not None:
        if settings.webhook_secret is None:  # Settings already refuses this; keep the invariant local too
            raise ValueError("MFA_WEBHOOK_SECRET: required when MFA_WEBHOOK_URL is set")
        sinks.append(
            WebhookSink(
                settings.webhook_url.get_secret_value(),
                settings.webhook_secret.get_secret_value(),
                transport=transport,
            )
        )
    return sinks
