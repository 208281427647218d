"""The Teams card of a health alert: its own card, coloured by state and level, checked by the official
``adaptivecards`` library for every condition and state, and delivered by the same sink."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from shared.health import HealthAlert
from shared.health_document import CONDITIONS
from shared.sinks.health_card import health_card, health_message
from shared.sinks.teams import TeamsSink
from shared.sinks.teams_card import MAX_MESSAGE_BYTES, message_body, teams_message
from shared.sinks.transport import HttpTransport
from tests.sinks.health_alerts import STATES, every_health_alert, health_alert
from tests.sinks.hostile_rows import HOSTILE_VALUES
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, result_row
from tests.sinks.test_teams import (
    card_of,
    elements,
    markdown_texts,
    run_text,
    texts,
    validate_with_adaptivecards,
)


def header(card: dict) -> dict:
    (first, *_) = card["body"]
    assert first["type"] == "Container"
    return first


def test_every_condition_and_state_passes_the_adaptivecards_library(tmp_path: Path) -> None:
    messages = {name: health_message(alert) for name, alert in every_health_alert().items()}
    messages["delayed-no-last-seen"] = health_message(health_alert(delay=timedelta(hours=30), last_seen=None))
    hostile = " ".join(HOSTILE_VALUES.values())
    messages["hostile-text"] = health_message(replace(health_alert(), detail=hostile))

    results = validate_with_adaptivecards(tmp_path, messages)

    assert len(results) == len(CONDITIONS) * len(STATES) + 2
    for result in results:
        assert result["events"] == [], result
        assert result["version"] == "1.5"
        assert result["rendered"] is True
    assert results[0]["exit"] == 0


@pytest.mark.parametrize(
    ("condition", "state", "style"),
    [
        ("signins-silent", "raised", "attention"),
        ("ueba-silent", "raised", "attention"),
        ("skipped", "raised", "attention"),
        ("identity-silent", "raised", "warning"),
        *((condition, "cleared", "good") for condition in CONDITIONS),
    ],
)
def test_the_header_is_coloured_by_state_and_level(condition: str, state: str, style: str) -> None:
    alert = health_alert(condition, state)

    top = header(health_card(alert))

    assert top["style"] == style
    assert texts(top["items"]) == [alert.title, alert.summary]


def test_the_card_shows_title_summary_detail_and_facts() -> None:
    alert = health_alert("signins-silent", "raised")

    shown = texts(health_card(alert))

    assert shown[:3] == ["mfa-rejected health: signins-silent raised", alert.summary, alert.detail]
    assert shown[3:] == [
        "Condition: signins-silent",
        "State: raised (warning)",
        "Since: 2026-11-28 06:12:40 UTC",
        "Last seen: 2026-11-28 06:12:40 UTC",
        "Detected: 2026-11-28 10:05:30 UTC",
        f"Health id: {alert.id}",
    ]
    assert "actions" not in health_card(alert)


def test_skipped_shows_the_range_not_evaluated_and_cleared_shows_no_level() -> None:
    raised = texts(health_card(health_alert("skipped", "raised")))
    cleared = texts(health_card(health_alert("skipped", "cleared")))

    assert "Range not evaluated: 2026-11-20 09:00 – 2026-11-27 09:00 UTC" in raised
    assert "Last seen: none yet" in raised
    assert "State: cleared" in cleared
    assert not any("Range" in text for text in texts(health_card(health_alert("ueba-silent"))))


def test_a_delayed_health_alert_says_so() -> None:
    shown = texts(health_card(health_alert("ueba-silent", delay=timedelta(hours=26, minutes=3))))

    assert any(text.startswith("Delayed: delivered 1 d 2 h after detection") for text in shown)
    assert not any(text.startswith("Delayed") for text in texts(health_card(health_alert("ueba-silent"))))


def test_every_text_goes_through_the_card_helpers_without_markdown_of_ours() -> None:
    alert = health_alert("skipped", delay=timedelta(hours=2))
    card = health_card(alert)
    blocks = elements(card, "TextBlock")

    assert all(block["wrap"] is True for block in blocks)
    assert not any("**" in text or "](" in text for text in texts(card))
    # The detail (a command in backticks, to read as written) is a TextRun, never Markdown.
    assert [run_text(block) for block in elements(card, "RichTextBlock")] == [alert.detail]


@pytest.mark.parametrize("name", list(HOSTILE_VALUES))
def test_a_hostile_detail_is_never_markdown(name: str) -> None:
    value = HOSTILE_VALUES[name]
    alert = replace(health_alert(), detail=f"Detail: {value}")

    card = health_card(alert)

    for text in markdown_texts(card):
        assert value not in text
        assert not [word for word in ("evil", "{{") if word in text], text
    assert all("{{" not in run["text"] and "://" not in run["text"] for run in elements(card, "TextRun"))


def test_long_text_is_clipped_and_the_message_stays_far_under_the_limit() -> None:
    long = replace(health_alert(), summary="s" * 5000, detail="d" * 50_000)

    message = health_message(long)
    shown = texts(card_of(message))

    assert len(message_body(message)) < MAX_MESSAGE_BYTES // 2
    assert shown[1] == "s" * 299 + "…"
    assert shown[2] == "d" * 1999 + "…"
    with pytest.raises(ValueError, match="exceeds 1000 bytes"):
        health_message(long, max_bytes=1000)


def test_the_sink_delivers_the_health_card_and_still_the_rule_card() -> None:
    health = health_alert("identity-silent", "raised")
    rule = alert_of([result_row()])
    transport = HttpTransport(timeout=2, max_attempts=2, sleep=lambda _: None)
    with Receiver([Reply(202), Reply(202)]) as server:
        sink = TeamsSink(server.url("/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t"), transport=transport)
        sink.deliver(health)
        sink.deliver(rule)

    first, second = server.requests
    assert first.headers["content-type"] == "application/json; charset=utf-8"
    assert first.body == message_body(health_message(health))
    assert json.loads(first.body)["attachments"][0]["content"]["body"][0]["style"] == "warning"
    assert second.body == message_body(teams_message(rule))


def test_redelivery_from_stored_text_sends_the_same_card() -> None:
    alert = health_alert("skipped", "cleared", delay=timedelta(minutes=90))

    assert message_body(health_message(HealthAlert.from_json(alert.to_json()))) == message_body(health_message(alert))
