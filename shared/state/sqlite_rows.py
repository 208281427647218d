"""Rows of the SQLite state file: how each is written and read back, inside the caller's connection.

The store (``shared.state.sqlite``) decides the transactions; these functions only say what a row
looks like: the outbox columns, suppression keys as SQL values, and reading a row into the data
classes with damage reported by ``StoredRow``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

from shared.display import shown
from shared.state.base import (
    Checkpoint,
    NewItem,
    OutboxItem,
    RunNote,
    SkippedRange,
    next_run_note,
    outbox_row_name,
)
from shared.state.stored import RUN_NOTE_ROW, StoredRow, suppression_row_name, to_text

OUTBOX_COLUMNS: Final = (
    "alert_id, sink, payload, created_at, status, attempts, next_attempt_at, last_error, delivered_at, "
    "last_failed_at, version"
)
ORDER: Final = "ORDER BY created_at, alert_id, sink"


def stored_row(path: Path, row: str) -> StoredRow:
    return StoredRow(
        place=f"state file {path}",
        where=str(path),
        row=row,
        remedy="restore the file from a backup, or move it away to start again with empty state",
    )


def read_checkpoint(row: tuple, *, path: Path) -> Checkpoint:
    stored = stored_row(path, "the checkpoint")
    return Checkpoint(end=stored.time("window_end", row[0]), version=str(stored.integer("version", row[1])))


def read_item(row: tuple, *, path: Path) -> OutboxItem:
    (alert_id, sink, payload, created, status, attempts, next_attempt, error, delivered, failed, version) = row
    stored = stored_row(path, outbox_row_name(alert_id, sink))
    return OutboxItem(
        alert_id=stored.text("alert_id", alert_id),
        sink=stored.text("sink", sink),
        payload=stored.text("payload", payload),
        created_at=stored.time("created_at", created),
        status=stored.status("status", status),
        attempts=stored.integer("attempts", attempts),
        next_attempt_at=stored.time("next_attempt_at", next_attempt),
        last_error=stored.text("last_error", error),
        delivered_at=stored.optional_time("delivered_at", delivered),
        version=str(stored.integer("version", version)),
        last_failed_at=stored.optional_time("last_failed_at", failed),
    )


def read_skipped(row: tuple, *, path: Path) -> SkippedRange:
    start, end, reason, recorded = row
    stored = stored_row(path, f"skipped range {shown(start)} to {shown(end)}")
    return SkippedRange(
        start=stored.time("range_start", start),
        end=stored.time("range_end", end),
        reason=stored.text("reason", reason),
        recorded_at=stored.time("recorded_at", recorded),
    )


def read_run_note(connection: sqlite3.Connection, *, path: Path) -> RunNote | None:
    row = connection.execute("SELECT run_at, error, failed_at, failure FROM run_note WHERE id = 1").fetchone()
    if row is None:
        return None
    stored = stored_row(path, RUN_NOTE_ROW)
    return RunNote(
        at=stored.time("run_at", row[0]),
        error=stored.text("error", row[1]),
        failed_at=stored.optional_time("failed_at", row[2]),
        failure=stored.text("failure", row[3]),
    )


def record_run_note(connection: sqlite3.Connection, *, at: datetime, error: str, path: Path) -> None:
    """Merge a run (checked by ``check_run``) into the note; call inside a write transaction.

    The stored note is read in full first: a damaged one stops the write rather than being replaced.
    """
    note = next_run_note(read_run_note(connection, path=path), at=at, error=error)
    connection.execute(
        "INSERT INTO run_note (id, run_at, error, failed_at, failure) VALUES (1, ?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET run_at = excluded.run_at, error = excluded.error, "
        "failed_at = excluded.failed_at, failure = excluded.failure",
        (
            to_text(note.at, name="at"),
            note.error,
            None if note.failed_at is None else to_text(note.failed_at, name="failed_at"),
            note.failure,
        ),
    )


def insert_absent(connection: sqlite3.Connection, items: Sequence[NewItem]) -> None:
    # DO NOTHING on the key only: an existing item keeps its status, attempts and payload.
    connection.executemany(
        f"INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, 'pending', 0, ?, '', NULL, NULL, 1) "
        "ON CONFLICT (alert_id, sink) DO NOTHING",
        [
            (item.alert_id, item.sink, item.payload, created, created)
            for item in items
            for created in [to_text(item.created_at, name="created_at")]
        ],
    )


def alerted_at(connection: sqlite3.Connection, key: str, *, path: Path) -> datetime | None:
    row = connection.execute("SELECT alerted_at FROM suppression WHERE key = ?", (sql_key(key),)).fetchone()
    return None if row is None else stored_row(path, suppression_row_name(key)).time("alerted_at", row[0])


def remember(connection: sqlite3.Connection, alerted: Mapping[str, datetime], *, path: Path) -> None:
    """Record each key's time unless a later one is stored; call inside a write transaction.

    The stored time is read in full first: a damaged row stops the write rather than being replaced,
    and a backfill of an old window cannot shorten a suppression still running.
    """
    for key, at in alerted.items():
        stored = alerted_at(connection, key, path=path)
        if stored is not None and stored >= at:
            continue
        connection.execute(
            "INSERT INTO suppression (key, alerted_at) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET alerted_at = excluded.alerted_at",
            (sql_key(key), to_text(at, name="alerted time")),
        )


def decode_text(raw: bytes) -> str | bytes:
    # Text that is not UTF-8 (written by some other tool) comes back as its bytes, for StoredRow to
    # report with its row and field; sqlite3 itself would fail naming neither, quoting the raw text.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def sql_key(key: str) -> str | bytes:
    # SQLite text must be UTF-8, which cannot hold a surrogate, yet any str is a suppression key. Such
    # a key is stored as the BLOB of its "surrogatepass" bytes: a BLOB never equals a TEXT, and the
    # encoding is one-to-one, so distinct keys stay distinct and every other key is stored as before.
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogatepass")
    return key


def version_of(item: OutboxItem) -> int:
    try:
        return int(item.version)
    except ValueError:
        raise ValueError(f"outbox item {item.alert_id}/{item.sink}: {item.version!r} is not a SQLite version") from None


def exists(connection: sqlite3.Connection, item: OutboxItem) -> bool:
    found = connection.execute("SELECT 1 FROM outbox WHERE alert_id = ? AND sink = ?", (item.alert_id, item.sink))
    return found.fetchone() is not None
