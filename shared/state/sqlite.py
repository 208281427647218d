"""The state in one SQLite file: the local default, safe for several threads and processes at once.

Each operation opens its own connection, so one store object can be shared by threads, and every
write runs in a ``BEGIN IMMEDIATE`` transaction: writers queue on the file lock (busy timeout)
instead of interleaving, which is what makes the compare-and-swap steps exact. WAL lets readers go
on while a writer holds the lock. Times are fixed-width ISO 8601 UTC text, so ``ORDER BY`` and
``<=`` on them follow time; versions are integer counters.

``commit_window`` writes the items, the suppression times (``alerted``) and the checkpoint in one
transaction: a conflict or an error writes none of them. The schema and the checks made before
writing to a file are in ``shared.state.sqlite_schema``; how each row is written and read back, in
``shared.state.sqlite_rows``.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from shared.errors import StateConflictError
from shared.state.base import (
    MAX_ERROR_CHARS,
    NO_ALERTED,
    Checkpoint,
    NewItem,
    OutboxItem,
    RunNote,
    SkippedRange,
    StateStorageError,
    Status,
    conflict_message,
    missing_message,
    order_key,
    stale_message,
    utc,
)
from shared.state.preconditions import (
    check_alert_ids,
    check_alerted,
    check_key,
    check_lease,
    check_limit,
    check_new_items,
    check_run,
    check_status,
    check_window_end,
)
from shared.state.sqlite_rows import (
    ORDER,
    OUTBOX_COLUMNS,
    alerted_at,
    decode_text,
    exists,
    insert_absent,
    read_checkpoint,
    read_item,
    read_run_note,
    read_skipped,
    record_run_note,
    remember,
    version_of,
)
from shared.state.sqlite_schema import create_schema, prepare_file
from shared.state.stored import storable_text, to_text

logger = logging.getLogger(__name__)

# requeue names its alert ids as SQL parameters; SQLite allows 32766 per statement, so stay well below.
_IDS_PER_STATEMENT: Final = 500


class SqliteStateStore:
    """``StateStore`` in the SQLite file ``path`` (parent directories and schema created on open, an
    older schema brought up to date). One file holds one stream's state: a scope is a file of its own
    (``shared.state.scoped_path``)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateStorageError(
                f"state file {self.path}: cannot create its directory: {error.strerror}", where=str(self.path)
            ) from None
        with self._connection("opening") as connection:
            prepare_file(connection, path=self.path)
        with self._transaction("creating the schema") as connection:
            create_schema(connection, path=self.path)

    # -- StateStore -----------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        with self._connection("reading the checkpoint") as connection:
            row = connection.execute("SELECT window_end, version FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else read_checkpoint(row, path=self.path)

    def commit_window(
        self,
        *,
        window_end: datetime,
        items: Sequence[NewItem],
        expected: Checkpoint | None,
        alerted: Mapping[str, datetime] = NO_ALERTED,
    ) -> Checkpoint:
        end = check_window_end(window_end, expected)
        check_new_items(items)
        times = check_alerted(alerted)
        # One transaction: a conflict or an error rolls back the items and suppression times too.
        with self._transaction("committing a window") as connection:
            row = connection.execute("SELECT window_end, version FROM checkpoint WHERE id = 1").fetchone()
            # Read in full: a damaged checkpoint stops the commit rather than being overwritten.
            current = None if row is None else read_checkpoint(row, path=self.path)
            found = None if current is None else current.version
            if found != (None if expected is None else expected.version):
                raise StateConflictError(conflict_message(expected, found))
            insert_absent(connection, items)
            remember(connection, times, path=self.path)
            version = 1 if current is None else int(current.version) + 1
            connection.execute(
                "INSERT INTO checkpoint (id, window_end, version) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET window_end = excluded.window_end, version = excluded.version",
                (to_text(end, name="window_end"), version),
            )
        logger.debug("checkpoint moved to %s with %d outbox item(s)", end.isoformat(), len(items))
        return Checkpoint(end=end, version=str(version))

    def add_items(self, items: Sequence[NewItem], *, alerted: Mapping[str, datetime] = NO_ALERTED) -> None:
        check_new_items(items)
        times = check_alerted(alerted)
        with self._transaction("recording outbox items") as connection:
            insert_absent(connection, items)
            remember(connection, times, path=self.path)

    def due(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        check_limit(limit)
        with self._connection("reading due outbox items") as connection:
            rows = connection.execute(
                f"SELECT {OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? {ORDER} "
                "LIMIT ?",
                (to_text(now, name="now"), limit),
            ).fetchall()
        return [read_item(row, path=self.path) for row in rows]

    def claim(self, item: OutboxItem, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        check_lease(lease)
        next_attempt = utc(now, name="now") + lease
        with self._transaction("claiming an outbox item") as connection:
            row = connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, version = version + 1 "
                "WHERE alert_id = ? AND sink = ? AND version = ? AND status = 'pending' RETURNING version",
                (to_text(next_attempt, name="now + lease"), item.alert_id, item.sink, version_of(item)),
            ).fetchone()
        if row is None:
            return None
        return replace(item, attempts=item.attempts + 1, next_attempt_at=next_attempt, version=str(row[0]))

    def mark_delivered(self, item: OutboxItem, *, at: datetime) -> None:
        delivered = to_text(at, name="at")
        with self._transaction("marking an outbox item delivered") as connection:
            changed = connection.execute(
                "UPDATE outbox SET status = 'delivered', delivered_at = ?, version = version + 1 "
                "WHERE alert_id = ? AND sink = ? AND status <> 'delivered'",
                (delivered, item.alert_id, item.sink),
            ).rowcount
            if not changed and not exists(connection, item):
                raise StateConflictError(missing_message(item))

    def mark_failed(self, item: OutboxItem, *, at: datetime, error: str, retry_at: datetime | None) -> None:
        failed = to_text(at, name="at")
        retry = None if retry_at is None else to_text(retry_at, name="retry_at")
        with self._transaction("recording a failed delivery") as connection:
            changed = connection.execute(
                "UPDATE outbox SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?, "
                "last_failed_at = ?, version = version + 1 WHERE alert_id = ? AND sink = ? AND version = ?",
                (
                    "dead" if retry is None else "pending",
                    retry,
                    storable_text(error, limit=MAX_ERROR_CHARS),
                    failed,
                    item.alert_id,
                    item.sink,
                    version_of(item),
                ),
            ).rowcount
            if not changed:
                raise StateConflictError(missing_message(item) if not exists(connection, item) else stale_message(item))

    def requeue(self, *, alert_ids: Sequence[str] | None, now: datetime) -> list[OutboxItem]:
        wanted = check_alert_ids(alert_ids)
        again = to_text(now, name="now")
        if wanted is not None and not wanted:
            return []
        update = (
            "UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = ?, version = version + 1 "
            "WHERE status = 'dead'"
        )
        with self._transaction("requeueing dead outbox items") as connection:
            if wanted is None:
                rows = connection.execute(f"{update} RETURNING {OUTBOX_COLUMNS}", (again,)).fetchall()
            else:
                ids, rows = sorted(wanted), []
                for start in range(0, len(ids), _IDS_PER_STATEMENT):
                    chunk = ids[start : start + _IDS_PER_STATEMENT]
                    marks = ", ".join("?" * len(chunk))
                    rows += connection.execute(
                        f"{update} AND alert_id IN ({marks}) RETURNING {OUTBOX_COLUMNS}", (again, *chunk)
                    ).fetchall()
            # Read inside the transaction: an unreadable row undoes the whole requeue.
            requeued = [read_item(row, path=self.path) for row in rows]
        return sorted(requeued, key=order_key)  # RETURNING has no order

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        check_status(status)
        where, parameters = ("", ()) if status is None else ("WHERE status = ?", (status,))
        with self._connection("listing outbox items") as connection:
            rows = connection.execute(f"SELECT {OUTBOX_COLUMNS} FROM outbox {where} {ORDER}", parameters).fetchall()
        return [read_item(row, path=self.path) for row in rows]

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        row = (
            to_text(start, name="start"),
            to_text(end, name="end"),
            storable_text(reason, limit=MAX_ERROR_CHARS),
            to_text(at, name="at"),
        )
        with self._transaction("recording a skipped range") as connection:
            connection.execute(
                "INSERT INTO skipped (range_start, range_end, reason, recorded_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (range_start, range_end) DO NOTHING",
                row,
            )

    def skipped(self) -> list[SkippedRange]:
        with self._connection("listing skipped ranges") as connection:
            rows = connection.execute(
                "SELECT range_start, range_end, reason, recorded_at FROM skipped ORDER BY range_start, range_end"
            ).fetchall()
        return [read_skipped(row, path=self.path) for row in rows]

    def record_run(self, *, at: datetime, error: str) -> None:
        at, error = check_run(at=at, error=error)
        with self._transaction("recording the run note") as connection:
            record_run_note(connection, at=at, error=error, path=self.path)

    def last_run(self) -> RunNote | None:
        with self._connection("reading the run note") as connection:
            return read_run_note(connection, path=self.path)

    def last_alerted(self, key: str) -> datetime | None:
        check_key(key)
        with self._connection("reading suppression") as connection:
            return alerted_at(connection, key, path=self.path)

    def remember_alerted(self, key: str, at: datetime) -> None:
        check_key(key)
        at = utc(at, name="at")
        with self._transaction("recording suppression") as connection:
            remember(connection, {key: at}, path=self.path)

    def close(self) -> None:
        """Nothing to release: connections live for one operation."""

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
            connection = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise self._storage_error(error, doing) from None
        connection.text_factory = decode_text
        try:
            connection.execute("PRAGMA synchronous = FULL")  # a committed window survives power loss
            yield connection
        except sqlite3.Error as error:
            raise self._storage_error(error, doing) from None
        finally:
            connection.close()

    @contextmanager
    def _transaction(self, doing: str) -> Iterator[sqlite3.Connection]:
        with self._connection(doing) as connection:
            # IMMEDIATE takes the write lock before the first read, so a check-then-write is atomic.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _storage_error(self, error: sqlite3.Error, doing: str) -> StateStorageError:
        detail = str(error)
        code = getattr(error, "sqlite_errorname", "")
        if "locked" in detail or "busy" in detail:
            detail += f" (still locked after {self._busy_timeout:g} s)"
        elif code == "SQLITE_NOTADB":
            detail += " (not an SQLite database, so not a state file; left unchanged: move it away or use another path)"
        elif code.startswith("SQLITE_CORRUPT"):
            detail += " (the state is damaged: restore the file from a backup, or move it away to start again)"
        return StateStorageError(f"state file {self.path}: {doing} failed: {detail}", where=str(self.path))
