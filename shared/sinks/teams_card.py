"""An alert as a Microsoft Teams message: an Adaptive Card (schema 1.5, the highest Teams renders).

Formatting only; ``shared.sinks.teams`` sends it (a health alert has a card of its own,
``shared.sinks.health_card``). Teams rejects messages over about 28 KB, so the card keeps as
many rows as fit under ``MAX_MESSAGE_BYTES`` (UTF-8 JSON of the whole message) and says how many
more there are. Each value shown is clipped, and long lists (a user may be in
hundreds of groups) are cut to their first few items, so one row cannot take the whole budget.

Values are shown as the directory holds them, not escaped: Teams clients disagree on markdown
escapes (some show the backslash), and the signed webhook payload carries the exact values.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any, Final

from shared.alerts import TACTIC_NAMES, TECHNIQUE_NAMES, Alert, describe_delay, technique_url
from shared.models import Row, Window
from shared.serialise import json_text

CARD_VERSION: Final = "1.5"
# Teams fails messages over ~28 KB; stay below it with room for what the Workflow adds around the card.
MAX_MESSAGE_BYTES: Final = 27_000
CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"

_SEVERITY_STYLE: Final = {"High": "attention", "Medium": "warning", "Low": "accent", "Informational": "default"}
_MAX_TEXT: Final = 120
_MAX_LIST_ITEMS: Final = 5


def teams_message(alert: Alert, *, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The Workflows webhook body for ``alert``, with as many rows as fit in ``max_bytes``."""
    total = len(alert.rows)
    message = _message(alert, shown=total)
    if len(message_body(message)) <= max_bytes:
        return message
    # The size grows with the rows shown: find the most that fit (at least the empty table does).
    low, high = 0, total - 1
    best = _message(alert, shown=0)
    if len(message_body(best)) > max_bytes:
        raise ValueError(f"even a card without rows exceeds {max_bytes} bytes")
    while low <= high:
        middle = (low + high) // 2
        candidate = _message(alert, shown=middle)
        if len(message_body(candidate)) <= max_bytes:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def message_body(message: dict[str, Any]) -> bytes:
    """The exact bytes sent (and measured against the size limit)."""
    return json_text(message, separators=(",", ":")).encode("utf-8")


def adaptive_card(alert: Alert, *, shown: int | None = None) -> dict[str, Any]:
    """The card alone, with the first ``shown`` rows (all by default)."""
    rows = alert.rows if shown is None else alert.rows[:shown]
    hidden = len(alert.rows) - len(rows)
    body: list[dict[str, Any]] = [_header(alert), *_delay_notice(alert), _facts(alert), _technique_line(alert)]
    if rows:
        body.append(_table(alert, rows))
    if hidden:
        body.append(
            text_block(f"… and {hidden} more (a Teams message is limited to 28 KB)", isSubtle=True, spacing="Small")
        )
    body.extend(_enrichment(rows))
    technique = alert.rule.techniques[0]
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": [
            {"type": "Action.OpenUrl", "title": f"MITRE ATT&CK {technique}", "url": technique_url(technique)},
        ],
    }


def _message(alert: Alert, *, shown: int) -> dict[str, Any]:
    return {
        "type": "message",
        "attachments": [
            {"contentType": CONTENT_TYPE, "contentUrl": None, "content": adaptive_card(alert, shown=shown)}
        ],
    }


def _header(alert: Alert) -> dict[str, Any]:
    users = len({row["UserPrincipalName"] for row in alert.rows})
    ips = len({row["FailedIPAddress"] for row in alert.rows})
    summary = (
        f"{users} user{'s' if users != 1 else ''} rejected MFA prompts from "
        f"{ips} IP address{'es' if ips != 1 else ''} with a UEBA investigation score above the cutoff"
    )
    return {
        "type": "Container",
        "style": _SEVERITY_STYLE.get(alert.rule.severity, "default"),
        "bleed": True,
        "items": [
            text_block(alert.title, size="Large", weight="Bolder"),
            text_block(summary, spacing="None"),
        ],
    }


def _delay_notice(alert: Alert) -> list[dict[str, Any]]:
    notices = []
    if alert.late is not None:
        notices.append(
            text_block(
                f"Late: UEBA/sign-in data arrived after the first evaluation (found {describe_delay(alert.late)} "
                "after the window's end; rows alerted before are not repeated)",
                color="Attention",
                weight="Bolder",
            )
        )
    return [*notices, *delay_notice(alert.delay)]


