"""What a person reads after a run (``run``, ``backfill``) and about the state (``status``)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from shared.dispatch import UNROUTED
from shared.redaction import Redactor
from shared.runner import RunReport
from shared.serialise import format_datetime
from shared.state.base import OutboxItem, StateStore


def _moment(value: datetime) -> str:
    # Windows start and end on whole minutes: seconds and fractions would only be noise here.
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def describe_report(report: RunReport) -> str:
    lines = []
    if report.windows_evaluated:
        first, last = report.windows_evaluated[0], report.windows_evaluated[-1]
        lines.append(
            f"Evaluated {len(report.windows_evaluated)} window(s), {_moment(first.start)} to "
            f"{_moment(last.end)}: {report.result_rows} result row(s), {report.alerts} alert(s)"
            + (f", {report.suppressed} row(s) suppressed" if report.suppressed else "")
            + "."
        )
    else:
        lines.append("No window was due (every window up to now minus the ingestion delay is already evaluated).")
    lines.append(f"Delivered {report.delivered}, retrying later {report.retried}, dead {report.dead}.")
    if len(report.by_sink) > 1 and (report.retried or report.deferred or report.dead):
        lines.append(
            "By sink: "
            + "; ".join(
                f"{sink} " + ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items()))
                for sink, outcomes in sorted(report.by_sink.items())
            )
            + "."
        )
    if report.unrouted:
        lines.append(
            f"{report.unrouted} alert(s) wait in the outbox: no sink is configured (set MFA_TEAMS_WEBHOOK_URL or "
            "MFA_WEBHOOK_URL; the next run delivers them)."
        )
    if report.dead:
        lines.append("Dead alerts are kept: `status` lists them, `requeue` sends them again.")
    if report.deferred:
        lines.append(f"{report.deferred} delivery(ies) deferred to the next run: their receiver is failing.")
    if report.conflicts:
        lines.append("Another runner committed a window first; this run left it to that runner.")
    if report.skipped is not None:
        lines.append(
            f"NOT evaluated (beyond MFA_MAX_CATCHUP): {_moment(report.skipped.start)} to "
            f"{_moment(report.skipped.end)}; run `backfill` for it."
        )
    if report.error:
        lines.append(f"Failed: {report.error}")
    return "\n".join(lines)


def state_snapshot(state: StateStore, *, redact: Redactor | None = None) -> dict[str, Any]:
    """The state as plain data; error texts pass through ``redact`` (stored texts may predate a
    redaction rule, or quote a URL a receiver echoed)."""
    redact = redact or Redactor()
    checkpoint = state.checkpoint()
    items = state.items()
    return {
        "checkpoint": format_datetime(checkpoint.end) if checkpoint else None,
        "outbox": dict(Counter(item.status for item in items)),
        "pending": [_item(item, redact) for item in items if item.status == "pending"],
        "dead": [_item(item, redact) for item in items if item.status == "dead"],
        "skipped": [
            {"start": format_datetime(r.start), "end": format_datetime(r.end), "reason": r.reason}
            for r in state.skipped()
        ],
    }


def _item(item: OutboxItem, redact: Redactor) -> dict[str, Any]:
    return {
        "alert_id": item.alert_id,
        "sink": item.sink,
        "attempts": item.attempts,
        "next_attempt_at": format_datetime(item.next_attempt_at),
        "last_error": redact(item.last_error),
    }


def render_status(snapshot: dict[str, Any]) -> str:
    lines = [f"Checkpoint: {snapshot['checkpoint'] or 'none (no window evaluated yet)'}"]
    counts = snapshot["outbox"]
    lines.append(
        "Outbox: " + ", ".join(f"{counts.get(status, 0)} {status}" for status in ("pending", "delivered", "dead"))
    )
    for item in snapshot["pending"]:
        if item["sink"] == UNROUTED:
            lines.append(f"  Pending: {item['alert_id']}: waiting for a sink to be configured")
        else:
            lines.append(
                f"  Pending: {item['alert_id']} -> {item['sink']}, {item['attempts']} attempt(s), "
                f"next {item['next_attempt_at']}: {item['last_error'] or '-'}"
            )
    for item in snapshot["dead"]:
        lines.append(
            f"  Dead: {item['alert_id']} -> {item['sink']} after {item['attempts']} attempt(s): "
            f"{item['last_error'] or '-'} (`requeue {item['alert_id']}` sends it again)"
        )
    for skipped in snapshot["skipped"]:
        lines.append(f"Skipped (not evaluated): {skipped['start']} to {skipped['end']}: {skipped['reason']}")
    return "\n".join(lines)
