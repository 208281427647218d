"""Scale-out through a Storage queue (``MFA_FANOUT=queue``): the timer enqueues one message per workspace,
``MfaRejectedWorker`` evaluates one workspace per message, and the Functions scale controller spreads
the messages over instances.

A message names the workspace and the latest due window (``WorkspaceRun``). The worker runs the
workspace at the message's clock (the window's end plus the ingestion delay), so a redelivered message
plans exactly the same windows; as the checkpoint has moved and the outbox only inserts absent ids, a
second delivery evaluates and sends nothing again. Every workspace gets a message every hour: the worker
catches up from the workspace's own checkpoint, so an hour that failed is retried by the next message.

A run that fails raises in the worker, so the host makes the message visible again after
``visibilityTimeout`` and, after ``maxDequeueCount`` dequeues, moves it to ``<queue>-poison``
(host.json). ``bench/queue_drain.py`` does the same outside the host, for the benchmark.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, TextIO

from azure.core.exceptions import HttpResponseError
from azure.storage.queue import QueueClient

from shared.display import shown
from shared.errors import ConfigError, InputError, MfaRejectedError
from shared.fleet import prepared, run_fleet
from shared.instants import format_instant, parse_instant
from shared.models import Window
from shared.queue_client import create_if_absent, describe_storage_error, opened_queue, poison_queue_name
from shared.run_report import RunReport
from shared.settings import Settings
from shared.window_plan import window_end
from shared.workspaces import NAME_PATTERN, Workspace

logger = logging.getLogger(__name__)

SCHEMA: Final = "mfa-rejected.workspace-run/v1"
MAX_DEQUEUE_COUNT: Final = 5  # host.json extensions.queues.maxDequeueCount
_KEYS: Final = ("schema", "workspace", "name", "window")
_MAX_TEXT: Final = 2048  # a real message is about 200 characters
_PREFIX: Final = 40  # how much of a refused message an error shows


class EnqueueError(MfaRejectedError):
    """Some workspace-run messages could not be sent (the others were)."""


@dataclass(frozen=True)
class WorkspaceRun:
    """One queue message: evaluate ``workspace`` (its GUID) up to ``window``, the latest due window."""

    workspace: str
    name: str
    window: Window

    def to_text(self) -> str:
        return json.dumps(
            {
                "schema": SCHEMA,
                "workspace": self.workspace,
                "name": self.name,
                "window": {"start": format_instant(self.window.start), "end": format_instant(self.window.end)},
            },
            separators=(",", ":"),
        )

    def clock(self, settings: Settings) -> datetime:
        """The ``now`` this run plans at: the latest due window of that clock is ``window``."""
        return self.window.end + settings.ingestion_delay


def run_for(workspace: Workspace, settings: Settings, *, now: datetime) -> WorkspaceRun:
    """The message for ``workspace`` at ``now``: the latest window due then."""
    end = window_end(now, ingestion_delay=settings.ingestion_delay)
    return WorkspaceRun(workspace=workspace.id, name=workspace.name, window=Window(end - settings.lookback, end))


def parse_run(text: str) -> WorkspaceRun:
    """A message's text -> ``WorkspaceRun``; ``InputError`` naming what is wrong (never more than a prefix)."""
    if not isinstance(text, str):
        raise InputError(f"queue message: expected text, got {type(text).__name__}")
    if len(text) > _MAX_TEXT:
        raise InputError(f"queue message: {len(text)} characters, more than a {SCHEMA} message has ({_MAX_TEXT})")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"queue message: not JSON ({error.msg} at character {error.pos}): {shown(text[:_PREFIX])}"
        ) from None
    if not isinstance(document, dict):
        raise InputError(f"queue message: expected a JSON object, got {type(document).__name__}")
    _check_keys(document, _KEYS, where="queue message")
    if document["schema"] != SCHEMA:
        raise InputError(f"queue message: schema {shown(document['schema'])[:_PREFIX]} is not {SCHEMA!r}")
    guid = document["workspace"]
    try:
        workspace = str(uuid.UUID(guid)) if isinstance(guid, str) and len(guid) == 36 else None
    except ValueError:
        workspace = None
    if workspace is None:
        raise InputError(f"queue message: workspace {shown(guid)[:_PREFIX]} is not a workspace GUID")
    name = document["name"]
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InputError(f"queue message: name {shown(name)[:_PREFIX]} is not a workspace name")
    return WorkspaceRun(workspace=workspace, name=name, window=_window(document["window"]))


def _window(value: object) -> Window:
    if not isinstance(value, dict):
        raise InputError("queue message: window must be an object {start, end}")
    _check_keys(value, ("start", "end"), where="queue message: window")
    bounds: list[datetime] = []
    for key in ("start", "end"):
        text = value[key]
        try:
            if not isinstance(text, str) or not re.fullmatch(r"[0-9T:.+Z-]{20,32}", text):
                raise ValueError
            bounds.append(parse_instant(text))
        except ValueError:
            raise InputError(
                f"queue message: window {key} {shown(text)[:_PREFIX]} is not an ISO 8601 time with a timezone"
            ) from None
    start, end = bounds
    if end <= start:
        raise InputError(f"queue message: window end {format_instant(end)} is not after its start")
    if end.second or end.microsecond:
        raise InputError(f"queue message: window end {format_instant(end)} is not a whole minute")
    return Window(start, end)


