"""Delivery from the outbox: lanes per sink, each item's failure its own, hostile receivers beside
healthy ones, redaction, alerts that waited, the lease. Real sinks post to loopback receivers; the
state is a real SQLite file and a real Azurite table (the ``store`` fixture runs each test on both)."""

from __future__ import annotations

import io
import json
import logging
import time
from datetime import timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook

from shared.alerts import Alert
from shared.dispatch import DELIVERY_LEASE, OutboxDispatcher, lease_for
from shared.errors import DeliveryError
from shared.health import HealthAlert
from shared.job import assembled
from shared.redaction import Redactor
from shared.settings import load_settings
from shared.sinks import ConsoleSink, TeamsSink, WebhookSink
from shared.sinks.base import Sink
from shared.sinks.transport import HttpTransport
from shared.state.base import NewItem, StateStore
from tests.runner_parts import RecordingSink
from tests.sinks import hostile
from tests.sinks.health_alerts import every_health_alert, health_alert
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import DETECTED_AT, alert_of, result_row

SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="
# A Teams Workflows URL: the workflow id in the path and the signature (with '+' and '/', percent-
# encoded as Teams writes them) are the credential.
SIG_DECODED = "Zk9vYmFy+U2VjcmV0/c2lnbmF0dXJl"
SIG = SIG_DECODED.replace("+", "%2B").replace("/", "%2F")
TEAMS_PATH = f"/workflows/8d5c9f0e4b7a4f0c9a1b2c3d4e5f6a7b/triggers/manual/paths/invoke?api-version=1&sig={SIG}"
FORBIDDEN = (SIG, SIG_DECODED, SIG_DECODED.replace("+", " "), "8d5c9f0e4b7a4f0c9a1b2c3d4e5f6a7b", "U2VjcmV0")


def alerts(count: int) -> list[Alert]:
    return [alert_of([result_row(f"user{i}@contoso.com", ip=f"198.51.100.{i}")]) for i in range(count)]


def record(store: StateStore, batch: list[Alert], sinks: list[Sink]) -> None:
    store.add_items(
        [NewItem(alert.id, sink.name, alert.to_json(), created_at=DETECTED_AT) for alert in batch for sink in sinks]
    )


def dispatcher(store: StateStore, sinks: list[Sink], **options: object) -> OutboxDispatcher:
    defaults: dict[str, object] = {"max_attempts": 12, "late_after": timedelta(days=1), "jitter": lambda: 0.5}
    return OutboxDispatcher(state=store, sinks=sinks, **(defaults | options))  # type: ignore[arg-type]


