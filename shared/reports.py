"""What a person reads after a run (``run``, ``backfill``) and about the state (``status``)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shared.dispatch import UNROUTED
from shared.health_conditions import current_health
from shared.instants import format_instant, parse_instant
from shared.redaction import Redactor
from shared.run_report import RunReport
from shared.state.base import OutboxItem, StateStore


def describe_report(report: RunReport) -> str:
    lines = []
    if report.windows_evaluated:
        first, last = report.windows_evaluated[0], report.windows_evaluated[-1]
        alerts = report.alerts - report.late_alerts
        lines.append(
            f"Evaluated {len(report.windows_evaluated)} window(s), {format_instant(first.start)} to "
            f"{format_instant(last.end)}: {report.result_rows} result row(s), {alerts} alert(s)"
            + (f", {report.suppressed} row(s) suppressed" if report.suppressed else "")
            + "."
        )
    elif report.failed:
        lines.append("No window was evaluated: the run failed (below); the checkpoint stays, the next run retries.")
    else:
        lines.append("No window was due (every window up to now minus the ingestion delay is already evaluated).")
    if report.reevaluated:
        lines.append(
            f"Evaluated {len(report.reevaluated)} earlier window(s) again for late data (MFA_LATE_DATA): "
            f"{report.late_rows} new result row(s), {report.late_alerts} late alert(s)."
        )
    lines.append(_deliveries(report))
    if report.unrouted:
        lines.append(
            f"{report.unrouted} alert(s) wait in the outbox: no sink is configured (set a destination: "
            "MFA_TEAMS_WEBHOOK_URL, MFA_WEBHOOK_URL, MFA_SLACK_WEBHOOK_URL, MFA_PAGERDUTY_ROUTING_KEY, MFA_JIRA_URL or "
            "MFA_SERVICENOW_URL; the next run delivers them)."
        )
    if report.dead:
        lines.append("Dead alerts are kept: `status` lists them, `requeue` sends them again.")
    if report.deferred:
        lines.append(
            f"{report.deferred} delivery(ies) deferred to the next run{_by_sink(report, 'deferred')}: "
            "their receiver is failing."
        )
    if report.conflicts:
        lines.append("Another runner committed a window first; this run left it to that runner.")
    if report.health_alerts:
        raised = [name for name, state in report.health.items() if state == "raised"]
        lines.append(
            f"Health: {report.health_alerts} condition(s) changed; raised now: {', '.join(raised) or 'none'} "
            "(`status` shows them)."
        )
    if report.skipped is not None:
        lines.append(
            f"NOT evaluated (beyond MFA_MAX_CATCHUP): {format_instant(report.skipped.start)} to "
            f"{format_instant(report.skipped.end)}; run `backfill` for it."
        )
    if report.error:
        lines.append(f"Failed: {report.error}")
    return "\n".join(lines)


def _deliveries(report: RunReport) -> str:
    """Alerts delivered (one alert sent to two sinks is one alert), then each outcome by sink."""
    alerts = report.delivered_alerts
    delivered = f"{alerts} alert{'' if alerts == 1 else 's'}"
    return (
        f"Delivered {delivered}{_by_sink(report, 'delivered')}, "
        f"retrying later {report.retried}{_by_sink(report, 'retried')}, dead {report.dead}{_by_sink(report, 'dead')}."
    )


def _by_sink(report: RunReport, outcome: str) -> str:
    """`` (teams 1, webhook 1)``: how many deliveries to each sink had ``outcome``; "" if none did."""
    counts = [(sink, outcomes[outcome]) for sink, outcomes in sorted(report.by_sink.items()) if outcomes[outcome]]
    return " (" + ", ".join(f"{sink} {count}" for sink, count in counts) + ")" if counts else ""


def state_snapshot(state: StateStore, *, redact: Redactor | None = None) -> dict[str, Any]:
    """The state as plain data; error texts pass through ``redact`` (stored texts may predate a
    redaction rule, or quote a URL a receiver echoed)."""
    redact = redact or Redactor()
    checkpoint = state.checkpoint()
    items = state.items()
    note = state.last_run()
    return {
        "checkpoint": format_instant(checkpoint.end) if checkpoint else None,
        # How the latest run ended ("" error: it succeeded), and the latest failure, kept after successes.
        "last_run": None
        if note is None
        else {
            "at": format_instant(note.at),
            "error": redact(note.error),
            "failed_at": format_instant(note.failed_at) if note.failed_at else None,
            "failure": redact(note.failure),
        },
        "outbox": dict(Counter(item.status for item in items)),
        "pending": [_item(item, redact) for item in items if item.status == "pending"],
        # A dead item has no next attempt (only `requeue` gives it one).
        "dead": [_item(item, redact, dead=True) for item in items if item.status == "dead"],
        "skipped": [
            {"start": format_instant(r.start), "end": format_instant(r.end), "reason": r.reason}
            for r in state.skipped()
        ],
        # Each health condition: "ok", or "raised" with since when (shared.health_conditions).
        "health": {
            name: {"state": "raised", "since": format_instant(held.since) if held.since else None}
            if held.active
            else {"state": "ok"}
            for name, held in current_health(state).items()
        },
    }


def _item(item: OutboxItem, redact: Redactor, *, dead: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {"alert_id": item.alert_id, "sink": item.sink, "attempts": item.attempts}
    if not dead:
        shown["next_attempt_at"] = format_instant(item.next_attempt_at)
    return shown | {"last_error": redact(item.last_error)}


def render_status(snapshot: dict[str, Any], *, now: datetime | None = None) -> str:
    """``snapshot`` as text; a pending delivery whose next attempt is after ``now`` (default: the
    clock) is shown as retrying later, with the time of that attempt."""
    now = now or datetime.now(UTC)
    lines = [f"Checkpoint: {snapshot['checkpoint'] or 'none (no window evaluated yet)'}"]
    last = snapshot.get("last_run")
    if last is not None:
        lines.append(f"Last run: {last['at']}, " + (f"FAILED: {last['error']}" if last["error"] else "ok"))
        if last["failure"] and not last["error"]:
            lines.append(f"Last error: {last['failed_at']}: {last['failure']}")
    counts = snapshot["outbox"]
    lines.append(
        "Outbox: " + ", ".join(f"{counts.get(status, 0)} {status}" for status in ("pending", "delivered", "dead"))
    )
    for item in snapshot["pending"]:
        if item["sink"] == UNROUTED:
            lines.append(f"  Pending: {item['alert_id']}: waiting for a sink to be configured")
        else:
            next_attempt = parse_instant(item["next_attempt_at"])
            when = (
                f"retrying later, next attempt at {format_instant(next_attempt)}"
                if next_attempt > now
                else "due now (the next run tries it)"
            )
            lines.append(
                f"  Pending: {item['alert_id']} -> {item['sink']}: {when}; {item['attempts']} attempt(s) so far"
                + (f", last error: {item['last_error']}" if item["last_error"] else "")
            )
    for item in snapshot["dead"]:
        lines.append(
            f"  Dead: {item['alert_id']} -> {item['sink']} after {item['attempts']} attempt(s): "
            f"{item['last_error'] or '-'} (`requeue {item['alert_id']}` sends it again)"
        )
    for skipped in snapshot["skipped"]:
        lines.append(f"Skipped (not evaluated): {skipped['start']} to {skipped['end']}: {skipped['reason']}")
    raised = {name: held for name, held in snapshot["health"].items() if held["state"] == "raised"}
    lines.append(
        "Health: " + (", ".join(f"{name} RAISED since {held['since'] or '?'}" for name, held in raised.items()) or "ok")
    )
    return "\n".join(lines)
