"""The Slack message: Block Kit checked by Slack's own SDK models and by Slack's documented limits,
the content an analyst needs, and no value from the data ever read as mrkdwn (a link, a mention,
formatting, a date token)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block

from shared.alert_links import Link, PortalLinks
from shared.alert_view import lines
from shared.alerts import Alert
from shared.sinks.slack_blocks import escape, health_message, link_text, message_body, slack_message
from tests.sinks.health_alerts import every_health_alert, health_alert
from tests.sinks.hostile_rows import HOSTILE_VALUES, hostile_alert, hostile_row
from tests.sinks.rows import alert_of, many_rows, result_row

WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel"
    "/providers/Microsoft.OperationalInsights/workspaces/law-sentinel"
)
LINKS = PortalLinks(workspace_resource_id=WORKSPACE)
MITRE = "https://attack.mitre.org/techniques/T1078/004/"
OUR_SITES = (
    "https://attack.mitre.org/",
    "https://entra.microsoft.com/",
    "https://security.microsoft.com/",
    "https://portal.azure.com/",
)
GUID = "11111111-1111-1111-1111-111111111111"
# A link we build, as mrkdwn: <url|title>, nothing in either that could end it.
LINK_TOKEN = re.compile(r"<(https://[^<>|\s]+)\|([^<>|]+)>")


def text_objects(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") in ("plain_text", "mrkdwn"):
            yield node
        for value in node.values():
            yield from text_objects(value)
    elif isinstance(node, list):
        for item in node:
            yield from text_objects(item)


def shown(message: dict[str, Any]) -> list[str]:
    return [obj["text"] for obj in text_objects(message["blocks"])]


def mrkdwn_texts(message: dict[str, Any]) -> list[str]:
    return [obj["text"] for obj in text_objects(message["blocks"]) if obj["type"] == "mrkdwn"]


def line_sections(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        b
        for b in message["blocks"]
        if b["type"] == "section" and any("UEBA score" in t for t in shown({"blocks": [b]}))
    ]


def validate_with_slack_sdk(message: dict[str, Any]) -> None:
    """Slack's SDK models: each block parses to its model, keeps every key we sent (an unknown or
    misspelt key would be dropped) and passes the model's validators (limits included)."""
    for block in message["blocks"]:
        parsed = Block.parse(block)
        assert parsed is not None, block
        parsed.validate_json()
        assert parsed.to_dict() == block
        for part in [getattr(parsed, "text", None), *(getattr(parsed, "fields", None) or [])]:
            if part is not None:
                part.validate_json()
        for element in getattr(parsed, "elements", None) or []:
            element.validate_json()


