"""The state in one SQLite file: the local default, safe for several threads and processes at once.

Each operation opens its own connection, so one store object can be shared by threads, and every
write runs in a ``BEGIN IMMEDIATE`` transaction: writers queue on the file lock (busy timeout)
instead of interleaving, which is what makes the compare-and-swap steps exact. WAL lets readers go
on while a writer holds the lock. Times are fixed-width ISO 8601 UTC text, so ``ORDER BY`` and
``<=`` on them follow time; versions are integer counters.

``PRAGMA user_version`` records the schema (``SCHEMA_VERSION``). A file that is not an SQLite database,
or was written by a newer release, is refused before anything is written to it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from shared.display import shown
from shared.errors import StateConflictError
from shared.state.base import (
    MAX_ERROR_CHARS,
    Checkpoint,
    NewItem,
    OutboxItem,
    SkippedRange,
    StateStorageError,
    Status,
    StoredRow,
    check_alert_ids,
    check_key,
    check_new_item,
    check_status,
    check_window_end,
    conflict_message,
    missing_message,
    order_key,
    outbox_row_name,
    stale_message,
    storable_text,
    to_text,
    utc,
)

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS checkpoint (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    window_end TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    alert_id TEXT NOT NULL,
    sink TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL,
    last_error TEXT NOT NULL,
    delivered_at TEXT,
    last_failed_at TEXT,
    version INTEGER NOT NULL,
    PRIMARY KEY (alert_id, sink)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_attempt_at);
CREATE TABLE IF NOT EXISTS skipped (
    range_start TEXT NOT NULL,
    range_end TEXT NOT NULL,
    reason TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (range_start, range_end)
);
CREATE TABLE IF NOT EXISTS suppression (
    key TEXT PRIMARY KEY,
    alerted_at TEXT NOT NULL
);
"""

_OUTBOX_COLUMNS: Final = (
    "alert_id, sink, payload, created_at, status, attempts, next_attempt_at, last_error, delivered_at, "
    "last_failed_at, version"
)
_ORDER: Final = "ORDER BY created_at, alert_id, sink"
_TABLES: Final = frozenset({"checkpoint", "outbox", "skipped", "suppression"})
# requeue names its alert ids as SQL parameters; SQLite allows 32766 per statement, so stay well below.
_IDS_PER_STATEMENT: Final = 500


