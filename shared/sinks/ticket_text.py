"""An alert as plain text, for destinations whose fields are plain text: a ticket's summary and
description (ServiceNow, Jira's summary), a PagerDuty incident's summary.

Plain text is not interpreted by these fields, but values from the data still pass through
``flat`` (control characters, line breaks and bidirectional controls escaped, as ``shared.display``
does for a terminal), so a value cannot forge a line of the description or reorder what follows.
"""

from __future__ import annotations

from shared.alert_links import PortalLinks
from shared.alert_view import counts, headline, lines
from shared.alerts import TACTIC_NAMES, describe_delay, technique_url
from shared.documents import Deliverable
from shared.health import HealthAlert
from shared.instants import format_instant
from shared.sinks.shown import clip, flat, health_facts, window_text, workspace_text


def summary(alert: Deliverable, *, limit: int = 255) -> str:
    """One line naming the alert: ``MFA Rejected by User: 2 users from 3 IP addresses (window)``."""
    where = "" if alert.workspace is None else f"[{alert.workspace.name}] "
    if isinstance(alert, HealthAlert):
        return clip(f"{where}{alert.title}: {alert.summary}", limit)
    users, ips = counts(alert)
    late = " (late data)" if alert.late is not None else ""
    text = (
        f"{where}{alert.rule.name}: {users} user{'s' if users != 1 else ''} "
        f"from {ips} IP address{'es' if ips != 1 else ''}{late}, {window_text(alert.window)}"
    )
    return clip(text, limit)


def description(alert: Deliverable, *, links: PortalLinks) -> str:
    """The alert as plain text lines: what happened, each user and IP with its context, the links."""
    if isinstance(alert, HealthAlert):
        return _health_description(alert)
    out = [headline(alert) + ".", ""]
    if alert.late is not None:
        out.append("Late: UEBA/sign-in data arrived after the window's first evaluation.")
    out += _delay(alert)
    if alert.workspace is not None:
        out.append(f"Workspace: {workspace_text(alert.workspace)}")
    out += [
        f"Severity: {alert.rule.severity}",
        f"Window: {window_text(alert.window)}",
        f"Detected: {format_instant(alert.detected_at)}",
        f"Tactics: {', '.join(TACTIC_NAMES.get(t, t) for t in alert.rule.tactics)}",
        f"Techniques: {', '.join(f'{t} ({technique_url(t)})' for t in alert.rule.techniques)}",
        f"Rule: {alert.rule.name} v{alert.rule.version}",
        f"Alert id: {alert.id}",
        "",
    ]
    for line in lines(alert):
        marked = f" [{', '.join(line.marks)}]" if line.marks else ""
        out.append(
            f"- {flat(line.user)} from {flat(line.ip)}{marked}: UEBA score {flat(line.score)}, "
            f"first {format_instant(line.first)}, last {format_instant(line.last)}"
        )
        for record in line.directory:
            fields = "; ".join(
                f"{label}: {', '.join(flat(item, 80) for item in found)}" for label, found in record.fields
            )
            out.append(f"    directory ({flat(record.account_upn)}): {fields}")
        out += [f"    {link.title}: {link.url}" for link in links.user_links(line)]
    query = links.query_link(alert.window)
    if query is not None:
        out += ["", f"{query.title}: {query.url}"]
    return "\n".join(out)


def _health_description(alert: HealthAlert) -> str:
    out = [alert.summary, "", alert.detail, "", *_delay(alert)]
    out += [f"{title}: {value}" for title, value in health_facts(alert)]
    return "\n".join(out)


def _delay(alert: Deliverable) -> list[str]:
    if alert.delay is None:
        return []
    return [f"Delayed: delivered {describe_delay(alert.delay)} after detection (it waited in the outbox)."]