def assert_within_slack_limits(message: dict[str, Any]) -> None:
    """Slack's documented limits (docs.slack.dev Block Kit reference), checked by ourselves too."""
    blocks = message["blocks"]
    assert 1 <= len(blocks) <= 50
    for obj in text_objects(blocks):
        assert 1 <= len(obj["text"]) <= 3000
    for block in blocks:
        if block["type"] == "header":
            assert block["text"]["type"] == "plain_text"
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section":
            assert "text" in block or "fields" in block
            assert len(block.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        if block["type"] == "context":
            assert 1 <= len(block["elements"]) <= 10
    assert isinstance(message["text"], str)
    assert message["text"]


def assert_no_markup_from_data(message: dict[str, Any]) -> None:
    """Every mrkdwn text (and the top-level text) holds only links we build and escaped text: no
    ``<`` or ``>`` outside a link, every ``&`` an entity; every link to a portal of ours."""
    for text in [*mrkdwn_texts(message), message["text"]]:
        for url, title in LINK_TOKEN.findall(text):
            assert url.startswith(OUR_SITES), url
            assert title in ("T1078.004 Valid Accounts: Cloud Accounts", "Open the query in Log Analytics") or (
                title in ("Sign-in logs (Entra)", "User page (Defender XDR)")
            )
        rest = LINK_TOKEN.sub("", text)
        assert "<" not in rest, text
        assert ">" not in rest, text
        assert re.fullmatch(r"([^&]|&(amp|lt|gt);)*", rest, re.DOTALL), text
    assert "<" not in message["text"]


def every_message() -> dict[str, dict[str, Any]]:
    late = alert_of([result_row()]).found_late(timedelta(hours=1, minutes=5)).delayed(timedelta(days=2))
    messages = {
        "one-row": slack_message(alert_of([result_row()]), links=LINKS),
        "one-row-no-workspace": slack_message(alert_of([result_row()])),
        "many-rows-200": slack_message(alert_of(many_rows(200)), links=LINKS),
        "hostile": slack_message(hostile_alert(), links=LINKS),
        "late-and-delayed": slack_message(late, links=LINKS),
        "no-identityinfo": slack_message(alert_of([result_row(matched=False)]), links=LINKS),
    }
    messages |= {f"health-{name}": health_message(alert) for name, alert in every_health_alert().items()}
    messages["health-delayed"] = health_message(health_alert(delay=timedelta(hours=30), last_seen=None))
    return messages


@pytest.mark.parametrize(("name", "message"), every_message().items(), ids=list(every_message()))
def test_every_message_is_valid_block_kit_within_slack_limits(name: str, message: dict[str, Any]) -> None:
    validate_with_slack_sdk(message)
    assert_within_slack_limits(message)
    assert_no_markup_from_data(message)
    assert set(message) == {"text", "blocks"}
    # Links are mrkdwn links: a link button needs an interactivity Request URL, or Slack shows a warning.
    assert {block["type"] for block in message["blocks"]} <= {"header", "section", "context", "divider"}


def test_the_sdk_check_catches_a_broken_block() -> None:
    # Guards the guard: a header over 150 characters, a misspelt key.
    with pytest.raises(SlackObjectFormationError, match="150"):
        validate_with_slack_sdk({"blocks": [{"type": "header", "text": {"type": "plain_text", "text": "x" * 151}}]})
    text = {"type": "plain_text", "text": "x"}
    with pytest.raises(AssertionError):
        validate_with_slack_sdk({"blocks": [{"type": "section", "text": text, "feilds": [text]}]})


def test_the_message_shows_title_headline_facts_and_the_mitre_link() -> None:
    alert = alert_of([result_row(), result_row("ann@contoso.com", ip="198.51.100.4", matched=False)])

    message = slack_message(alert, links=LINKS)
    texts = shown(message)

    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "MFA Rejected by User", "emoji": False},
    }
    assert (
        texts[1] == "2 users rejected MFA prompts from 2 IP addresses with a UEBA investigation score above the cutoff"
    )
    for fact in (
        "Severity: :large_orange_circle: Medium",
        "Window: 2026-11-28 09:00–10:00 UTC",
        "Detected: 2026-11-28 10:05:30 UTC",
        "Tactic: Initial Access",
        "Rule: MFA Rejected by User v2.0.4",
        f"Alert id: {alert.id}",
    ):
        assert fact in texts
    assert f"<{MITRE}|T1078.004 Valid Accounts: Cloud Accounts>" in mrkdwn_texts(message)[0]
    assert mrkdwn_texts(message)[0].startswith("MITRE ATT&amp;CK technique: ")
    assert message["text"] == (
        "MFA Rejected by User: 2 users rejected MFA prompts from 2 IP addresses with a UEBA investigation "
        "score above the cutoff (2026-11-28 09:00–10:00 UTC)"
    )


def test_each_line_shows_user_ip_score_times_marks_and_directory() -> None:
    row = result_row("ann@contoso.com", ip="198.51.100.4", score=8, first=3, last=41, groups=("IT",))
    row["Tags"] = ["VIP user", "Sensitive"]

    message = slack_message(alert_of([row]))
    (section,) = line_sections(message)

    assert section["text"]["text"] == "⚠️ VIP · SENSITIVE · PRIVILEGED ROLE\nann@contoso.com from 198.51.100.4"
    assert [f["text"] for f in section["fields"]] == [
        "UEBA score: 8",
        "First: 2026-11-28 09:03:00 UTC",
        "Last: 2026-11-28 09:41:00 UTC",
    ]
    assert (
        "Directory (ann@contoso.com): Roles: Global Administrator; Groups: IT; User type: Member; "
        "Tags: VIP user, Sensitive; Account control: Member"
    ) in shown(message)


