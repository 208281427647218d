"""The Jira description: valid by Atlassian's own ADF JSON Schema (@atlaskit/adf-schema), the same
content as the other destinations, bounded under Jira's 32,767-character limit, and no value from the
data ever linked, marked or left with a control character."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shared.alert_links import PortalLinks
from shared.alert_view import lines
from shared.alerts import Alert, technique_url
from shared.sinks.jira_adf import MAX_DESCRIPTION_CHARS, description, document_size, health_document
from tests.sinks.health_alerts import every_health_alert, health_alert
from tests.sinks.hostile_rows import EVIL, HOSTILE_VALUES, hostile_alert, hostile_row
from tests.sinks.rows import alert_of, many_rows, result_row

REPO = Path(__file__).resolve().parents[2]
ADF_SCHEMA = REPO / "node_modules" / "@atlaskit" / "adf-schema" / "dist" / "json-schema" / "v1" / "full.json"
WORKSPACE = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sec"
    "/providers/Microsoft.OperationalInsights/workspaces/sentinel"
)
LINKS = PortalLinks(workspace_resource_id=WORKSPACE)
MITRE = technique_url("T1078.004")
# What an ADF text node must never carry: C0/C1 controls, DEL, line/paragraph separators, bidi controls.
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@functools.cache
def adf_validator() -> jsonschema.Draft4Validator:
    if not ADF_SCHEMA.is_file():
        pytest.fail(f"{ADF_SCHEMA.relative_to(REPO)} is missing: run `npm ci` in the repo (@atlaskit/adf-schema)")
    schema = json.loads(ADF_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def assert_valid_adf(document: dict[str, Any]) -> None:
    errors = sorted(adf_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    assert errors == [], [f"{list(e.absolute_path)}: {e.message[:200]}" for e in errors[:3]]


def text_nodes(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if node.get("type") == "text":
            yield node
        for value in node.values():
            yield from text_nodes(value)
    elif isinstance(node, list):
        for item in node:
            yield from text_nodes(item)


def shown_text(document: dict[str, Any]) -> str:
    return "".join(node["text"] for node in text_nodes(document))


def hrefs(document: dict[str, Any]) -> list[str]:
    return [m["attrs"]["href"] for n in text_nodes(document) for m in n.get("marks", []) if m["type"] == "link"]


def line_items(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The bullet list after the "Users and IP addresses" heading: one item per line."""
    content = document["content"]
    (at,) = [i for i, n in enumerate(content) if n["type"] == "heading" and "Users and IP" in shown_text(n)]
    following = content[at + 1]
    return following["content"] if following["type"] == "bulletList" else []


def late_and_delayed_alert() -> Alert:
    alert = alert_of([result_row()])
    object.__setattr__(alert, "late", timedelta(hours=3))
    object.__setattr__(alert, "delay", timedelta(hours=2, minutes=5))
    return alert


RULE_ALERTS: dict[str, Callable[[], Alert]] = {
    "one row": lambda: alert_of([result_row()]),
    "300 rows": lambda: alert_of(many_rows(300)),
    "hostile": hostile_alert,
    "late and delayed": late_and_delayed_alert,
    "no user links": lambda: alert_of([result_row(user_id="not-a-guid")]),
}


@pytest.mark.parametrize("name", sorted(RULE_ALERTS))
@pytest.mark.parametrize("links", [LINKS, PortalLinks()], ids=["with workspace", "without"])
def test_rule_descriptions_are_valid_by_atlassians_adf_schema(name: str, links: PortalLinks) -> None:
    assert_valid_adf(description(RULE_ALERTS[name](), links=links))


@pytest.mark.parametrize("name", sorted(every_health_alert()))
def test_every_health_description_is_valid_adf(name: str) -> None:
    alert = every_health_alert()[name]

    document = description(alert)

    assert_valid_adf(document)
    assert document == health_document(alert)
    assert alert.summary in shown_text(document)
    assert f"Health id: {alert.id}" in shown_text(document)


