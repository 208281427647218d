"""An alert as a Slack message: Block Kit blocks for an incoming webhook (formatting only;
``shared.sinks.slack`` sends it).

Slack parses ``mrkdwn`` text: ``*bold*``, ``<https://x|links>``, ``<!channel>`` mentions, ``<!date^...>``
tokens. So every value from the data goes only into ``plain_text`` text objects with ``"emoji": false``,
which Slack shows as written, after ``flat`` (control characters, line breaks and bidirectional
controls escaped, clipped). ``mrkdwn`` carries only our own text: the links we build, whose URLs are
percent-encoded portal URLs, with ``&``, ``<`` and ``>`` escaped as Slack's "Formatting text for app
surfaces: escaping text" says, and ``verbatim`` so nothing else in it is auto-linked. The top-level
``text`` (the notification fallback, parsed as mrkdwn) holds only our own text, escaped too.

Slack's limits (docs.slack.dev, Block Kit reference): 50 blocks a message; a text object 1-3000
characters; a section's ``fields`` at most 10 of at most 2000; a header's text at most 150; a context
block at most 10 elements. The message shows as many lines as fit and says how many more there are.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Final

from shared.alert_links import Link, PortalLinks
from shared.alert_view import Directory, Line, headline, lines
from shared.alerts import TACTIC_NAMES, TECHNIQUE_NAMES, Alert, describe_delay, technique_url
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.serialise import json_text
from shared.sinks.shown import clip, flat, health_facts, moment_text, window_text, workspace_text

logger = logging.getLogger(__name__)

MAX_BLOCKS: Final = 50
MAX_TEXT: Final = 3000  # a text object (a section's text, a context element)
MAX_FIELDS: Final = 10
MAX_FIELD_TEXT: Final = 2000
MAX_HEADER_TEXT: Final = 150
MAX_CONTEXT_ELEMENTS: Final = 10

_MAX_VALUE: Final = 200  # one value from the data (a UPN, a group name is cut shorter)
_MAX_ITEM: Final = 60
_MAX_LIST_ITEMS: Final = 5
_EMPTY: Final = "—"  # a text object may not be empty
_SEVERITY_EMOJI: Final = {
    "High": ":red_circle:",
    "Medium": ":large_orange_circle:",
    "Low": ":large_yellow_circle:",
    "Informational": ":white_circle:",
}
# Characters that would end or split a link in mrkdwn (``<url|label>``): a URL we build never has them.
_NOT_IN_LINK_URL: Final = frozenset("<>| \t\r\n")


def escape(text: str) -> str:
    """``text`` for mrkdwn: Slack's three control characters as their HTML entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, *, emoji: bool = False, limit: int = MAX_TEXT) -> dict[str, Any]:
    """A ``plain_text`` object: shown as written. ``emoji`` only for our own text (``:shortcodes:``)."""
    return {"type": "plain_text", "text": clip(text, limit) or _EMPTY, "emoji": emoji}


def field(text: str, *, emoji: bool = False) -> dict[str, Any]:
    """A section field: ``plain`` within Slack's 2000 characters of a field."""
    return plain(text, emoji=emoji, limit=MAX_FIELD_TEXT)


def mrkdwn(text: str) -> dict[str, Any]:
    """A ``mrkdwn`` object of OUR text, already escaped; ``verbatim``: nothing in it is auto-linked."""
    if len(text) > MAX_TEXT:
        raise ValueError(f"mrkdwn text of {len(text)} characters is over Slack's {MAX_TEXT}")
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def link_text(link: Link) -> str | None:
    """``<url|title>`` in mrkdwn, or None for a URL that could break out of the link syntax."""
    if not link.url.startswith("https://") or any(char in _NOT_IN_LINK_URL for char in link.url):
        logger.warning("slack: link %r left out: its URL is not a plain https URL", link.title)
        return None
    return f"<{escape(link.url)}|{escape(link.title)}>"


def message_body(message: dict[str, Any]) -> bytes:
    """The exact bytes sent."""
    return json_text(message, separators=(",", ":")).encode("utf-8")


