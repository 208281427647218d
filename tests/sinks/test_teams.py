"""The Teams sink: the Workflows message, the Adaptive Card (checked by the official JS library), the
28 KB limit, and delivery to a loopback server."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.alerts import Alert
from shared.errors import DeliveryError
from shared.sinks.teams import TeamsSink
from shared.sinks.teams_card import MAX_MESSAGE_BYTES, adaptive_card, message_body, teams_message
from shared.sinks.transport import HttpTransport
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, many_rows, result_row

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "tests" / "js" / "validate_card.js"
MITRE = "https://attack.mitre.org/techniques/T1078/004/"


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    return message["attachments"][0]["content"]


def texts(node: Any) -> list[str]:
    """Every TextBlock text and fact of a card, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "FactSet":
            found.extend(f"{f['title']}: {f['value']}" for f in node["facts"])
        for value in node.values():
            found.extend(texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(texts(item))
    return found


def table_rows(card: dict[str, Any]) -> list[list[str]]:
    (table,) = [e for e in card["body"] if e["type"] == "Table"]
    return [[cell["items"][0]["text"] for cell in row["cells"]] for row in table["rows"]]


def validate_with_adaptivecards(tmp_path: Path, messages: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is required: install Node.js 20+ and run `npm ci` in the repo"
    assert (REPO / "node_modules" / "adaptivecards").is_dir(), "run `npm ci` in the repo (adaptivecards, jsdom)"
    files = []
    for name, message in messages.items():
        path = tmp_path / f"{name}.json"
        path.write_bytes(message_body(message))
        files.append(str(path))
    done = subprocess.run(
        [node, str(VALIDATOR), *files], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(results) == len(files), done.stderr
    return [{**r, "exit": done.returncode} for r in results]


def test_message_is_a_workflows_adaptive_card_envelope() -> None:
    message = teams_message(alert_of([result_row()]))

    assert message["type"] == "message"
    (attachment,) = message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert attachment["contentUrl"] is None
    assert attachment["content"]["type"] == "AdaptiveCard"
    assert float(attachment["content"]["version"]) <= 1.5


def test_card_shows_title_severity_window_tactic_and_mitre_link() -> None:
    alert = alert_of([result_row()])

    shown = texts(adaptive_card(alert))

    assert shown[0] == "MFA Rejected by User"
    assert "Severity: Medium" in shown
    assert "Window: 2026-11-28 09:00–10:00 UTC" in shown
    assert "Tactic: Initial Access" in shown
    assert f"Alert id: {alert.id}" in shown
    assert any(f"[T1078.004 Valid Accounts: Cloud Accounts]({MITRE})" in text for text in shown)
    assert adaptive_card(alert)["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "MITRE ATT&CK T1078.004",
        "url": MITRE,
    }


def test_card_table_has_user_ip_score_first_and_last() -> None:
    alert = alert_of([result_row("ann@contoso.com", ip="198.51.100.4", score=8, first=3, last=41)])

    rows = table_rows(adaptive_card(alert))

    assert rows == [
        ["User", "IP address", "UEBA score", "First (UTC)", "Last (UTC)"],
        ["ann@contoso.com", "198.51.100.4", "8", "09:03:00", "09:41:00"],
    ]


def test_card_shows_enrichment_when_present_and_nothing_when_absent() -> None:
    with_context = texts(adaptive_card(alert_of([result_row(roles=("Global Administrator",), groups=("IT",))])))
    without = texts(adaptive_card(alert_of([result_row(matched=False)])))

    assert "Directory context (IdentityInfo)" in with_context
    assert any("Roles: Global Administrator" in t and "Groups: IT" in t for t in with_context)
    assert not any("Directory context" in t or "Roles:" in t for t in without)


def test_long_group_lists_are_cut() -> None:
    groups = tuple(f"Group {i}" for i in range(40))

    shown = texts(adaptive_card(alert_of([result_row(groups=groups)])))

    assert any("Group 4 (+35 more)" in t for t in shown)
    assert not any("Group 5," in t for t in shown)


@pytest.mark.parametrize("count", [1, 100, 1000])
def test_message_stays_under_the_teams_size_limit(count: int) -> None:
    message = teams_message(alert_of(many_rows(count)))

    assert len(message_body(message)) <= MAX_MESSAGE_BYTES < 28 * 1000


def test_rows_that_do_not_fit_are_counted() -> None:
    alert = alert_of(many_rows(100))

    card = card_of(teams_message(alert))

    shown = len(table_rows(card)) - 1
    assert 10 < shown < 100
    assert f"… and {100 - shown} more (a Teams message is limited to 28 KB)" in texts(card)
    # The most rows that fit: one more would not.
    bigger = teams_message(alert, max_bytes=len(message_body(teams_message(alert))))
    assert len(table_rows(card_of(bigger))) - 1 == shown


def test_no_more_note_when_everything_fits() -> None:
    assert not any("more" in t and t.startswith("…") for t in texts(adaptive_card(alert_of(many_rows(3)))))


def test_card_passes_the_adaptivecards_library_for_one_and_a_hundred_rows(tmp_path: Path) -> None:
    messages = {
        "one-row": teams_message(alert_of([result_row()])),
        "hundred-rows": teams_message(alert_of(many_rows(100))),
        "no-identityinfo": teams_message(alert_of([result_row(matched=False)])),
        "late-and-delayed": teams_message(
            alert_of([result_row()]).found_late(timedelta(hours=1, minutes=5)).delayed(timedelta(days=2))
        ),
    }

    results = validate_with_adaptivecards(tmp_path, messages)

    for result in results:
        assert result["events"] == [], result
        assert result["version"] == "1.5"
        assert result["rendered"] is True
    assert results[0]["exit"] == 0


def test_the_card_check_catches_a_broken_card(tmp_path: Path) -> None:
    # Guards the guard: a newer version, an unknown property and a bad value are all reported.
    card = adaptive_card(alert_of([result_row()]))
    card["version"] = "1.6"
    card["body"][0]["items"][0]["wieght"] = "Bolder"
    card["body"][1]["facts"][0]["value"] = None
    message = {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }

    (result,) = validate_with_adaptivecards(tmp_path, {"broken": message})

    events = {e["event"] for e in result["events"]}
    assert "UnsupportedCardVersion" in events
    assert "UnknownProperty" in events
    assert result["exit"] == 1


def test_delivers_the_card_to_the_workflow(tmp_path: Path) -> None:
    alert = alert_of(many_rows(2))
    transport = HttpTransport(timeout=2, max_attempts=2, sleep=lambda _: None)
    with Receiver([Reply(202)]) as server:
        TeamsSink(server.url("/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t"), transport=transport).deliver(
            alert
        )

    (request,) = server.requests
    assert request.path == "/workflows/abc/triggers/manual/paths/invoke?sig=s3cr3t"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(request.body) == teams_message(alert)
    assert request.body == message_body(teams_message(alert))


def test_redelivery_from_stored_text_sends_the_same_card() -> None:
    alert = alert_of(many_rows(5))

    assert message_body(teams_message(Alert.from_json(alert.to_json()))) == message_body(teams_message(alert))


def test_teams_rejection_is_permanent() -> None:
    transport = HttpTransport(timeout=2, max_attempts=3, sleep=lambda _: None)
    with (
        Receiver([Reply(400, body=b'{"error":{"code":"InvalidRequestContent"}}')]) as server,
        pytest.raises(DeliveryError, match="HTTP 400 Bad Request, not retried") as caught,
    ):
        TeamsSink(server.url(), transport=transport).deliver(alert_of([result_row()]))

    assert caught.value.permanent is True
    assert len(server.requests) == 1


def test_a_late_alert_says_its_data_arrived_after_the_first_evaluation() -> None:
    late = alert_of([result_row()]).found_late(timedelta(hours=1, minutes=5))
    shown = texts(card_of(teams_message(late)))
    assert any(text.startswith("Late: UEBA/sign-in data arrived after the first evaluation") for text in shown)
    assert any("found 1 h 5 min after the window's end" in text for text in shown)
    assert not any(text.startswith("Late:") for text in texts(card_of(teams_message(alert_of([result_row()])))))
