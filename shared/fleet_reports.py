"""What a person reads after a run over many workspaces, and about their states (``status``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from shared.fleet import FleetReport
from shared.redaction import Redactor
from shared.reports import describe_report, render_status, state_snapshot
from shared.settings import Settings
from shared.state import open_state, state_exists
from shared.workspaces import Workspace


def describe_fleet(report: FleetReport) -> str:
    """A line on the whole run, then each workspace's own account, failures first."""
    failed = report.failed
    lines = [
        f"{len(report.reports)} workspace(s) in {report.seconds:.1f} s: {len(report.reports) - len(failed)} ok, "
        f"{len(failed)} failed"
        + (f" ({', '.join(_name(r.workspace, r.workspace_id) for r in failed)})" if failed else "")
        + "."
    ]
    for run in sorted(report.reports, key=lambda run: not run.failed):
        lines.append(f"Workspace {_name(run.workspace, run.workspace_id)}:")
        lines.extend(f"  {line}" for line in describe_report(run).splitlines())
    if report.leftovers is not None:
        lines.append("The one-workspace state (before the workspaces were named), its outbox only:")
        # Its first line is about windows, and this state has none to evaluate.
        lines.extend(f"  {line}" for line in describe_report(report.leftovers).splitlines()[1:])
    if failed:
        lines.append("Failed workspaces keep their checkpoint: the next run retries them and catches up.")
    return "\n".join(lines)


def fleet_snapshot(
    settings: Settings, workspaces: Sequence[Workspace], *, redact: Redactor | None = None, leftovers: bool = False
) -> list[dict[str, Any]]:
    """Each workspace's state (``shared.reports.state_snapshot``) with its name and GUID; a workspace
    that has never run has ``state: null``. With ``leftovers``, also the one-workspace state (named
    ``one-workspace state``, no GUID) while its outbox holds anything pending or dead."""
    snapshots = []
    if leftovers and state_exists(settings):
        state = open_state(settings)
        try:
            snapshot = state_snapshot(state, redact=redact)
        finally:
            state.close()
        if snapshot["pending"] or snapshot["dead"]:
            snapshots.append({"name": LEFTOVERS, "id": "", "state": snapshot})
    for workspace in workspaces:
        entry: dict[str, Any] = {"name": workspace.name, "id": workspace.id, "state": None}
        scope = workspace.id if workspace.scoped else None
        if state_exists(settings, scope=scope):
            state = open_state(settings, scope=scope)
            try:
                entry["state"] = state_snapshot(state, redact=redact)
            finally:
                state.close()
        snapshots.append(entry)
    return snapshots


LEFTOVERS = "one-workspace state"


def render_fleet_status(snapshots: Sequence[dict[str, Any]], *, now: datetime | None = None) -> str:
    """One line per workspace (checkpoint, outbox, last run), or every detail for a single one."""
    if len(snapshots) == 1:
        only = snapshots[0]
        head = f"Workspace: {_name(only['name'], only['id'])}"
        return head + "\n" + (render_status(only["state"], now=now) if only["state"] else "No state yet (never run).")
    failing = [entry for entry in snapshots if _failing(entry)]
    lines = [f"Workspaces: {len(snapshots)}, {len(failing)} failing at their last run (`status --workspace NAME`)"]
    for entry in snapshots:
        lines.append(f"  {_name(entry['name'], entry['id'])}: {_summary(entry['state'])}")
    return "\n".join(lines)


def _summary(state: dict[str, Any] | None) -> str:
    if state is None:
        return "no state yet (never run)"
    counts = state["outbox"]
    parts = [
        f"checkpoint {state['checkpoint'] or 'none'}",
        f"{counts.get('pending', 0)} pending, {counts.get('dead', 0)} dead",
    ]
    raised = [name for name, held in state["health"].items() if held["state"] == "raised"]
    if raised:
        parts.append(f"health RAISED: {', '.join(raised)}")
    last = state.get("last_run")
    if last is None:
        parts.append("no run recorded")
    elif last["error"]:
        parts.append(f"last run {last['at']} FAILED: {last['error']}")
    else:
        parts.append(f"last run {last['at']} ok")
        if last["failure"]:
            parts.append(f"last error {last['failed_at']}: {last['failure']}")
    return "; ".join(parts)


def _failing(entry: dict[str, Any]) -> bool:
    last = (entry["state"] or {}).get("last_run")
    return bool(last and last["error"])


def _name(name: str, guid: str) -> str:
    if not guid or name == guid:
        return name or guid
    return f"{name} ({guid})" if name else guid
