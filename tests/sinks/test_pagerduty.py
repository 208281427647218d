"""The PagerDuty sink: events checked against PagerDuty's published Events API v2 schema (vendored), and
delivery to a loopback fake of the Events API (``tests/sinks/pagerduty_server.py``): incidents,
idempotency, errors and retries, the routing key kept secret, hostile values kept plain data."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.alert_links import PortalLinks
from shared.alerts import Alert
from shared.documents import Deliverable
from shared.errors import ConfigError, DeliveryError
from shared.health_document import CONDITIONS
from shared.instants import parse_instant
from shared.sinks.pagerduty import PagerDutySink
from shared.sinks.pagerduty_event import (
    EVENT_BUDGET_BYTES,
    MAX_EVENT_BYTES,
    MAX_LINES,
    MAX_LINKED_LINES,
    event_body,
    event_for,
    severity_of,
)
from shared.sinks.shown import flat
from shared.sinks.ticket_text import summary
from shared.sinks.transport import HttpTransport, url_host
from tests.sinks.health_alerts import every_health_alert, health_alert
from tests.sinks.hostile_rows import EVIL, HOSTILE_VALUES, hostile_alert
from tests.sinks.pagerduty_server import PagerDutyServer
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, many_rows, result_row

VENDORED = Path(__file__).resolve().parents[1] / "data" / "vendor" / "pagerduty-events-v2.openapiv3.json"
OPENAPI: dict[str, Any] = json.loads(VENDORED.read_text(encoding="utf-8"))
ENQUEUE = "#/paths/~1enqueue/post/requestBody/content/application~1json/schema"
# PagerDuty's own schema of an /enqueue request body, its $refs resolved within the vendored file.
PAGERDUTY_SCHEMA = jsonschema.Draft202012Validator({**OPENAPI, "$ref": ENQUEUE})
_FIELDS = OPENAPI["paths"]["/enqueue"]["post"]["requestBody"]["content"]["application/json"]["schema"]["properties"]
_PAYLOAD_FIELDS = OPENAPI["components"]["schemas"]["Payload"]["properties"]
# NOT from the OpenAPI file: limits PagerDuty documents only in prose (Events API v2 "Send an Alert Event":
# summary <= 1024 characters, dedup_key <= 255 and required to acknowledge or resolve, payload required
# to trigger), plus our own strictness: only the fields the OpenAPI file names (a misspelt field would
# be silently ignored by PagerDuty), a dedup_key on every event, timestamps as ISO 8601 UTC.
DOCUMENTED_SCHEMA = jsonschema.Draft202012Validator(
    {
        "type": "object",
        "required": ["routing_key", "event_action", "dedup_key"],
        "additionalProperties": False,
        "properties": {
            **dict.fromkeys(_FIELDS, True),
            "routing_key": {"type": "string", "minLength": 1},
            "dedup_key": {"type": "string", "minLength": 1, "maxLength": 255},
            "payload": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    **dict.fromkeys(_PAYLOAD_FIELDS, True),
                    "summary": {"type": "string", "minLength": 1, "maxLength": 1024},
                    "source": {"type": "string", "minLength": 1},
                    "timestamp": {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$"},
                },
            },
        },
        "if": {"properties": {"event_action": {"const": "trigger"}}},
        "then": {"required": ["payload"]},
        "else": {"not": {"required": ["payload"]}},
    }
)
KEY = "R0ut1ngKeyA1b2C3d4E5f6G7h8I9j0Kk"  # 32 letters and digits, as the settings require
WORKSPACE = (
    "/subscriptions/33333333-3333-3333-3333-333333333333/resourceGroups/sec/providers/"
    "Microsoft.OperationalInsights/workspaces/sentinel"
)
LINKS = PortalLinks(workspace_resource_id=WORKSPACE)


def assert_valid(event: dict[str, Any]) -> None:
    """Valid by PagerDuty's schema and by its documented limits, and well under the size limit."""
    PAGERDUTY_SCHEMA.validate(event)
    DOCUMENTED_SCHEMA.validate(event)
    body = event_body(event)
    assert json.loads(body) == event
    assert len(body) <= EVENT_BUDGET_BYTES < MAX_EVENT_BYTES
    if "payload" in event:
        parse_instant(event["payload"]["timestamp"])


