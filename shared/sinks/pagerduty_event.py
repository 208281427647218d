"""Alerts as PagerDuty Events API v2 events (https://developer.pagerduty.com/docs/events-api-v2/overview/).

A rule alert triggers an incident whose ``dedup_key`` is the alert id, so a redelivery of the same alert
lands on the same open incident. A health alert's raise triggers one keyed by ``raise_id``; its clear
resolves that key. ``payload.summary`` is ``ticket_text.summary`` (plain text: PagerDuty reads it out
in phone calls and SMS); everything an analyst needs is in ``custom_details``: the alert's facts and its
lines (``shared.alert_view``), bounded so an event stays far below PagerDuty's 512 KB limit.

Values from the data go into JSON strings through ``shown.flat`` (control and bidirectional
characters escaped, clipped): PagerDuty shows custom details as text, and a value cannot reorder what
is shown around it. They never become a link: ``links`` carry only the fixed Microsoft portal URLs of
``shared.alert_links``, with the user as plain text.
"""

from __future__ import annotations

import math
from typing import Any, Final

from shared.alert_links import PortalLinks
from shared.alert_view import Line, headline, lines
from shared.alerts import TACTIC_NAMES, TECHNIQUE_NAMES, Alert, describe_delay, technique_url
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.instants import format_instant
from shared.serialise import json_text
from shared.sinks.shown import flat, window_text
from shared.sinks.ticket_text import summary

SOURCE: Final = "mfa-rejected"
CLIENT: Final = "mfa-rejected"
COMPONENT: Final = "Microsoft Entra ID sign-ins"
EVENT_CLASS: Final = "MFA rejected"
# ``group`` tells the two kinds apart, so PagerDuty event orchestration can route health alerts (a data
# feed gone quiet: the platform team) apart from detections (the SOC).
RULE_GROUP: Final = "rule alerts"
HEALTH_GROUP: Final = "health alerts"
HEALTH_COMPONENT: Final = "mfa-rejected detection inputs"

# PagerDuty's documented limits.
MAX_SUMMARY_CHARS: Final = 1024
MAX_DEDUP_KEY_CHARS: Final = 255
MAX_EVENT_BYTES: Final = 512 * 1024
# Ours: what an event may weigh. Far below PagerDuty's limit, and a page nobody can scroll is no help.
EVENT_BUDGET_BYTES: Final = 128 * 1024
MAX_LINES: Final = 50  # lines (user + IP) shown in custom_details; the rest counted
MAX_LINKED_LINES: Final = 10  # lines whose user links are attached
MAX_RECORDS: Final = 2  # directory records per line (two spellings of one UPN)
MAX_ITEMS: Final = 10  # items per directory field (a user in 300 groups)
MAX_VALUE_CHARS: Final = 200
MAX_ITEM_CHARS: Final = 100

# Sentinel severities -> PagerDuty's (critical, error, warning, info). Nothing maps to critical: an MFA
# rejection is a lead to check, not an outage. An unknown severity gets Medium's.
SEVERITIES: Final = {"high": "error", "medium": "warning", "low": "info", "informational": "info"}
HEALTH_SEVERITIES: Final = {"warning": "warning", "info": "info"}


def event_for(alert: Deliverable, *, routing_key: str, links: PortalLinks) -> dict[str, Any]:
    """The event that delivers ``alert``: a trigger, or a health clear's resolve."""
    if isinstance(alert, HealthAlert):
        return health_event(alert, routing_key=routing_key)
    return rule_event(alert, routing_key=routing_key, links=links)


def event_body(event: dict[str, Any]) -> bytes:
    """The request body: compact UTF-8 JSON (PagerDuty counts bytes against its limit)."""
    return json_text(event, separators=(",", ":")).encode("utf-8")


def severity_of(rule_severity: str) -> str:
    return SEVERITIES.get(rule_severity.strip().casefold(), "warning")


def rule_event(alert: Alert, *, routing_key: str, links: PortalLinks) -> dict[str, Any]:
    """A trigger for a rule alert, with as many lines as fit in ``EVENT_BUDGET_BYTES`` (at most ``MAX_LINES``)."""
    all_lines = lines(alert)
    shown = min(len(all_lines), MAX_LINES)
    while True:
        event = _rule_event(alert, all_lines, shown=shown, routing_key=routing_key, links=links)
        if shown == 0 or len(event_body(event)) <= EVENT_BUDGET_BYTES:
            return event
        shown //= 2  # lines whose directory context is huge: show fewer, count the rest


def _rule_event(
    alert: Alert, all_lines: tuple[Line, ...], *, shown: int, routing_key: str, links: PortalLinks
) -> dict[str, Any]:
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.id,
        "client": CLIENT,
        "payload": {
            "summary": summary(alert, limit=MAX_SUMMARY_CHARS),
            "source": SOURCE,
            "severity": severity_of(alert.rule.severity),
            "timestamp": format_instant(alert.detected_at),
            "component": COMPONENT,
            "group": RULE_GROUP,
            "class": EVENT_CLASS,
            "custom_details": _rule_details(alert, all_lines, shown=shown),
        },
        "links": _links(alert, all_lines, links),
    }


