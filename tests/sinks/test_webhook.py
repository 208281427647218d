"""The signed JSON webhook: exact payload, Standard Webhooks headers and signature, the JSON Schema."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path

import jsonschema
import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from shared.alerts import Alert
from shared.errors import ConfigError, DeliveryError
from shared.health import HealthAlert
from shared.sinks.transport import HttpTransport
from shared.sinks.webhook import WebhookSink
from tests.sinks.health_alerts import every_health_alert, health_alert
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, many_rows, result_row

SECRET = "whsec_" + base64.b64encode(b"a test signing key of 32 bytes!!").decode()
DOCS = Path(__file__).resolve().parents[2] / "docs"


def sink(url: str, **options: object) -> WebhookSink:
    return WebhookSink(url, SECRET, transport=HttpTransport(timeout=2, max_attempts=3, sleep=lambda _: None), **options)  # type: ignore[arg-type]


def test_delivers_the_alert_document_with_verifiable_signature() -> None:
    alert = alert_of([result_row(), result_row("ann@contoso.com", ip="198.51.100.4", matched=False)])
    with Receiver([Reply(204)]) as server:
        sink(server.url()).deliver(alert)

    (request,) = server.requests
    assert request.body == alert.to_json().encode("utf-8")
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["webhook-id"] == alert.id
    assert abs(int(request.headers["webhook-timestamp"]) - time.time()) < 60
    assert request.headers["webhook-signature"].startswith("v1,")
    # The receiver's own library accepts it and returns the document.
    assert Webhook(SECRET).verify(request.body, request.headers) == json.loads(alert.to_json())


def test_a_tampered_body_fails_verification() -> None:
    alert = alert_of([result_row()])
    with Receiver() as server:
        sink(server.url()).deliver(alert)

    (request,) = server.requests
    tampered = request.body.replace(b"203.0.113.7", b"203.0.113.8")
    assert tampered != request.body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(tampered, request.headers)


def test_another_secret_fails_verification() -> None:
    with Receiver() as server:
        sink(server.url()).deliver(alert_of([result_row()]))

    other = "whsec_" + base64.b64encode(b"another key, also 32 bytes long.").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(server.requests[0].body, server.requests[0].headers)


def test_signature_is_hmac_sha256_of_id_timestamp_body_at_the_injected_time() -> None:
    alert = alert_of([result_row()])
    with Receiver() as server:
        sink(server.url(), clock=lambda: 1_800_000_123.9).deliver(alert)

    (request,) = server.requests
    assert request.headers["webhook-timestamp"] == "1800000123"
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"{alert.id}.1800000123.".encode() + request.body, hashlib.sha256).digest()
    assert request.headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()


def test_each_retry_is_signed_afresh() -> None:
    ticks = iter([1_800_000_000.0, 1_800_000_042.0])
    alert = alert_of([result_row()])
    with Receiver([Reply(503), Reply(200)]) as server:
        sink(server.url(), clock=lambda: next(ticks)).deliver(alert)

    assert [r.headers["webhook-timestamp"] for r in server.requests] == ["1800000000", "1800000042"]
    assert server.requests[0].headers["webhook-signature"] != server.requests[1].headers["webhook-signature"]
    assert server.requests[0].body == server.requests[1].body


def test_redelivery_from_stored_text_sends_the_same_body_and_id() -> None:
    alert = alert_of(many_rows(4))
    stored = alert.to_json()  # what the outbox keeps
    with Receiver() as server:
        sink(server.url()).deliver(alert)
        sink(server.url()).deliver(Alert.from_json(stored))

    first, second = server.requests
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == alert.id


def test_payload_validates_against_the_published_schema() -> None:
    schema = json.loads((DOCS / "webhook-payload.v1.schema.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    alert = alert_of([*many_rows(3), result_row("nomatch@contoso.com", matched=False, ip="2001:db8::1")])

    validator.validate(json.loads(alert.to_json()))


def test_schema_rejects_a_payload_missing_a_column() -> None:
    schema = json.loads((DOCS / "webhook-payload.v1.schema.json").read_text(encoding="utf-8"))
    document = json.loads(alert_of([result_row()]).to_json())
    del document["rows"][0]["EndTIme"]

    with pytest.raises(jsonschema.ValidationError, match="'EndTIme' is a required property"):
        jsonschema.validate(document, schema)


def test_sample_payload_in_docs_validates_and_is_verifiable_text() -> None:
    schema = json.loads((DOCS / "webhook-payload.v1.schema.json").read_text(encoding="utf-8"))
    sample = json.loads((DOCS / "sample-webhook-payload.json").read_text(encoding="utf-8"))

    jsonschema.validate(sample, schema)
    assert Alert.from_dict(sample).to_dict() == sample


def test_a_bad_secret_is_a_config_error_without_the_secret() -> None:
    with pytest.raises(ConfigError) as caught:
        WebhookSink("https://hooks.example.org/x", "whsec_!!not-base64!!", transport=HttpTransport())

    assert "MFA_WEBHOOK_SECRET" in str(caught.value)
    assert "not-base64" not in str(caught.value)


def test_a_rejection_is_a_permanent_delivery_error() -> None:
    with (
        Receiver([Reply(401, body=b"bad signature")]) as server,
        pytest.raises(DeliveryError, match=r"^webhook \(127\.0\.0\.1:\d+\): HTTP 401 Unauthorized") as caught,
    ):
        sink(server.url()).deliver(alert_of([result_row()]))

    assert caught.value.permanent is True


def test_delivers_a_health_alert_signed_and_valid_against_its_schema() -> None:
    schema = json.loads((DOCS / "health-payload.v1.schema.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    alerts = list(every_health_alert().values())
    with Receiver() as server:
        for alert in alerts:
            sink(server.url()).deliver(alert)

    assert len(server.requests) == len(alerts)
    for alert, request in zip(alerts, server.requests, strict=True):
        assert request.body == alert.to_json().encode("utf-8")
        assert request.headers["content-type"] == "application/json; charset=utf-8"
        assert request.headers["webhook-id"] == alert.id
        assert request.headers["webhook-id"].startswith("hlt_")
        # The receiver's own library accepts it and returns the document, which its schema accepts.
        document = Webhook(SECRET).verify(request.body, request.headers)
        assert document == json.loads(alert.to_json())
        assert document["schema"] == "mfa-rejected.health/v1"
        validator.validate(document)


def test_a_health_alert_is_signed_like_a_rule_alert_and_tampering_fails() -> None:
    alert = health_alert("signins-silent", "raised")
    with Receiver() as server:
        sink(server.url(), clock=lambda: 1_800_000_123.9).deliver(alert)
        sink(server.url()).deliver(alert)

    at_injected_time, now = server.requests
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, f"{alert.id}.1800000123.".encode() + at_injected_time.body, hashlib.sha256).digest()
    assert at_injected_time.headers["webhook-signature"] == "v1," + base64.b64encode(expected).decode()
    tampered = now.body.replace(b'"raised"', b'"cleared"')
    assert tampered != now.body
    with pytest.raises(WebhookVerificationError, match="No matching signature"):
        Webhook(SECRET).verify(tampered, now.headers)


def test_a_health_alert_redelivered_from_stored_text_has_the_same_body_and_id() -> None:
    alert = health_alert("skipped", "cleared")
    with Receiver() as server:
        sink(server.url()).deliver(alert)
        sink(server.url()).deliver(HealthAlert.from_json(alert.to_json()))

    first, second = server.requests
    assert first.body == second.body
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == alert.id
