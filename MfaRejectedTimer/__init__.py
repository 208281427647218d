"""The timer-triggered entry point. Thin on purpose: all logic lives in the ``shared`` package."""

from __future__ import annotations

import logging

import azure.functions as func

logger = logging.getLogger(__name__)


def main(timer: func.TimerRequest) -> None:
    # Scaffold: the runner (windows, outbox, state) is wired in by the timer issue.
    if timer.past_due:
        logger.warning("timer is past due; missed windows are caught up from the checkpoint")
    logger.info("MfaRejectedTimer fired")
