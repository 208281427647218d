"""Deliver alerts to PagerDuty through the Events API v2 (an "Events API V2" integration on a service).

Each alert is one event POSTed as JSON (``shared.sinks.pagerduty_event``): a rule alert triggers an
incident keyed by its alert id; a health alert's raise triggers one keyed by its raise id and its clear
resolves it. PagerDuty deduplicates a trigger on an open incident's key, so a redelivery (after a
timeout where PagerDuty did take the event) updates the same incident: the sink is idempotent and
its POSTs may be retried.

PagerDuty answers 202 when it has taken the event (processing is asynchronous), 400 for an invalid
event (not retried: ``DeliveryError(permanent=True)`` carrying PagerDuty's ``errors``), 429 when
throttled and 5xx on its own errors (both retried, honouring Retry-After): the transport's rules
(``shared.sinks.transport``) are exactly PagerDuty's documented ones.

The routing key (integration key) travels in the body. Whoever holds it can open incidents on the
service, so it is a secret: never shown, and redacted from anything a server or library echoes.
"""

from __future__ import annotations

from shared.alert_links import PortalLinks
from shared.destination_settings import PAGERDUTY_EVENTS_URL
from shared.documents import Deliverable
from shared.errors import ConfigError
from shared.sinks.pagerduty_event import event_body, event_for
from shared.sinks.transport import HttpTransport, url_host
from shared.urls import check_http_url

URL_SETTING = "MFA_PAGERDUTY_URL"
KEY_SETTING = "MFA_PAGERDUTY_ROUTING_KEY"


class PagerDutySink:
    """Triggers (and, for health alerts, resolves) PagerDuty incidents. Shows its name and host only."""

    def __init__(
        self,
        routing_key: str,
        *,
        transport: HttpTransport,
        url: str = PAGERDUTY_EVENTS_URL,
        links: PortalLinks = PortalLinks(),
        name: str = "pagerduty",
    ) -> None:
        self.name = name
        try:
            check_http_url(url, secret=False)
        except ValueError as error:
            raise ConfigError(f"{URL_SETTING}: {error}") from None
        # A sink built in code is held to what the settings check; the message never quotes the key.
        if not routing_key or any(char.isspace() or not char.isprintable() for char in routing_key):
            raise ConfigError(f"{KEY_SETTING}: must be an Events API v2 integration key (empty, or has spaces)")
        self._url = url
        self.host = url_host(url)
        self._routing_key = routing_key
        self._transport = transport
        self._links = links

    def __repr__(self) -> str:
        return f"PagerDutySink(name={self.name!r}, host={self.host!r})"

    def deliver(self, alert: Deliverable) -> None:
        body = event_body(event_for(alert, routing_key=self._routing_key, links=self._links))
        # Retried within the run (retry=True): a repeated trigger or resolve with the same dedup_key
        # changes nothing PagerDuty did not already do.
        self._transport.post(
            self._url,
            body,
            headers={"content-type": "application/json"},
            label=f"{self.name} ({self.host})",
            secrets=(self._routing_key,),
        )
