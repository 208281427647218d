"""The argument checks every store makes before it touches storage, in one place.

Each store calls these by name, so both refuse the same arguments with the same ``ValueError`` or
``TypeError`` and nothing is written for a call that is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from shared.state.base import (
    ALERT_ID_PATTERN,
    MAX_ERROR_CHARS,
    SINK_PATTERN,
    STATUSES,
    Checkpoint,
    NewItem,
    utc,
)
from shared.state.stored import SURROGATES, storable_text


def check_new_item(item: NewItem) -> None:
    if not ALERT_ID_PATTERN.fullmatch(item.alert_id):
        raise ValueError(f"alert id must match {ALERT_ID_PATTERN.pattern}, got {item.alert_id!r}")
    if not SINK_PATTERN.fullmatch(item.sink):
        raise ValueError(f"sink name must match {SINK_PATTERN.pattern}, got {item.sink!r}")
    if not isinstance(item.payload, str):
        raise TypeError(f"payload of alert {item.alert_id} must be JSON text (str)")
    # The payload is stored as given, so it must be encodable: JSON escapes a surrogate as \udxxx.
    if (surrogate := SURROGATES.search(item.payload)) is not None:
        raise ValueError(
            f"payload of alert {item.alert_id} for sink {item.sink} contains the surrogate code point "
            f"U+{ord(surrogate[0]):04X} at index {surrogate.start()}: JSON text for the store must escape it"
        )
    utc(item.created_at, name="created_at")


def check_new_items(items: Sequence[NewItem]) -> None:
    """Every item checked before any is written: one bad item refuses the whole call."""
    for item in items:
        check_new_item(item)


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


def check_alerted(alerted: Mapping[str, datetime] | None) -> dict[str, datetime]:
    """``alerted`` (suppression key -> when alerted) with every time as aware UTC; None is none.

    Every key and time is checked before anything is written. The key is never quoted: it holds a UPN.
    """
    if alerted is None:
        return {}
    if not isinstance(alerted, Mapping):
        raise TypeError(f"alerted must be a mapping of suppression key to time, got {type(alerted).__name__}")
    checked = {}
    for key, at in alerted.items():
        check_key(key)
        checked[key] = utc(at, name="alerted time")
    return checked


def check_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit}")


def check_lease(lease: timedelta) -> None:
    if lease <= timedelta(0):
        raise ValueError(f"lease must be positive, got {lease}")


def check_run(*, at: datetime, error: str) -> tuple[datetime, str]:
    """A finished run's time as aware UTC and its error as ``storable_text`` keeps it ("" = success)."""
    return utc(at, name="at"), storable_text(error, limit=MAX_ERROR_CHARS)