def test_a_line_without_marks_or_directory_has_no_context_block() -> None:
    message = slack_message(alert_of([result_row(matched=False, user_id="not-a-guid")]))

    (section,) = line_sections(message)
    assert section["text"]["text"] == "john.doe@contoso.com from 203.0.113.7"
    assert message["blocks"][-1] is section


def test_two_spellings_of_one_user_are_one_line_with_both_directory_records() -> None:
    first = result_row("John@contoso.com", groups=("IT",))
    second = result_row("John@contoso.com", groups=("Finance",))
    second["AccountUPN"] = "john@contoso.com"

    message = slack_message(alert_of([first, second]))

    assert len(line_sections(message)) == 1
    assert "Result rows: 2 (directory records merged)" in shown(message)
    directory = [t for t in shown(message) if t.startswith("Directory")]
    assert [d.split(":")[0] for d in directory] == ["Directory (John@contoso.com)", "Directory (john@contoso.com)"]


def test_long_lists_and_many_directory_records_are_cut() -> None:
    rows = []
    for i in range(14):
        row = result_row(groups=tuple(f"Group {n}" for n in range(40)))
        row["AccountUPN"] = f"spelling{i}@contoso.com"
        rows.append(row)

    message = slack_message(alert_of(rows), links=LINKS)
    (context,) = [b for b in message["blocks"] if b["type"] == "context"]

    assert len(context["elements"]) == 10
    assert context["elements"][-2]["text"] == "+6 more directory records"
    assert context["elements"][-1]["type"] == "mrkdwn"  # the user's links are kept
    assert "Groups: Group 0, Group 1, Group 2, Group 3, Group 4 (+35 more)" in context["elements"][0]["text"]


def test_long_values_are_clipped_within_the_limits() -> None:
    message = slack_message(alert_of([result_row("x" * 5000 + "@contoso.com", ip="y" * 5000)]), links=LINKS)

    (section,) = line_sections(message)
    assert len(section["text"]["text"]) < 500
    assert "…" in section["text"]["text"]
    assert_within_slack_limits(message)
    # The Defender link carries the UPN: over 3000 characters, it is left out; the Entra link stays.
    user_links = mrkdwn_texts(message)[-1]
    assert "Sign-in logs (Entra)" in user_links
    assert "Defender" not in user_links


def test_links_per_user_and_the_query_link_are_ours_and_present() -> None:
    alert = alert_of([result_row()])
    (line,) = lines(alert)
    expected = [*LINKS.user_links(line), LINKS.query_link(alert.window)]

    message = slack_message(alert, links=LINKS)
    found = [
        (title, url.replace("&amp;", "&")) for text in mrkdwn_texts(message) for url, title in LINK_TOKEN.findall(text)
    ]

    assert found[0] == ("T1078.004 Valid Accounts: Cloud Accounts", MITRE)
    assert sorted(found[1:]) == sorted((link.title, link.url) for link in expected if link is not None)


def test_without_a_workspace_there_is_no_query_link() -> None:
    message = slack_message(alert_of([result_row()]))

    assert not any("Log Analytics" in text for text in mrkdwn_texts(message))


@pytest.mark.parametrize("count", [20, 21, 22, 23, 200])
def test_lines_that_do_not_fit_in_50_blocks_are_counted(count: int) -> None:
    alert = alert_of(many_rows(count))

    message = slack_message(alert, links=LINKS)
    shown_lines = len(line_sections(message))

    assert len(message["blocks"]) <= 50
    assert message["text"].startswith(f"MFA Rejected by User: {count} users rejected MFA prompts")
    if shown_lines < count:
        assert shown(message)[-1] == f"… and {count - shown_lines} more (a Slack message is limited to 50 blocks)"
        assert len(message["blocks"]) >= 49  # full: one more line (two blocks) would not fit
    else:
        assert not any(text.startswith("… and") for text in shown(message))


