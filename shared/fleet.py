"""A run over every configured workspace: each its own stream, evaluated at the same time within a bound.

Each workspace gets its own ``Runner`` (``shared.job.assembled``) with its own settings
(``shared.workspace_settings``), state, source and sinks, so one workspace's checkpoint, outbox,
suppression and health never touch another's, and one workspace's data never reaches another's
alert. A workspace that fails (403 because access was withdrawn, 5xx, throttling, its state
unreachable) is reported by name; its checkpoint stays, the next run retries it, and every other
workspace advances and delivers meanwhile. At most ``MFA_WORKSPACE_CONCURRENCY`` run at once (threads:
the work is waiting on Log Analytics and on receivers). The HTTP transport to the destinations and
the Azure credential (one token cache) are shared.

A problem of the whole deployment's settings is found before anything runs (``ConfigError``); a
workspace whose own destinations cannot be used runs without them and fails alone (``prepared``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TextIO

from azure.core.credentials import TokenCredential

from shared.errors import ConfigError, MfaRejectedError, describe
from shared.job import assembled, check_job_settings, deliver_leftovers, warn_no_sink
from shared.run_report import RunReport
from shared.settings import Settings
from shared.sinks.transport import HttpTransport
from shared.urls import is_loopback_url
from shared.workspace_settings import settings_for, without_destinations
from shared.workspaces import Workspace

logger = logging.getLogger(__name__)


@dataclass
class FleetReport:
    """What a run over many workspaces did: one ``RunReport`` per workspace, in the configured order."""

    reports: list[RunReport] = field(default_factory=list)
    seconds: float = 0.0
    # What the one-workspace state's outbox still held, delivered with the global destinations.
    leftovers: RunReport | None = None

    @property
    def failed(self) -> list[RunReport]:
        return [report for report in self.reports if report.failed]

    @property
    def error(self) -> str | None:
        """Each failed workspace by name, with its error; None when every workspace succeeded."""
        failed = self.failed
        leftover = self.leftovers.error if self.leftovers is not None else None
        if not failed and leftover is None:
            return None
        text = "; ".join(f"{report.workspace or report.workspace_id}: {report.error}" for report in failed)
        text = f"{len(failed)} of {len(self.reports)} workspace(s) failed: {text}" if failed else ""
        return "; ".join(part for part in (text, leftover and f"one-workspace state: {leftover}") if part)

    def dimensions(self) -> dict[str, object]:
        return {
            "workspaces": len(self.reports),
            "workspaces_failed": len(self.failed),
            "failed_workspaces": ",".join(report.workspace for report in self.failed),
            "alerts": sum(report.alerts for report in self.reports),
            "delivered": sum(report.delivered for report in self.reports),
            "retried": sum(report.retried for report in self.reports),
            "dead": sum(report.dead for report in self.reports),
            "seconds_total": round(self.seconds, 3),
        }


def names_workspaces(settings: Settings) -> bool:
    """Whether the deployment names its workspaces (one named, or several): each then has its own state."""
    return any(workspace.scoped for workspace in settings.workspaces)


def is_fleet(settings: Settings) -> bool:
    """Whether a run reads named workspaces, each its own stream (``run_fleet``)."""
    return settings.source == "loganalytics" and names_workspaces(settings)


def run_fleet(
    settings: Settings,
    *,
    now: datetime,
    stream: TextIO | None = None,
    only: Sequence[Workspace] | None = None,
) -> FleetReport:
    """Evaluate ``only`` these workspaces (default: every configured one) at ``now``, each a stream of its own."""
    workspaces = list(settings.workspaces if only is None else only)
    plans = [prepared(settings, workspace) for workspace in workspaces]
    silent = [workspace.name for workspace, own, _ in plans if not own.has_sink]
    if silent:  # once for the run, not once per workspace
        shown = ", ".join(silent[:10]) + (f" and {len(silent) - 10} more" if len(silent) > 10 else "")
        warn_no_sink(f"{len(silent)} workspace(s) ({shown}): ")
    started = time.perf_counter()
    report = FleetReport()
    transport = HttpTransport(timeout=settings.http_timeout)
    with _shared_credential(settings, workspaces) as credential:
        bound = max(1, min(settings.workspace_concurrency, len(plans)))
        with ThreadPoolExecutor(max_workers=bound, thread_name_prefix="workspace") as pool:
            runs = [
                pool.submit(
                    _run_one,
                    workspace,
                    own,
                    now=now,
                    stream=stream,
                    transport=transport,
                    credential=None if is_loopback_url(own.la_endpoint) else credential,
                    problem=problem,
                )
                for workspace, own, problem in plans
            ]
            report.reports = [run.result() for run in runs]
    if names_workspaces(settings) and only is None:
        report.leftovers = _leftovers(settings, now=now, stream=stream, transport=transport)
    report.seconds = time.perf_counter() - started
    _log(report)
    return report


def prepared(settings: Settings, workspace: Workspace) -> tuple[Workspace, Settings, str | None]:
    """``workspace``'s settings, and what keeps its own destinations from being used, if anything.

    A deployment-wide problem (no destination at all, say) is a ``ConfigError`` before anything runs.
    A workspace whose own destinations cannot be used (an app setting unset, a Key Vault reference
    unresolved, a bad URL) does not stop the others, nor go unread: it is evaluated without them, its
    alerts wait in its own outbox (``status`` lists them), and its run fails naming the cause; the
    first run after the fix delivers them to its destinations.
    """
    try:
        own = settings_for(settings, workspace)
    except ConfigError as error:
        if workspace.destinations is None:
            raise
        problem = f"{error}; it was evaluated and its alerts wait in its outbox until its destinations are fixed"
        return workspace, without_destinations(settings, workspace), problem
    check_job_settings(own)
    return workspace, own, None


def _run_one(
    workspace: Workspace,
    settings: Settings,
    *,
    now: datetime,
    stream: TextIO | None,
    transport: HttpTransport,
    credential: TokenCredential | None,
    problem: str | None,
) -> RunReport:
    """One workspace's run; whatever goes wrong is its report's error, never another workspace's."""
    try:
        with assembled(
            settings,
            now=now,
            stream=stream,
            workspace=workspace,
            transport=transport,
            credential=credential,
            problem=problem,
        ) as runner:
            return runner.run(now=now)
    except Exception as error:  # its state or source could not even be opened: this workspace alone fails
        report = RunReport(workspace=workspace.name, workspace_id=workspace.id)
        text = str(error) if isinstance(error, MfaRejectedError) else describe(error)
        report.fail(settings.redactor()(text))
        logger.error("workspace %s: run not started: %s", workspace.label, report.error)
        return report


