"""The durable state's data and protocol: checkpoint, outbox, skipped windows, suppression.

Every store keeps the same promises (tests/state/test_store_contract.py runs one suite over each):

- ``commit_window`` records a window's outbox items and moves the checkpoint in one step that only
  succeeds if the checkpoint is still what the caller read (optimistic concurrency);
- items are inserted only if absent, so committing a window again never resets a delivered item or
  an item's attempts;
- ``claim`` is a compare-and-swap on the item's version, so two runners cannot both send it;
- every datetime goes in and comes out timezone-aware UTC, exact to the microsecond;
- a stored value that cannot be read is a one-line ``StateStorageError`` naming the store, the row
  and the field (``StoredRow``), never a ValueError from deep inside and never silently replaced;
- any ``str`` can be stored as error or reason text (``storable_text``), with the same result in
  every store.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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

# Error texts come from sinks (HTTP status lines, exception messages); an outbox item keeps the
# start of the latest one, which is what a person needs, and bounded so a table entity stays small.
# Skip reasons are short phrases and get the same bound.
MAX_ERROR_CHARS: Final = 2000

# The only time text the stores write (``to_text``). Reading accepts nothing looser: SQL ``<=`` and the
# Table filter ``le`` compare these as text, which follows time only at this fixed width, and a naive
# "2026-03-01T10:00:00" would otherwise be taken as local time.
_TIME_TEXT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
_SURROGATES: Final = re.compile(r"[\ud800-\udfff]")


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

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        """Record a range left unevaluated (kept once per (start, end); the first record wins).

        ``reason`` is kept as ``storable_text`` makes it."""
        ...

    def skipped(self) -> list[SkippedRange]:
        """Every skipped range, by start then end."""
        ...

    def last_alerted(self, key: str) -> datetime | None:
        """When ``key`` (e.g. user + IP; any non-empty str) was last alerted on, for MFA_SUPPRESSION."""
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
    """The instant ``to_text`` wrote; ValueError for any other text (see ``StoredRow`` for reading rows)."""
    if not isinstance(text, str) or not _TIME_TEXT.fullmatch(text):
        raise ValueError(f"not a time as the store writes it (YYYY-MM-DDTHH:MM:SS.ffffffZ): {text!r}")
    return datetime.fromisoformat(text).astimezone(UTC)  # still refuses e.g. month 13


def storable_text(text: str, *, limit: int) -> str:
    """``text`` cut to ``limit`` characters, each surrogate code point replaced by U+FFFD.

    Every store keeps exactly this: SQLite cannot encode a surrogate as UTF-8 and the Table service
    may pair or refuse them, while NUL and other control characters round-trip unchanged in both.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return _SURROGATES.sub("\ufffd", text[:limit])


def check_new_item(item: NewItem) -> None:
    if not ALERT_ID_PATTERN.fullmatch(item.alert_id):
        raise ValueError(f"alert id must match {ALERT_ID_PATTERN.pattern}, got {item.alert_id!r}")
    if not SINK_PATTERN.fullmatch(item.sink):
        raise ValueError(f"sink name must match {SINK_PATTERN.pattern}, got {item.sink!r}")
    if not isinstance(item.payload, str):
        raise TypeError(f"payload of alert {item.alert_id} must be JSON text (str)")
    # The payload is stored as given, so it must be encodable: JSON escapes a surrogate as \udxxx.
    if (surrogate := _SURROGATES.search(item.payload)) is not None:
        raise ValueError(
            f"payload of alert {item.alert_id} for sink {item.sink} contains the surrogate code point "
            f"U+{ord(surrogate[0]):04X} at index {surrogate.start()}: JSON text for the store must escape it"
        )
    utc(item.created_at, name="created_at")


def check_alert_ids(alert_ids: Sequence[str] | None) -> frozenset[str] | None:
    """The ids ``requeue`` looks for (None: all). Text that cannot be an alert id is dropped: no item has it."""
    if alert_ids is None:
        return None
    if isinstance(alert_ids, str):  # a str is a Sequence[str] of its characters: surely a mistake
        raise TypeError("alert_ids must be a sequence of alert ids or None, not one str")
    for alert_id in alert_ids:
        if not isinstance(alert_id, str):
            raise TypeError(f"alert ids must be str, got {type(alert_id).__name__}")
    return frozenset(alert_id for alert_id in alert_ids if ALERT_ID_PATTERN.fullmatch(alert_id))


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


def outbox_row_name(alert_id: object, sink: object) -> str:
    """How messages name an outbox row; ids that are not key-safe text are quoted."""
    alert = alert_id if isinstance(alert_id, str) and ALERT_ID_PATTERN.fullmatch(alert_id) else shown(alert_id)
    sink_name = sink if isinstance(sink, str) and SINK_PATTERN.fullmatch(sink) else shown(sink)
    return f"outbox item {alert} for sink {sink_name}"


MISSING: Final = object()  # a field a stored row lacks altogether (a Table entity property)


@dataclass(frozen=True)
class StoredRow:
    """Reads the fields of one stored row, so that every store reports damage the same way.

    A field that cannot be read raises ``StateStorageError``: "<place>: <row> is unreadable (<field>
    <value> is not ...); the state is damaged: <remedy>". Nothing is repaired or overwritten here:
    the person who reads the message decides.
    """

    place: str  # "state file <path>" / "state table <url>"
    where: str  # StateStorageError.where
    row: str  # "the checkpoint", "outbox item a1 for sink teams", ...
    remedy: str  # what to do, for this store and row

    def damaged(self, field: str, value: object, expected: str) -> StateStorageError:
        found = f"{field} missing" if value is MISSING else f"{field} {shown(value)} is not {expected}"
        return StateStorageError(
            f"{self.place}: {self.row} is unreadable ({found}); the state is damaged: {self.remedy}",
            where=self.where,
        )

    def time(self, field: str, value: object) -> datetime:
        try:
            return from_text(value)  # type: ignore[arg-type]  # anything else is refused there
        except ValueError:
            raise self.damaged(field, value, "a UTC time as the store writes it") from None

    def optional_time(self, field: str, value: object) -> datetime | None:
        # SQLite stores an absent time as NULL, the Table store as "" (it cannot store a null).
        return None if value is None or value == "" else self.time(field, value)

    def integer(self, field: str, value: object) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,18}", value):
            return int(value)
        raise self.damaged(field, value, "an integer")

    def text(self, field: str, value: object) -> str:
        if isinstance(value, str):
            return value
        raise self.damaged(field, value, "text")

    def status(self, field: str, value: object) -> Status:
        if isinstance(value, str) and value in STATUSES:
            return value  # type: ignore[return-value]  # checked against STATUSES just above
        raise self.damaged(field, value, " or ".join(STATUSES))


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