def slack_message_for(alert: Deliverable, *, links: PortalLinks = PortalLinks()) -> dict[str, Any]:
    """The webhook body for a rule alert or a health alert."""
    if isinstance(alert, HealthAlert):
        return health_message(alert)
    return slack_message(alert, links=links)


def slack_message(alert: Alert, *, links: PortalLinks = PortalLinks()) -> dict[str, Any]:
    """The webhook body of a rule alert: as many lines as fit in Slack's 50 blocks, then how many more."""
    head = _head(alert, links)
    all_lines = lines(alert)
    body, shown = _fit(all_lines, budget=MAX_BLOCKS - len(head), links=links)
    hidden = len(all_lines) - shown
    if hidden:
        body.append(_context([plain(f"… and {hidden} more (a Slack message is limited to {MAX_BLOCKS} blocks)")]))
    late = "Late data: " if alert.late is not None else ""
    fallback = f"{late}{alert.title}: {headline(alert)} ({window_text(alert.window)})"
    return {"text": escape(fallback), "blocks": [*head, *body]}


def _fit(all_lines: Sequence[Line], *, budget: int, links: PortalLinks) -> tuple[list[dict[str, Any]], int]:
    """The blocks of the lines that fit in ``budget`` blocks, keeping one for the "… and N more" line."""
    body: list[dict[str, Any]] = []
    for index, line in enumerate(all_lines):
        blocks = line_blocks(line, links=links)
        reserve = 1 if index < len(all_lines) - 1 else 0
        if len(body) + len(blocks) + reserve > budget:
            return body, index
        body += blocks
    return body, len(all_lines)


def _head(alert: Alert, links: PortalLinks) -> list[dict[str, Any]]:
    tactics = ", ".join(TACTIC_NAMES.get(t, t) for t in alert.rule.tactics)
    severity = alert.rule.severity
    workspace = [] if alert.workspace is None else [field(f"Workspace: {workspace_text(alert.workspace)}")]
    facts = [
        *workspace,
        field(f"Severity: {_SEVERITY_EMOJI.get(severity, ':white_circle:')} {severity}", emoji=True),
        field(f"Window: {window_text(alert.window)}"),
        field(f"Detected: {moment_text(alert.detected_at)}"),
        field(f"Tactic: {tactics}"),
        field(f"Rule: {alert.rule.name} v{alert.rule.version}"),
        field(f"Alert id: {alert.id}"),
    ]
    notices = _late_notice(alert.late) + delay_notice(alert.delay)
    return [
        _header(alert.title),
        {"type": "section", "text": plain(headline(alert))},
        *notices,
        {"type": "section", "fields": facts},
        *_reference_links(alert, links),
        {"type": "divider"},
    ]


def _reference_links(alert: Alert, links: PortalLinks) -> list[dict[str, Any]]:
    """The MITRE ATT&CK technique page(s) and, with a workspace, the rule's query in Log Analytics."""
    techniques = (
        link_text(Link(f"{t} {TECHNIQUE_NAMES.get(t, '')}".strip(), technique_url(t))) for t in alert.rule.techniques
    )
    query = links.query_link(alert.window)
    texts = [
        f"MITRE ATT&amp;CK technique: {', '.join(t for t in techniques if t)}",
        link_text(query) if query is not None else None,
    ]
    return [{"type": "section", "text": mrkdwn("\n".join(_within_text_limit(texts, separator="\n")))}]


def line_blocks(line: Line, *, links: PortalLinks) -> list[dict[str, Any]]:
    """One user and IP address: a section (marks, user, IP, score, times), then a context block with
    the directory records and the user's links, when there are any."""
    who = f"{flat(line.user, _MAX_VALUE)} from {flat(line.ip, _MAX_VALUE)}"
    if line.marks:
        who = f"⚠️ {' · '.join(line.marks).upper()}\n{who}"
    fields = [
        field(f"UEBA score: {_EMPTY if line.score is None else flat(line.score, _MAX_VALUE)}"),
        field(f"First: {moment_text(line.first)}"),
        field(f"Last: {moment_text(line.last)}"),
    ]
    if line.rows > 1:
        fields.append(field(f"Result rows: {line.rows} (directory records merged)"))
    blocks: list[dict[str, Any]] = [{"type": "section", "text": plain(who), "fields": fields}]
    user_links = _within_text_limit([link_text(link) for link in links.user_links(line)])
    elements = _directory_elements(line.directory, room=MAX_CONTEXT_ELEMENTS - bool(user_links))
    if user_links:
        elements.append(mrkdwn(" · ".join(user_links)))
    if elements:
        blocks.append(_context(elements))
    return blocks


