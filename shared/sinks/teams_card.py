"""An alert as a Microsoft Teams message: an Adaptive Card (schema 1.5, the highest Teams renders).

Formatting only; ``shared.sinks.teams`` sends it (a health alert has a card of its own,
``shared.sinks.health_card``). What the analyst reads comes from ``shared.alert_view``: one table
line per user and IP address (the rule's duplicate rows merged), the users to look at first marked,
the directory context of each line, and buttons that pivot to the user's sign-in logs, the user's
Defender XDR page and the rule's query (``shared.alert_links``).

Markdown injection: Teams renders Markdown in a TextBlock's text and in a FactSet's titles and
values, so a group named ``[Re-verify MFA now](https://evil.example)`` there would be a live link.
Every value from the data therefore goes into a ``TextRun`` of a ``RichTextBlock``, whose text is
never parsed as Markdown (Adaptive Cards schema: "Markdown is not supported"); ``text_block`` and
the FactSets carry only our own text. A TextRun still evaluates ``{{DATE(...)}}``/``{{TIME(...)}}``
and a client may turn ``https://`` into a link, so ``inert`` breaks both with an invisible U+2060
WORD JOINER, and escapes control and bidirectional characters (``shared.display.printable``).

Teams rejects messages over about 28 KB, so the card keeps as many lines as fit under
``MAX_MESSAGE_BYTES`` (UTF-8 JSON of the whole message) and says how many more there are. Each
value shown is clipped and long lists are cut to their first few items, so one line cannot take
the whole budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from shared.alert_links import Link, PortalLinks
from shared.alert_view import Line, headline, lines
from shared.alerts import TACTIC_NAMES, TECHNIQUE_NAMES, Alert, describe_delay, technique_url
from shared.serialise import json_text
from shared.sinks.shown import MAX_TEXT, flat, window_text, workspace_text

CARD_VERSION: Final = "1.5"
# Teams fails messages over ~28 KB; stay below it with room for what the Workflow adds around the card.
MAX_MESSAGE_BYTES: Final = 27_000
CONTENT_TYPE: Final = "application/vnd.microsoft.card.adaptive"

_SEVERITY_STYLE: Final = {"High": "attention", "Medium": "warning", "Low": "accent", "Informational": "default"}
_MAX_TEXT: Final = MAX_TEXT
_MAX_ITEM: Final = 60
_MAX_LIST_ITEMS: Final = 5
_MAX_LIST: Final = (_MAX_ITEM + 2) * _MAX_LIST_ITEMS + 20  # a list's items, separators and "(+N more)"
_JOINER: Final = "\u2060"  # WORD JOINER: invisible, and breaks "{{" and "://" so neither is recognised
_BROKEN: Final = (("{{", "{" + _JOINER + "{"), ("}}", "}" + _JOINER + "}"), ("://", ":" + _JOINER + "//"))


def teams_message(
    alert: Alert, *, max_bytes: int = MAX_MESSAGE_BYTES, links: PortalLinks = PortalLinks()
) -> dict[str, Any]:
    """The Workflows webhook body for ``alert``, with as many lines as fit in ``max_bytes``."""
    shown_lines = lines(alert)
    message = _message(alert, shown_lines, shown=len(shown_lines), links=links)
    if len(message_body(message)) <= max_bytes:
        return message
    # The size grows with the lines shown: find the most that fit (at least the empty table does).
    low, high = 0, len(shown_lines) - 1
    best = _message(alert, shown_lines, shown=0, links=links)
    if len(message_body(best)) > max_bytes:
        raise ValueError(f"even a card without rows exceeds {max_bytes} bytes")
    while low <= high:
        middle = (low + high) // 2
        candidate = _message(alert, shown_lines, shown=middle, links=links)
        if len(message_body(candidate)) <= max_bytes:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def message_body(message: dict[str, Any]) -> bytes:
    """The exact bytes sent (and measured against the size limit)."""
    return json_text(message, separators=(",", ":")).encode("utf-8")


def adaptive_card(alert: Alert, *, shown: int | None = None, links: PortalLinks = PortalLinks()) -> dict[str, Any]:
    """The card alone, with the first ``shown`` lines (all by default)."""
    return _card(alert, lines(alert), shown=shown, links=links)


def _card(alert: Alert, all_lines: Sequence[Line], *, shown: int | None, links: PortalLinks) -> dict[str, Any]:
    visible = tuple(all_lines if shown is None else all_lines[:shown])
    hidden = len(all_lines) - len(visible)
    body: list[dict[str, Any]] = [_header(alert), *_delay_notice(alert), _facts(alert), _technique_line(alert)]
    if visible:
        body.append(_table(alert, visible))
    if hidden:
        body.append(
            text_block(f"… and {hidden} more (a Teams message is limited to 28 KB)", isSubtle=True, spacing="Small")
        )
    body.extend(_details(visible, links))
    return {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": _card_actions(alert, links),
    }


def _message(alert: Alert, all_lines: Sequence[Line], *, shown: int, links: PortalLinks) -> dict[str, Any]:
    card = _card(alert, all_lines, shown=shown, links=links)
    return {"type": "message", "attachments": [{"contentType": CONTENT_TYPE, "contentUrl": None, "content": card}]}


def _card_actions(alert: Alert, links: PortalLinks) -> list[dict[str, Any]]:
    query = links.query_link(alert.window)
    technique = alert.rule.techniques[0]
    mitre = Link(f"MITRE ATT&CK {technique}", technique_url(technique))
    return [open_url(link) for link in (query, mitre) if link is not None]


def open_url(link: Link) -> dict[str, Any]:
    """A button (or a card-level action) that opens ``link``: our title, a URL ``PortalLinks`` built."""
    return {"type": "Action.OpenUrl", "title": link.title, "url": link.url}


def _header(alert: Alert) -> dict[str, Any]:
    return {
        "type": "Container",
        "style": _SEVERITY_STYLE.get(alert.rule.severity, "default"),
        "bleed": True,
        "items": [
            text_block(alert.title, size="Large", weight="Bolder"),
            text_block(headline(alert), spacing="None"),  # only counts: no value from the data
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
    """Our own facts only (FactSet values are Markdown in Teams): the rule's constants, times, the id."""
    tactics = ", ".join(TACTIC_NAMES.get(t, t) for t in alert.rule.tactics)
    workspace = [] if alert.workspace is None else [{"title": "Workspace", "value": workspace_text(alert.workspace)}]
    return {
        "type": "FactSet",
        "facts": [
            *workspace,
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


def _table(alert: Alert, shown: tuple[Line, ...]) -> dict[str, Any]:
    header = ["User", "IP address", "UEBA score", "First (UTC)", "Last (UTC)"]
    day = alert.window.start.date()
    return {
        "type": "Table",
        "columns": [{"width": 4}, {"width": 3}, {"width": 2}, {"width": 2}, {"width": 2}],
        # firstRowAsHeader and showGridLines default to true.
        "spacing": "Medium",
        "rows": [
            _table_row([[text_block(cell, weight="Bolder")] for cell in header]),
            *(
                _table_row(
                    [
                        [rich_text(run(line.user)), *_marks(line)],
                        [rich_text(run(line.ip))],
                        [rich_text(run("" if line.score is None else line.score))],
                        [text_block(_time_text(line.first, day))],
                        [text_block(_time_text(line.last, day))],
                    ]
                )
                for line in shown
            ),
        ],
    }


def _table_row(cells: list[list[dict[str, Any]]]) -> dict[str, Any]:
    return {"type": "TableRow", "cells": [{"type": "TableCell", "items": items} for items in cells]}


def _marks(line: Line) -> list[dict[str, Any]]:
    """Why to look at this user first, as a red badge under the name: VIP, Sensitive, Privileged role."""
    if not line.marks:
        return []
    return [rich_text(run(" · ".join(line.marks), color="Attention", weight="Bolder", size="Small"), spacing="None")]


def _details(shown: tuple[Line, ...], links: PortalLinks) -> list[dict[str, Any]]:
    """Per line: each distinct directory record (IdentityInfo), and the user's pivots (once per user)."""
    linked: set[str] = set()
    blocks = []
    for line in shown:
        user_links = () if line.user in linked else links.user_links(line)
        linked.add(line.user)
        if line.directory or user_links:
            blocks.append(_line_details(line, user_links))
    if not blocks:
        return []
    title = "Directory context (IdentityInfo)" if any(line.directory for line in shown) else "User links"
    return [text_block(title, weight="Bolder", separator=True, spacing="Medium"), *blocks]


def _line_details(line: Line, user_links: tuple[Link, ...]) -> dict[str, Any]:
    items = [rich_text(run(line.user, weight="Bolder"), run(" from ", isSubtle=True), run(line.ip))]
    for record in line.directory:
        fields: list[dict[str, Any]] = []
        if len(line.directory) > 1 or record.account_upn != line.user:
            fields += [run("as ", isSubtle=True), run(record.account_upn), run(" — ", isSubtle=True)]
        for index, (label, found) in enumerate(record.fields):
            separator = " · " if index else ""
            fields += [run(f"{separator}{label}: ", isSubtle=True), run(_list_text(found), limit=_MAX_LIST)]
        items.append(rich_text(*fields, spacing="None"))
    if user_links:
        items.append({"type": "ActionSet", "actions": [open_url(link) for link in user_links], "spacing": "Small"})
    return {"type": "Container", "items": items, "spacing": "Small"}


def _list_text(found: tuple[str, ...]) -> str:
    shown = ", ".join(flat(item, _MAX_ITEM) for item in found[:_MAX_LIST_ITEMS])
    more = len(found) - _MAX_LIST_ITEMS
    return f"{shown} (+{more} more)" if more > 0 else shown


def _time_text(moment: datetime, day: date) -> str:
    return f"{moment:%H:%M:%S}" if moment.date() == day else f"{moment:%m-%d %H:%M:%S}"


def inert(value: Any, limit: int = _MAX_TEXT) -> str:
    """A value from the data as TextRun text: one line, clipped, with no date/time function and no
    ``scheme://`` a client could act on (an invisible joiner breaks them; the value reads the same)."""
    text = flat(value, limit)
    for found, broken in _BROKEN:
        text = text.replace(found, broken)
    return text


def run(value: Any, *, limit: int = _MAX_TEXT, **style: Any) -> dict[str, Any]:
    """A TextRun (never Markdown) holding ``value`` made ``inert``: the only way data enters a card."""
    return {"type": "TextRun", "text": inert(value, limit), **style}


def rich_text(*runs: dict[str, Any], **options: Any) -> dict[str, Any]:
    """A RichTextBlock of ``run``s (it wraps; it has no ``wrap`` property)."""
    return {"type": "RichTextBlock", "inlines": list(runs), **options}


def text_block(text: str, **options: Any) -> dict[str, Any]:
    """A TextBlock, whose text Teams renders as Markdown: for our own text only, never a data value
    (those go through ``run``). The health card's own text goes through here too."""
    return {"type": "TextBlock", "text": text, "wrap": True, **options}
