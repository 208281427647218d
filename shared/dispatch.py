"""Deliver what the outbox holds: each sink in its own lane, each item's failure its own.

Promises (tests/test_dispatch.py holds each to account):
- one sink's trouble never delays another: every sink is a lane of its own, and the lanes run at
  the same time; within a lane, two transient failures in a row mean the receiver is down, and its
  other items wait for the next run (a dead endpoint cannot eat the function's timeout);
- whatever one delivery raises (short of the process dying) is that item's failure, recorded with
  a redacted message; the lane goes on with the next item;
- every item is claimed (compare-and-swap) before it is sent, so two runners never send it both;
  the claim's lease is longer than the longest delivery can take;
- failures are retried on later runs with exponential backoff; a permanent failure or
  ``max_attempts`` failures make the item dead: logged as an error, shown by ``status``, never
  dropped (``python -m shared requeue`` sends it again);
- alerts recorded while no sink was configured wait under the sink name ``unrouted``; the first
  run that has sinks hands each one to every sink, so nothing recorded is ever lost;
- an alert delivered more than ``late_after`` after it was detected says so (``delayed``);
- rule alerts and health alerts share the outbox and the sinks: each payload is read by its
  ``"schema"`` (``shared.documents.read_document``); one of any other schema is a permanent failure.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from shared.documents import read_document
from shared.errors import DeliveryError, MfaRejectedError, StateConflictError, describe
from shared.instants import format_instant
from shared.redaction import Redactor
from shared.sinks.base import Sink
from shared.state.base import NewItem, Outbox, OutboxItem

logger = logging.getLogger(__name__)

# How long a claimed outbox item is ours before another run may try it (a crashed sender's items
# come due again after this). It must outlast the longest delivery (checked in OutboxDispatcher).
DELIVERY_LEASE: Final = timedelta(minutes=10)


def lease_for(longest_delivery: timedelta) -> timedelta:
    """The lease for sinks whose delivery takes at most ``longest_delivery``: ``DELIVERY_LEASE``, or
    twice the longest delivery when that is longer (slow deadlines times several requests)."""
    return max(DELIVERY_LEASE, 2 * longest_delivery)


# Backoff between delivery attempts across runs: 2, 4, 8 ... minutes, at most an hour, +-20 % jitter.
FIRST_RETRY: Final = timedelta(minutes=2)
MAX_RETRY: Final = timedelta(hours=1)
DUE_BATCH: Final = 500
# After this many transient failures in a row, a sink counts as down for the rest of the run.
SINK_DOWN_AFTER: Final = 2
# The sink name under which alerts wait while no sink is configured.
UNROUTED: Final = "unrouted"


@dataclass(slots=True)
class Tally:
    """What one delivery pass did."""

    delivered: int = 0
    retried: int = 0
    deferred: int = 0
    dead: int = 0
    unrouted: int = 0  # alerts waiting for a sink to be configured
    errors: list[str] = field(default_factory=list)  # a lane that could not go on (the state store failed)
    by_sink: dict[str, Counter[str]] = field(default_factory=dict)  # sink -> outcome -> count
    delivered_alerts: set[str] = field(default_factory=set)  # ids delivered to at least one sink

    def count(self, sink: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        self.by_sink.setdefault(sink, Counter())[outcome] += 1

    def add(self, other: Tally) -> None:
        self.delivered += other.delivered
        self.retried += other.retried
        self.deferred += other.deferred
        self.dead += other.dead
        self.unrouted += other.unrouted
        self.errors.extend(other.errors)
        self.delivered_alerts |= other.delivered_alerts
        for sink, outcomes in other.by_sink.items():
            self.by_sink.setdefault(sink, Counter()).update(outcomes)


@dataclass
class OutboxDispatcher:
    """Delivers due outbox items to ``sinks``. Everything external is passed in."""

    state: Outbox
    sinks: Sequence[Sink]
    max_attempts: int
    late_after: timedelta  # an alert delivered later than this after detection is marked delayed
    redact: Redactor = field(default_factory=Redactor)
    lease: timedelta = DELIVERY_LEASE
    longest_delivery: timedelta = timedelta(0)  # the sinks' worst case, for the lease check
    jitter: Callable[[], float] = field(default=random.random)

    def __post_init__(self) -> None:
        if self.lease <= self.longest_delivery:
            raise ValueError(f"the delivery lease ({self.lease}) must outlast a delivery ({self.longest_delivery})")
        names = [sink.name for sink in self.sinks]
        if len(set(names)) != len(names) or UNROUTED in names:
            raise ValueError(f"sink names must be unique and not {UNROUTED!r}, got {names}")

    def dispatch(self, *, now: datetime) -> Tally:
        """Deliver every due item, each sink's items in a lane of their own, all lanes at once."""
        tally = Tally()
        due = self.state.due(now=now, limit=DUE_BATCH)
        if any(item.sink == UNROUTED for item in due):
            tally.unrouted = self._route([item for item in due if item.sink == UNROUTED], now=now)
            due = self.state.due(now=now, limit=DUE_BATCH)
        lanes: dict[str, list[OutboxItem]] = {}
        for item in due:
            if item.sink != UNROUTED:
                lanes.setdefault(item.sink, []).append(item)
        if not lanes:
            return tally
        sinks = {sink.name: sink for sink in self.sinks}
        with ThreadPoolExecutor(max_workers=len(lanes), thread_name_prefix="deliver") as pool:
            futures = [
                pool.submit(self._lane, items, sinks.get(name), now=now) for name, items in sorted(lanes.items())
            ]
            for future in futures:
                tally.add(future.result())
        return tally

    def _route(self, items: list[OutboxItem], *, now: datetime) -> int:
        """Hand alerts recorded with no sink to every configured sink; how many still wait."""
        if not self.sinks:
            logger.warning(
                "%d alert(s) wait in the outbox: no sink is configured (set a destination: MFA_TEAMS_WEBHOOK_URL, "
                "MFA_WEBHOOK_URL, MFA_SLACK_WEBHOOK_URL, MFA_PAGERDUTY_ROUTING_KEY, MFA_JIRA_URL or "
                "MFA_SERVICENOW_URL; the next run delivers them)",
                len(items),
            )
            return len(items)
        for item in items:
            claimed = self.state.claim(item, now=now, lease=self.lease)
            if claimed is None:
                continue  # another runner is routing it
            # Insert-only: a crash between these two steps routes it again next time, harmlessly.
            self.state.add_items(
                [NewItem(item.alert_id, sink.name, item.payload, created_at=item.created_at) for sink in self.sinks]
            )
            self.state.mark_delivered(claimed, at=now)
            logger.info("alert %s, recorded with no sink, handed to %s", item.alert_id, _names(self.sinks))
        return 0

    def _lane(self, items: list[OutboxItem], sink: Sink | None, *, now: datetime) -> Tally:
        """One sink's items, oldest first, until done or the sink is down for this run."""
        tally = Tally()
        failing = 0  # transient failures in a row
        for item in items:
            if failing >= SINK_DOWN_AFTER:
                tally.count(item.sink, "deferred")
                continue
            try:
                claimed = self.state.claim(item, now=now, lease=self.lease)
                if claimed is None:
                    continue  # another runner is delivering it
                failure = self._deliver(claimed, sink, now=now)
                self._record(claimed, failure, now=now, tally=tally)
            except Exception as error:  # the state store failed (deliveries never raise): this lane cannot go on
                tally.errors.append(f"delivering to {item.sink}: {self.redact(describe(error))}")
                logger.error("delivery to %s stopped: %s", item.sink, tally.errors[-1])
                break
            failing = failing + 1 if failure is not None and not failure.permanent else 0
        return tally

    def _deliver(self, item: OutboxItem, sink: Sink | None, *, now: datetime) -> DeliveryError | None:
        """Send one claimed item; the failure if it failed. Never raises an Exception."""
        try:
            if sink is None:
                raise DeliveryError(f"sink {item.sink!r} is no longer configured")
            alert = read_document(item.payload)  # a rule alert or a health alert
            delay = now - alert.detected_at
            sink.deliver(alert.delayed(delay) if delay > self.late_after else alert)
        except DeliveryError as error:
            return DeliveryError(self.redact(str(error)), permanent=error.permanent)
        except MfaRejectedError as error:  # a stored alert that cannot be read back: keep it, mark dead
            return DeliveryError(self.redact(str(error)), permanent=True)
        except Exception as error:  # any other exception is this item's failure, never the run's
            return DeliveryError(
                self.redact(f"{item.sink}: unexpected {type(error).__name__} while delivering: {error}"),
                permanent=False,
            )
        return None

    def _record(self, item: OutboxItem, failure: DeliveryError | None, *, now: datetime, tally: Tally) -> None:
        if failure is None:
            self.state.mark_delivered(item, at=now)
            tally.count(item.sink, "delivered")
            tally.delivered_alerts.add(item.alert_id)
            return
        exhausted = item.attempts >= self.max_attempts
        dead = failure.permanent or exhausted
        retry_at = None if dead else now + self.backoff(item.attempts)
        try:
            self.state.mark_failed(item, at=now, error=str(failure), retry_at=retry_at)
        except StateConflictError:
            return  # another runner handled it meanwhile; its outcome stands
        if retry_at is None:
            tally.count(item.sink, "dead")
            why = "a permanent failure" if failure.permanent else f"{item.attempts} attempts"
            logger.error(
                "alert %s to %s is DEAD after %s: %s (`python -m shared requeue %s` sends it again)",
                item.alert_id,
                item.sink,
                why,
                failure,
                item.alert_id,
            )
            return
        tally.count(item.sink, "retried")
        logger.warning(
            "alert %s to %s failed (attempt %d), retrying from %s: %s",
            item.alert_id,
            item.sink,
            item.attempts,
            format_instant(retry_at),
            failure,
        )

    def backoff(self, attempts: int) -> timedelta:
        """Exponential backoff with +-20 % jitter, capped."""
        doublings = min(max(attempts - 1, 0), 16)  # capped before multiplying, so it cannot overflow
        base = min(FIRST_RETRY * 2**doublings, MAX_RETRY)
        return base * (0.8 + 0.4 * self.jitter())


def _names(sinks: Sequence[Sink]) -> str:
    return ", ".join(sink.name for sink in sinks)