def _within_text_limit(texts: Sequence[str | None], *, separator: str = " · ") -> list[str]:
    """The links that fit, in order, in one text object (a long UPN makes a long Defender URL)."""
    kept: list[str] = []
    for text in texts:
        if text is None:
            continue
        if len(separator.join([*kept, text])) > MAX_TEXT:
            logger.warning("slack: a link is over Slack's %d characters of a text: left out", MAX_TEXT)
            continue
        kept.append(text)
    return kept


def _directory_elements(records: Sequence[Directory], *, room: int) -> list[dict[str, Any]]:
    """One plain_text element per distinct directory record; past ``room``, a count of the rest."""
    shown = records if len(records) <= room else records[: room - 1]
    elements = [plain(_directory_text(record), limit=MAX_FIELD_TEXT) for record in shown]
    if len(shown) < len(records):
        elements.append(plain(f"+{len(records) - len(shown)} more directory records"))
    return elements


def _directory_text(record: Directory) -> str:
    account = f" ({flat(record.account_upn, _MAX_VALUE)})" if record.account_upn else ""
    fields = "; ".join(f"{label}: {_list_text(found)}" for label, found in record.fields)
    return f"Directory{account}: {fields}"


def _list_text(found: Sequence[str]) -> str:
    shown = ", ".join(flat(item, _MAX_ITEM) for item in found[:_MAX_LIST_ITEMS])
    more = len(found) - _MAX_LIST_ITEMS
    return f"{shown} (+{more} more)" if more > 0 else shown


def health_message(alert: HealthAlert) -> dict[str, Any]:
    """The webhook body of a health alert: all its text is ours, still only in plain_text."""
    emoji = health_emoji(alert)
    blocks: list[dict[str, Any]] = [
        _header(f"{emoji} {alert.title}", emoji=True),
        {"type": "section", "text": plain(alert.summary)},
        *delay_notice(alert.delay),
    ]
    if alert.detail:
        blocks.append({"type": "section", "text": plain(alert.detail)})
    blocks.append({"type": "section", "fields": [field(f"{title}: {value}") for title, value in health_facts(alert)]})
    return {"text": escape(f"{alert.title}: {alert.summary}"), "blocks": blocks}


def health_emoji(alert: HealthAlert) -> str:
    """What needs attention, what is worth knowing, what is over."""
    if alert.state == "cleared":
        return ":white_check_mark:"
    return ":rotating_light:" if alert.level == "warning" else ":information_source:"


def _late_notice(late: timedelta | None) -> list[dict[str, Any]]:
    if late is None:
        return []
    text = (
        f":warning: Late: UEBA/sign-in data arrived after the first evaluation (found {describe_delay(late)} "
        "after the window's end; rows alerted before are not repeated)"
    )
    return [{"type": "section", "text": plain(text, emoji=True)}]


def delay_notice(delay: timedelta | None) -> list[dict[str, Any]]:
    """The block that says a message waited in the outbox (none for a message on time)."""
    if delay is None:
        return []
    text = (
        f":hourglass: Delayed: delivered {describe_delay(delay)} after detection (it waited in the outbox: no "
        "destination was configured, or this one kept failing)"
    )
    return [{"type": "section", "text": plain(text, emoji=True)}]


def _header(text: str, *, emoji: bool = False) -> dict[str, Any]:
    return {"type": "header", "text": plain(text, emoji=emoji, limit=MAX_HEADER_TEXT)}


def _context(elements: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "context", "elements": elements}