def test_the_schema_check_is_real_it_rejects_an_empty_text_node_and_a_bad_mark() -> None:
    empty = {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": ""}]}]}
    bad_mark = json.loads(json.dumps(empty).replace('"text": ""', '"text": "x", "marks": [{"type": "blink"}]'))

    assert list(adf_validator().iter_errors(empty))
    assert list(adf_validator().iter_errors(bad_mark))


def test_description_shows_headline_facts_and_mitre_link() -> None:
    alert = alert_of([result_row(), result_row("ann@contoso.com", ip="198.51.100.4")])

    document = description(alert, links=LINKS)
    text = shown_text(document)

    assert document["content"][0] == {
        "type": "heading",
        "attrs": {"level": 2},
        "content": [{"type": "text", "text": "MFA Rejected by User"}],
    }
    assert "2 users rejected MFA prompts from 2 IP addresses with a UEBA investigation score above the cutoff." in text
    for fact in ("Severity: Medium", "Window: 2026-11-28 09:00–10:00 UTC", "Tactics: Initial Access"):
        assert fact in text
    assert f"Alert id: {alert.id}" in text
    assert "MITRE ATT&CK: T1078.004 Valid Accounts: Cloud Accounts" in text
    assert MITRE in hrefs(document)


def test_one_entry_per_line_with_marks_directory_context_and_user_links() -> None:
    vip = {**result_row(), "AccountUPN": "John.Doe@contoso.com", "Tags": ["VIP user", "Sensitive"]}
    alert = alert_of([result_row(), vip, result_row("ann@contoso.com", ip="198.51.100.4", matched=False)])

    document = description(alert, links=LINKS)
    items = line_items(document)

    assert len(items) == len(lines(alert)) == 2  # two spellings of John's record merged into one line
    (at,) = [i for i, line in enumerate(lines(alert)) if line.user == "john.doe@contoso.com"]
    john = shown_text(items[at])
    assert john.startswith("john.doe@contoso.com from 203.0.113.7 [VIP, Sensitive, Privileged role] · UEBA score 5")
    assert "first 09:10:00, last 09:12:00 UTC" in john
    assert "Directory (john.doe@contoso.com): Roles: Global Administrator; Groups: IT, VPN Users" in john
    assert "Directory (John.Doe@contoso.com): Roles: Global Administrator" in john
    assert "Sign-in logs (Entra) · User page (Defender XDR)" in john
    assert [link.url for link in LINKS.user_links(lines(alert)[at])] == hrefs(items[at])
    assert "Directory" not in shown_text(items[1 - at])
    query = LINKS.query_link(alert.window)
    assert query is not None
    assert hrefs(document)[-1] == query.url


def test_no_query_link_without_workspace_and_no_user_links_without_a_guid() -> None:
    document = description(alert_of([result_row(user_id="not-a-guid")]), links=PortalLinks())

    assert hrefs(document) == [MITRE]


def test_late_and_delay_notices() -> None:
    text = shown_text(description(late_and_delayed_alert(), links=LINKS))

    assert "Late: UEBA/sign-in data arrived after the first evaluation (found 3 h after the window's end" in text
    assert "Delayed: delivered 2 h 5 min after detection" in text
    assert "Delayed: delivered 3 h" in shown_text(description(health_alert(delay=timedelta(hours=3))))


def test_300_rows_fit_under_the_limit_with_as_many_lines_as_fit_and_the_rest_counted() -> None:
    alert = alert_of(many_rows(300))

    document = description(alert, links=LINKS)
    shown = len(line_items(document))

    assert document_size(document) <= MAX_DESCRIPTION_CHARS
    assert 20 <= shown < 300
    assert f"… and {300 - shown} more (a Jira description is limited to 32,767 characters)" in shown_text(document)
    assert "300 users rejected MFA prompts from 250 IP addresses" in shown_text(document)
    # One more line would not have fitted.
    assert document_size(description(alert, links=LINKS, max_chars=10**6)) > MAX_DESCRIPTION_CHARS


def test_a_small_alert_shows_every_line_and_no_more_notice() -> None:
    document = description(alert_of(many_rows(5)), links=LINKS)

    assert len(line_items(document)) == 5
    assert "more (a Jira description" not in shown_text(document)


def test_long_group_lists_and_long_values_are_cut() -> None:
    row = result_row("a" * 500 + "@contoso.com", groups=tuple(f"Group {i}" for i in range(40)))

    text = shown_text(description(alert_of([row]), links=LINKS))

    assert "Group 9 (+30 more)" in text
    assert "Group 10" not in text
    assert "a" * 199 + "…" in text
    assert "a" * 201 not in text


def test_hostile_values_are_plain_unmarked_text_and_never_links() -> None:
    alert = hostile_alert()
    document = description(alert, links=LINKS)
    query = LINKS.query_link(alert.window)
    ours = {
        MITRE,
        *(query.url for query in [query] if query),
        *(x.url for ln in lines(alert) for x in LINKS.user_links(ln)),
    }

    assert len(line_items(document)) == len(HOSTILE_VALUES)  # every hostile line is shown, none cut
    assert set(hrefs(document)) <= ours
    assert EVIL not in json.dumps([n.get("marks", []) for n in text_nodes(document)])
    for node in text_nodes(document):
        if node.get("marks"):
            assert not any(value[:12] in node["text"] for value in HOSTILE_VALUES.values()), node
    unmarked = [node["text"] for node in text_nodes(document) if not node.get("marks")]
    assert any(node.startswith("[Re-verify MFA now](https://evil.example/m)0@") for node in unmarked)
    assert any("<a href=" in node for node in unmarked)
    assert any("[evil|https://evil.example/m] {color:red}" in node for node in unmarked)


def test_no_text_node_holds_a_control_character_or_is_empty() -> None:
    document = description(alert_of([hostile_row(HOSTILE_VALUES["controls"])]), links=LINKS)

    texts = [node["text"] for node in text_nodes(document)]

    assert [t for t in texts if CONTROL.search(t) or not t] == []
    assert any("a\\x00b\\x1b[31mred\\x1b[0m\\rover\\u202eevil\\u2028line\\ttab" in t for t in texts)


def test_the_only_link_nodes_are_text_nodes_with_a_link_mark_and_no_other_node_types() -> None:
    document = description(hostile_alert(), links=LINKS)
    types: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "type" in node:
                types.add(node["type"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document["content"])

    assert types <= {"heading", "paragraph", "text", "bulletList", "listItem", "strong", "link"}
