"""The durable state's data and protocol: checkpoint, outbox, skipped windows, suppression.

Every store keeps the same promises (tests/state/test_store_contract.py runs one suite over each):

- ``commit_window`` records a window's outbox items and moves the checkpoint in one step that only
  succeeds if the checkpoint is still what the caller read (optimistic concurrency);
- items are inserted only if absent, so committing a window again never resets a delivered item or
  an item's attempts;
- ``claim`` is a compare-and-swap on the item's version, so two runners cannot both send it;
- every datetime goes in and comes out timezone-aware UTC, exact to the microsecond.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Literal, Protocol, get_args

from shared.errors import MfaRejectedError

Status = Literal["pending", "delivered", "dead"]
STATUSES: Final[tuple[str, ...]] = get_args(Status)

# Alert ids are hex digests and sink names short words; both end up in Azure Table keys, which
# forbid / \ # ? and control characters, so the store accepts only characters safe in any key.
# A sink name has no ':' so "<alert_id>:<sink>" is unambiguous.
ALERT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
SINK_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")

# Error texts come from sinks (HTTP status lines, exception messages); an outbox item keeps the
# start of the latest one, which is what a person needs, and bounded so a table entity stays small.
MAX_ERROR_CHARS: Final = 2000


class StateStorageError(MfaRejectedError):
    """The state store could not be read or written (unreachable, unauthorized, locked, corrupt).

    ``status`` is the HTTP status for Azure Table storage (None for SQLite or when no response came
    back); ``where`` names the table or file. The message never holds a key or connection string.
    """

    def __init__(self, message: str, *, where: str, status: int | None = None) -> None:
        super().__init__(message)
        self.where = where
        self.status = status


@dataclass(frozen=True)
class Checkpoint:
    """Every window ending at or before ``end`` has been evaluated and its alerts recorded."""

    end: datetime
    version: str  # the store's row version (SQLite counter, Table ETag): pass it back unchanged


@dataclass(frozen=True)
class NewItem:
    """One alert for one sink, as the runner hands it to ``commit_window``."""

    alert_id: str
    sink: str
    payload: str  # the alert as JSON text; the store never looks inside
    created_at: datetime


@dataclass(frozen=True)
class OutboxItem:
    alert_id: str
    sink: str
    payload: str
    created_at: datetime
    status: Status
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None
    version: str  # changes on every write; claim and mark_failed succeed only on the version read
    last_failed_at: datetime | None = None  # when mark_failed last recorded an error


@dataclass(frozen=True)
class SkippedRange:
    """Sign-in time [start, end) that was not evaluated because it lay beyond the catch-up bound."""

    start: datetime
    end: datetime
    reason: str
    recorded_at: datetime


class StateStore(Protocol):
    def checkpoint(self) -> Checkpoint | None:
        """The current checkpoint, or None before the first committed window."""
        ...

    def commit_window(
        self, *, window_end: datetime, items: Sequence[NewItem], expected: Checkpoint | None
    ) -> Checkpoint:
        """Record ``items`` (each (alert_id, sink) only if absent) and move the checkpoint from
        ``expected`` to ``window_end``; return the new checkpoint.

        Raises ``StateConflictError`` if the checkpoint is no longer ``expected`` (None: there must
        be no checkpoint yet). ``window_end`` must be later than ``expected.end``.
        """
        ...

    def add_items(self, items: Sequence[NewItem]) -> None:
        """Record ``items`` (each (alert_id, sink) only if absent) without touching the checkpoint:
        for re-evaluating old windows (backfill)."""
        ...

    def due(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        """Pending items with ``next_attempt_at <= now``, oldest ``created_at`` first (then alert_id, sink)."""
        ...

    def claim(self, item: OutboxItem, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        """Take ``item`` for one delivery attempt: attempts + 1, next_attempt_at = now + lease.

        Returns the claimed item, or None if it changed since it was read (another runner won) or is
        no longer pending. A runner that dies mid-send leaves it to come due again after the lease.
        """
        ...

    def mark_delivered(self, item: OutboxItem, *, at: datetime) -> None:
        """Record a delivery. A delivery is a fact: this wins over any concurrent change, and the
        first ``delivered_at`` is kept if the item was already delivered."""
        ...

    def mark_failed(self, item: OutboxItem, *, at: datetime, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: pending again from ``retry_at``, or dead when ``retry_at`` is None.

        ``item`` must be the claimed version; raises ``StateConflictError`` (nothing written) if the
        item changed since, so a late failure report cannot undo another runner's delivery.
        """
        ...

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        """Every outbox item (or those with ``status``), in ``due`` order."""
        ...

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        """Record a range left unevaluated (kept once per (start, end); the first record wins)."""
        ...

    def skipped(self) -> list[SkippedRange]:
        """Every skipped range, by start then end."""
        ...

    def last_alerted(self, key: str) -> datetime | None:
        """When ``key`` (e.g. user + IP) was last alerted on, for MFA_SUPPRESSION."""
        ...

    def remember_alerted(self, key: str, at: datetime) -> None:
        """Set when ``key`` was last alerted on (overwrites)."""
        ...

    def close(self) -> None:
        """Release connections; the store is not used afterwards."""
        ...


def utc(value: datetime, *, name: str) -> datetime:
    """``value`` as aware UTC; a naive datetime is refused rather than guessed."""
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


def to_text(value: datetime, *, name: str) -> str:
    """Fixed-width ISO 8601 UTC text: sorts and compares as text exactly as the instants do."""
    return utc(value, name=name).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def from_text(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def check_new_item(item: NewItem) -> None:
    if not ALERT_ID_PATTERN.fullmatch(item.alert_id):
        raise ValueError(f"alert id must match {ALERT_ID_PATTERN.pattern}, got {item.alert_id!r}")
    if not SINK_PATTERN.fullmatch(item.sink):
        raise ValueError(f"sink name must match {SINK_PATTERN.pattern}, got {item.sink!r}")
    if not isinstance(item.payload, str):
        raise TypeError(f"payload of alert {item.alert_id} must be JSON text (str)")
    utc(item.created_at, name="created_at")


def check_window_end(window_end: datetime, expected: Checkpoint | None) -> datetime:
    end = utc(window_end, name="window_end")
    if expected is not None and end <= expected.end:
        raise ValueError(
            f"the checkpoint only moves forward: window_end {end.isoformat()} is not after {expected.end.isoformat()}"
        )
    return end


def check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {status!r}")


def check_key(key: str) -> None:
    if not isinstance(key, str) or not key:
        raise ValueError("suppression key must be a non-empty string")


def order_key(item: OutboxItem) -> tuple[datetime, str, str]:
    return (item.created_at, item.alert_id, item.sink)


def conflict_message(expected: Checkpoint | None, current: str | None) -> str:
    wanted = "no checkpoint yet" if expected is None else f"checkpoint version {expected.version}"
    found = "none" if current is None else f"version {current}"
    return f"state conflict: expected {wanted} but found {found}; another runner committed first"


def missing_message(item: OutboxItem) -> str:
    return f"state conflict: outbox item {item.alert_id} for sink {item.sink} does not exist"


def stale_message(item: OutboxItem) -> str:
    return (
        f"state conflict: outbox item {item.alert_id} for sink {item.sink} changed since version "
        f"{item.version}; another runner handled it"
    )
