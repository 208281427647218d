"""One state per workspace: scoped stores over one location (a file's directory, a table), each store.

Every store is opened by ``open_state(settings, scope=...)``, as the runner opens them: SQLite files
beside the configured one, or one Azure Table (a real Azurite) with a partition prefix per scope.
Each case writes through one scope and checks that the others (and the unscoped state) see nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.errors import StateConflictError
from shared.settings import Settings, load_settings
from shared.state import NewItem, OutboxItem, RunNote, SqliteStateStore, StateStore, open_state, scoped_path
from tests.harness.azurite import Azurite, unique_table_name

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
HOUR = timedelta(hours=1)
LEASE = timedelta(minutes=5)
A = "6c1b2f3e-0a4d-4e5f-9a8b-7c6d5e4f3a2b"
B = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
GUEST = "guest_contoso.com#EXT#@tenant.onmicrosoft.com|2001:db8::1"

ScopedFactory = Callable[[str | None], StateStore]


@pytest.fixture(autouse=True)
def _no_storage_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__tableServiceUri"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(params=["sqlite", "table"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """One location for every scope: the configured file (its directory), or one table."""
    if request.param == "sqlite":
        return load_settings(MFA_STATE=str(tmp_path / "state" / "mfa-rejected.sqlite3"))
    azurite: Azurite = request.getfixturevalue("azurite")
    return load_settings(
        MFA_STATE="table", MFA_STATE_TABLE=unique_table_name(), AzureWebJobsStorage=azurite.connection_string
    )


@pytest.fixture
def open_scoped(settings: Settings) -> Iterator[ScopedFactory]:
    """Opens the state of a scope (None: unscoped) on the shared location; each call is another runner."""
    opened: list[StateStore] = []

    def factory(scope: str | None) -> StateStore:
        store = open_state(settings, scope=scope)
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


def new(alert_id: str, sink: str = "teams") -> NewItem:
    return NewItem(alert_id=alert_id, sink=sink, payload=f'{{"id": "{alert_id}"}}', created_at=T0)


def others(open_scoped: ScopedFactory, scope: str | None) -> list[StateStore]:
    """Fresh stores of every scope but ``scope``, among A, B and the unscoped one."""
    return [open_scoped(other) for other in (None, A, B) if other != scope]


def everything(store: StateStore) -> tuple[object, ...]:
    return (store.checkpoint(), store.items(), store.skipped(), store.last_alerted(GUEST), store.last_run())


EMPTY = (None, [], [], None, None)


# -- each operation stays in its scope ----------------------------------------------------------------


@pytest.mark.parametrize("scope", [A, B, None])
def test_a_commit_is_seen_only_by_its_own_scope(open_scoped: ScopedFactory, scope: str | None) -> None:
    checkpoint = open_scoped(scope).commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={GUEST: T0})

    reopened = open_scoped(scope)
    assert reopened.checkpoint() == checkpoint
    assert [item.alert_id for item in reopened.items()] == ["a1"]
    assert reopened.last_alerted(GUEST) == T0
    for other in others(open_scoped, scope):
        assert everything(other) == EMPTY


def test_each_scope_moves_its_own_checkpoint_from_none(open_scoped: ScopedFactory) -> None:
    stores = {scope: open_scoped(scope) for scope in (None, A, B)}

    # Expecting "no checkpoint yet" succeeds in every scope: no scope's checkpoint is another's.
    first = {scope: store.commit_window(window_end=T0, items=[], expected=None) for scope, store in stores.items()}
    stores[A].commit_window(window_end=T0 + 2 * HOUR, items=[], expected=first[A])

    assert open_scoped(A).checkpoint().end == T0 + 2 * HOUR  # type: ignore[union-attr]
    assert open_scoped(B).checkpoint() == first[B]
    assert open_scoped(None).checkpoint() == first[None]
    with pytest.raises(StateConflictError):
        stores[A].commit_window(window_end=T0 + 3 * HOUR, items=[], expected=first[A])


def test_the_same_alert_in_two_scopes_is_two_items(open_scoped: ScopedFactory) -> None:
    a, b = open_scoped(A), open_scoped(B)
    a.add_items([new("a1")])
    b.add_items([new("a1"), new("b2")])

    claimed = a.claim(a.due(now=T0, limit=10)[0], now=T0, lease=LEASE)
    assert claimed is not None
    a.mark_delivered(claimed, at=T0)

    assert [(item.alert_id, item.status) for item in open_scoped(A).items()] == [("a1", "delivered")]
    assert [(item.alert_id, item.status, item.attempts) for item in open_scoped(B).items()] == [
        ("a1", "pending", 0),
        ("b2", "pending", 0),
    ]
    assert [item.alert_id for item in open_scoped(B).due(now=T0, limit=10)] == ["a1", "b2"]
    assert open_scoped(None).items() == []
    assert open_scoped(None).due(now=T0, limit=10) == []


def test_an_item_read_in_one_scope_cannot_be_claimed_or_marked_through_another(open_scoped: ScopedFactory) -> None:
    a = open_scoped(A)
    a.add_items([new("a1")])
    [item] = a.due(now=T0, limit=10)

    for other in others(open_scoped, A):
        assert other.claim(item, now=T0, lease=LEASE) is None
        with pytest.raises(StateConflictError, match="does not exist"):
            other.mark_delivered(item, at=T0)
        with pytest.raises(StateConflictError, match="does not exist"):
            other.mark_failed(item, at=T0, error="HTTP 500", retry_at=None)
        assert other.items() == []

    assert open_scoped(A).items() == [item]  # untouched: still pending, attempts 0, same version


def dead(store: StateStore, alert_id: str) -> OutboxItem:
    store.add_items([new(alert_id)])
    claimed = store.claim(next(i for i in store.items() if i.alert_id == alert_id), now=T0, lease=LEASE)
    assert claimed is not None
    store.mark_failed(claimed, at=T0, error="HTTP 400", retry_at=None)
    return claimed


def test_requeue_takes_only_its_own_scopes_dead_items(open_scoped: ScopedFactory) -> None:
    dead(open_scoped(A), "a1")
    dead(open_scoped(None), "a1")

    assert [item.alert_id for item in open_scoped(B).requeue(alert_ids=None, now=T0 + HOUR)] == []
    assert [item.alert_id for item in open_scoped(A).requeue(alert_ids=["a1"], now=T0 + HOUR)] == ["a1"]

    assert [item.status for item in open_scoped(A).items()] == ["pending"]
    assert [item.status for item in open_scoped(None).items()] == ["dead"]
    assert open_scoped(B).items() == []


def test_skipped_ranges_are_kept_per_scope(open_scoped: ScopedFactory) -> None:
    open_scoped(A).record_skipped(start=T0, end=T0 + HOUR, reason="A's bound", at=T0)
    # The same range in another scope is that scope's own first record, not a repeat of A's.
    open_scoped(B).record_skipped(start=T0, end=T0 + HOUR, reason="B's bound", at=T0 + HOUR)

    assert [(r.reason, r.recorded_at) for r in open_scoped(A).skipped()] == [("A's bound", T0)]
    assert [(r.reason, r.recorded_at) for r in open_scoped(B).skipped()] == [("B's bound", T0 + HOUR)]
    assert open_scoped(None).skipped() == []


def test_suppression_is_kept_per_scope(open_scoped: ScopedFactory) -> None:
    open_scoped(A).remember_alerted(GUEST, T0 + 5 * HOUR)
    open_scoped(B).remember_alerted(GUEST, T0)  # earlier than A's: kept, since B has none of its own

    assert open_scoped(A).last_alerted(GUEST) == T0 + 5 * HOUR
    assert open_scoped(B).last_alerted(GUEST) == T0
    assert open_scoped(None).last_alerted(GUEST) is None


def test_the_run_note_is_kept_per_scope(open_scoped: ScopedFactory) -> None:
    open_scoped(A).record_run(at=T0 + HOUR, error="Log Analytics: HTTP 403 Forbidden")
    open_scoped(B).record_run(at=T0, error="")

    assert open_scoped(A).last_run() == RunNote(
        at=T0 + HOUR,
        error="Log Analytics: HTTP 403 Forbidden",
        failed_at=T0 + HOUR,
        failure="Log Analytics: HTTP 403 Forbidden",
    )
    assert open_scoped(B).last_run() == RunNote(at=T0, error="", failed_at=None, failure="")
    assert open_scoped(None).last_run() is None


def test_a_scope_written_in_full_leaves_the_others_empty(open_scoped: ScopedFactory) -> None:
    for scope in (A, B, None):
        store = open_scoped(scope)
        store.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={GUEST: T0})
        store.record_skipped(start=T0, end=T0 + HOUR, reason=f"bound {scope}", at=T0)
        store.record_run(at=T0, error=f"failed {scope}")
        # Each scope sees exactly its own, however many others share the location.
        assert [r.reason for r in open_scoped(scope).skipped()] == [f"bound {scope}"]
        assert open_scoped(scope).last_run().failure == f"failed {scope}"  # type: ignore[union-attr]


# -- where each scope's state lives --------------------------------------------------------------------


def test_a_scoped_file_lies_beside_the_configured_one(tmp_path: Path) -> None:
    configured = tmp_path / "state" / "mfa-rejected.sqlite3"

    store = open_state(load_settings(MFA_STATE=str(configured)), scope=A)
    store.record_run(at=T0, error="")

    assert scoped_path(configured, A) == tmp_path / "state" / f"mfa-rejected.{A}.sqlite3"
    assert isinstance(store, SqliteStateStore)
    assert store.path == scoped_path(configured, A)
    assert sorted(path.name for path in configured.parent.glob("*.sqlite3")) == [f"mfa-rejected.{A}.sqlite3"]
    assert SqliteStateStore(scoped_path(configured, A)).last_run() == RunNote(
        at=T0, error="", failed_at=None, failure=""
    )


def test_unscoped_is_the_configured_file_itself(tmp_path: Path) -> None:
    configured = tmp_path / "state" / "mfa-rejected.sqlite3"

    store = open_state(load_settings(MFA_STATE=str(configured)))
    store.remember_alerted(GUEST, T0)

    assert scoped_path(configured, None) == configured
    assert isinstance(store, SqliteStateStore)
    assert store.path == configured
    assert SqliteStateStore(configured).last_alerted(GUEST) == T0


@pytest.mark.parametrize(
    ("configured", "scoped"),
    [
        ("state/mfa-rejected.sqlite3", "state/mfa-rejected.S-1.sqlite3"),
        ("state/state.db.sqlite3", "state/state.db.S-1.sqlite3"),
        ("state/statefile", "state/statefile.S-1"),
    ],
)
def test_scoped_path_puts_the_scope_before_the_suffix(configured: str, scoped: str) -> None:
    assert scoped_path(Path(configured), "S-1") == Path(scoped)


BAD_SCOPES = ["", "a.b", "..", "a/b", "../x", "a\\b", "a b", "a#b", "é", "x" * 65, "a\n"]


@pytest.mark.parametrize("scope", BAD_SCOPES)
def test_a_bad_scope_is_refused_before_anything_is_opened(tmp_path: Path, scope: str) -> None:
    configured = tmp_path / "state" / "mfa-rejected.sqlite3"

    with pytest.raises(ValueError, match=r"state scope must match \[A-Za-z0-9-\]\{1,64\}"):
        scoped_path(configured, scope)
    with pytest.raises(ValueError, match="state scope must match"):
        open_state(load_settings(MFA_STATE=str(configured)), scope=scope)

    assert not (tmp_path / "state").exists()


def test_the_longest_scope_is_accepted() -> None:
    assert scoped_path(Path("s.sqlite3"), "x" * 64) == Path(f"s.{'x' * 64}.sqlite3")