def strings(node: Any) -> list[str]:
    """Every string of a JSON value, keys included."""
    if isinstance(node, dict):
        return [*node, *(text for value in node.values() for text in strings(value))]
    if isinstance(node, list):
        return [text for value in node for text in strings(value)]
    return [node] if isinstance(node, str) else []


def transport(*, timeout: float = 5.0, max_attempts: int = 4, slept: list[float] | None = None) -> HttpTransport:
    pause = slept.append if slept is not None else (lambda _: None)
    return HttpTransport(timeout=timeout, max_attempts=max_attempts, max_elapsed=60.0, sleep=pause)


@pytest.fixture
def pagerduty() -> Iterator[PagerDutyServer]:
    with PagerDutyServer(routing_key=KEY) as server:
        yield server


def sink_for(server: PagerDutyServer, **options: Any) -> PagerDutySink:
    return PagerDutySink(KEY, transport=options.pop("transport", transport()), url=server.url, **options)


# The events -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "alert",
    [alert_of([result_row()]), alert_of(many_rows(300)), hostile_alert()],
    ids=["one-row", "300-rows", "hostile"],
)
@pytest.mark.parametrize("links", [PortalLinks(), LINKS], ids=["no-workspace", "workspace"])
def test_rule_alert_events_are_valid_pagerduty_events(alert: Alert, links: PortalLinks) -> None:
    assert_valid(event_for(alert, routing_key=KEY, links=links))


@pytest.mark.parametrize("name", sorted(every_health_alert()))
def test_every_health_alert_raised_and_cleared_is_a_valid_pagerduty_event(name: str) -> None:
    assert_valid(event_for(every_health_alert()[name], routing_key=KEY, links=LINKS))


def test_the_vendored_schema_rejects_what_pagerduty_rejects() -> None:
    """The schemas above are not vacuous: a bad severity or a missing source fails them."""
    event = event_for(alert_of([result_row()]), routing_key=KEY, links=LINKS)
    bad_severity = {**event, "payload": {**event["payload"], "severity": "Medium"}}
    no_source = {**event, "payload": {k: v for k, v in event["payload"].items() if k != "source"}}
    long_summary = {**event, "payload": {**event["payload"], "summary": "x" * 1025}}

    assert not PAGERDUTY_SCHEMA.is_valid(bad_severity)
    assert not PAGERDUTY_SCHEMA.is_valid(no_source)
    assert not DOCUMENTED_SCHEMA.is_valid(long_summary)


def test_rule_alert_triggers_keyed_by_alert_id_with_the_fields_asked_for() -> None:
    alert = alert_of([result_row(roles=("Global Administrator",), groups=("IT",))])

    event = event_for(alert, routing_key=KEY, links=LINKS)
    payload = event["payload"]
    details = payload["custom_details"]

    assert (event["event_action"], event["dedup_key"], event["client"]) == ("trigger", alert.id, "mfa-rejected")
    assert payload["summary"] == summary(alert, limit=1024)
    assert payload["summary"] == "MFA Rejected by User: 1 user from 1 IP address, 2026-11-28 09:00–10:00 UTC"
    assert (payload["source"], payload["severity"], payload["timestamp"]) == (
        "mfa-rejected",
        "warning",
        "2026-11-28T10:05:30Z",
    )
    assert (payload["component"], payload["class"]) == ("Microsoft Entra ID sign-ins", "MFA rejected")
    assert details["alert_id"] == alert.id
    assert details["rule"] == "MFA Rejected by User v2.0.4"
    assert details["window"] == "2026-11-28 09:00–10:00 UTC"
    assert details["tactics"] == ["Initial Access"]
    assert details["techniques"] == [
        "T1078.004 Valid Accounts: Cloud Accounts (https://attack.mitre.org/techniques/T1078/004/)"
    ]
    (line,) = details["lines"]
    assert line["user"] == "john.doe@contoso.com"
    assert line["ip"] == "203.0.113.7"
    assert line["ueba_score"] == 5
    assert line["marks"] == ["Privileged role"]
    assert line["directory"] == [
        {
            "account": "john.doe@contoso.com",
            "roles": ["Global Administrator"],
            "groups": ["IT"],
            "user_type": ["Member"],
            "account_control": ["Member"],
        }
    ]
    assert not {"late", "delayed", "more_lines"} & set(details)