class SqliteStateStore:
    """``StateStore`` in the SQLite file ``path`` (parent directories and schema created on open)."""

    def __init__(self, path: Path | str, *, busy_timeout: float = 30.0) -> None:
        self.path = Path(path)
        self._busy_timeout = busy_timeout
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise StateStorageError(
                f"state file {self.path}: cannot create its directory: {error.strerror}", where=str(self.path)
            ) from None
        self._open()

    # -- StateStore -----------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        with self._connection("reading the checkpoint") as connection:
            row = connection.execute("SELECT window_end, version FROM checkpoint WHERE id = 1").fetchone()
        return None if row is None else self._checkpoint(row)

    def commit_window(
        self, *, window_end: datetime, items: Sequence[NewItem], expected: Checkpoint | None
    ) -> Checkpoint:
        end = check_window_end(window_end, expected)
        for item in items:
            check_new_item(item)
        with self._transaction("committing a window") as connection:
            row = connection.execute("SELECT window_end, version FROM checkpoint WHERE id = 1").fetchone()
            # Read in full: a damaged checkpoint stops the commit rather than being overwritten.
            current = None if row is None else self._checkpoint(row)
            found = None if current is None else current.version
            if found != (None if expected is None else expected.version):
                raise StateConflictError(conflict_message(expected, found))
            _insert_absent(connection, items)
            version = 1 if current is None else int(current.version) + 1
            connection.execute(
                "INSERT INTO checkpoint (id, window_end, version) VALUES (1, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET window_end = excluded.window_end, version = excluded.version",
                (to_text(end, name="window_end"), version),
            )
        logger.debug("checkpoint moved to %s with %d outbox item(s)", end.isoformat(), len(items))
        return Checkpoint(end=end, version=str(version))

    def add_items(self, items: Sequence[NewItem]) -> None:
        for item in items:
            check_new_item(item)
        with self._transaction("recording outbox items") as connection:
            _insert_absent(connection, items)

    def due(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        with self._connection("reading due outbox items") as connection:
            rows = connection.execute(
                f"SELECT {_OUTBOX_COLUMNS} FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? {_ORDER} "
                "LIMIT ?",
                (to_text(now, name="now"), limit),
            ).fetchall()
        return [self._item(row) for row in rows]

    def claim(self, item: OutboxItem, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        next_attempt = utc(now, name="now") + lease
        with self._transaction("claiming an outbox item") as connection:
            row = connection.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, version = version + 1 "
                "WHERE alert_id = ? AND sink = ? AND version = ? AND status = 'pending' RETURNING version",
                (to_text(next_attempt, name="now + lease"), item.alert_id, item.sink, _version(item)),
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
            if not changed and not _exists(connection, item):
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
                    _version(item),
                ),
            ).rowcount
            if not changed:
                raise StateConflictError(
                    missing_message(item) if not _exists(connection, item) else stale_message(item)
                )

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
                rows = connection.execute(f"{update} RETURNING {_OUTBOX_COLUMNS}", (again,)).fetchall()
            else:
                ids, rows = sorted(wanted), []
                for start in range(0, len(ids), _IDS_PER_STATEMENT):
                    chunk = ids[start : start + _IDS_PER_STATEMENT]
                    marks = ", ".join("?" * len(chunk))
                    rows += connection.execute(
                        f"{update} AND alert_id IN ({marks}) RETURNING {_OUTBOX_COLUMNS}", (again, *chunk)
                    ).fetchall()
            # Read inside the transaction: an unreadable row undoes the whole requeue.
            requeued = [self._item(row) for row in rows]
        return sorted(requeued, key=order_key)  # RETURNING has no order

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        check_status(status)
        where, parameters = ("", ()) if status is None else ("WHERE status = ?", (status,))
        with self._connection("listing outbox items") as connection:
            rows = connection.execute(f"SELECT {_OUTBOX_COLUMNS} FROM outbox {where} {_ORDER}", parameters).fetchall()
        return [self._item(row) for row in rows]

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
        ranges = []
        for start, end, reason, recorded in rows:
            stored = self._row(f"skipped range {shown(start)} to {shown(end)}")
            ranges.append(
                SkippedRange(
                    start=stored.time("range_start", start),
                    end=stored.time("range_end", end),
                    reason=stored.text("reason", reason),
                    recorded_at=stored.time("recorded_at", recorded),
                )
            )
        return ranges

    def last_alerted(self, key: str) -> datetime | None:
        check_key(key)
        with self._connection("reading suppression") as connection:
            row = connection.execute("SELECT alerted_at FROM suppression WHERE key = ?", (_sql_key(key),)).fetchone()
        return None if row is None else self._row(f"suppression row for key {shown(key)}").time("alerted_at", row[0])

    def remember_alerted(self, key: str, at: datetime) -> None:
        check_key(key)
        with self._transaction("recording suppression") as connection:
            connection.execute(
                "INSERT INTO suppression (key, alerted_at) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET alerted_at = excluded.alerted_at",
                (_sql_key(key), to_text(at, name="at")),
            )

    def close(self) -> None:
        """Nothing to release: connections live for one operation."""

    # -- plumbing -------------------------------------------------------------------------------

    def _open(self) -> None:
        with self._connection("opening") as connection:
            # Reading the version is the first touch of the file, and only reads: a file that is not a
            # database, or is from a newer release, is refused exactly as it was found.
            self._check_version(connection.execute("PRAGMA user_version").fetchone()[0])
            # WAL is a property of the file: set once, every later connection uses it.
            mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                logger.warning("state file %s: journal mode is %s (WAL unsupported here)", self.path, mode)
        with self._transaction("creating the schema") as connection:
            found = connection.execute("PRAGMA user_version").fetchone()[0]
            self._check_version(found)  # another process may have opened it meanwhile
            if found < SCHEMA_VERSION:
                # Version 0 is a new file, or this same schema written by a release that did not record
                # its version; anything else in it is not ours to add to.
                tables = connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
                ).fetchall()
                if foreign := sorted({name for (name,) in tables} - _TABLES):
                    raise StateStorageError(
                        f"state file {self.path}: holds tables that are not this product's state "
                        f"({', '.join(foreign)}); nothing was written: use another file",
                        where=str(self.path),
                    )
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        connection.execute(statement)
                connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_version(self, found: int) -> None:
        if found > SCHEMA_VERSION:
            raise StateStorageError(
                f"state file {self.path}: schema version {found} was written by a newer release "
                f"(this one knows {SCHEMA_VERSION}); nothing was written: run the newer release, "
                "or use another file",
                where=str(self.path),
            )

    def _row(self, row: str) -> StoredRow:
        return StoredRow(
            place=f"state file {self.path}",
            where=str(self.path),
            row=row,
            remedy="restore the file from a backup, or move it away to start again with empty state",
        )

    def _checkpoint(self, row: tuple) -> Checkpoint:
        stored = self._row("the checkpoint")
        return Checkpoint(end=stored.time("window_end", row[0]), version=str(stored.integer("version", row[1])))

    def _item(self, row: tuple) -> OutboxItem:
        (alert_id, sink, payload, created, status, attempts, next_attempt, error, delivered, failed, version) = row
        stored = self._row(outbox_row_name(alert_id, sink))
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

    @contextmanager
    def _connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        try:
            # isolation_level=None: no implicit transactions; writes say BEGIN IMMEDIATE themselves.
            connection = sqlite3.connect(self.path, timeout=self._busy_timeout, isolation_level=None)
        except sqlite3.Error as error:
            raise self._storage_error(error, doing) from None
        connection.text_factory = _text
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


