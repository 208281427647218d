"""SQLite store specifics: the file it creates, two processes at once, and its error messages."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.state import NewItem, RunNote, SqliteStateStore, StateStorageError
from shared.state.sqlite_schema import SCHEMA_VERSION

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
REPO_ROOT = Path(__file__).resolve().parents[2]
PROCESS_TIMEOUT = 60


def new(alert_id: str, sink: str = "teams") -> NewItem:
    return NewItem(alert_id=alert_id, sink=sink, payload="{}", created_at=T0)


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
    assert tables == {"checkpoint", "outbox", "skipped", "suppression", "run_note"}


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


# -- the schema version ------------------------------------------------------------------------------


def file_snapshot(path: Path) -> tuple[bytes, list[str]]:
    return path.read_bytes(), sorted(entry.name for entry in path.parent.iterdir())


def test_a_file_from_the_previous_release_gets_its_schema_version_recorded(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    checkpoint = SqliteStateStore(path).commit_window(window_end=T0, items=[], expected=None)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA user_version = 0")  # what a release that did not record it left

    reopened = SqliteStateStore(path)

    assert reopened.checkpoint() == checkpoint
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


# The schema as release 1 wrote it, word for word: the upgrade must work on what is really out there.
_V1_SCHEMA = """
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


def version_1_file(path: Path) -> None:
    """A state file as release 1 left it (WAL, user_version 1): a checkpoint, one item, one of each other row."""
    with closing(sqlite3.connect(path, isolation_level=None)) as connection:
        connection.execute("PRAGMA journal_mode = WAL")
        connection.executescript(_V1_SCHEMA)
        connection.execute("INSERT INTO checkpoint VALUES (1, '2026-03-01T10:00:00.123456Z', 7)")
        connection.execute(
            "INSERT INTO outbox VALUES ('a1', 'teams', '{\"id\": \"a1\"}', '2026-03-01T10:00:00.123456Z', "
            "'dead', 3, '2026-03-01T10:00:00.123456Z', 'HTTP 400', NULL, '2026-03-01T10:05:00.000000Z', 4)"
        )
        connection.execute(
            "INSERT INTO skipped VALUES ('2026-03-01T08:00:00.000000Z', '2026-03-01T09:00:00.000000Z', 'bound', "
            "'2026-03-01T10:00:00.123456Z')"
        )
        connection.execute("INSERT INTO suppression VALUES ('user@x.example|10.0.0.1', '2026-03-01T10:00:00.123456Z')")
        connection.execute("PRAGMA user_version = 1")