def test_links_are_the_query_and_the_users_portal_pages() -> None:
    event = event_for(alert_of([result_row()]), routing_key=KEY, links=LINKS)

    texts = [link["text"] for link in event["links"]]
    assert texts == [
        "Open the query in Log Analytics",
        "Sign-in logs (Entra): john.doe@contoso.com",
        "User page (Defender XDR): john.doe@contoso.com",
    ]
    assert event["links"][0]["href"].startswith("https://portal.azure.com/")
    assert [
        link["text"] for link in event_for(alert_of([result_row()]), routing_key=KEY, links=PortalLinks())["links"]
    ] == texts[1:]


@pytest.mark.parametrize(
    ("severity", "expected"),
    [("High", "error"), ("Medium", "warning"), ("Low", "info"), ("Informational", "info"), ("Unheard of", "warning")],
)
def test_rule_severity_maps_to_pagerduty_severity(severity: str, expected: str) -> None:
    alert = alert_of([result_row()])
    alert = replace(alert, rule=replace(alert.rule, severity=severity))

    assert severity_of(severity) == expected
    assert event_for(alert, routing_key=KEY, links=LINKS)["payload"]["severity"] == expected


def test_300_rows_show_50_lines_and_say_how_many_more_with_bounded_links() -> None:
    event = event_for(alert_of(many_rows(300)), routing_key=KEY, links=LINKS)
    details = event["payload"]["custom_details"]

    assert len(details["lines"]) == MAX_LINES == 50
    assert details["more_lines"].startswith("and 250 more users and IP addresses")
    assert len(event["links"]) == 1 + 2 * MAX_LINKED_LINES
    assert len(event_body(event)) < 64 * 1024


def test_huge_directory_context_is_cut_to_fit_the_budget() -> None:
    groups = tuple(f"Group {i} " + "x" * 300 for i in range(500))
    rows = [result_row(f"user{i}@contoso.com", ip=f"198.51.100.{i}", groups=groups) for i in range(200)]

    event = event_for(alert_of(rows), routing_key=KEY, links=LINKS)
    details = event["payload"]["custom_details"]

    assert_valid(event)
    first = details["lines"][0]["directory"][0]["groups"]
    assert len(first) == 11
    assert first[-1] == "and 490 more"
    assert all(len(item) <= 100 for item in first)
    assert details["more_lines"].startswith(f"and {200 - len(details['lines'])} more")


def test_late_and_delayed_alerts_say_so() -> None:
    alert = alert_of([result_row()]).found_late(timedelta(hours=3)).delayed(timedelta(hours=5, minutes=20))

    details = event_for(alert, routing_key=KEY, links=LINKS)["payload"]["custom_details"]

    assert details["late"].startswith("found 3 h after the window's end")
    assert details["delayed"] == "delivered 5 h 20 min after detection (it waited in the outbox)"
    assert "(late data)" in event_for(alert, routing_key=KEY, links=LINKS)["payload"]["summary"]


@pytest.mark.parametrize(("condition", "severity"), [("signins-silent", "warning"), ("identity-silent", "info")])
def test_health_raise_triggers_keyed_by_raise_id_and_clear_resolves_that_key(condition: str, severity: str) -> None:
    raised, cleared = health_alert(condition, "raised"), health_alert(condition, "cleared")

    trigger = event_for(raised, routing_key=KEY, links=LINKS)
    resolve = event_for(cleared, routing_key=KEY, links=LINKS)

    assert (trigger["event_action"], trigger["dedup_key"]) == ("trigger", raised.raise_id)
    assert raised.raise_id == raised.id
    assert trigger["payload"]["severity"] == severity
    assert trigger["payload"]["summary"] == summary(raised, limit=1024)
    assert trigger["payload"]["custom_details"]["detail"] == raised.detail
    assert resolve == {"routing_key": KEY, "event_action": "resolve", "dedup_key": raised.raise_id}


