"""How every destination shows a person a value from the data, a time, a window and a health
alert's facts: one place, so that Teams, Slack, PagerDuty, Jira and ServiceNow read alike.

Formatting for each destination's markup (TextRuns, plain_text, ADF text nodes) stays in its own
module; what is here is plain text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from shared.display import printable
from shared.health import HealthAlert
from shared.models import Window, WorkspaceTag

# Characters of one value shown, by default (a UPN, an IP, a group name).
MAX_TEXT: Final = 120


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    """``text`` cut to ``limit`` characters, with an ellipsis when cut."""
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def flat(value: object, limit: int = 200) -> str:
    """A value from the data as one safe line (control characters, line breaks and bidirectional
    controls escaped, as ``shared.display`` does for a terminal), clipped to ``limit`` characters."""
    return clip(printable(str(value)), limit)


def moment_text(moment: datetime) -> str:
    """``2026-11-28 10:05:30 UTC``: a time as every destination shows it to a person."""
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC"


def window_text(window: Window) -> str:
    """``2026-11-28 09:00–10:00 UTC``, or with both dates when the range spans midnight."""
    start, end = window.start, window.end
    if start.date() == end.date():
        return f"{start:%Y-%m-%d %H:%M}–{end:%H:%M} UTC"
    return f"{start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} UTC"


def workspace_text(workspace: WorkspaceTag) -> str:
    """``contoso (GUID)``: the workspace an alert came from (names are configured, never from the data)."""
    return workspace.id if workspace.name == workspace.id else f"{workspace.name} ({workspace.id})"


def health_facts(alert: HealthAlert) -> list[tuple[str, str]]:
    """The facts of a health alert, (title, value), as every destination shows them (all our own text)."""
    state = alert.state if alert.state == "cleared" else f"{alert.state} ({alert.level})"
    facts = [] if alert.workspace is None else [("Workspace", workspace_text(alert.workspace))]
    facts += [
        ("Condition", alert.condition),
        ("State", state),
        ("Since", moment_text(alert.since)),
        ("Last seen", "none yet" if alert.last_seen is None else moment_text(alert.last_seen)),
    ]
    if alert.range is not None:
        facts.append(("Range not evaluated", window_text(alert.range)))
    return [*facts, ("Detected", moment_text(alert.detected_at)), ("Health id", alert.id)]