def assert_clean(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into: {text}"


NOW = DETECTED_AT + timedelta(minutes=1)


class Broken:
    name = "broken"

    def deliver(self, alert: Alert) -> None:
        raise RuntimeError("boom at https://hooks.example.org/path?sig=leaky-signature")


def test_every_sink_is_tried_and_each_outcome_recorded(store: StateStore) -> None:
    transport = HttpTransport(timeout=2, max_attempts=1, sleep=lambda _: None)
    stream = io.StringIO()
    [alert] = alerts(1)
    with Receiver([Reply(400)]) as teams, Receiver([Reply(200)]) as webhook:
        sinks: list[Sink] = [
            TeamsSink(teams.url(), transport=transport),
            Broken(),
            WebhookSink(webhook.url(), SECRET, transport=transport),
            ConsoleSink(stream=stream),
        ]
        record(store, [alert], sinks)
        redact = Redactor(urls=["https://hooks.example.org/path?sig=leaky-signature"])
        tally = dispatcher(store, sinks, redact=redact).dispatch(now=NOW)

    outcome = {item.sink: (item.status, item.last_error) for item in store.items()}
    assert outcome["teams"][0] == "dead"  # a 400 is permanent
    assert "HTTP 400" in outcome["teams"][1]
    assert outcome["broken"] == ("pending", "broken: unexpected RuntimeError while delivering: boom at [redacted]")
    assert outcome["webhook"] == ("delivered", "")
    assert outcome["console"] == ("delivered", "")
    assert (tally.delivered, tally.retried, tally.dead) == (2, 1, 1)
    assert alert.id in stream.getvalue()


def test_the_tally_counts_alerts_apart_from_deliveries(store: StateStore) -> None:
    # One alert to two sinks is two deliveries of one alert ("Delivered 1 alert (one 1, two 1)").
    batch = alerts(2)
    one = RecordingSink(name="one")
    two = RecordingSink(name="two", fail=lambda alert: DeliveryError("down") if alert.id == batch[1].id else None)
    record(store, batch, [one, two])

    tally = dispatcher(store, [one, two]).dispatch(now=NOW)

    assert (tally.delivered, tally.retried) == (3, 1)
    assert tally.delivered_alerts == {batch[0].id, batch[1].id}
    assert {sink: dict(outcomes) for sink, outcomes in tally.by_sink.items()} == {
        "one": {"delivered": 2},
        "two": {"delivered": 1, "retried": 1},
    }


def test_an_unexpected_exception_fails_only_its_item_and_the_lane_goes_on(store: StateStore) -> None:
    batch = alerts(4)
    sink = RecordingSink(fail=lambda alert: ValueError("odd value") if alert.id == batch[1].id else None)
    record(store, batch, [sink])

    tally = dispatcher(store, [sink]).dispatch(now=NOW)

    assert tally.delivered == 3
    assert tally.retried == 1
    assert set(sink.delivered) == {batch[0].id, batch[2].id, batch[3].id}
    [failed] = store.items(status="pending")
    assert failed.alert_id == batch[1].id
    assert "unexpected ValueError while delivering: odd value" in failed.last_error


@pytest.mark.parametrize(
    ("answer", "accepts"),
    [
        (hostile.drip_headers(every=0.25, for_seconds=60), False),
        (hostile.drip_body(status=500, every=0.25, for_seconds=60), False),
        (hostile.huge_body(status=200), True),  # accepted: the body is never read
        (hostile.huge_body(status=500), False),
        (hostile.redirect("http://127.0.0.2:9/elsewhere"), False),
        (hostile.echo_decoded(status=500), False),
        (hostile.echo_decoded(status=400), False),
    ],
    ids=["drip-headers", "drip-error-body", "2gib-200", "2gib-500", "307-elsewhere", "echo-500", "echo-400"],
)
def test_a_hostile_receiver_never_holds_up_a_healthy_one(
    store: StateStore, answer: hostile.Answer, accepts: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    batch = alerts(6)
    timeout = 1.0
    transport = HttpTransport(timeout=timeout)
    with Receiver(default=Reply(answer=answer)) as bad, Receiver() as good:
        teams_url = bad.url(TEAMS_PATH)
        sinks: list[Sink] = [
            TeamsSink(teams_url, transport=transport),
            WebhookSink(good.url(), SECRET, transport=transport),
        ]
        record(store, batch, sinks)
        started = time.monotonic()
        dispatcher(store, sinks, redact=Redactor(urls=[teams_url], secrets=[SECRET])).dispatch(now=NOW)
        took = time.monotonic() - started

    # Every alert reached the healthy receiver, verified with the receivers' own library...
    verifier = Webhook(SECRET)
    assert sorted(verifier.verify(r.body, r.headers)["id"] for r in good.requests) == sorted(a.id for a in batch)
    # ...in a few multiples of the timeout: the hostile lane gives up after two failures in a row.
    assert took < 3 * timeout + 1.5
    teams_items = [item for item in store.items() if item.sink == "teams"]
    if accepts:
        assert {item.status for item in teams_items} == {"delivered"}
    else:
        assert "delivered" not in {item.status for item in teams_items}
        # A transient failure counts toward "down for this run" (two in a row: the rest wait); a
        # permanent one (4xx, a redirect) makes that item dead at once.
        retried = [item for item in teams_items if item.status == "pending" and item.attempts]
        assert len(retried) <= 2
    for item in store.items():
        assert_clean(item.last_error)
    assert_clean(caplog.text)


def test_two_lanes_run_at_the_same_time(store: StateStore) -> None:
    batch = alerts(2)
    slow = RecordingSink(name="slow", fail=lambda alert: time.sleep(1.0))  # type: ignore[func-returns-value]
    fast = RecordingSink(name="fast")
    record(store, batch, [slow, fast])
    arrival: dict[str, float] = {}
    started = time.monotonic()
    fast.fail = lambda alert: arrival.setdefault(alert.id, time.monotonic() - started) and None  # type: ignore[assignment]

    dispatcher(store, [slow, fast]).dispatch(now=NOW)

    assert len(fast.delivered) == 2
    assert max(arrival.values()) < 0.9  # the fast lane did not wait for the slow one


def test_a_sink_that_no_longer_exists_fails_its_items_transiently(store: StateStore) -> None:
    [alert] = alerts(1)
    gone = RecordingSink(name="teams")
    record(store, [alert], [gone])

    tally = dispatcher(store, []).dispatch(now=NOW)

    assert tally.retried == 1
    [item] = store.items()
    assert (item.status, item.last_error) == ("pending", "sink 'teams' is no longer configured")


def test_an_alert_that_waited_longer_than_the_bound_is_marked_delayed(store: StateStore) -> None:
    [alert] = alerts(1)
    sink = RecordingSink()
    record(store, [alert], [sink])

    dispatcher(store, [sink], late_after=timedelta(hours=1)).dispatch(now=DETECTED_AT + timedelta(hours=5))

    delivered = sink.alerts[alert.id]
    assert delivered.delay == timedelta(hours=5)
    document = delivered.to_dict()
    assert (document["delayed"], document["delaySeconds"]) == (True, 5 * 3600)
    assert Alert.from_json(delivered.to_json()) == delivered


def test_an_alert_on_time_is_not_marked(store: StateStore) -> None:
    [alert] = alerts(1)
    sink = RecordingSink()
    record(store, [alert], [sink])

    dispatcher(store, [sink], late_after=timedelta(hours=1)).dispatch(now=DETECTED_AT + timedelta(minutes=59))

    assert sink.alerts[alert.id].delay is None
    assert "delayed" not in sink.alerts[alert.id].to_dict()


def test_the_lease_must_outlast_the_longest_delivery(store: StateStore) -> None:
    with pytest.raises(ValueError, match="must outlast a delivery"):
        dispatcher(store, [], lease=timedelta(seconds=30), longest_delivery=timedelta(seconds=30))


def test_the_lease_grows_with_the_slowest_deliveries_the_settings_allow(tmp_path: Path) -> None:
    """MFA_HTTP_TIMEOUT at its most (120 s) times the most requests a delivery makes (5) is ten
    minutes: the run still starts, its lease twice that."""
    assert lease_for(timedelta(seconds=50)) == DELIVERY_LEASE
    assert lease_for(timedelta(seconds=600)) == timedelta(minutes=20)
    settings = load_settings(MFA_HTTP_TIMEOUT=120, MFA_CONSOLE=True, MFA_STATE=str(tmp_path / "s.sqlite3"))

    with assembled(settings, now=DETECTED_AT) as runner:
        assert runner.dispatcher.lease == timedelta(minutes=20)
        assert runner.dispatcher.lease > runner.dispatcher.longest_delivery == timedelta(minutes=10)


@pytest.mark.parametrize("names", [["console", "console"], ["unrouted"]])
def test_sink_names_are_unique_and_not_the_reserved_one(store: StateStore, names: list[str]) -> None:
    with pytest.raises(ValueError, match="sink names must be unique"):
        dispatcher(store, [RecordingSink(name=name) for name in names])


def test_a_failure_is_never_raised_out_of_a_lane(store: StateStore) -> None:
    batch = alerts(3)
    sink = RecordingSink(fail=lambda alert: DeliveryError("HTTP 503"))
    record(store, batch, [sink])

    tally = dispatcher(store, [sink]).dispatch(now=NOW)

    # Two transient failures in a row: the receiver is down for this run; the third waits.
    assert (tally.retried, tally.deferred) == (2, 1)


# --- health alerts share the outbox and the sinks ----------------------------------------------


def record_documents(store: StateStore, documents: list[Alert | HealthAlert], sinks: list[Sink]) -> None:
    store.add_items(
        [NewItem(doc.id, sink.name, doc.to_json(), created_at=DETECTED_AT) for doc in documents for sink in sinks]
    )


def texts_of(requests: list) -> set[str]:
    return {
        item["text"] for r in requests for item in json.loads(r.body)["attachments"][0]["content"]["body"][0]["items"]
    }


def test_health_and_rule_alerts_go_through_the_same_sinks_each_as_its_own_document(store: StateStore) -> None:
    transport = HttpTransport(timeout=2, max_attempts=1, sleep=lambda _: None)
    stream = io.StringIO()
    [rule] = alerts(1)
    health = health_alert("signins-silent", "raised")
    with Receiver() as teams, Receiver([Reply(200), Reply(200)]) as webhook:
        sinks: list[Sink] = [
            TeamsSink(teams.url(), transport=transport),
            WebhookSink(webhook.url(), SECRET, transport=transport),
            ConsoleSink(stream=stream),
        ]
        record_documents(store, [rule, health], sinks)
        tally = dispatcher(store, sinks).dispatch(now=NOW)

    assert (tally.delivered, tally.retried, tally.dead) == (6, 0, 0)
    assert tally.delivered_alerts == {rule.id, health.id}
    bodies = {r.headers["webhook-id"]: Webhook(SECRET).verify(r.body, r.headers) for r in webhook.requests}
    assert bodies == {rule.id: json.loads(rule.to_json()), health.id: json.loads(health.to_json())}
    cards = sorted(json.loads(r.body)["attachments"][0]["content"]["body"][0]["style"] for r in teams.requests)
    assert cards == ["attention", "warning"]  # the raised warning health alert; the rule's severity Medium
    assert texts_of(teams.requests) >= {"mfa-rejected health: signins-silent raised", "MFA Rejected by User"}
    assert f"[HEALTH raised] {health.title} (warning)" in stream.getvalue()


def test_every_health_alert_reaches_the_sink_as_a_health_alert(store: StateStore) -> None:
    documents = list(every_health_alert().values())
    sink = RecordingSink()
    record_documents(store, documents, [sink])

    tally = dispatcher(store, [sink]).dispatch(now=NOW)

    assert tally.delivered == len(documents)
    assert sink.alerts == {doc.id: doc for doc in documents}
    assert all(isinstance(delivered, HealthAlert) for delivered in sink.alerts.values())


def test_a_health_alert_that_waited_longer_than_the_bound_is_marked_delayed(store: StateStore) -> None:
    late, on_time = health_alert("signins-silent", "raised"), health_alert("signins-silent", "cleared")
    sink = RecordingSink()
    record_documents(store, [late], [sink])

    dispatcher(store, [sink], late_after=timedelta(hours=1)).dispatch(now=DETECTED_AT + timedelta(hours=5))
    record_documents(store, [on_time], [sink])
    dispatcher(store, [sink], late_after=timedelta(hours=1)).dispatch(now=DETECTED_AT + timedelta(minutes=59))

    delivered = sink.alerts[late.id]
    assert delivered == late.delayed(timedelta(hours=5))
    document = json.loads(delivered.to_json())
    assert (document["delayed"], document["delaySeconds"]) == (True, 5 * 3600)
    assert HealthAlert.from_json(delivered.to_json()) == delivered
    assert sink.alerts[on_time.id] == on_time
    assert "delayed" not in json.loads(sink.alerts[on_time.id].to_json())


def test_a_health_alert_recorded_with_no_sink_is_handed_to_every_sink(store: StateStore) -> None:
    health = health_alert("skipped", "raised")
    store.add_items([NewItem(health.id, "unrouted", health.to_json(), created_at=DETECTED_AT)])
    one, two = RecordingSink(name="one"), RecordingSink(name="two")

    tally = dispatcher(store, [one, two]).dispatch(now=NOW)

    assert tally.delivered == 2
    assert one.alerts == two.alerts == {health.id: health}


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (
            '{"schema":"mfa-rejected.alert/v2","id":"msg_x"}',
            "stored document 'msg_x': unknown schema 'mfa-rejected.alert/v2' "
            "(expected 'mfa-rejected.alert/v1' or 'mfa-rejected.health/v1')",
        ),
        ('{"schema":"mfa-rejected.health/v1","id":"hlt_x"}', "health alert document 'hlt_x': malformed"),
        ("not json", "stored document: not JSON"),
    ],
)
def test_a_document_that_cannot_be_read_is_dead_at_once_and_the_lane_goes_on(
    store: StateStore, payload: str, message: str
) -> None:
    health = health_alert()
    sink = RecordingSink()
    store.add_items(
        [
            NewItem("bad", sink.name, payload, created_at=DETECTED_AT - timedelta(seconds=1)),
            NewItem(health.id, sink.name, health.to_json(), created_at=DETECTED_AT),
        ]
    )

    tally = dispatcher(store, [sink]).dispatch(now=NOW)

    assert (tally.delivered, tally.dead, tally.retried) == (1, 1, 0)
    [dead] = store.items(status="dead")
    assert dead.alert_id == "bad"
    assert dead.last_error.startswith(message)
    assert sink.attempts == {health.id: 1}