def test_hostile_values_stay_plain_json_strings_and_never_become_links() -> None:
    alert = hostile_alert()

    event = event_for(alert, routing_key=KEY, links=LINKS)
    body = event_body(event)
    lines = event["payload"]["custom_details"]["lines"]

    assert json.loads(body) == event  # the markup did not break out of its strings
    by_ip = {line["ip"]: line for line in lines}
    assert len(by_ip) == len(HOSTILE_VALUES)
    for index, value in enumerate(HOSTILE_VALUES.values()):
        line = by_ip[flat(f"{value}{index}", 200)]  # as written, control characters escaped
        assert line["user"] == flat(f"{value}{index}@{value}", 200)
        assert line["directory"][0]["tags"] == [flat(value, 100), flat(f"VIP {value}", 100)]
    assert "[Re-verify MFA now](https://evil.example/m)0" in by_ip
    assert not [text for text in strings(event) if any(ord(c) < 0x20 or c in "\x7f\u202e\u2028" for c in text)]
    assert all(EVIL not in link["href"] for link in event["links"])  # hostile user ids are no GUIDs: no user links
    assert EVIL not in event["payload"]["summary"]


# Delivery ---------------------------------------------------------------------------------------------


def test_delivery_posts_the_event_as_json_and_opens_an_incident(pagerduty: PagerDutyServer) -> None:
    alert = alert_of([result_row()])

    sink_for(pagerduty, links=LINKS).deliver(alert)

    (request,) = pagerduty.requests
    assert request.headers["content-type"] == "application/json"
    assert request.json() == event_for(alert, routing_key=KEY, links=LINKS)
    assert pagerduty.incidents[alert.id].state == "triggered"


def test_the_same_alert_delivered_twice_is_one_incident(pagerduty: PagerDutyServer) -> None:
    alert = alert_of([result_row()])
    sink = sink_for(pagerduty)

    sink.deliver(alert)
    sink.deliver(alert.delayed(timedelta(hours=2)))

    assert pagerduty.opened == 1
    assert list(pagerduty.incidents) == [alert.id]
    assert len(pagerduty.incidents[alert.id].events) == 2


def test_redelivery_after_a_lost_answer_is_still_one_incident(pagerduty: PagerDutyServer) -> None:
    """PagerDuty took the event but the answer never came: the outbox delivers again on a later run."""
    alert = alert_of([result_row()])
    pagerduty.hang_next(process=True)

    with pytest.raises(DeliveryError) as timed_out:
        sink_for(pagerduty, transport=transport(timeout=0.3, max_attempts=1)).deliver(alert)
    sink_for(pagerduty).deliver(alert)

    assert not timed_out.value.permanent
    assert "timed out" in str(timed_out.value)
    assert pagerduty.opened == 1


def test_health_raise_then_clear_is_one_incident_resolved(pagerduty: PagerDutyServer) -> None:
    sink = sink_for(pagerduty)
    raised = health_alert("ueba-silent", "raised")

    sink.deliver(raised)
    sink.deliver(raised)  # a redelivered raise: still one incident
    sink.deliver(health_alert("ueba-silent", "cleared"))

    assert pagerduty.opened == 1
    assert pagerduty.incidents[raised.raise_id].state == "resolved"
    assert [e["event_action"] for e in pagerduty.incidents[raised.raise_id].events] == ["trigger", "trigger", "resolve"]


def test_every_health_alert_is_taken_by_the_fake_events_api(pagerduty: PagerDutyServer) -> None:
    sink = sink_for(pagerduty)
    for alert in every_health_alert().values():
        sink.deliver(alert)

    assert pagerduty.opened == len(CONDITIONS)  # one incident per condition, resolved by its clear
    assert {incident.state for incident in pagerduty.incidents.values()} == {"resolved"}


