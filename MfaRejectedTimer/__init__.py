"""The timer-triggered entry point. Thin on purpose: the job lives in the ``shared`` package."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import azure.functions as func

from shared.fanout import enqueue_runs
from shared.fleet import is_fleet, run_fleet
from shared.job import run_scheduled
from shared.settings import load_settings

logger = logging.getLogger(__name__)


class RunFailedError(RuntimeError):
    """Raised so the Functions host records the invocation as failed (and applies its retry policy)."""


def main(timer: func.TimerRequest) -> None:
    if timer.past_due:
        # Nothing special to do: the runner catches up every missed window from the checkpoint.
        logger.warning("timer is past due; missed windows are caught up from the checkpoint")
    settings = load_settings()
    if settings.fanout == "queue":
        # One message per workspace; MfaRejectedWorker runs each (shared.fanout). A send that fails
        # raises after every other message was sent.
        enqueue_runs(settings, now=datetime.now(UTC))
        return
    if is_fleet(settings):
        # Every named workspace, each its own stream; the others advance when one fails (shared.fleet).
        fleet = run_fleet(settings, now=datetime.now(UTC))
        if fleet.error:
            raise RunFailedError(fleet.error)
        return
    report = run_scheduled(settings, now=datetime.now(UTC))
    if report.failed:
        raise RunFailedError(report.error)
