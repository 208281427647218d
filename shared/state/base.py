"""The durable state's data and protocol: checkpoint, outbox, skipped windows, suppression.

Every store keeps the same promises (tests/state/test_store_contract.py runs one suite over each):

- ``commit_window`` records a window's outbox items and suppression times and moves the checkpoint
  in one step that only succeeds if the checkpoint is still what the caller read (optimistic
  concurrency);
- a suppression time never moves backwards: the later of the stored and the new time is kept;
- items are inserted only if absent, so committing a window again never resets a delivered item or
  an item's attempts;
- ``claim`` is a compare-and-swap on the item's version, so two runners cannot both send it;
- every datetime goes in and comes out timezone-aware UTC, exact to the microsecond;
- a stored value that cannot be read is a one-line ``StateStorageError`` naming the store, the row
  and the field (``StoredRow``), never a ValueError from deep inside and never silently replaced;
- any ``str`` can be stored as error or reason text (``storable_text``), with the same result in
  every store.

A store holds one stream's state; a scope (``SCOPE_PATTERN``, a workspace GUID) gives each stream a
state of its own, apart from every other scope's and from the unscoped one.

The protocol is three by job (``Checkpoints``, ``Outbox``, ``SuppressionLog``), so code that needs one
job can say so; ``StateStore`` is all three. How values are stored and read back is in
``shared.state.stored``; the argument checks both stores make, in ``shared.state.preconditions``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Final, Literal, Protocol, get_args

from shared.display import shown
from shared.errors import MfaRejectedError

Status = Literal["pending", "delivered", "dead"]
STATUSES: Final[tuple[str, ...]] = get_args(Status)

# Alert ids are hex digests and sink names short words; both end up in Azure Table keys, which
# forbid / \ # ? and control characters, so the store accepts only characters safe in any key.
# A sink name has no ':' so "<alert_id>:<sink>" is unambiguous.
ALERT_ID_PATTERN: Final = re.compile(r"[A-Za-z0-9_.:-]{1,200}")
SINK_PATTERN: Final = re.compile(r"[a-z0-9][a-z0-9_-]{0,49}")

# A scope names one stream's state (a Log Analytics workspace GUID, as lower-case canonical text). It
# becomes part of a file name and of Table PartitionKeys, so only characters safe in both; no '.', so
# "<scope>.<partition>" can never equal another scope's partition or an unscoped one.
SCOPE_PATTERN: Final = re.compile(r"[A-Za-z0-9-]{1,64}")

# Error texts come from sinks (HTTP status lines, exception messages); an outbox item keeps the
# start of the latest one, which is what a person needs, and bounded so a table entity stays small.
# Skip reasons are short phrases and get the same bound.
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


@dataclass(frozen=True)
class RunNote:
    """How the stream's runs went: the latest run (``error`` "" if it succeeded) and the latest failure
    (``failed_at`` None and ``failure`` "" if no run ever failed), kept after later successes."""

    at: datetime
    error: str
    failed_at: datetime | None
    failure: str


# The default for ``alerted``: nothing to record. Read-only, so no call can change it for the next.
NO_ALERTED: Final[Mapping[str, datetime]] = MappingProxyType({})


class Checkpoints(Protocol):
    """How far evaluation has got: the checkpoint, moved one window at a time, and the skipped ranges."""

    def checkpoint(self) -> Checkpoint | None:
        """The current checkpoint, or None before the first committed window."""
        ...

    def commit_window(
        self,
        *,
        window_end: datetime,
        items: Sequence[NewItem],
        expected: Checkpoint | None,
        alerted: Mapping[str, datetime] = NO_ALERTED,
    ) -> Checkpoint:
        """Record ``items`` (each (alert_id, sink) only if absent) and ``alerted`` (as ``remember_alerted``
        would, each key's later time kept) and move the checkpoint from ``expected`` to ``window_end``,
        in one step; return the new checkpoint.

        Raises ``StateConflictError`` if the checkpoint is no longer ``expected`` (None: there must
        be no checkpoint yet). ``window_end`` must be later than ``expected.end``. Each store's module
        says what a conflict found at the last moment leaves behind.
        """
        ...

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        """Record a range left unevaluated (kept once per (start, end); the first record wins).

        ``reason`` is kept as ``storable_text`` makes it."""
        ...

    def skipped(self) -> list[SkippedRange]:
        """Every skipped range, by start then end."""
        ...

    def record_run(self, *, at: datetime, error: str) -> None:
        """Record that a run of this stream finished at ``at``: ``error`` "" for success, else its text
        (kept as ``storable_text`` makes it). Merged into the stored note as ``next_run_note`` says."""
        ...

    def last_run(self) -> RunNote | None:
        """The run note, or None before the first ``record_run``."""
        ...


class Outbox(Protocol):
    """The alerts to deliver, one item per alert and sink, each claimed before it is sent."""

    def add_items(self, items: Sequence[NewItem], *, alerted: Mapping[str, datetime] = NO_ALERTED) -> None:
        """Record ``items`` (each (alert_id, sink) only if absent) and ``alerted`` (as ``remember_alerted``
        would) without touching the checkpoint: for re-evaluating old windows (backfill)."""
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

        ``error`` may be any text; it is kept as ``storable_text`` makes it (bounded, surrogates replaced).

        ``item`` must be the claimed version; raises ``StateConflictError`` (nothing written) if the
        item changed since, so a late failure report cannot undo another runner's delivery.
        """
        ...

    def requeue(self, *, alert_ids: Sequence[str] | None, now: datetime) -> list[OutboxItem]:
        """Put dead items back to pending with a fresh attempt count, for another round of delivery.

        ``alert_ids=None`` means every dead item; otherwise the dead items (any sink) of those alerts.
        Each becomes pending with attempts 0, ``next_attempt_at = now`` (so ``due(now=now)`` returns it)
        and a new version; ``last_error`` and ``last_failed_at`` are kept as history. Delivered and
        pending items are never touched, also when one changes concurrently (an item that is no
        longer dead when written is skipped). Ids that are absent or not dead are not in the result.
        Returns the requeued items, as stored now, in ``due`` order.
        """
        ...

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        """Every outbox item (or those with ``status``), in ``due`` order."""
        ...


class SuppressionLog(Protocol):
    """When each suppression key (e.g. user + IP) was last alerted on, for MFA_SUPPRESSION."""

    def last_alerted(self, key: str) -> datetime | None:
        """When ``key`` (any non-empty str) was last alerted on, or None if never."""
        ...

    def remember_alerted(self, key: str, at: datetime) -> None:
        """Record that ``key`` was alerted on at ``at``. The later of the stored and the new time is kept:
        re-evaluating an old window (backfill) must not shorten a suppression still running."""
        ...


class StateStore(Checkpoints, Outbox, SuppressionLog, Protocol):
    """All of the durable state, in one store."""

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


def check_scope(scope: str | None) -> str | None:
    """``scope`` if it can name a stream's state (None: the one unscoped state); ValueError otherwise."""
    if scope is not None and not (isinstance(scope, str) and SCOPE_PATTERN.fullmatch(scope)):
        raise ValueError(f"state scope must match {SCOPE_PATTERN.pattern} (a workspace GUID), got {scope!r}")
    return scope


def next_run_note(stored: RunNote | None, *, at: datetime, error: str) -> RunNote:
    """``stored`` with a run at ``at`` recorded (``at`` aware UTC, ``error`` already storable).

    Runners record out of order (two overlapping runs, a slow one finishing last), so each half keeps
    the later time: the latest run by ``at``, the latest failure by ``failed_at``. A record at the same
    time as the stored one replaces it.
    """
    if stored is None:
        return RunNote(at=at, error=error, failed_at=at if error else None, failure=error)
    at_, error_ = (at, error) if at >= stored.at else (stored.at, stored.error)
    newer_failure = bool(error) and (stored.failed_at is None or at >= stored.failed_at)
    failed_at, failure = (at, error) if newer_failure else (stored.failed_at, stored.failure)
    return RunNote(at=at_, error=error_, failed_at=failed_at, failure=failure)


def outbox_row_name(alert_id: object, sink: object) -> str:
    """How messages name an outbox row; ids that are not key-safe text are quoted."""
    alert = alert_id if isinstance(alert_id, str) and ALERT_ID_PATTERN.fullmatch(alert_id) else shown(alert_id)
    sink_name = sink if isinstance(sink, str) and SINK_PATTERN.fullmatch(sink) else shown(sink)
    return f"outbox item {alert} for sink {sink_name}"


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
