"""Deliver alerts to a Slack channel through an incoming webhook (a Slack app's "Incoming Webhooks").

The webhook URL (https://hooks.slack.com/services/T.../B.../...) is the credential: it is never shown;
errors and logs name the sink and the host. Slack answers 200 ``ok``; 400 ``invalid_payload``,
403 ``action_prohibited``/``invalid_token``, 404 ``channel_not_found``/``no_service`` and 410
``channel_is_archived`` are permanent (the transport does not retry a 4xx), 429 (with
``Retry-After``) and 500 ``rollup_error`` are retried, within the run and on later runs.

Slack's incoming webhooks have no idempotency key: a delivery retried after a timeout or a 5xx that
Slack had in fact posted posts the message twice. The alert id is in every message, so a reader can
tell a repeat from a new alert.
"""

from __future__ import annotations

from shared.alert_links import PortalLinks
from shared.documents import Deliverable
from shared.sinks.slack_blocks import message_body, slack_message_for
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host


class SlackSink:
    """Posts each alert as a Block Kit message (a health alert as a message of its own)."""

    def __init__(
        self,
        url: str,
        *,
        transport: HttpTransport,
        links: PortalLinks = PortalLinks(),
        name: str = "slack",
        setting: str = "MFA_SLACK_WEBHOOK_URL",
    ) -> None:
        self.name = name
        self._url = check_webhook_url(url, setting=setting)
        self.host = url_host(url)
        self._transport = transport
        self._links = links

    def __repr__(self) -> str:
        return f"SlackSink(name={self.name!r}, host={self.host!r})"

    def deliver(self, alert: Deliverable) -> None:
        body = message_body(slack_message_for(alert, links=self._links))
        self._transport.post(
            self._url,
            body,
            headers={"content-type": "application/json; charset=utf-8"},
            label=f"{self.name} ({self.host})",
        )
