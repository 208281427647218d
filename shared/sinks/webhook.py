"""Deliver alerts as signed JSON to any HTTPS endpoint (ticketing, SOAR, a chat bridge).

The body is the alert's versioned JSON document (``Alert.to_json``, schema
``mfa-rejected.alert/v1``, docs/webhook-payload.v1.schema.json; a health alert's is
``HealthAlert.to_json``, ``mfa-rejected.health/v1``, docs/health-payload.v1.schema.json), byte for
byte what the outbox stored, so a redelivery carries the same body and the same ``webhook-id``.
It is signed per the Standard Webhooks spec: ``webhook-id`` (the alert id: receivers drop
repeats), ``webhook-timestamp`` (unix seconds when sent, re-stamped on each retry so a receiver's
freshness check passes) and ``webhook-signature`` (``v1,`` + base64 HMAC-SHA256 of
``id.timestamp.body``). Receivers tell the two documents apart by their ``schema``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from standardwebhooks import Webhook
from standardwebhooks.webhooks import EmptyWebhookSecretError

from shared.documents import Deliverable
from shared.errors import ConfigError
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host


class WebhookSink:
    """Posts each alert's JSON document (a rule or a health alert), signed. Neither the URL nor the
    secret is ever shown."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        transport: HttpTransport,
        name: str = "webhook",
        clock: Callable[[], float] | None = None,
        setting: str = "MFA_WEBHOOK_URL",
        secret_setting: str = "MFA_WEBHOOK_SECRET",
    ) -> None:
        self.name = name
        self._url = check_webhook_url(url, setting=setting)
        self.host = url_host(url)
        try:
            self._signer = Webhook(secret)
        except (ValueError, RuntimeError, EmptyWebhookSecretError) as error:  # binascii.Error is a ValueError
            # The library's errors may quote the secret; say only what is wrong.
            raise ConfigError(f"{secret_setting}: not a usable signing secret ({type(error).__name__})") from None
        self._transport = transport
        self._clock = clock or transport.clock

    def __repr__(self) -> str:
        return f"WebhookSink(name={self.name!r}, host={self.host!r})"

    def deliver(self, alert: Deliverable) -> None:
        text = alert.to_json()
        self._transport.post(
            self._url,
            text.encode("utf-8"),
            headers=lambda: self.signed_headers(alert.id, text),
            label=f"{self.name} ({self.host})",
        )

    def signed_headers(self, message_id: str, body: str) -> dict[str, str]:
        """The Standard Webhooks headers for ``body`` sent now (by the injected clock)."""
        timestamp = int(self._clock())
        signature = self._signer.sign(message_id, datetime.fromtimestamp(timestamp, UTC), body)
        return {
            "content-type": "application/json; charset=utf-8",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