def test_an_invalid_event_is_permanent_shows_pagerdutys_errors_and_is_not_retried(
    pagerduty: PagerDutyServer,
) -> None:
    other_key = "0therKeyA1b2C3d4E5f6G7h8I9j0Kk99"

    with pytest.raises(DeliveryError) as failed:
        PagerDutySink(other_key, transport=transport(), url=pagerduty.url).deliver(alert_of([result_row()]))

    message = str(failed.value)
    assert failed.value.permanent
    assert message.startswith(f"pagerduty ({url_host(pagerduty.url)}): HTTP 400 Bad Request, not retried: ")
    assert "invalid event" in message
    assert "'routing_key' is missing or not an integration key of this service" in message
    assert other_key not in message
    assert len(pagerduty.requests) == 1
    assert pagerduty.incidents == {}


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_throttling_and_server_errors_are_retried_then_delivered(pagerduty: PagerDutyServer, status: int) -> None:
    alert = alert_of([result_row()])
    pagerduty.answer_next(status, times=2)

    sink_for(pagerduty).deliver(alert)

    assert len(pagerduty.requests) == 3
    assert pagerduty.opened == 1


def test_retry_after_is_honoured(pagerduty: PagerDutyServer) -> None:
    slept: list[float] = []
    pagerduty.answer_next(429, retry_after="7")

    sink_for(pagerduty, transport=transport(slept=slept)).deliver(alert_of([result_row()]))

    assert slept == [7.0]
    assert pagerduty.opened == 1


def test_server_errors_past_the_attempts_are_transient_for_a_later_run(pagerduty: PagerDutyServer) -> None:
    pagerduty.answer_next(500, times=4)

    with pytest.raises(DeliveryError) as failed:
        sink_for(pagerduty).deliver(alert_of([result_row()]))

    assert not failed.value.permanent
    assert "HTTP 500" in str(failed.value)
    assert "gave up after 4 attempt(s)" in str(failed.value)


# Settings and secrets ---------------------------------------------------------------------------------


def test_repr_and_name_show_name_and_host_only() -> None:
    sink = PagerDutySink(KEY, transport=transport())

    assert repr(sink) == "PagerDutySink(name='pagerduty', host='events.pagerduty.com')"
    assert sink.name == "pagerduty"
    assert KEY not in repr(sink) + str(sink) + repr(vars(sink).get("_transport"))


@pytest.mark.parametrize(
    ("key", "url", "setting"),
    [
        ("", "https://events.pagerduty.com/v2/enqueue", "MFA_PAGERDUTY_ROUTING_KEY"),
        (f" {KEY}\n", "https://events.pagerduty.com/v2/enqueue", "MFA_PAGERDUTY_ROUTING_KEY"),
        (KEY, "http://events.pagerduty.com/v2/enqueue", "MFA_PAGERDUTY_URL"),
        (KEY, "not a url", "MFA_PAGERDUTY_URL"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_setting_not_the_key(key: str, url: str, setting: str) -> None:
    with pytest.raises(ConfigError) as bad:
        PagerDutySink(key, transport=transport(), url=url)

    assert str(bad.value).startswith(f"{setting}: ")
    assert KEY not in str(bad.value)


def _echo(status: int) -> Reply:
    body = json.dumps({"status": "invalid event", "message": f"bad key {KEY}", "errors": [f"routing_key {KEY}"]})
    return Reply(status, body=body.encode())


@pytest.mark.parametrize(
    "replies",
    [
        [Reply(202)],
        [_echo(400)],
        [_echo(500), _echo(503)],
        [Reply(429, headers={"Retry-After": "999"}, body=KEY.encode())],
        [Reply(202, hang=5.0), Reply(202, hang=5.0)],
    ],
    ids=["delivered", "400-echo", "5xx-echo", "429", "timeout"],
)
@pytest.mark.parametrize("alert", [alert_of([result_row()]), health_alert()], ids=["rule", "health"])
def test_routing_key_never_appears_in_errors_logs_or_reprs(
    caplog: pytest.LogCaptureFixture, replies: list[Reply], alert: Deliverable
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    with Receiver(replies) as receiver:
        sink = PagerDutySink(
            KEY, transport=transport(timeout=0.3, max_attempts=2), url=receiver.url("/v2/enqueue"), links=LINKS
        )
        try:
            sink.deliver(alert)
            error = ""
        except DeliveryError as failed:
            error = f"{failed} {failed!r} {failed.args}"

    assert json.loads(receiver.requests[0].body)["routing_key"] == KEY  # it was sent, and only there
    shown = "\n".join([error, repr(sink), caplog.text, *(str(r.__dict__) for r in caplog.records)])
    assert KEY not in shown
