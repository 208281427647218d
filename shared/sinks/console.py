"""Print alerts for a person at a terminal (local runs, ``MFA_CONSOLE=true``)."""

from __future__ import annotations

import sys
from typing import TextIO

from shared.alerts import TACTIC_NAMES, Alert, describe_delay, row_entities, technique_url
from shared.display import printable
from shared.instants import format_instant


class ConsoleSink:
    """Writes a readable alert to ``stream`` (stdout by default, looked up when delivering)."""

    def __init__(self, *, stream: TextIO | None = None, name: str = "console") -> None:
        self.name = name
        self._stream = stream

    def __repr__(self) -> str:
        return f"ConsoleSink(name={self.name!r})"

    def deliver(self, alert: Alert) -> None:
        stream = self._stream or sys.stdout
        stream.write(render_text(alert))
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
