"""Print alerts, rule and health alerts, for a person at a terminal (local runs, ``MFA_CONSOLE=true``)."""

from __future__ import annotations

import sys
from typing import TextIO

from shared.alerts import TACTIC_NAMES, Alert, describe_delay, row_entities, technique_url
from shared.display import printable
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.instants import format_instant
from shared.sinks.shown import workspace_text


class ConsoleSink:
    """Writes a readable alert to ``stream`` (stdout by default, looked up when delivering)."""

    def __init__(self, *, stream: TextIO | None = None, name: str = "console") -> None:
        self.name = name
        self._stream = stream

    def __repr__(self) -> str:
        return f"ConsoleSink(name={self.name!r})"

    def deliver(self, alert: Deliverable) -> None:
        stream = self._stream or sys.stdout
        stream.write(render_health_text(alert) if isinstance(alert, HealthAlert) else render_text(alert))
        stream.flush()


def render_text(alert: Alert) -> str:
    rule = alert.rule
    tactics = ", ".join(TACTIC_NAMES.get(t, t) for t in rule.tactics)
    techniques = ", ".join(f"{t} ({technique_url(t)})" for t in rule.techniques)
    count = len(alert.rows)
    lines = [
        f"[{rule.severity}] {rule.name} (rule {rule.id} v{rule.version}) — {count} row{'s' if count != 1 else ''}",
        f"  alert     {alert.id}",
        f"  window    {format_instant(alert.window.start)} .. {format_instant(alert.window.end)}",
        f"  detected  {format_instant(alert.detected_at)}",
        f"  tactic    {tactics}; technique {techniques}",
    ]
    if alert.delay is not None:
        waited = describe_delay(alert.delay)
        lines.insert(4, f"  DELAYED   delivered {waited} after detection (it waited in the outbox)")
    if alert.late is not None:
        found = describe_delay(alert.late)
        lines.insert(
            4, f"  LATE      UEBA/sign-in data arrived after the first evaluation (found {found} after the window)"
        )
    if alert.workspace is not None:
        lines.insert(1, f"  workspace {workspace_text(alert.workspace)}")
    for row in alert.rows:
        # Values from the data are shown escaped: they must not drive the terminal or break the stream.
        lines.append(
            f"  - {printable(row['UserPrincipalName'])} from {printable(row['FailedIPAddress'])}: "
            f"UEBA score {row['UEBARiskScore']}, first {format_instant(row['StartTime'])}, "
            f"last {format_instant(row['EndTIme'])}"
        )
        for label, column in (("roles", "AssignedRoles"), ("groups", "GroupMembership")):
            if row[column]:
                lines.append(f"      {label}: {printable(', '.join(str(v) for v in row[column]))}")
        entities = "; ".join(
            f"{entity.type}({', '.join(f'{k}={v}' for k, v in entity.identifiers)})" for entity in row_entities(row)
        )
        lines.append(f"      entities: {printable(entities) or '(none)'}")
    return "\n".join(lines) + "\n\n"


def render_health_text(alert: HealthAlert) -> str:
    """``[HEALTH raised] …`` and what it means: our own text, still shown escaped, one line each."""
    level = "" if alert.state == "cleared" else f" ({alert.level})"
    last_seen = "none yet" if alert.last_seen is None else format_instant(alert.last_seen)
    lines = [
        f"[HEALTH {alert.state}] {alert.title}{level}",
        *([] if alert.workspace is None else [f"  workspace {workspace_text(alert.workspace)}"]),
        f"  summary   {printable(alert.summary)}",
        *(f"  detail    {printable(line)}" for line in alert.detail.splitlines() if line.strip()),
        f"  since     {format_instant(alert.since)}; last seen {last_seen}",
    ]
    if alert.range is not None:
        lines.append(f"  skipped   {format_instant(alert.range.start)} .. {format_instant(alert.range.end)}")
    lines += [f"  detected  {format_instant(alert.detected_at)}", f"  id        {alert.id}"]
    if alert.delay is not None:
        lines.append(f"  DELAYED   delivered {describe_delay(alert.delay)} after detection (it waited in the outbox)")
    return "\n".join(lines) + "\n\n"
