"""SQLite store specifics: the file it creates, two processes at once, and its error messages."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.state import NewItem, SqliteStateStore, StateStorageError
from shared.state.sqlite import SCHEMA_VERSION

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 60

# Each process claims whatever it finds due until nothing is left, and prints what it won.
_CLAIMER = textwrap.dedent(
    """
    import json, sys
    from datetime import datetime, timedelta
    from shared.state import SqliteStateStore

    store = SqliteStateStore(sys.argv[1])
    now = datetime.fromisoformat(sys.argv[2])
    print("ready", flush=True)
    sys.stdin.readline()  # start together
    won = []
    for _ in range(1000):
        due = store.due(now=now, limit=5)
        if not due:
            break
        won += [item.alert_id for item in due if store.claim(item, now=now, lease=timedelta(hours=1))]
    print(json.dumps(won), flush=True)
    """
)


def test_the_file_its_directories_and_wal_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "state.sqlite3"

    SqliteStateStore(path)

    with sqlite3.connect(path) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"checkpoint", "outbox", "skipped", "suppression"}


def test_times_are_stored_as_fixed_width_utc_text(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    SqliteStateStore(path).commit_window(window_end=T0.replace(microsecond=0), items=[], expected=None)

    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT window_end, version FROM checkpoint").fetchone() == (
            "2026-03-01T10:00:00.000000Z",
            1,
        )


def test_two_processes_claiming_at_once_take_each_item_exactly_once(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    alert_ids = [f"{n:04x}" for n in range(100)]
    items = [NewItem(alert_id=a, sink="teams", payload="{}", created_at=T0) for a in alert_ids]
    SqliteStateStore(path).commit_window(window_end=T0, items=items, expected=None)
    command = [sys.executable, "-c", _CLAIMER, str(path), T0.isoformat()]
    processes = [
        subprocess.Popen(command, cwd=REPO_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    try:
        for process in processes:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == "ready"
        for process in processes:  # release both before waiting for either
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        outputs = [process.communicate(timeout=PROCESS_TIMEOUT)[0] for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=PROCESS_TIMEOUT)

    won = [json.loads(output) for output in outputs]
    assert [process.returncode for process in processes] == [0, 0]
    assert sorted(won[0] + won[1]) == alert_ids
    assert {item.attempts for item in SqliteStateStore(path).items()} == {1}


def test_a_directory_that_cannot_be_made_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")

    with pytest.raises(StateStorageError, match=r"state file .*not-a-dir/state.sqlite3: cannot create its directory"):
        SqliteStateStore(blocker / "state.sqlite3")


def test_a_file_from_a_newer_release_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with sqlite3.connect(path) as connection:
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    with pytest.raises(StateStorageError, match="written by a newer release"):
        SqliteStateStore(path)


def test_a_file_that_is_not_sqlite_is_reported_with_its_path(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database, just some text that fills the header" * 20)

    with pytest.raises(StateStorageError, match=rf"state file {path}: opening failed: file is not a database"):
        SqliteStateStore(path)


def test_a_lock_held_too_long_is_reported_not_waited_on_forever(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StateStorageError, match=r"committing a window failed: database is locked \(still locked"):
            store.commit_window(window_end=T0, items=[], expected=None)
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert store.commit_window(window_end=T0, items=[], expected=None).end == T0
    assert store.checkpoint() is not None
    assert store.due(now=T0 + timedelta(days=1), limit=1) == []
