"""The Teams sink: the Workflows message, the Adaptive Card (checked by the official JS library), what
the analyst reads (one line per user and IP, marks, directory context), the buttons that pivot, the
28 KB limit, delivery to a loopback server, and that no value from the data is ever Markdown."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.alert_links import PortalLinks
from shared.alert_view import lines
from shared.alerts import Alert
from shared.display import printable
from shared.errors import DeliveryError
from shared.sinks.teams import TeamsSink
from shared.sinks.teams_card import MAX_MESSAGE_BYTES, adaptive_card, message_body, teams_message
from shared.sinks.transport import HttpTransport
from tests.sinks.hostile_rows import HOSTILE_VALUES, hostile_alert, hostile_row
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, many_rows, result_row

REPO = Path(__file__).resolve().parents[2]
VALIDATOR = REPO / "tests" / "js" / "validate_card.js"
MITRE = "https://attack.mitre.org/techniques/T1078/004/"
SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
JOINER = "\u2060"
RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-sec/providers/"
    "Microsoft.OperationalInsights/workspaces/sentinel-ws"
)
LINKS = PortalLinks(workspace_resource_id=RESOURCE)
ANN_ID = "33333333-3333-3333-3333-333333333333"


def card_of(message: dict[str, Any]) -> dict[str, Any]:
    return message["attachments"][0]["content"]


def run_text(block: dict[str, Any]) -> str:
    """What a RichTextBlock shows: its TextRuns' text, joined (without the invisible word joiners)."""
    return "".join(inline["text"] for inline in block["inlines"]).replace(JOINER, "")