def delay_notice(delay: timedelta | None) -> list[dict[str, Any]]:
    """The line that says a message waited in the outbox (none for a message on time)."""
    if delay is None:
        return []
    return [
        text_block(
            f"Delayed: delivered {describe_delay(delay)} after detection (it waited in the outbox: no "
            "destination was configured, or this one kept failing)",
            color="Attention",
            weight="Bolder",
        )
    ]


def _facts(alert: Alert) -> dict[str, Any]:
    tactics = ", ".join(TACTIC_NAMES.get(t, t) for t in alert.rule.tactics)
    return {
        "type": "FactSet",
        "facts": [
            {"title": "Severity", "value": alert.rule.severity},
            {"title": "Window", "value": window_text(alert.window)},
            {"title": "Detected", "value": f"{alert.detected_at:%Y-%m-%d %H:%M:%S} UTC"},
            {"title": "Tactic", "value": tactics},
            {"title": "Rule", "value": f"{alert.rule.name} v{alert.rule.version}"},
            {"title": "Alert id", "value": alert.id},
        ],
    }


def _technique_line(alert: Alert) -> dict[str, Any]:
    links = ", ".join(
        f"[{t} {TECHNIQUE_NAMES.get(t, '')}]({technique_url(t)})".replace(" ]", "]") for t in alert.rule.techniques
    )
    return text_block(f"MITRE ATT&CK technique: {links}", spacing="Small")


def _table(alert: Alert, rows: tuple[Row, ...]) -> dict[str, Any]:
    header = ["User", "IP address", "UEBA score", "First (UTC)", "Last (UTC)"]
    day = alert.window.start.date()
    return {
        "type": "Table",
        "columns": [{"width": 4}, {"width": 3}, {"width": 2}, {"width": 2}, {"width": 2}],
        # firstRowAsHeader and showGridLines default to true.
        "spacing": "Medium",
        "rows": [
            _table_row([text_block(cell, weight="Bolder") for cell in header]),
            *(
                _table_row(
                    [
                        text_block(clip(row["UserPrincipalName"])),
                        text_block(clip(row["FailedIPAddress"])),
                        text_block(str(row["UEBARiskScore"])),
                        text_block(_time_text(row["StartTime"], day)),
                        text_block(_time_text(row["EndTIme"], day)),
                    ]
                )
                for row in rows
            ),
        ],
    }


def _table_row(cells: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "TableRow", "cells": [{"type": "TableCell", "items": [cell]} for cell in cells]}


def _enrichment(rows: tuple[Row, ...]) -> list[dict[str, Any]]:
    """Directory context (IdentityInfo) per user shown, only where the rule found some."""
    lines: dict[str, str] = {}
    for row in rows:
        parts = [
            f"{label}: {_list_text(row[column])}"
            for label, column in (
                ("Roles", "AssignedRoles"),
                ("Groups", "GroupMembership"),
                ("User type", "UserType"),
                ("Tags", "Tags"),
            )
            if _items(row[column])
        ]
        if parts and row["UserPrincipalName"] not in lines:
            lines[row["UserPrincipalName"]] = f"**{clip(row['UserPrincipalName'])}** — " + " · ".join(parts)
    if not lines:
        return []
    return [
        text_block("Directory context (IdentityInfo)", weight="Bolder", separator=True, spacing="Medium"),
        *(text_block(line, spacing="Small") for line in lines.values()),
    ]


def _items(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    values = value if isinstance(value, list) else [value]
    return [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values if v not in (None, "")]


def _list_text(value: Any) -> str:
    items = _items(value)
    shown = ", ".join(clip(item, 60) for item in items[:_MAX_LIST_ITEMS])
    more = len(items) - _MAX_LIST_ITEMS
    return f"{shown} (+{more} more)" if more > 0 else shown


def window_text(window: Window) -> str:
    """``2026-11-28 09:00–10:00 UTC``, or with both dates when the range spans midnight."""
    start, end = window.start, window.end
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def _time_text(moment: datetime, day: Any) -> str:
    return f"{moment:%H:%M:%S}" if moment.date() == day else f"{moment:%m-%d %H:%M:%S}"


def clip(text: Any, limit: int = _MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def text_block(text: str, **options: Any) -> dict[str, Any]:
    """Every text of a card goes through here (the health card's too: ``shared.sinks.health_card``)."""
    return {"type": "TextBlock", "text": text, "wrap": True, **options}
