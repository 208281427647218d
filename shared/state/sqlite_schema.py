"""The SQLite state file's schema: its tables, its version, and the checks made before writing to a file.

``PRAGMA user_version`` records the schema (``SCHEMA_VERSION``). A file that is not an SQLite database,
was written by a newer release, or holds tables that are not this product's is refused before anything
is written to it. An older file is brought up to date in place: every statement of the schema is
``IF NOT EXISTS``, so running it over an older file only adds what that file lacks.

Versions: 1, the checkpoint, outbox, skipped ranges and suppression; 2 adds ``run_note``.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Final

from shared.state.base import StateStorageError

logger = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 2

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
CREATE TABLE IF NOT EXISTS run_note (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    run_at TEXT NOT NULL,
    error TEXT NOT NULL,
    failed_at TEXT,
    failure TEXT NOT NULL
);
"""

# Every table any version of the schema has: an older file holds some of them, and none other.
_TABLES: Final = frozenset({"checkpoint", "outbox", "skipped", "suppression", "run_note"})


def check_version(found: int, *, path: Path) -> None:
    """Refuse a file whose schema a newer release wrote: this one cannot know what it may change."""
    if found > SCHEMA_VERSION:
        raise StateStorageError(
            f"state file {path}: schema version {found} was written by a newer release "
            f"(this one knows {SCHEMA_VERSION}); nothing was written: run the newer release, "
            "or use another file",
            where=str(path),
        )


def prepare_file(connection: sqlite3.Connection, *, path: Path) -> None:
    """Check the file's schema version and put it in WAL mode (outside any transaction)."""
    # Reading the version is the first touch of the file, and only reads: a file that is not a
    # database, or is from a newer release, is refused exactly as it was found.
    check_version(connection.execute("PRAGMA user_version").fetchone()[0], path=path)
    # WAL is a property of the file: set once, every later connection uses it.
    mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode.lower() != "wal":
        logger.warning("state file %s: journal mode is %s (WAL unsupported here)", path, mode)


def create_schema(connection: sqlite3.Connection, *, path: Path) -> None:
    """Create the tables, or add those an older version lacks, unless this schema is recorded already;
    run inside a write transaction (so a failure leaves the file at the version it had)."""
    found = connection.execute("PRAGMA user_version").fetchone()[0]
    check_version(found, path=path)  # another process may have opened it meanwhile
    if found >= SCHEMA_VERSION:
        return
    # Version 0 is a new file, or this same schema written by a release that did not record its
    # version; an older version is ours, with fewer tables. Anything else in it is not ours to add to.
    tables = connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
    ).fetchall()
    if foreign := sorted({name for (name,) in tables} - _TABLES):
        raise StateStorageError(
            f"state file {path}: holds tables that are not this product's state "
            f"({', '.join(foreign)}); nothing was written: use another file",
            where=str(path),
        )
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
