"""The benchmark's stand-in for the Functions host's queue loop (bench/queue_drain.py), against a real
Azurite queue and loopback workspaces (the fixtures of tests/test_fanout.py)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

from bench.queue_drain import drain
from shared.fanout import enqueue_runs, parse_run
from tests.harness.azurite import Azurite
from tests.harness.la_server import Fault
from tests.test_fanout import FABRIKAM, Fleet, fleet, message_count, plain_queue

__all__ = ["fleet"]  # the fixture, used by name


def test_drain_delivers_the_healthy_workspace_and_poisons_the_failing_one_after_five_dequeues(
    fleet: Fleet, azurite: Azurite
) -> None:
    # Retry-After keeps the SDK's own retries of the 503 fast.
    fleet.servers["fabrikam"].fail(Fault(status=503, times=10_000, headers={"Retry-After": "0.01"}))
    name = fleet.settings.fanout_queue
    enqueue_runs(fleet.settings, now=datetime.now(UTC))

    first = drain(fleet.settings, queue=name, max_messages=2, retry_after=timedelta(0))
    assert (first.received, first.succeeded, first.failed, first.poisoned) == (2, 1, 1, 0)
    assert fleet.delivered("contoso") == ["alice@contoso.com"]
    assert message_count(azurite, name) == 1  # the failing one stays, visible again at once

    rest = drain(fleet.settings, queue=name, retry_after=timedelta(0))
    assert (rest.received, rest.succeeded, rest.failed, rest.poisoned) == (4, 0, 4, 1)
    assert all("fabrikam" in error or "503" in error or "unavailable" in error.lower() for error in rest.errors)
    assert message_count(azurite, name) == 0
    with plain_queue(azurite, name + "-poison") as poison:
        [poisoned] = list(poison.receive_messages())
    assert parse_run(base64.b64decode(poisoned.content).decode()).workspace == FABRIKAM
    assert fleet.delivered("fabrikam") == []
    assert len(fleet.receiver.requests) == 1


def test_a_failed_message_waits_out_its_retry_delay_and_drain_stops_at_an_empty_queue(
    fleet: Fleet, azurite: Azurite
) -> None:
    fleet.servers["fabrikam"].fail(Fault(status=503, times=10_000, headers={"Retry-After": "0.01"}))
    name = fleet.settings.fanout_queue
    enqueue_runs(fleet.settings, now=datetime.now(UTC))
    report = drain(fleet.settings, queue=name)  # the default retry delay: a minute, as host.json's
    assert (report.received, report.succeeded, report.failed, report.poisoned) == (2, 1, 1, 0)
    assert message_count(azurite, name) == 1  # invisible, not gone
    assert drain(fleet.settings, queue=name).received == 0


def test_drain_of_a_queue_never_created_receives_nothing(fleet: Fleet) -> None:
    assert drain(fleet.settings, queue="never-" + uuid.uuid4().hex[:8]).received == 0