def test_late_and_delayed_notices() -> None:
    alert = alert_of([result_row()]).found_late(timedelta(hours=1, minutes=5)).delayed(timedelta(days=2))

    message = slack_message(alert)
    texts = shown(message)

    assert any(t.startswith(":warning: Late: UEBA/sign-in data arrived after the first evaluation") for t in texts)
    assert any("found 1 h 5 min after the window's end" in t for t in texts)
    assert any(t.startswith(":hourglass: Delayed: delivered 2 d after detection") for t in texts)
    assert message["text"].startswith("Late data: MFA Rejected by User")
    assert not any(t.startswith((":warning:", ":hourglass:")) for t in shown(slack_message(alert_of([result_row()]))))


def test_hostile_values_are_shown_only_as_plain_text() -> None:
    message = slack_message(hostile_alert(), links=LINKS)

    # What the reader sees of every mrkdwn text: our link titles and our text, the URLs aside.
    mrkdwn = " ".join(LINK_TOKEN.sub(r"\2", text) for text in [*mrkdwn_texts(message), message["text"]])
    for fragment in ("evil", "channel", "here", "U0123ABC", "C0123ABC", "date", "urgent", "script", "Heading"):
        assert fragment not in mrkdwn
    for obj in text_objects(message["blocks"]):
        if obj["type"] == "plain_text" and obj["emoji"]:
            assert obj["text"].startswith("Severity: "), obj  # emoji shortcodes only in our own text
    # Shown as written: the mention and the link appear literally in plain text.
    texts = " ".join(shown(message))
    assert HOSTILE_VALUES["slack mention"] in texts
    assert HOSTILE_VALUES["slack link"] in texts
    assert len(line_sections(message)) == len(HOSTILE_VALUES)


def test_control_and_bidi_characters_never_reach_slack() -> None:
    message = slack_message(hostile_alert(), links=LINKS)

    for text in shown(message):
        bad = [c for c in text if c != "\n" and (unicodedata.category(c) in ("Cc", "Zl", "Zp") or c == "\u202e")]
        assert bad == [], text
    assert "a\\x00b\\x1b[31mred" in " ".join(shown(message))


def test_a_hostile_upn_reaches_a_link_only_percent_encoded() -> None:
    row = hostile_row(HOSTILE_VALUES["slack link"])
    row["UserId"] = GUID

    message = slack_message(alert_of([row]), links=LINKS)

    assert_no_markup_from_data(message)
    (links_text,) = [t for t in mrkdwn_texts(message) if "Defender" in t]
    assert "upn=%3Chttps%3A%2F%2Fevil.example%2Fm%7Cclick%20here%3E0%40" in links_text


@pytest.mark.parametrize(
    "url",
    ["https://a.example/x|y", "https://a.example/x>y", "https://a.example/x y", "http://a.example/", "javascript:x"],
)
def test_a_link_that_could_break_out_of_mrkdwn_is_left_out(url: str) -> None:
    assert link_text(Link("title", url)) is None


def test_escape_converts_slacks_three_control_characters() -> None:
    assert escape("a & <b> &amp;") == "a &amp; &lt;b&gt; &amp;amp;"


@pytest.mark.parametrize(
    ("condition", "state", "emoji"),
    [
        ("signins-silent", "raised", ":rotating_light:"),
        ("identity-silent", "raised", ":information_source:"),
        ("skipped", "cleared", ":white_check_mark:"),
    ],
)
def test_a_health_alert_has_its_own_message(condition: str, state: str, emoji: str) -> None:
    alert = health_alert(condition, state)

    message = health_message(alert)
    texts = shown(message)

    assert texts[0] == f"{emoji} {alert.title}"
    assert texts[1:3] == [alert.summary, alert.detail]
    assert f"Condition: {condition}" in texts
    assert f"Health id: {alert.id}" in texts
    assert message["text"] == escape(f"{alert.title}: {alert.summary}")
    assert mrkdwn_texts(message) == []


def test_a_delayed_health_alert_says_so() -> None:
    texts = shown(health_message(health_alert(delay=timedelta(hours=30), last_seen=None)))

    assert any(t.startswith(":hourglass: Delayed: delivered 1 d 6 h after detection") for t in texts)
    assert "Last seen: none yet" in texts


def test_redelivery_from_stored_text_sends_the_same_message() -> None:
    alert = alert_of(many_rows(30))

    again = Alert.from_json(alert.to_json())

    assert message_body(slack_message(again, links=LINKS)) == message_body(slack_message(alert, links=LINKS))