def _insert_absent(connection: sqlite3.Connection, items: Sequence[NewItem]) -> None:
    # DO NOTHING on the key only: an existing item keeps its status, attempts and payload.
    connection.executemany(
        f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (?, ?, ?, ?, 'pending', 0, ?, '', NULL, NULL, 1) "
        "ON CONFLICT (alert_id, sink) DO NOTHING",
        [
            (item.alert_id, item.sink, item.payload, created, created)
            for item in items
            for created in [to_text(item.created_at, name="created_at")]
        ],
    )


def _text(raw: bytes) -> str | bytes:
    # Text that is not UTF-8 (written by some other tool) comes back as its bytes, for StoredRow to
    # report with its row and field; sqlite3 itself would fail naming neither, quoting the raw text.
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _sql_key(key: str) -> str | bytes:
    # SQLite text must be UTF-8, which cannot hold a surrogate, yet any str is a suppression key. Such
    # a key is stored as the BLOB of its "surrogatepass" bytes: a BLOB never equals a TEXT, and the
    # encoding is one-to-one, so distinct keys stay distinct and every other key is stored as before.
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return key.encode("utf-8", "surrogatepass")
    return key


def _version(item: OutboxItem) -> int:
    try:
        return int(item.version)
    except ValueError:
        raise ValueError(f"outbox item {item.alert_id}/{item.sink}: {item.version!r} is not a SQLite version") from None


def _exists(connection: sqlite3.Connection, item: OutboxItem) -> bool:
    found = connection.execute("SELECT 1 FROM outbox WHERE alert_id = ? AND sink = ?", (item.alert_id, item.sink))
    return found.fetchone() is not None