def texts(node: Any) -> list[str]:
    """Every TextBlock text, RichTextBlock text and fact of a card, in order."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get("type") == "TextBlock":
            found.append(node["text"])
        if node.get("type") == "RichTextBlock":
            return [*found, run_text(node)]
        if node.get("type") == "FactSet":
            found.extend(f"{f['title']}: {f['value']}" for f in node["facts"])
        for value in node.values():
            found.extend(texts(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(texts(item))
    return found


def elements(node: Any, kind: str) -> list[dict[str, Any]]:
    """Every element of type ``kind`` in a card, in order."""
    if isinstance(node, list):
        return [found for item in node for found in elements(item, kind)]
    if not isinstance(node, dict):
        return []
    own = [node] if node.get("type") == kind else []
    return own + [found for value in node.values() for found in elements(value, kind)]


def markdown_texts(node: Any) -> list[str]:
    """Every string Teams renders as Markdown: TextBlock text, FactSet titles and values."""
    found = [block["text"] for block in elements(node, "TextBlock")]
    for facts in elements(node, "FactSet"):
        found += [text for fact in facts["facts"] for text in (fact["title"], fact["value"])]
    return found


def strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [text for value in node.values() for text in strings(value)]
    if isinstance(node, list):
        return [text for item in node for text in strings(item)]
    return [node] if isinstance(node, str) else []


def table_rows(card: dict[str, Any]) -> list[list[str]]:
    (table,) = [e for e in card["body"] if e["type"] == "Table"]
    return [[" ".join(texts(cell["items"])) for cell in row["cells"]] for row in table["rows"]]


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
    assert adaptive_card(alert)["actions"] == [
        {"type": "Action.OpenUrl", "title": "MITRE ATT&CK T1078.004", "url": MITRE}
    ]


def test_card_table_has_user_ip_score_first_and_last() -> None:
    alert = alert_of([result_row("ann@contoso.com", ip="198.51.100.4", score=8, first=3, last=41, roles=())])

    rows = table_rows(adaptive_card(alert))

    assert rows == [
        ["User", "IP address", "UEBA score", "First (UTC)", "Last (UTC)"],
        ["ann@contoso.com", "198.51.100.4", "8", "09:03:00", "09:41:00"],
    ]


def test_the_rules_duplicate_rows_are_one_line_showing_both_directory_records() -> None:
    # The rule's IdentityInfo join matches two spellings of one account: two rows, one user and IP.
    upper = result_row("john.doe@contoso.com", first=5, last=12, roles=("Global Administrator",), groups=("IT",))
    lower = result_row("john.doe@contoso.com", first=9, last=30, roles=("Helpdesk Administrator",), groups=())
    upper["AccountUPN"] = "John.Doe@contoso.com"
    card = adaptive_card(alert_of([upper, lower]))

    assert table_rows(card)[1:] == [
        ["john.doe@contoso.com Privileged role", "203.0.113.7", "5", "09:05:00", "09:30:00"]
    ]
    shown = texts(card)
    assert "1 user rejected MFA prompts from 1 IP address with a UEBA investigation score above the cutoff" in shown
    assert any(t.startswith("as John.Doe@contoso.com — Roles: Global Administrator · Groups: IT") for t in shown)
    assert any(t.startswith("as john.doe@contoso.com — Roles: Helpdesk Administrator · User type") for t in shown)


def test_headline_counts_match_the_table() -> None:
    rows = [result_row("ann@contoso.com", ip="198.51.100.4"), result_row("ann@contoso.com", ip="198.51.100.5")]
    card = adaptive_card(alert_of([*rows, result_row(), result_row()]))

    assert len(table_rows(card)) - 1 == 3
    assert texts(card)[1].startswith("2 users rejected MFA prompts from 3 IP addresses")


def test_vip_sensitive_and_privileged_users_are_marked_in_red() -> None:
    vip = result_row("ceo@contoso.com")
    vip["Tags"] = ["VIP", "Sensitive"]
    card = adaptive_card(alert_of([vip, result_row("ann@contoso.com", ip="198.51.100.4", roles=())]))

    rows = table_rows(card)  # the alert's order: by user
    assert rows[1][0] == "ann@contoso.com"
    assert rows[2][0] == "ceo@contoso.com VIP · Sensitive · Privileged role"
    (table,) = elements(card, "Table")
    badge = table["rows"][2]["cells"][0]["items"][1]["inlines"][0]
    assert (badge["color"], badge["weight"]) == ("Attention", "Bolder")


def test_card_shows_enrichment_when_present_and_nothing_when_absent() -> None:
    with_context = texts(adaptive_card(alert_of([result_row(roles=("Global Administrator",), groups=("IT",))])))
    without = texts(adaptive_card(alert_of([result_row(matched=False)])))

    assert "Directory context (IdentityInfo)" in with_context
    assert any("Roles: Global Administrator" in t and "Groups: IT" in t for t in with_context)
    assert not any("Directory context" in t or "Roles:" in t for t in without)
    assert "User links" in without  # the pivots still come, without directory context


def test_long_group_lists_are_cut() -> None:
    groups = tuple(f"Group {i}" for i in range(40))

    shown = texts(adaptive_card(alert_of([result_row(groups=groups)])))

    assert any("Group 4 (+35 more)" in t for t in shown)
    assert not any("Group 5," in t for t in shown)


def test_buttons_pivot_to_the_query_and_to_each_users_sign_ins_and_defender_page() -> None:
    alert = alert_of([result_row(), result_row(ip="198.51.100.9"), result_row("ann@contoso.com", user_id=ANN_ID)])

    card = adaptive_card(alert, links=LINKS)

    query = LINKS.query_link(alert.window)
    assert query is not None
    assert card["actions"][0] == {
        "type": "Action.OpenUrl",
        "title": "Open the query in Log Analytics",
        "url": query.url,
    }
    assert card["actions"][1]["url"] == MITRE
    buttons = [[(a["title"], a["url"]) for a in s["actions"]] for s in elements(card["body"], "ActionSet")]
    by_user = {line.user: line for line in reversed(lines(alert))}
    # Once per user, in the alert's order (ann, then john): john's second IP address repeats no buttons.
    assert buttons == [
        [(link.title, link.url) for link in LINKS.user_links(by_user["ann@contoso.com"])],
        [(link.title, link.url) for link in LINKS.user_links(by_user["john.doe@contoso.com"])],
    ]
    assert [title for title, _ in buttons[0]] == ["Sign-in logs (Entra)", "User page (Defender XDR)"]
    assert buttons[0][0][1].endswith(f"/userId/{ANN_ID}")


@pytest.mark.parametrize("count", [1, 100, 1000])
@pytest.mark.parametrize("links", [PortalLinks(), LINKS], ids=["no-workspace", "workspace"])
def test_message_stays_under_the_teams_size_limit(count: int, links: PortalLinks) -> None:
    message = teams_message(alert_of(many_rows(count)), links=links)

    assert len(message_body(message)) <= MAX_MESSAGE_BYTES < 28 * 1000


def test_lines_that_do_not_fit_are_counted() -> None:
    alert = alert_of(many_rows(100))

    card = card_of(teams_message(alert, links=LINKS))

    shown = len(table_rows(card)) - 1
    assert 10 < shown < 100
    assert f"… and {100 - shown} more (a Teams message is limited to 28 KB)" in texts(card)
    assert len(elements(card["body"], "ActionSet")) == shown  # each line shown keeps its buttons
    # The most lines that fit: one more would not.
    bigger = teams_message(alert, max_bytes=len(message_body(teams_message(alert, links=LINKS))), links=LINKS)
    assert len(table_rows(card_of(bigger))) - 1 == shown


def test_merged_rows_count_as_one_line_against_the_limit() -> None:
    doubled = [row for row in many_rows(100) for row in (row, {**row, "AccountUPN": row["AccountUPN"].upper()})]

    card = card_of(teams_message(alert_of(doubled)))

    shown = len(table_rows(card)) - 1
    assert f"… and {100 - shown} more (a Teams message is limited to 28 KB)" in texts(card)


def test_no_more_note_when_everything_fits() -> None:
    assert not any("more" in t and t.startswith("…") for t in texts(adaptive_card(alert_of(many_rows(3)))))


def spelled_twice() -> Alert:
    upper = result_row(roles=("Global Administrator",))
    upper["AccountUPN"] = "John.Doe@contoso.com"
    upper["Tags"] = ["VIP"]
    return alert_of([upper, result_row(roles=())])


def test_card_passes_the_adaptivecards_library_for_every_kind_of_alert(tmp_path: Path) -> None:
    guid_hostile = [{**row, "UserId": ANN_ID} for row in hostile_alert().rows]
    messages = {
        "one-row": teams_message(alert_of([result_row()])),
        "hundred-rows": teams_message(alert_of(many_rows(100)), links=LINKS),
        "no-identityinfo": teams_message(alert_of([result_row(matched=False)])),
        "spelled-twice": teams_message(spelled_twice(), links=LINKS),
        "hostile": teams_message(hostile_alert(), links=LINKS),
        "hostile-with-links": teams_message(alert_of(guid_hostile), links=LINKS),
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


def test_the_sink_passes_its_links_to_the_card() -> None:
    alert = alert_of([result_row()])
    transport = HttpTransport(timeout=2, max_attempts=2, sleep=lambda _: None)
    with Receiver([Reply(202)]) as server:
        TeamsSink(server.url(), transport=transport, links=LINKS).deliver(alert)

    (request,) = server.requests
    assert request.body == message_body(teams_message(alert, links=LINKS))
    assert json.loads(request.body)["attachments"][0]["content"]["actions"][0]["title"] == (
        "Open the query in Log Analytics"
    )


# Words of the hostile values that our own text never uses: none may reach a Markdown string.
_OWN_WORDS = {"more", "line", "item", "quote", "code", "link", "Tags", "https", "user"}


def hostile_words(value: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]{4,}|[^\x00-\x7f]+", value) if w not in _OWN_WORDS} | {"{{", "${"}


def our_urls(alert: Alert) -> set[str]:
    built = {link.url for line in lines(alert) for link in LINKS.user_links(line)}
    query = LINKS.query_link(alert.window)
    return built | {MITRE, SCHEMA} | ({query.url} if query else set())


@pytest.mark.parametrize("guid", [False, True], ids=["text-user-id", "guid-user-id"])
@pytest.mark.parametrize("name", list(HOSTILE_VALUES))
def test_no_value_from_the_data_is_ever_markdown_or_a_link(name: str, guid: bool) -> None:
    value = HOSTILE_VALUES[name]
    row = hostile_row(value)
    if guid:  # the user gets buttons whose URLs carry the hostile UPN, encoded
        row["UserId"] = ANN_ID
    alert = alert_of([row])

    card = card_of(teams_message(alert, links=LINKS))

    for text in markdown_texts(card):
        assert value not in text
        assert printable(value) not in text
        assert not {word for word in hostile_words(value) if word in text}, text
    for inline in elements(card, "TextRun"):
        # No date/time function, no scheme a client could link, no control or bidirectional character.
        assert not re.search(r"\{\{|\}\}|://|[\x00-\x1f\x7f\u2028\u202a-\u202e]", inline["text"]), inline
    urls = {url for text in strings(card) for url in re.findall(r"https?://[^\s\"'<>)\]]+", text)}
    assert urls <= our_urls(alert)
    actions = elements(card, "Action.OpenUrl")
    assert {a["url"] for a in actions} <= our_urls(alert)
    assert len(actions) == (4 if guid else 2)


def test_a_hostile_value_is_shown_as_written() -> None:
    value = HOSTILE_VALUES["markdown link"]

    card = adaptive_card(alert_of([hostile_row(value)]))

    assert table_rows(card)[1][0].startswith(f"{value}0@{value}")
    assert any(f"Groups: {value}, VIP {value}" in text for text in texts(card))
    date = HOSTILE_VALUES["adaptive template"]
    assert table_rows(adaptive_card(alert_of([hostile_row(date)])))[1][1] == f"{date}0"


def test_every_hostile_column_at_once_stays_inert() -> None:
    card = adaptive_card(hostile_alert(), links=LINKS)

    for text in markdown_texts(card):
        assert not [word for word in ("evil", "{{", "urgent") if word in text], text
    assert len(table_rows(card)) - 1 == len(HOSTILE_VALUES)
