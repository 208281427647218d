"""How values are written to and read back from a store, the same in every store.

``to_text`` is the only time text the stores write and ``from_text`` reads nothing looser;
``storable_text`` is what becomes of error and reason text; ``StoredRow`` reads the fields of one
stored row and reports damage in one shape, naming the store, the row and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from shared.display import shown
from shared.state.base import STATUSES, StateStorageError, Status, utc

# The only time text the stores write (``to_text``). Reading accepts nothing looser: SQL ``<=`` and the
# Table filter ``le`` compare these as text, which follows time only at this fixed width, and a naive
# "2026-03-01T10:00:00" would otherwise be taken as local time.
_TIME_TEXT: Final = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z")
SURROGATES: Final = re.compile(r"[\ud800-\udfff]")


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
    return SURROGATES.sub("\ufffd", text[:limit])


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


# How messages name the run note (``record_run``), in every store.
RUN_NOTE_ROW: Final = "the run note"


def suppression_row_name(key: str) -> str:
    """How messages name the suppression row of ``key`` (the same words in every store)."""
    return f"suppression row for key {shown(key)}"