def _check_keys(document: Mapping[str, Any], keys: tuple[str, ...], *, where: str) -> None:
    unknown = sorted(str(key)[:_PREFIX] for key in document if key not in keys)
    missing = [key for key in keys if key not in document]
    if unknown or missing:
        problems = ([f"missing {', '.join(missing)}"] if missing else []) + (
            [f"unknown key(s) {', '.join(shown(key) for key in unknown[:5])}"] if unknown else []
        )
        raise InputError(f"{where}: {'; '.join(problems)} (expected exactly {', '.join(keys)})")


# --- the timer: one message per workspace ---------------------------------------------------------


@dataclass
class EnqueueReport:
    queue: str
    enqueued: int = 0
    window: Window | None = None
    seconds: float = 0.0


def enqueue_runs(settings: Settings, *, now: datetime) -> EnqueueReport:
    """Send one message per configured workspace to ``MFA_FANOUT_QUEUE``; every send is tried, then
    ``EnqueueError`` names how many failed and the first error. The settings are checked first
    (``ConfigError``), so a bad deployment-wide setting fails the timer instead of poisoning every message."""
    workspaces = _fanout_workspaces(settings)
    runs = [run_for(workspace, settings, now=now) for workspace in workspaces]
    report = EnqueueReport(queue=settings.fanout_queue, window=runs[0].window)
    started = time.perf_counter()
    with opened_queue(settings, name=settings.fanout_queue) as queue:
        try:
            create_if_absent(queue)
        except HttpResponseError as error:
            # An identity with only "Storage Queue Data Message Sender" may send but not create (the
            # template creates the queue): the sends decide.
            logger.warning("queue %s not created (%s); sending anyway", report.queue, describe_storage_error(error))
        bound = max(1, min(settings.workspace_concurrency, len(runs)))
        with ThreadPoolExecutor(max_workers=bound, thread_name_prefix="enqueue") as pool:
            outcomes = list(pool.map(lambda run: _send(queue, run.to_text()), runs))
    errors = [error for error in outcomes if error is not None]
    report.enqueued = len(runs) - len(errors)
    report.seconds = time.perf_counter() - started
    dimensions = {"queue": report.queue, "enqueued": report.enqueued, "enqueue_failed": len(errors)}
    logger.info(
        "enqueued %d of %d workspace run(s) to %s for window %s",
        report.enqueued,
        len(runs),
        report.queue,
        report.window,
        extra={"custom_dimensions": dimensions, **dimensions},
    )
    if errors:
        raise EnqueueError(
            f"{len(errors)} of {len(runs)} workspace-run message(s) could not be sent to queue "
            f"{report.queue}; the first: {errors[0]}"
        )
    return report


def _fanout_workspaces(settings: Settings) -> list[Workspace]:
    if settings.source != "loganalytics" or not settings.workspaces:
        raise ConfigError(
            "MFA_FANOUT=queue: needs MFA_SOURCE=loganalytics and the workspaces "
            "(LOG_ANALYTICS_WORKSPACE_ID or MFA_WORKSPACES_FILE); set MFA_FANOUT=inline otherwise"
        )
    poison_queue_name(settings.fanout_queue)
    for workspace in settings.workspaces:
        # A deployment-wide problem fails the timer here, instead of poisoning every message; a workspace
        # whose own destinations cannot be used is enqueued, and its worker run fails alone (shared.fleet).
        prepared(settings, workspace)
    return settings.workspaces


def _send(queue: QueueClient, text: str) -> str | None:
    """None when sent; otherwise what went wrong, without the request URL (it may carry a SAS)."""
    try:
        queue.send_message(text)
    except Exception as error:  # every send is tried; the failures are counted and named after
        return describe_storage_error(error)
    return None


# --- the worker: one workspace per message -------------------------------------------------------


def run_message(
    settings: Settings, text: str, *, stream: TextIO | None = None, now: datetime | None = None
) -> RunReport:
    """Evaluate the workspace a message names, at the message's clock: its report (``.failed``).

    ``InputError`` for a message that is not a workspace run; ``ConfigError`` when the workspace is
    not configured any more. A clock after ``now`` (default: the real clock) is cut back to it, so a
    message from a skewed or forged clock never evaluates a window that is not due yet.
    """
    run = parse_run(text)
    workspace = next((w for w in settings.workspaces if w.id == run.workspace), None)
    if workspace is None or settings.source != "loganalytics":
        raise ConfigError(
            f"workspace {run.workspace} ({shown(run.name)}) is not configured (LOG_ANALYTICS_WORKSPACE_ID or "
            "MFA_WORKSPACES_FILE): its message cannot be run and ends in the poison queue"
        )
    clock = min(run.clock(settings), now or datetime.now(UTC))
    logger.info("workspace %s: running the message for window %s", workspace.label, run.window)
    fleet = run_fleet(settings, now=clock, stream=stream, only=[workspace])
    return fleet.reports[0]
