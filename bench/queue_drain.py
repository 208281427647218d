"""The Functions host's queue loop, outside the host: how the benchmark (and its test) empties the
fan-out queue with several processes, as instances of ``MfaRejectedWorker`` would.

Each received message runs exactly as the worker runs it (``shared.fanout.run_message``); a success
deletes it; a failure leaves it to reappear after ``retry_after`` (host.json's visibilityTimeout); a
message dequeued ``MAX_DEQUEUE_COUNT`` times that fails again moves to ``<queue>-poison``, as the host
does. Not part of the product: in Azure the host does this.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TextIO

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, QueueMessage

from shared.errors import describe
from shared.fanout import MAX_DEQUEUE_COUNT, run_message
from shared.queue_client import create_if_absent, opened_queue, poison_queue_name
from shared.run_report import RunReport
from shared.settings import Settings

logger = logging.getLogger(__name__)


@dataclass
class DrainReport:
    """What a drain did: each received message is one attempt."""

    received: int = 0
    succeeded: int = 0  # runs that succeeded: their messages deleted
    failed: int = 0  # attempts that failed: their messages left to reappear (or poisoned)
    poisoned: int = 0  # messages moved to <queue>-poison
    lost: int = 0  # messages whose pop receipt expired before they were deleted (another drain has them)
    reports: list[RunReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0


def drain(
    settings: Settings,
    *,
    queue: str,
    stream: TextIO | None = None,
    max_messages: int | None = None,
    visibility_timeout: timedelta = timedelta(minutes=5),
    retry_after: timedelta = timedelta(minutes=1),
) -> DrainReport:
    """Run the messages of ``queue`` one at a time as the worker would, until it is empty (or
    ``max_messages`` were received). A success deletes its message; a failure leaves it to reappear
    after ``retry_after`` (host.json's visibilityTimeout); a message dequeued ``MAX_DEQUEUE_COUNT``
    times that fails again moves to ``<queue>-poison``, as the host does. Several drains may share a
    queue: a received message is invisible to the others for ``visibility_timeout``."""
    report = DrainReport()
    started = time.perf_counter()
    poison_name = poison_queue_name(queue)
    with opened_queue(settings, name=queue) as source, opened_queue(settings, name=poison_name) as poison:
        while max_messages is None or report.received < max_messages:
            try:
                message = source.receive_message(visibility_timeout=_seconds(visibility_timeout))
            except ResourceNotFoundError:
                message = None  # no queue yet: nothing was ever enqueued
            if message is None:
                break
            report.received += 1
            _drain_one(settings, message, source=source, poison=poison, report=report, stream=stream, retry=retry_after)
    report.seconds = time.perf_counter() - started
    counts = (report.received, report.succeeded, report.failed, report.poisoned)
    logger.info("drained %s: %d received, %d succeeded, %d failed, %d poisoned", queue, *counts)
    return report


def _drain_one(
    settings: Settings,
    message: QueueMessage,
    *,
    source: QueueClient,
    poison: QueueClient,
    report: DrainReport,
    stream: TextIO | None,
    retry: timedelta,
) -> None:
    if message.dequeue_count > MAX_DEQUEUE_COUNT:  # dequeued by a process that died before finishing
        _to_poison(message, source=source, poison=poison, report=report)
        return
    try:
        run = run_message(settings, message.content, stream=stream)
        error = run.error
        report.reports.append(run)
    except Exception as raised:  # as the host: whatever the run raises fails this attempt
        error = describe(raised)
    if error is None:
        report.succeeded += 1
        _delete(message, source=source, report=report)
        return
    report.failed += 1
    report.errors.append(error)
    logger.warning("message %s (dequeue %d) failed: %s", message.id, message.dequeue_count, error)
    if message.dequeue_count >= MAX_DEQUEUE_COUNT:
        _to_poison(message, source=source, poison=poison, report=report)
        return
    try:
        source.update_message(message, pop_receipt=message.pop_receipt, visibility_timeout=_seconds(retry))
    except ResourceNotFoundError:
        report.lost += 1


def _to_poison(message: QueueMessage, *, source: QueueClient, poison: QueueClient, report: DrainReport) -> None:
    create_if_absent(poison)
    poison.send_message(message.content)
    report.poisoned += 1
    logger.error("message %s moved to %s after %d dequeues", message.id, poison.queue_name, message.dequeue_count)
    _delete(message, source=source, report=report)


def _delete(message: QueueMessage, *, source: QueueClient, report: DrainReport) -> None:
    try:
        source.delete_message(message.id, message.pop_receipt)
    except ResourceNotFoundError:
        # Its visibility ran out and another drain received it: that one will run it (idempotently).
        report.lost += 1


def _seconds(span: timedelta) -> int:
    return max(0, int(span.total_seconds()))
