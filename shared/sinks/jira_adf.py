"""An alert as a Jira Cloud issue description: an Atlassian Document Format (ADF) document.

Formatting only; ``shared.sinks.jira`` sends it. It shows what the Teams card shows
(``shared.alert_view``): the headline, the facts, late and delay notices, one entry per user and IP
with its marks, directory context and portal links, and the query link.

ADF text is never parsed as wiki markup or Markdown, so a value from the data is safe as long as it
is a ``text`` node without marks: every data value goes through ``plain``, which never adds a mark.
Only ``link`` makes a link mark, and it takes a ``Link`` (the URLs ``PortalLinks`` and MITRE build),
never a value from the data. Control characters, line breaks, bidirectional controls and lone
surrogates are escaped (``shared.display.printable``): JSON could carry them, but a text node with
a line break or an escape sequence is not what an analyst should read, and a surrogate cannot be sent.

Jira Cloud refuses a description over 32,767 characters. Atlassian does not say whether it counts
the document's JSON or its text; the JSON is the longer, so the document is kept under the limit as
compact JSON and fits either way, with as many lines as fit and "… and N more".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

from shared.alert_links import Link, PortalLinks
from shared.alert_view import Directory, Line, headline, lines
from shared.alerts import TACTIC_NAMES, TECHNIQUE_NAMES, Alert, describe_delay, technique_url
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.instants import format_instant
from shared.serialise import json_text
from shared.sinks.shown import flat, window_text, workspace_text

Node = dict[str, Any]

MAX_DESCRIPTION_CHARS: Final = 32_767
_MAX_VALUE: Final = 200  # characters of one value shown
_MAX_ITEM: Final = 80  # characters of one list item (a group name)
_MAX_ITEMS: Final = 10  # items of one list (a user may be in hundreds of groups)
_EMPTY: Final = "(none)"  # ADF text nodes may not be empty


def description(
    alert: Deliverable, *, links: PortalLinks | None = None, max_chars: int = MAX_DESCRIPTION_CHARS
) -> Node:
    """The issue description for ``alert`` (a health alert's too), at most ``max_chars`` as compact JSON."""
    if isinstance(alert, HealthAlert):
        return health_document(alert)
    return rule_document(alert, links=links or PortalLinks(), max_chars=max_chars)


def document_size(document: Node) -> int:
    """Characters of ``document`` as compact JSON: what is measured against the limit."""
    return len(json_text(document, separators=(",", ":")))


def rule_document(alert: Alert, *, links: PortalLinks, max_chars: int = MAX_DESCRIPTION_CHARS) -> Node:
    """The rule alert's document with as many lines as fit in ``max_chars`` (all when they do)."""
    shown = lines(alert)
    document = _rule_document(alert, shown, len(shown), links=links)
    if document_size(document) <= max_chars:
        return document
    best = _rule_document(alert, shown, 0, links=links)
    if document_size(best) > max_chars:
        raise ValueError(f"even a description without lines exceeds {max_chars} characters")
    # The size grows with the lines shown: find the most that fit.
    low, high = 1, len(shown) - 1
    while low <= high:
        middle = (low + high) // 2
        candidate = _rule_document(alert, shown, middle, links=links)
        if document_size(candidate) <= max_chars:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def health_document(alert: HealthAlert) -> Node:
    """A health alert's description; also the comment a clear adds to its raise's issue."""
    facts = [] if alert.workspace is None else [("Workspace", plain(workspace_text(alert.workspace)))]
    facts += [
        ("Condition", plain(alert.condition)),
        ("State", plain(alert.state)),
        ("Level", plain(alert.level)),
        ("Since", plain(format_instant(alert.since))),
        ("Last seen", plain("none yet" if alert.last_seen is None else format_instant(alert.last_seen))),
    ]
    if alert.range is not None:
        facts.append(("Range not evaluated", plain(window_text(alert.range))))
    facts += [("Detected", plain(format_instant(alert.detected_at))), ("Health id", plain(alert.id))]
    return doc(
        heading(alert.title, level=2),
        paragraph(plain(alert.summary, limit=1000)),
        paragraph(plain(alert.detail, limit=2000)),
        *_delay_notice(alert),
        bullet_list(paragraph(strong(f"{name}: "), value) for name, value in facts),
    )


def _rule_document(alert: Alert, all_lines: Sequence[Line], shown: int, *, links: PortalLinks) -> Node:
    hidden = len(all_lines) - shown
    content: list[Node] = [
        heading(alert.title, level=2),
        paragraph(words(headline(alert) + ".")),
        *_late_notice(alert),
        *_delay_notice(alert),
        _facts(alert),
        heading(f"Users and IP addresses ({len(all_lines)})", level=3),
    ]
    if shown:
        content.append(bullet_list(_line_item(line, alert, links=links) for line in all_lines[:shown]))
    if hidden:
        content.append(paragraph(words(f"… and {hidden} more (a Jira description is limited to 32,767 characters)")))
    query = links.query_link(alert.window)
    if query is not None:
        content.append(paragraph(link(query)))
    return doc(*content)


def _late_notice(alert: Alert) -> list[Node]:
    if alert.late is None:
        return []
    return [
        paragraph(
            strong("Late: "),
            words(
                f"UEBA/sign-in data arrived after the first evaluation (found {describe_delay(alert.late)} "
                "after the window's end; rows alerted before are not repeated)."
            ),
        )
    ]


def _delay_notice(alert: Deliverable) -> list[Node]:
    if alert.delay is None:
        return []
    return [
        paragraph(
            strong("Delayed: "),
            words(
                f"delivered {describe_delay(alert.delay)} after detection (it waited in the outbox: no "
                "destination was configured, or this one kept failing)."
            ),
        )
    ]


def _facts(alert: Alert) -> Node:
    tactics = ", ".join(TACTIC_NAMES.get(t, t) for t in alert.rule.tactics)
    techniques: list[Node] = []
    for technique in alert.rule.techniques:
        if techniques:
            techniques.append(words(", "))
        title = f"{technique} {TECHNIQUE_NAMES.get(technique, '')}".strip()
        techniques.append(link(Link(title, technique_url(technique))))
    facts = [] if alert.workspace is None else [("Workspace", [plain(workspace_text(alert.workspace))])]
    facts += [
        ("Severity", [plain(alert.rule.severity)]),
        ("Window", [plain(window_text(alert.window))]),
        ("Detected", [plain(f"{alert.detected_at:%Y-%m-%d %H:%M:%S} UTC")]),
        ("Tactics", [plain(tactics)]),
        ("MITRE ATT&CK", techniques),
        ("Rule", [plain(f"{alert.rule.name} v{alert.rule.version}")]),
        ("Alert id", [plain(alert.id)]),
    ]
    return bullet_list(paragraph(strong(f"{name}: "), *value) for name, value in facts)


def _line_item(line: Line, alert: Alert, *, links: PortalLinks) -> Node:
    # Few text nodes per line: each costs its JSON, and the JSON is what the limit counts.
    day = alert.window.start.date()
    head: list[Node] = [plain(f"{flat(line.user)} from {flat(line.ip)}", limit=_MAX_VALUE * 3)]
    if line.marks:
        # Marks are our own words ("VIP", "Sensitive", "Privileged role"), derived from the data.
        head += [words(" "), strong(f"[{', '.join(line.marks)}]")]
    times = f"first {_time(line.first, day)}, last {_time(line.last, day)} UTC"
    head.append(plain(f" · UEBA score {flat(line.score, 40)} · {times}", limit=_MAX_VALUE))
    details = [list_item(paragraph(_directory_text(record))) for record in line.directory]
    user_links = links.user_links(line)
    if user_links:
        details.append(list_item(paragraph(*_joined([link(found) for found in user_links], " · "))))
    return list_item(paragraph(*head), *([bullet_list(details)] if details else []))


def _directory_text(record: Directory) -> Node:
    """One IdentityInfo record as one unmarked text node: its account as written and its fields."""
    fields = "; ".join(f"{label}: {_items_text(found)}" for label, found in record.fields)
    return plain(f"Directory ({flat(record.account_upn)}): {fields}", limit=_MAX_VALUE * 6)


def _items_text(found: Sequence[str]) -> str:
    shown = ", ".join(flat(item, _MAX_ITEM) for item in found[:_MAX_ITEMS])
    more = len(found) - _MAX_ITEMS
    return f"{shown} (+{more} more)" if more > 0 else shown


def _time(moment: datetime, day: Any) -> str:
    return f"{moment:%H:%M:%S}" if moment.date() == day else f"{moment:%Y-%m-%d %H:%M:%S}"


def _joined(nodes: list[Node], separator: str) -> list[Node]:
    out: list[Node] = []
    for node in nodes:
        if out:
            out.append(words(separator))
        out.append(node)
    return out


# The node builders: every text of a document goes through plain, words, strong or link.


def plain(value: object, *, limit: int = _MAX_VALUE) -> Node:
    """A value from the data: escaped, clipped, and never marked (no link, no formatting)."""
    text = flat(value, limit) if value is not None else ""
    return {"type": "text", "text": text or _EMPTY}


def words(text: str) -> Node:
    """Our own words (escaped all the same, in case one ever carries a value)."""
    return plain(text, limit=10_000)


def strong(text: str) -> Node:
    """Our own label, in bold."""
    return {**words(text), "marks": [{"type": "strong"}]}


def link(target: Link) -> Node:
    """A link we built (``PortalLinks``, MITRE): its title, linked to its URL."""
    return {**words(target.title), "marks": [{"type": "link", "attrs": {"href": target.url}}]}


def doc(*content: Node) -> Node:
    return {"type": "doc", "version": 1, "content": list(content)}


def heading(text: str, *, level: int) -> Node:
    return {"type": "heading", "attrs": {"level": level}, "content": [words(text)]}


def paragraph(*content: Node) -> Node:
    return {"type": "paragraph", "content": list(content)}


def bullet_list(items: Iterable[Node]) -> Node:
    return {
        "type": "bulletList",
        "content": [item if item["type"] == "listItem" else list_item(item) for item in items],
    }


def list_item(*content: Node) -> Node:
    return {"type": "listItem", "content": list(content)}