def _rule_details(alert: Alert, all_lines: tuple[Line, ...], *, shown: int) -> dict[str, Any]:
    # snake_case keys: event orchestration conditions address them as event.custom_details.<key>.
    rule = alert.rule
    details: dict[str, Any] = {
        "headline": headline(alert),
        "alert_id": alert.id,
        "rule": f"{rule.name} v{rule.version}",
        "rule_severity": rule.severity,
        "window": window_text(alert.window),
        "window_start": format_instant(alert.window.start),
        "window_end": format_instant(alert.window.end),
        "detected_at": format_instant(alert.detected_at),
        "tactics": [TACTIC_NAMES.get(t, t) for t in rule.tactics],
        "techniques": [_technique(t) for t in rule.techniques],
    }
    if alert.workspace is not None:
        details |= {"workspace": alert.workspace.name, "workspace_id": alert.workspace.id}
    if alert.late is not None:
        details["late"] = (
            f"found {describe_delay(alert.late)} after the window's end by a re-evaluation: "
            "UEBA/sign-in data arrived after the window's first evaluation"
        )
    if alert.delay is not None:
        details["delayed"] = f"delivered {describe_delay(alert.delay)} after detection (it waited in the outbox)"
    details["lines"] = [_line(line) for line in all_lines[:shown]]
    if len(all_lines) > shown:
        details["more_lines"] = (
            f"and {len(all_lines) - shown} more users and IP addresses, not shown here: "
            "run the rule's query over the window for them all"
        )
    return details


def _technique(technique: str) -> str:
    """``T1078.004 Valid Accounts: Cloud Accounts (https://attack.mitre.org/techniques/T1078/004/)``."""
    name = TECHNIQUE_NAMES.get(technique)
    return f"{technique} {name} ({technique_url(technique)})" if name else f"{technique} ({technique_url(technique)})"


def _line(line: Line) -> dict[str, Any]:
    out: dict[str, Any] = {
        "user": flat(line.user, MAX_VALUE_CHARS),
        "ip": flat(line.ip, MAX_VALUE_CHARS),
        "user_id": flat(line.user_id, MAX_VALUE_CHARS),
        "ueba_score": _score(line.score),
        "first": format_instant(line.first),
        "last": format_instant(line.last),
    }
    if line.marks:
        out["marks"] = list(line.marks)
    if line.directory:
        out["directory"] = [_record(record.account_upn, record.fields) for record in line.directory[:MAX_RECORDS]]
        if len(line.directory) > MAX_RECORDS:
            out["more_directory_records"] = len(line.directory) - MAX_RECORDS
    if line.rows > 1:
        out["rows"] = line.rows
    return out


def _record(account: str, fields: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, Any]:
    record: dict[str, Any] = {"account": flat(account, MAX_VALUE_CHARS)}
    for label, found in fields:
        shown = [flat(item, MAX_ITEM_CHARS) for item in found[:MAX_ITEMS]]
        if len(found) > MAX_ITEMS:
            shown.append(f"and {len(found) - MAX_ITEMS} more")
        record[label.casefold().replace(" ", "_")] = shown
    return record


def _score(score: Any) -> Any:
    """A number stays a number (JSON has no NaN or infinity); anything else is text."""
    if isinstance(score, int | float) and not isinstance(score, bool) and math.isfinite(score):
        return score
    return None if score is None else flat(score, MAX_VALUE_CHARS)


def _links(alert: Alert, all_lines: tuple[Line, ...], links: PortalLinks) -> list[dict[str, str]]:
    """The query link, then the user links of the first ``MAX_LINKED_LINES`` lines, each URL once."""
    out: dict[str, str] = {}
    query = links.query_link(alert.window)
    if query is not None:
        out[query.url] = query.title
    for line in all_lines[:MAX_LINKED_LINES]:
        for link in links.user_links(line):
            out.setdefault(link.url, f"{link.title}: {flat(line.user, MAX_ITEM_CHARS)}")
    return [{"href": href, "text": text} for href, text in out.items()]


def health_event(alert: HealthAlert, *, routing_key: str) -> dict[str, Any]:
    """A raise triggers an incident keyed by the raise's id; the clear resolves that very key.

    A resolve carries only what PagerDuty reads of one: routing_key, event_action, dedup_key.
    """
    if alert.state == "cleared":
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": alert.raise_id}
    return {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": alert.raise_id,
        "client": CLIENT,
        "payload": {
            "summary": summary(alert, limit=MAX_SUMMARY_CHARS),
            "source": SOURCE,
            "severity": HEALTH_SEVERITIES.get(alert.level, "warning"),
            "timestamp": format_instant(alert.detected_at),
            "component": HEALTH_COMPONENT,
            "group": HEALTH_GROUP,
            "class": alert.condition,
            "custom_details": _health_details(alert),
        },
    }


def _health_details(alert: HealthAlert) -> dict[str, Any]:
    details: dict[str, Any] = {
        "health_id": alert.id,
        "condition": alert.condition,
        "state": alert.state,
        "level": alert.level,
        "summary": alert.summary,
        "detail": alert.detail,
        "since": format_instant(alert.since),
        "last_seen": "none yet" if alert.last_seen is None else format_instant(alert.last_seen),
        "detected_at": format_instant(alert.detected_at),
    }
    if alert.range is not None:
        details["range_not_evaluated"] = window_text(alert.range)
        details["range_start"] = format_instant(alert.range.start)
        details["range_end"] = format_instant(alert.range.end)
    if alert.delay is not None:
        details["delayed"] = f"delivered {describe_delay(alert.delay)} after detection (it waited in the outbox)"
    return details