def test_a_version_1_file_is_upgraded_in_place_keeping_everything(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    version_1_file(path)

    store = SqliteStateStore(path)

    assert SCHEMA_VERSION == 2
    assert raw(path, "PRAGMA user_version") == [(2,)]
    checkpoint = store.checkpoint()
    assert checkpoint is not None
    assert (checkpoint.end, checkpoint.version) == (T0, "7")
    [item] = store.items()
    assert (item.alert_id, item.sink, item.payload, item.status, item.attempts, item.last_error, item.version) == (
        "a1",
        "teams",
        '{"id": "a1"}',
        "dead",
        3,
        "HTTP 400",
        "4",
    )
    assert [(r.start, r.reason) for r in store.skipped()] == [(T0.replace(hour=8, microsecond=0), "bound")]
    assert store.last_alerted("user@x.example|10.0.0.1") == T0
    # The new table works, and the old rows go on working with it.
    assert store.last_run() is None
    store.record_run(at=T0, error="HTTP 403")
    assert SqliteStateStore(path).last_run() == RunNote(at=T0, error="HTTP 403", failed_at=T0, failure="HTTP 403")
    assert store.commit_window(window_end=T0 + timedelta(hours=1), items=[], expected=checkpoint).version == "8"
    assert [i.alert_id for i in store.requeue(alert_ids=["a1"], now=T0)] == ["a1"]


def test_a_version_1_file_holding_other_tables_is_not_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    version_1_file(path)
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE customers (name TEXT)")
        connection.commit()

    with pytest.raises(StateStorageError, match=r"holds tables that are not this product's state \(customers\)"):
        SqliteStateStore(path)

    assert raw(path, "PRAGMA user_version") == [(1,)]
    assert "run_note" not in {name for (name,) in raw(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_file_from_a_newer_release_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE future (x)")
        connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    before = file_snapshot(path)

    with pytest.raises(StateStorageError) as raised:
        SqliteStateStore(path)

    assert str(raised.value) == (
        f"state file {path}: schema version {SCHEMA_VERSION + 1} was written by a newer release "
        f"(this one knows {SCHEMA_VERSION}); nothing was written: run the newer release, or use another file"
    )
    assert raised.value.where == str(path)
    assert file_snapshot(path) == before  # not even switched to WAL


def test_a_text_file_is_not_an_sqlite_database_and_is_left_byte_for_byte_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_text("window_end=2026-03-01T10:00:00Z\nthis is someone's notes, not a database\n")
    before = file_snapshot(path)

    with pytest.raises(StateStorageError) as raised:
        SqliteStateStore(path)

    message = str(raised.value)
    assert message.startswith(f"state file {path}: opening failed: file is not a database (not an SQLite database")
    assert "move it away or use another path" in message
    assert "\n" not in message
    assert file_snapshot(path) == before


def test_a_file_holding_another_programs_tables_is_not_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    with closing(sqlite3.connect(path)) as connection:
        connection.execute("CREATE TABLE customers (name TEXT)")
        connection.execute("CREATE TABLE outbox (anything)")
        connection.commit()

    with pytest.raises(StateStorageError, match=r"holds tables that are not this product's state \(customers\)"):
        SqliteStateStore(path)

    with closing(sqlite3.connect(path)) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert connection.execute("PRAGMA user_version").fetchone()[0] == 0
    assert tables == {"customers", "outbox"}


# -- damaged rows ------------------------------------------------------------------------------------

REMEDY = "the state is damaged: restore the file from a backup, or move it away to start again with empty state"


def damage(path: Path, statement: str, *parameters: object) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(statement, parameters)
        connection.commit()


def raw(path: Path, query: str) -> list[tuple]:
    with closing(sqlite3.connect(path)) as connection:
        return connection.execute(query).fetchall()


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("garbage", "'garbage' is not a UTC time as the store writes it"),
        ("", "'' is not a UTC time"),
        ("NULL", "'NULL' is not a UTC time"),
        (42, "'42' is not a UTC time"),  # a TEXT column keeps a number as its text
        (b"\x00", r"b'\x00' is not a UTC time"),
        ("2026-03-01T10:00:00", "'2026-03-01T10:00:00' is not a UTC time"),  # naive: would be local time
        ("2026-13-01T10:00:00.000000Z", "'2026-13-01T10:00:00.000000Z' is not a UTC time"),
    ],
)
def test_an_unreadable_checkpoint_time_is_reported_and_never_overwritten(
    tmp_path: Path, value: object, shown: str
) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    checkpoint = store.commit_window(window_end=T0, items=[], expected=None)
    damage(path, "UPDATE checkpoint SET window_end = ?", value)
    damaged = raw(path, "SELECT * FROM checkpoint")
    expected = f"state file {path}: the checkpoint is unreadable (window_end {shown}"

    with pytest.raises(StateStorageError, match=re.escape(expected)) as raised:
        store.checkpoint()
    for from_checkpoint in (None, checkpoint):
        with pytest.raises(StateStorageError, match=re.escape(expected)):
            store.commit_window(window_end=T0 + timedelta(hours=1), items=[new("a1")], expected=from_checkpoint)

    assert str(raised.value).endswith(REMEDY)
    assert raised.value.where == str(path)
    assert raw(path, "SELECT * FROM checkpoint") == damaged
    assert store.items() == []


@pytest.mark.parametrize(("value", "shown"), [("v2", "'v2'"), (1.5, "1.5"), (b"1", "b'1'")])
def test_an_unreadable_checkpoint_version_is_reported_and_never_overwritten(
    tmp_path: Path, value: object, shown: str
) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    checkpoint = store.commit_window(window_end=T0, items=[], expected=None)
    damage(path, "UPDATE checkpoint SET version = ?", value)
    expected = f"state file {path}: the checkpoint is unreadable (version {shown} is not an integer); {REMEDY}"

    with pytest.raises(StateStorageError) as raised:
        store.checkpoint()
    with pytest.raises(StateStorageError) as on_commit:
        store.commit_window(window_end=T0 + timedelta(hours=1), items=[], expected=checkpoint)

    assert str(raised.value) == str(on_commit.value) == expected
    assert raw(path, "SELECT window_end FROM checkpoint") == [("2026-03-01T10:00:00.123456Z",)]


@pytest.mark.parametrize(
    ("column", "value", "found"),
    [
        ("created_at", "yesterday", "created_at 'yesterday' is not a UTC time as the store writes it"),
        ("attempts", "many", "attempts 'many' is not an integer"),
        ("attempts", 2.5, "attempts 2.5 is not an integer"),
        ("version", "v1", "version 'v1' is not an integer"),
        ("payload", b"{}", "payload b'{}' is not text"),
        ("last_error", b"\xff", r"last_error b'\xff' is not text"),
        ("delivered_at", "soon", "delivered_at 'soon' is not a UTC time"),
        ("last_failed_at", 7, "last_failed_at '7' is not a UTC time"),
    ],
)
def test_an_unreadable_outbox_row_is_reported_naming_the_item_and_field(
    tmp_path: Path, column: str, value: object, found: str
) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.commit_window(window_end=T0, items=[new("a1"), new("9f3a", "webhook")], expected=None)
    damage(path, f"UPDATE outbox SET {column} = ? WHERE alert_id = '9f3a'", value)
    expected = f"state file {path}: outbox item 9f3a for sink webhook is unreadable ({found}"

    for read in (store.items, lambda: store.due(now=T0, limit=10)):
        with pytest.raises(StateStorageError, match=re.escape(expected)) as raised:
            read()
        assert str(raised.value).endswith(REMEDY)


def test_text_that_is_not_utf8_is_reported_naming_the_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    damage(path, "UPDATE outbox SET last_error = CAST(X'ff0a41' AS TEXT)")  # written by some other tool

    with pytest.raises(StateStorageError) as raised:
        store.items()

    assert str(raised.value) == (
        f"state file {path}: outbox item a1 for sink teams is unreadable "
        f"(last_error b'\\xff\\nA' is not text); {REMEDY}"
    )


def test_a_dead_item_that_cannot_be_read_stops_requeue_with_nothing_changed(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)
    for alert_id in ("a1", "b2"):
        [item] = [item for item in store.due(now=T0, limit=10) if item.alert_id == alert_id]
        claimed = store.claim(item, now=T0, lease=timedelta(minutes=5))
        assert claimed is not None
        store.mark_failed(claimed, at=T0, error="HTTP 400", retry_at=None)
    damage(path, "UPDATE outbox SET last_failed_at = 'then' WHERE alert_id = 'b2'")

    with pytest.raises(StateStorageError, match=r"outbox item b2 for sink teams is unreadable \(last_failed_at 'then'"):
        store.requeue(alert_ids=None, now=T0 + timedelta(hours=1))

    assert raw(path, "SELECT alert_id, status, attempts FROM outbox ORDER BY alert_id") == [
        ("a1", "dead", 1),
        ("b2", "dead", 1),
    ]


def test_unreadable_skipped_and_suppression_rows_are_reported_naming_the_row(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.record_skipped(start=T0, end=T0 + timedelta(hours=1), reason="beyond MFA_MAX_CATCHUP", at=T0)
    store.remember_alerted("user@x.example|10.0.0.1", T0)
    damage(path, "UPDATE skipped SET recorded_at = 'later'")
    damage(path, "UPDATE suppression SET alerted_at = ''")

    with pytest.raises(StateStorageError) as skipped:
        store.skipped()
    with pytest.raises(StateStorageError) as suppression:
        store.last_alerted("user@x.example|10.0.0.1")

    assert str(skipped.value) == (
        f"state file {path}: skipped range '2026-03-01T10:00:00.123456Z' to '2026-03-01T11:00:00.123456Z' "
        f"is unreadable (recorded_at 'later' is not a UTC time as the store writes it); {REMEDY}"
    )
    assert str(suppression.value) == (
        f"state file {path}: suppression row for key 'user@x.example|10.0.0.1' is unreadable "
        f"(alerted_at '' is not a UTC time as the store writes it); {REMEDY}"
    )


def test_a_suppression_key_with_surrogates_is_stored_apart_from_every_text_key(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)

    store.remember_alerted("x\ud800", T0)
    store.remember_alerted("x\ufffd", T0 + timedelta(hours=1))  # what a lossy encoding would have made it

    assert store.last_alerted("x\ud800") == T0
    assert store.last_alerted("x\ufffd") == T0 + timedelta(hours=1)
    assert sorted(raw(path, "SELECT typeof(key) FROM suppression")) == [("blob",), ("text",)]


def test_a_damaged_suppression_row_stops_the_commit_with_nothing_written(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.remember_alerted("user@x.example|10.0.0.1", T0)
    damage(path, "UPDATE suppression SET alerted_at = 'garbage'")

    # The stored time is read before the later one is kept: damage stops the whole transaction.
    with pytest.raises(StateStorageError, match="alerted_at 'garbage' is not a UTC time"):
        store.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={"user@x.example|10.0.0.1": T0})

    assert store.checkpoint() is None
    assert store.items() == []
    assert raw(path, "SELECT alerted_at FROM suppression") == [("garbage",)]


def test_an_unreadable_run_note_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStateStore(path)
    store.record_run(at=T0, error="HTTP 500")
    damage(path, "UPDATE run_note SET failed_at = 'yesterday'")

    with pytest.raises(StateStorageError) as reading:
        store.last_run()
    with pytest.raises(StateStorageError, match="failed_at 'yesterday'"):
        store.record_run(at=T0 + timedelta(hours=1), error="")

    assert str(reading.value) == (
        f"state file {path}: the run note is unreadable "
        f"(failed_at 'yesterday' is not a UTC time as the store writes it); {REMEDY}"
    )
    assert raw(path, "SELECT run_at, error, failed_at, failure FROM run_note") == [
        ("2026-03-01T10:00:00.123456Z", "HTTP 500", "yesterday", "HTTP 500")
    ]