def _leftovers(
    settings: Settings, *, now: datetime, stream: TextIO | None, transport: HttpTransport
) -> RunReport | None:
    try:
        return deliver_leftovers(settings, now=now, stream=stream, transport=transport)
    except Exception as error:  # its state unreadable: said, and every workspace's run stands
        report = RunReport(workspace="one-workspace state")
        report.fail(str(error) if isinstance(error, MfaRejectedError) else describe(error))
        logger.error("one-workspace state: not delivered: %s", report.error)
        return report


@contextmanager
def _shared_credential(settings: Settings, workspaces: Sequence[Workspace]) -> Iterator[TokenCredential | None]:
    """One ``DefaultAzureCredential`` (one token cache) for every workspace read over the network."""
    if all(is_loopback_url(workspace.endpoint or settings.la_endpoint) for workspace in workspaces):
        yield None
        return
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - only the live source needs it

    credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
    try:
        yield credential
    finally:
        credential.close()


def _log(report: FleetReport) -> None:
    # One record per fleet run, beside each workspace's own "run finished" record (shared.runner).
    dimensions = report.dimensions()
    level = logging.ERROR if report.failed else logging.INFO
    text = " ".join(f"{key}={value}" for key, value in dimensions.items() if value not in ("", None))
    logger.log(level, "workspaces finished %s", text, extra={"custom_dimensions": dimensions, **dimensions})
    if report.failed:
        logger.error("%s", report.error)
