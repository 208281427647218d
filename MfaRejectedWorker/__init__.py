"""The queue-triggered worker (MFA_FANOUT=queue): one workspace per message. Thin on purpose: the work
lives in ``shared.fanout``."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.fanout import run_message
from shared.settings import load_settings

logger = logging.getLogger(__name__)


class RunFailedError(RuntimeError):
    """Raised so the host fails the invocation: the message reappears after host.json's visibilityTimeout
    and, after maxDequeueCount dequeues, moves to the poison queue."""


def main(message: func.QueueMessage) -> None:
    if (message.dequeue_count or 0) > 1:
        # A retry: the workspace's checkpoint and outbox make a second run send nothing twice.
        logger.warning("message %s: dequeue %d", message.id, message.dequeue_count)
    settings = load_settings()
    report = run_message(settings, message.get_body().decode("utf-8"))
    if report.failed:
        raise RunFailedError(report.error)
