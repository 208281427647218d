"""Deliver alerts to a Microsoft Teams channel or chat through a Workflows webhook.

Set up in Teams with the workflow template "Post to a channel when a webhook request is received"
(trigger "When a Teams webhook request is received"); the Office 365 connectors it replaces are
retired. The workflow answers 202 Accepted: the request was taken, not yet posted.
"""

from __future__ import annotations

from shared.alert_links import PortalLinks
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.sinks.health_card import health_message
from shared.sinks.teams_card import MAX_MESSAGE_BYTES, message_body, teams_message
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host


class TeamsSink:
    """Posts each alert as an Adaptive Card (a health alert as a card of its own). The URL carries a
    signature: it is never shown. ``links`` makes the card's buttons (the query in Log Analytics needs
    the workspace's resource id)."""

    def __init__(
        self,
        url: str,
        *,
        transport: HttpTransport,
        name: str = "teams",
        max_bytes: int = MAX_MESSAGE_BYTES,
        setting: str = "MFA_TEAMS_WEBHOOK_URL",
        links: PortalLinks = PortalLinks(),
    ) -> None:
        self.name = name
        self._url = check_webhook_url(url, setting=setting)
        self.host = url_host(url)
        self._transport = transport
        self._max_bytes = max_bytes
        self._links = links

    def __repr__(self) -> str:
        return f"TeamsSink(name={self.name!r}, host={self.host!r})"

    def deliver(self, alert: Deliverable) -> None:
        if isinstance(alert, HealthAlert):
            message = health_message(alert, max_bytes=self._max_bytes)
        else:
            message = teams_message(alert, max_bytes=self._max_bytes, links=self._links)
        body = message_body(message)
        self._transport.post(
            self._url,
            body,
            headers={"content-type": "application/json; charset=utf-8"},
            label=f"{self.name} ({self.host})",
        )
