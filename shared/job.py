"""Assemble the job from settings: the one place that turns configuration into parts.

The timer function and ``python -m shared run`` both call ``run_scheduled``, so they run exactly
the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TextIO

from azure.core.credentials import TokenCredential

from shared.errors import ConfigError
from shared.models import WorkspaceTag
from shared.run_report import RunReport
from shared.runner import Runner, deliver_into, log_report, outbox_dispatcher
from shared.settings import Settings
from shared.sinks.base import MAX_REQUESTS_PER_DELIVERY
from shared.sinks.factory import build_sinks
from shared.sinks.transport import HttpTransport
from shared.sources.base import DataSource
from shared.sources.factory import build_source
from shared.sources.time_shift import TimeShiftedSource, shift_to
from shared.state import open_state, state_exists
from shared.state.base import StateStore
from shared.window_plan import plan_for
from shared.workspaces import Workspace

logger = logging.getLogger(__name__)


@contextmanager
def assembled(
    settings: Settings,
    *,
    now: datetime,
    stream: TextIO | None = None,
    workspace: Workspace | None = None,
    transport: HttpTransport | None = None,
    credential: TokenCredential | None = None,
    problem: str | None = None,
) -> Iterator[Runner]:
    """A runner wired from ``settings`` for a run at ``now``; its state store is closed on exit.

    ``workspace``: the one workspace this runner evaluates, with ``settings`` made for it
    (``shared.workspace_settings``); a named one keeps its own state and names itself in its alerts.
    ``transport`` and ``credential`` may be shared by the runners of many workspaces. ``problem``:
    what the run is to fail with, after evaluating and delivering (``Runner.problem``).

    Everything that can be checked without touching the state is checked first (``ConfigError``),
    so a bad setting writes nothing.
    """
    # The Azure SDK logs every HTTP request at INFO: in Application Insights that would bury the
    # run records. Its warnings and errors still come through.
    logging.getLogger("azure").setLevel(logging.WARNING)
    check_job_settings(settings)
    source = build_source(settings, credential=credential)
    transport = transport or HttpTransport(timeout=settings.http_timeout)
    sinks = build_sinks(settings, stream=stream, transport=transport)
    if not sinks and workspace is None:  # a run over many workspaces says it once (shared.fleet)
        warn_no_sink()
    scoped = workspace is not None and workspace.scoped
    try:
        state = open_state(settings, scope=workspace.id if scoped else None)
    except BaseException:
        source.close()
        raise
    try:
        if settings.fixtures_time_shift == "latest":
            source = TimeShiftedSource(source, _shift_for_emulation(source, state, settings, now=now))
        yield Runner(
            settings=settings,
            source=source,
            sinks=sinks,
            state=state,
            redact=settings.redactor(),
            longest_delivery=longest_delivery(transport),
            workspace=tag_of(workspace) if scoped else None,
            problem=problem,
        )
    finally:
        state.close()
        source.close()


def warn_no_sink(where: str = "") -> None:
    logger.warning(
        "%sno sink is configured (MFA_TEAMS_WEBHOOK_URL, MFA_WEBHOOK_URL, MFA_SLACK_WEBHOOK_URL, "
        "MFA_PAGERDUTY_ROUTING_KEY, MFA_JIRA_URL, MFA_SERVICENOW_URL, MFA_CONSOLE): alerts are recorded in "
        "the outbox and wait there (`status` lists them); the first run with a sink delivers them",
        where,
    )


def _shift_for_emulation(source: DataSource, state: StateStore, settings: Settings, *, now: datetime) -> timedelta:
    # The last window this run will evaluate (the plan the runner will make), so that the recorded
    # period lands in it whole, whether this is a first run or a catch-up after a pause.
    plan = plan_for(settings, state.checkpoint(), now=now)
    if not plan.windows:
        return timedelta(0)  # nothing is due: nothing is read
    return shift_to(source, window_end=plan.windows[-1].end, lookback=settings.lookback)


def check_job_settings(settings: Settings) -> None:
    """What the job needs beyond valid settings; ``ConfigError`` naming the setting."""
    if settings.source == "fixtures" and not settings.fixtures_dir.is_dir():
        raise ConfigError(f"MFA_FIXTURES_DIR: {settings.fixtures_dir} is not a directory of fixture files")
    if settings.source == "loganalytics" and not settings.has_sink and not settings.allow_no_sink:
        # In Azure a run with nowhere to send alerts is almost always a mistake (an emptied setting).
        raise ConfigError(
            "no destination is configured: set one or more of MFA_TEAMS_WEBHOOK_URL, MFA_WEBHOOK_URL (with "
            "MFA_WEBHOOK_SECRET), MFA_SLACK_WEBHOOK_URL, MFA_PAGERDUTY_ROUTING_KEY, MFA_JIRA_URL (with its settings) "
            "or MFA_SERVICENOW_URL (with its settings), or MFA_ALLOW_NO_SINK=true to let alerts wait in the outbox "
            "until one is"
        )


def longest_delivery(transport: HttpTransport) -> timedelta:
    """The longest one delivery may take: every request of it at the transport's worst case."""
    return timedelta(seconds=transport.worst_case * MAX_REQUESTS_PER_DELIVERY)


def tag_of(workspace: Workspace) -> WorkspaceTag:
    return WorkspaceTag(name=workspace.name, id=workspace.id, resource_id=workspace.resource_id)


def deliver_leftovers(
    settings: Settings, *, now: datetime, stream: TextIO | None = None, transport: HttpTransport | None = None
) -> RunReport | None:
    """The one-workspace state (from before the deployment named its workspaces, ``Workspace.scoped``):
    what its outbox still holds goes to the global destinations, so nothing recorded there is left
    behind. None when there is no such state or nothing in it is pending.

    Its checkpoint is not carried over: the named workspaces start their own (docs/workspaces.md).
    """
    if not state_exists(settings):
        return None
    transport = transport or HttpTransport(timeout=settings.http_timeout)
    sinks = build_sinks(settings, stream=stream, transport=transport)
    redact = settings.redactor()
    state = open_state(settings)
    try:
        if not state.items(status="pending"):
            return None
        report = RunReport(workspace="one-workspace state")
        dispatcher = outbox_dispatcher(
            settings, state=state, sinks=sinks, redact=redact, longest_delivery=longest_delivery(transport)
        )
        deliver_into(report, dispatcher, now=now, redact=redact, named="one-workspace state: ")
    finally:
        state.close()
    log_report(report)
    return report


def run_scheduled(settings: Settings, *, now: datetime, stream: TextIO | None = None) -> RunReport:
    """One scheduled run of one stream (the fixture source, or one workspace): every due window, then delivery."""
    with assembled(settings, now=now, stream=stream) as runner:
        return runner.run(now=now)
