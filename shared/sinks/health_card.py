"""A health alert as a Microsoft Teams message: an Adaptive Card (schema 1.5) of its own.

Formatting only; ``shared.sinks.teams`` sends it. The card has a coloured header (raised warning:
attention, raised info: warning, cleared: good) with the title and the summary, the detail, and the
facts: condition, state, since, last seen, detected, the range not evaluated (skipped) and the id.
The title, the summary and the facts are our own text (``shared.health_conditions`` fills its sentences
with durations and times only), in TextBlocks and a FactSet, which Teams renders as Markdown (no
Markdown of ours). The detail is a TextRun like any value from the data (``shared.sinks.teams_card.run``:
never Markdown, no date/time function): it holds a command in backticks that must read as written.
The summary and the detail are clipped, so the message stays far below the size limit the rule card
keeps to (``MAX_MESSAGE_BYTES``).
"""

from __future__ import annotations

from typing import Any, Final

from shared.health import HealthAlert
from shared.sinks.shown import clip, health_facts
from shared.sinks.teams_card import (
    CARD_VERSION,
    CONTENT_TYPE,
    MAX_MESSAGE_BYTES,
    delay_notice,
    message_body,
    rich_text,
    run,
    text_block,
)

_MAX_SUMMARY: Final = 300
_MAX_DETAIL: Final = 2000


def health_message(alert: HealthAlert, *, max_bytes: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
    """The Workflows webhook body for the health alert ``alert``."""
    message = {
        "type": "message",
        "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": health_card(alert)}],
    }
    if len(message_body(message)) > max_bytes:
        raise ValueError(f"the health card of {alert.id} exceeds {max_bytes} bytes")
    return message


def health_card(alert: HealthAlert) -> dict[str, Any]:
    """The card alone."""
    body: list[dict[str, Any]] = [_header(alert), *delay_notice(alert.delay)]
    if alert.detail:
        body.append(rich_text(run(alert.detail, limit=_MAX_DETAIL)))
    body.append(_facts(alert))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
    }


def style(alert: HealthAlert) -> str:
    """The header's container style: what needs attention, what is worth knowing, what is over."""
    if alert.state == "cleared":
        return "good"
    return "attention" if alert.level == "warning" else "warning"


def _header(alert: HealthAlert) -> dict[str, Any]:
    return {
        "type": "Container",
        "style": style(alert),
        "bleed": True,
        "items": [
            text_block(alert.title, size="Large", weight="Bolder"),
            text_block(clip(alert.summary, _MAX_SUMMARY), spacing="None"),
        ],
    }


def _facts(alert: HealthAlert) -> dict[str, Any]:
    return {"type": "FactSet", "facts": [{"title": t, "value": clip(value)} for t, value in health_facts(alert)]}
