"""One suite, every store: SQLite on a temp file and the Azure Table store on a real Azurite."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.errors import StateConflictError
from shared.state import Checkpoint, NewItem, OutboxItem, RunNote, StateStore
from shared.state.base import MAX_ERROR_CHARS

StoreFactory = Callable[[], StateStore]

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
HOUR = timedelta(hours=1)
LEASE = timedelta(minutes=5)
THREAD_TIMEOUT = 30.0


def new(alert_id: str, sink: str = "teams", *, at: datetime = T0, payload: str | None = None) -> NewItem:
    return NewItem(alert_id=alert_id, sink=sink, payload=payload or f'{{"id": "{alert_id}"}}', created_at=at)


def only(store: StateStore, alert_id: str, sink: str = "teams") -> OutboxItem:
    found = [item for item in store.items() if (item.alert_id, item.sink) == (alert_id, sink)]
    assert len(found) == 1, found
    return found[0]


def claim(store: StateStore, alert_id: str, *, now: datetime, sink: str = "teams") -> OutboxItem:
    claimed = store.claim(only(store, alert_id, sink), now=now, lease=LEASE)
    assert claimed is not None
    return claimed


# -- checkpoint and commit -------------------------------------------------------------------------


def test_a_new_store_is_empty(store: StateStore) -> None:
    assert store.checkpoint() is None
    assert store.items() == []
    assert store.due(now=T0 + 1000 * HOUR, limit=10) == []
    assert store.skipped() == []


def test_commit_records_items_and_moves_the_checkpoint(open_store: StoreFactory) -> None:
    store = open_store()
    items = [new("a1", "teams"), new("a1", "webhook", payload='{"x": "é ✓"}'), new("b2", "console")]

    checkpoint = store.commit_window(window_end=T0, items=items, expected=None)

    assert checkpoint.end == T0
    assert checkpoint.end.tzinfo is UTC
    # Another runner opening the same state sees exactly what was committed.
    other = open_store()
    assert other.checkpoint() == checkpoint
    recorded = {(item.alert_id, item.sink): item for item in other.items()}
    assert set(recorded) == {("a1", "teams"), ("a1", "webhook"), ("b2", "console")}
    item = recorded["a1", "webhook"]
    assert item.payload == '{"x": "é ✓"}'
    assert (item.status, item.attempts, item.last_error, item.delivered_at, item.last_failed_at) == (
        "pending",
        0,
        "",
        None,
        None,
    )
    assert item.created_at == T0
    assert item.next_attempt_at == T0  # due at once


def test_commits_chain_from_the_checkpoint_each_returned(store: StateStore) -> None:
    first = store.commit_window(window_end=T0, items=[], expected=None)
    second = store.commit_window(window_end=T0 + HOUR, items=[new("c3")], expected=first)

    assert second.version != first.version
    assert store.checkpoint() == Checkpoint(end=T0 + HOUR, version=second.version)
    assert [item.alert_id for item in store.items()] == ["c3"]


def test_commit_expecting_no_checkpoint_conflicts_once_one_exists(store: StateStore) -> None:
    first = store.commit_window(window_end=T0, items=[new("a1")], expected=None)

    with pytest.raises(StateConflictError, match="another runner"):
        store.commit_window(window_end=T0 + HOUR, items=[new("late")], expected=None)

    assert store.checkpoint() == first
    assert [item.alert_id for item in store.items()] == ["a1"]


def test_commit_from_an_old_checkpoint_conflicts(store: StateStore) -> None:
    first = store.commit_window(window_end=T0, items=[], expected=None)
    second = store.commit_window(window_end=T0 + HOUR, items=[], expected=first)

    with pytest.raises(StateConflictError):
        store.commit_window(window_end=T0 + 2 * HOUR, items=[new("stale")], expected=first)

    assert store.checkpoint() == second
    assert store.items() == []


def test_the_checkpoint_never_moves_backwards(store: StateStore) -> None:
    first = store.commit_window(window_end=T0, items=[], expected=None)

    for end in (T0, T0 - HOUR):
        with pytest.raises(ValueError, match="only moves forward"):
            store.commit_window(window_end=end, items=[], expected=first)

    assert store.checkpoint() == first


def test_recommitting_a_window_keeps_delivered_and_failed_items_as_they_are(store: StateStore) -> None:
    now = T0 + timedelta(minutes=1)
    checkpoint = store.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)
    store.mark_delivered(claim(store, "a1", now=now), at=now)
    store.mark_failed(claim(store, "b2", now=now), at=now, error="HTTP 503", retry_at=now + HOUR)
    before = {(item.alert_id, item.sink): item for item in store.items()}

    # The same alerts again (a retried or overlapping window), with different payloads, plus a new one.
    store.commit_window(
        window_end=T0 + HOUR,
        items=[new("a1", payload="{}"), new("b2", payload="{}"), new("c3")],
        expected=checkpoint,
    )

    after = {(item.alert_id, item.sink): item for item in store.items()}
    assert after["a1", "teams"] == before["a1", "teams"]
    assert after["a1", "teams"].status == "delivered"
    assert after["b2", "teams"] == before["b2", "teams"]
    assert after["b2", "teams"].attempts == 1
    assert after["c3", "teams"].status == "pending"


# -- outbox: due, claim, delivered, failed ---------------------------------------------------------


def test_due_is_oldest_first_with_ties_by_alert_then_sink(store: StateStore) -> None:
    later = T0 + timedelta(microseconds=1)
    store.commit_window(
        window_end=T0,
        items=[
            new("b", "teams", at=T0),
            new("c", "webhook", at=later),
            new("a", "webhook", at=T0),
            new("a", "console"),
        ],
        expected=None,
    )

    due = store.due(now=later, limit=10)

    assert [(item.alert_id, item.sink) for item in due] == [
        ("a", "console"),
        ("a", "webhook"),
        ("b", "teams"),
        ("c", "webhook"),
    ]
    assert [(item.alert_id, item.sink) for item in store.due(now=later, limit=2)] == [
        ("a", "console"),
        ("a", "webhook"),
    ]
    assert store.due(now=later, limit=0) == []
    # Due means next_attempt_at <= now, to the microsecond.
    assert [item.alert_id for item in store.due(now=T0, limit=10)] == ["a", "a", "b"]
    assert store.due(now=T0 - timedelta(microseconds=1), limit=10) == []


def test_claim_counts_the_attempt_and_leases_the_item(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    snapshot = only(store, "a1")
    now = T0 + timedelta(minutes=2, microseconds=7)

    claimed = store.claim(snapshot, now=now, lease=LEASE)

    assert claimed is not None
    assert (claimed.attempts, claimed.next_attempt_at, claimed.status) == (1, now + LEASE, "pending")
    assert claimed.version != snapshot.version
    assert only(store, "a1") == claimed
    # Leased: not due again until the lease runs out (a runner that died mid-send).
    assert store.due(now=now + LEASE - timedelta(microseconds=1), limit=10) == []
    assert store.due(now=now + LEASE, limit=10) == [claimed]


def test_two_claims_of_the_same_version_exactly_one_wins(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    first.commit_window(window_end=T0, items=[new("a1")], expected=None)
    snapshot_first, snapshot_second = only(first, "a1"), only(second, "a1")

    won = first.claim(snapshot_first, now=T0, lease=LEASE)
    lost = second.claim(snapshot_second, now=T0, lease=LEASE)

    assert won is not None
    assert lost is None
    assert only(first, "a1").attempts == 1


def test_runners_claiming_at_once_take_each_item_exactly_once(open_store: StoreFactory) -> None:
    setup = open_store()
    alert_ids = [f"{n:04x}" for n in range(12)]
    setup.commit_window(window_end=T0, items=[new(alert_id) for alert_id in alert_ids], expected=None)
    runners = [open_store(), open_store()]
    barrier = threading.Barrier(len(runners), timeout=THREAD_TIMEOUT)

    def run(store: StateStore) -> list[str]:
        barrier.wait()
        due = store.due(now=T0, limit=100)
        return [item.alert_id for item in due if store.claim(item, now=T0, lease=LEASE) is not None]

    with ThreadPoolExecutor(len(runners)) as pool:
        claimed = [future.result(timeout=THREAD_TIMEOUT) for future in [pool.submit(run, s) for s in runners]]

    assert sorted(claimed[0] + claimed[1]) == alert_ids  # every item once: no double send, none missed
    assert all(item.attempts == 1 for item in setup.items())


def test_only_pending_items_can_be_claimed(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    store.mark_delivered(claim(store, "a1", now=T0), at=T0)

    assert store.claim(only(store, "a1"), now=T0 + HOUR, lease=LEASE) is None
    assert only(store, "a1").attempts == 1


def test_failures_retry_then_end_dead(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)
    retry_at = T0 + timedelta(minutes=10, microseconds=5)

    store.mark_failed(claim(store, "a1", now=T0), at=T0, error="HTTP 503 Service Unavailable", retry_at=retry_at)

    failed = only(store, "a1")
    assert (failed.status, failed.attempts, failed.next_attempt_at) == ("pending", 1, retry_at)
    assert (failed.last_error, failed.last_failed_at) == ("HTTP 503 Service Unavailable", T0)
    assert [item.alert_id for item in store.due(now=retry_at - timedelta(microseconds=1), limit=10)] == ["b2"]
    assert [item.alert_id for item in store.due(now=retry_at, limit=10)] == ["a1", "b2"]

    store.mark_failed(claim(store, "a1", now=retry_at), at=retry_at, error="HTTP 400 bad card", retry_at=None)

    dead = only(store, "a1")
    assert (dead.status, dead.attempts, dead.last_error, dead.last_failed_at) == (
        "dead",
        2,
        "HTTP 400 bad card",
        retry_at,
    )
    assert [item.alert_id for item in store.due(now=T0 + 1000 * HOUR, limit=10)] == ["b2"]
    assert store.items(status="dead") == [dead]


def test_error_text_is_kept_but_bounded(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)

    store.mark_failed(claim(store, "a1", now=T0), at=T0, error="x" * (MAX_ERROR_CHARS + 500), retry_at=T0 + HOUR)

    assert only(store, "a1").last_error == "x" * MAX_ERROR_CHARS


def test_a_late_failure_report_cannot_undo_another_runners_delivery(open_store: StoreFactory) -> None:
    slow, fast = open_store(), open_store()
    slow.commit_window(window_end=T0, items=[new("a1")], expected=None)
    slow_claim = claim(slow, "a1", now=T0)
    # The slow runner's lease runs out; the other runner takes the item and delivers it.
    fast_claim = claim(fast, "a1", now=T0 + LEASE)
    fast.mark_delivered(fast_claim, at=T0 + LEASE)

    with pytest.raises(StateConflictError, match="changed since"):
        slow.mark_failed(slow_claim, at=T0 + 2 * LEASE, error="timeout", retry_at=T0 + HOUR)

    item = only(fast, "a1")
    assert (item.status, item.delivered_at, item.last_error, item.attempts) == ("delivered", T0 + LEASE, "", 2)


def test_a_delivery_is_recorded_even_from_a_stale_claim_and_keeps_the_first_time(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    first.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)
    first_claim = claim(first, "a1", now=T0)
    second_claim = claim(second, "a1", now=T0 + LEASE)  # lease ran out: at-least-once, same id

    first.mark_delivered(first_claim, at=T0 + timedelta(minutes=6))
    second.mark_delivered(second_claim, at=T0 + timedelta(minutes=7))

    assert only(first, "a1").delivered_at == T0 + timedelta(minutes=6)
    # A delivery also wins over a dead mark made meanwhile by another runner.
    dead_claim = claim(second, "b2", now=T0)
    second.mark_failed(dead_claim, at=T0, error="HTTP 400", retry_at=None)
    first.mark_delivered(dead_claim, at=T0 + HOUR)
    assert (only(first, "b2").status, only(first, "b2").delivered_at) == ("delivered", T0 + HOUR)


def test_marking_an_unknown_item_is_a_conflict(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    ghost = OutboxItem(
        alert_id="ghost",
        sink="teams",
        payload="{}",
        created_at=T0,
        status="pending",
        attempts=1,
        next_attempt_at=T0,
        last_error="",
        delivered_at=None,
        version=only(store, "a1").version,
    )

    with pytest.raises(StateConflictError, match="does not exist"):
        store.mark_delivered(ghost, at=T0)
    with pytest.raises(StateConflictError, match="does not exist"):
        store.mark_failed(ghost, at=T0, error="e", retry_at=None)
    assert store.claim(ghost, now=T0, lease=LEASE) is None
    assert [item.alert_id for item in store.items()] == ["a1"]


def test_items_by_status(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a"), new("b"), new("c")], expected=None)
    store.mark_delivered(claim(store, "a", now=T0), at=T0)
    store.mark_failed(claim(store, "b", now=T0), at=T0, error="gone", retry_at=None)

    assert [item.alert_id for item in store.items(status="delivered")] == ["a"]
    assert [item.alert_id for item in store.items(status="dead")] == ["b"]
    assert [item.alert_id for item in store.items(status="pending")] == ["c"]
    assert [item.alert_id for item in store.items()] == ["a", "b", "c"]
    with pytest.raises(ValueError, match="status must be one of"):
        store.items(status="lost")  # type: ignore[arg-type]


# -- skipped ranges and suppression ----------------------------------------------------------------


def test_skipped_ranges_are_kept_once_and_listed_in_order(store: StateStore) -> None:
    store.record_skipped(start=T0 + HOUR, end=T0 + 2 * HOUR, reason="beyond MFA_MAX_CATCHUP", at=T0 + 9 * HOUR)
    store.record_skipped(start=T0, end=T0 + HOUR, reason="beyond MFA_MAX_CATCHUP", at=T0 + 9 * HOUR)
    store.record_skipped(start=T0, end=T0 + HOUR, reason="recorded again", at=T0 + 10 * HOUR)

    ranges = store.skipped()

    assert [(r.start, r.end, r.reason, r.recorded_at) for r in ranges] == [
        (T0, T0 + HOUR, "beyond MFA_MAX_CATCHUP", T0 + 9 * HOUR),
        (T0 + HOUR, T0 + 2 * HOUR, "beyond MFA_MAX_CATCHUP", T0 + 9 * HOUR),
    ]


def test_suppression_remembers_the_last_alert_per_key(open_store: StoreFactory) -> None:
    store = open_store()
    guest = "guest_contoso.com#EXT#@tenant.onmicrosoft.com|2001:db8::1"  # '#' is not allowed in table keys
    other = "ünïcode/user?@x.example|10.0.0.1"

    assert store.last_alerted(guest) is None
    store.remember_alerted(guest, T0)
    store.remember_alerted(other, T0 + HOUR)
    store.remember_alerted(guest, T0 + 2 * HOUR)

    reopened = open_store()
    assert reopened.last_alerted(guest) == T0 + 2 * HOUR
    assert reopened.last_alerted(other) == T0 + HOUR
    assert reopened.last_alerted("someone-else|10.0.0.1") is None


# -- concurrency, times, values --------------------------------------------------------------------


@pytest.mark.parametrize("from_existing", [False, True], ids=["first-window", "later-window"])
def test_two_runners_committing_the_same_window_exactly_one_wins(open_store: StoreFactory, from_existing: bool) -> None:
    setup = open_store()
    expected = setup.commit_window(window_end=T0, items=[], expected=None) if from_existing else None
    window_end = T0 + HOUR
    runners = [open_store(), open_store()]
    barrier = threading.Barrier(len(runners), timeout=THREAD_TIMEOUT)

    def run(store: StateStore, name: str) -> Checkpoint | StateConflictError:
        barrier.wait()
        try:
            return store.commit_window(window_end=window_end, items=[new("a1"), new(name)], expected=expected)
        except StateConflictError as error:
            return error

    with ThreadPoolExecutor(len(runners)) as pool:
        futures = [pool.submit(run, store, name) for store, name in zip(runners, ["r1", "r2"], strict=True)]
        outcomes = [future.result(timeout=THREAD_TIMEOUT) for future in futures]

    winners = [outcome for outcome in outcomes if isinstance(outcome, Checkpoint)]
    assert len(winners) == 1, outcomes
    assert sum(isinstance(outcome, StateConflictError) for outcome in outcomes) == 1
    assert setup.checkpoint() == winners[0]
    winner = "r1" if isinstance(outcomes[0], Checkpoint) else "r2"
    recorded = {item.alert_id for item in setup.items()}
    # The winner's items are all there, "a1" once; a loser may have pre-recorded its own (Table).
    assert {"a1", winner} <= recorded <= {"a1", "r1", "r2"}
    assert [item.alert_id for item in setup.items()].count("a1") == 1


def test_times_round_trip_exactly_as_utc(store: StateStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2026, 3, 1, 12, 0, 0, 999999, tzinfo=plus_two)
    created = datetime(2026, 2, 28, 23, 59, 59, 1, tzinfo=UTC)

    checkpoint = store.commit_window(window_end=local, items=[new("a1", at=created)], expected=None)

    assert checkpoint.end == local
    assert store.checkpoint() is not None
    stored = store.checkpoint()
    assert stored is not None
    assert (stored.end, stored.end.tzinfo, stored.end.microsecond) == (local, UTC, 999999)
    item = only(store, "a1")
    assert (item.created_at, item.created_at.tzinfo, item.created_at.microsecond) == (created, UTC, 1)


def test_naive_datetimes_are_refused(store: StateStore) -> None:
    naive = datetime(2026, 3, 1, 10)  # naive on purpose

    with pytest.raises(ValueError, match="timezone-aware"):
        store.commit_window(window_end=naive, items=[], expected=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.commit_window(window_end=T0, items=[new("a1", at=naive)], expected=None)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.remember_alerted("k", naive)
    assert store.checkpoint() is None


def test_large_and_non_ascii_payloads_round_trip_exactly(store: StateStore) -> None:
    # Beyond one Table property (64 KiB), with characters outside the BMP (two UTF-16 units each).
    payload = '{"rows": "' + ("ab😀ç" * 30_000) + '"}'

    store.commit_window(window_end=T0, items=[new("a1", payload=payload)], expected=None)

    assert only(store, "a1").payload == payload


@pytest.mark.parametrize(
    ("alert_id", "sink", "message"),
    [
        ("a/b", "teams", "alert id"),
        ("a#b", "teams", "alert id"),
        ("", "teams", "alert id"),
        ("a1", "Teams", "sink name"),
        ("a1", "team:s", "sink name"),
    ],
)
def test_ids_unsafe_as_table_keys_are_refused_by_every_store(
    store: StateStore, alert_id: str, sink: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        store.commit_window(window_end=T0, items=[new(alert_id, sink)], expected=None)

    assert store.checkpoint() is None
    assert store.items() == []


def test_add_items_records_only_absent_items_and_leaves_the_checkpoint(store: StateStore) -> None:
    checkpoint = store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    store.mark_delivered(claim(store, "a1", now=T0), at=T0)
    delivered = only(store, "a1")

    store.add_items([new("a1", payload="{}"), new("old", "webhook", at=T0 - HOUR)])

    assert store.checkpoint() == checkpoint
    assert only(store, "a1") == delivered
    backfilled = only(store, "old", "webhook")
    assert (backfilled.status, backfilled.attempts, backfilled.created_at) == ("pending", 0, T0 - HOUR)
    assert [item.alert_id for item in store.due(now=T0, limit=10)] == ["old"]
    with pytest.raises(ValueError, match="alert id"):
        store.add_items([new("bad/id")])


# -- requeue: dead items back to pending -----------------------------------------------------------


def dead(store: StateStore, alert_id: str, *, at: datetime, sink: str = "teams", error: str = "HTTP 400") -> OutboxItem:
    store.mark_failed(claim(store, alert_id, now=at, sink=sink), at=at, error=error, retry_at=None)
    return only(store, alert_id, sink)


def test_requeue_puts_every_dead_item_back_to_pending_with_a_fresh_count(store: StateStore) -> None:
    later = T0 + timedelta(microseconds=1)
    store.commit_window(
        window_end=T0,
        items=[new("b2", at=later), new("a1"), new("a1", "webhook"), new("c3"), new("d4")],
        expected=None,
    )
    store.mark_failed(claim(store, "b2", now=T0), at=T0, error="HTTP 503", retry_at=T0 + LEASE)
    dead(store, "b2", at=T0 + LEASE, error="HTTP 400 bad card")  # two attempts, then dead
    dead(store, "a1", at=T0, sink="webhook", error="HTTP 404")
    store.mark_delivered(claim(store, "c3", now=T0), at=T0)
    store.mark_failed(claim(store, "d4", now=T0), at=T0, error="timeout", retry_at=T0 + HOUR)
    before = {(item.alert_id, item.sink): item for item in store.items()}
    now = T0 + 2 * HOUR

    requeued = store.requeue(alert_ids=None, now=now)

    assert [(item.alert_id, item.sink) for item in requeued] == [("a1", "webhook"), ("b2", "teams")]  # due order
    for item in requeued:
        old = before[item.alert_id, item.sink]
        assert (item.status, item.attempts, item.next_attempt_at) == ("pending", 0, now)
        assert item.version != old.version
        # The failure history stays for whoever looks at the item later.
        assert (item.last_error, item.last_failed_at, item.delivered_at) == (old.last_error, old.last_failed_at, None)
        assert (item.payload, item.created_at) == (old.payload, old.created_at)
        assert only(store, item.alert_id, item.sink) == item
    assert requeued[1].last_error == "HTTP 400 bad card"
    # Delivered and pending items are not touched, whatever their history.
    for key in [("a1", "teams"), ("c3", "teams"), ("d4", "teams")]:
        assert only(store, *key) == before[key]
    assert store.items(status="dead") == []


def test_a_requeued_item_is_due_at_once_and_claimable(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    dead(store, "a1", at=T0)
    now = T0 + HOUR

    [requeued] = store.requeue(alert_ids=["a1"], now=now)

    assert store.due(now=now - timedelta(microseconds=1), limit=10) == []
    assert store.due(now=now, limit=10) == [requeued]
    claimed = store.claim(requeued, now=now, lease=LEASE)
    assert claimed is not None
    assert (claimed.attempts, claimed.next_attempt_at) == (1, now + LEASE)
    # And it may end dead again, to be requeued again.
    store.mark_failed(claimed, at=now, error="HTTP 400 again", retry_at=None)
    assert [item.last_error for item in store.requeue(alert_ids=None, now=now + HOUR)] == ["HTTP 400 again"]


def test_requeue_by_alert_id_takes_the_dead_items_of_those_alerts_on_every_sink(store: StateStore) -> None:
    store.commit_window(
        window_end=T0,
        items=[new("a1"), new("a1", "webhook"), new("a1", "console"), new("b2"), new("c3")],
        expected=None,
    )
    dead(store, "a1", at=T0)
    dead(store, "a1", at=T0, sink="webhook")
    pending_a1 = only(store, "a1", "console")
    dead(store, "b2", at=T0)
    store.mark_delivered(claim(store, "c3", now=T0), at=T0)
    delivered_c3 = only(store, "c3")

    requeued = store.requeue(alert_ids=["a1", "c3", "never-seen", "not/an/id", "a1"], now=T0 + HOUR)

    assert [(item.alert_id, item.sink, item.status) for item in requeued] == [
        ("a1", "teams", "pending"),
        ("a1", "webhook", "pending"),
    ]
    assert only(store, "a1", "console") == pending_a1
    assert only(store, "b2").status == "dead"
    assert only(store, "c3") == delivered_c3


def test_requeue_with_nothing_to_take_changes_nothing(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)
    dead(store, "a1", at=T0)
    before = store.items()

    assert store.requeue(alert_ids=[], now=T0 + HOUR) == []
    assert store.requeue(alert_ids=["b2", "zz"], now=T0 + HOUR) == []
    assert store.items() == before
    assert store.requeue(alert_ids=None, now=T0 + HOUR) != []
    assert store.requeue(alert_ids=None, now=T0 + 2 * HOUR) == []  # nothing dead any more


def test_requeue_never_takes_an_item_delivered_by_another_runner(open_store: StoreFactory) -> None:
    first, second = open_store(), open_store()
    first.commit_window(window_end=T0, items=[new("a1")], expected=None)
    stale_claim = claim(first, "a1", now=T0)
    first.mark_failed(stale_claim, at=T0, error="timeout", retry_at=None)
    # A runner that sent it after all records the delivery over the dead mark.
    second.mark_delivered(stale_claim, at=T0 + LEASE)

    assert first.requeue(alert_ids=None, now=T0 + HOUR) == []
    assert (only(first, "a1").status, only(first, "a1").delivered_at) == ("delivered", T0 + LEASE)


def test_two_runners_requeueing_at_once_reset_each_item_once(open_store: StoreFactory) -> None:
    setup = open_store()
    alert_ids = [f"{n:04x}" for n in range(8)]
    setup.commit_window(window_end=T0, items=[new(alert_id) for alert_id in alert_ids], expected=None)
    for alert_id in alert_ids:
        dead(setup, alert_id, at=T0)
    runners = [open_store(), open_store()]
    barrier = threading.Barrier(len(runners), timeout=THREAD_TIMEOUT)

    def run(store: StateStore) -> list[str]:
        barrier.wait()
        return [item.alert_id for item in store.requeue(alert_ids=None, now=T0 + HOUR)]

    with ThreadPoolExecutor(len(runners)) as pool:
        requeued = [future.result(timeout=THREAD_TIMEOUT) for future in [pool.submit(run, s) for s in runners]]

    assert sorted(requeued[0] + requeued[1]) == alert_ids  # each once: a second reset would be a lie
    assert {(item.status, item.attempts) for item in setup.items()} == {("pending", 0)}


def test_requeue_refuses_one_string_and_a_naive_time(store: StateStore) -> None:
    store.commit_window(window_end=T0, items=[new("a1")], expected=None)
    dead(store, "a1", at=T0)

    with pytest.raises(TypeError, match="not one str"):
        store.requeue(alert_ids="a1", now=T0 + HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        store.requeue(alert_ids=None, now=datetime(2026, 3, 1, 11))  # naive on purpose

    assert only(store, "a1").status == "dead"


# -- any text ------------------------------------------------------------------------------------------

EVERY_C0 = "".join(chr(code) for code in range(0x20))
# Lone surrogates, and a pair of surrogate code points (a Python str can hold one; it is not "😀").
AWKWARD = f"{EVERY_C0}|lone \ud800 and \udfff|pair \ud83d\ude00|real 😀|\x7f\u2028\ufffe"
# What every store gives back: each surrogate code point replaced by U+FFFD, everything else as it was.
AWKWARD_STORED = f"{EVERY_C0}|lone \ufffd and \ufffd|pair \ufffd\ufffd|real 😀|\x7f\u2028\ufffe"


def test_any_str_is_kept_as_error_text(open_store: StoreFactory) -> None:
    store = open_store()
    store.commit_window(window_end=T0, items=[new("a1"), new("b2")], expected=None)

    store.mark_failed(claim(store, "a1", now=T0), at=T0, error=AWKWARD, retry_at=T0 + HOUR)
    store.mark_failed(claim(store, "b2", now=T0), at=T0, error="\ud800" * (MAX_ERROR_CHARS + 5), retry_at=None)

    reopened = open_store()
    assert only(reopened, "a1").last_error == AWKWARD_STORED
    assert only(reopened, "b2").last_error == "\ufffd" * MAX_ERROR_CHARS
    assert [item.alert_id for item in reopened.requeue(alert_ids=None, now=T0 + HOUR)] == ["b2"]


def test_any_str_is_kept_as_skip_reason_text(open_store: StoreFactory) -> None:
    store = open_store()

    store.record_skipped(start=T0, end=T0 + HOUR, reason=AWKWARD, at=T0)
    store.record_skipped(start=T0 + HOUR, end=T0 + 2 * HOUR, reason="\x00", at=T0)

    assert [skipped.reason for skipped in open_store().skipped()] == [AWKWARD_STORED, "\x00"]


def test_a_payload_holding_a_surrogate_is_refused_before_anything_is_written(store: StateStore) -> None:
    bad = new("b2", payload='{"name": "x\ud800y"}')

    with pytest.raises(
        ValueError, match=r"payload of alert b2 for sink teams contains the surrogate code point U\+D800"
    ):
        store.commit_window(window_end=T0, items=[new("a1"), bad], expected=None)
    with pytest.raises(ValueError, match=r"surrogate code point U\+D83D at index 0"):
        store.add_items([new("c3", payload="\ud83d\ude00")])

    assert store.checkpoint() is None
    assert store.items() == []
    # JSON's own escape for it is plain ASCII text, and is kept exactly.
    store.add_items([new("c3", payload='{"name": "x\\ud800y"}')])
    assert only(store, "c3").payload == '{"name": "x\\ud800y"}'


def test_any_str_is_a_suppression_key_and_distinct_keys_stay_distinct(open_store: StoreFactory) -> None:
    store = open_store()
    keys = ["\ud800", "\udfff", "\ud83d\ude00", "😀", "a\x00b", "a", EVERY_C0, AWKWARD]

    for hour, key in enumerate(keys):
        store.remember_alerted(key, T0 + hour * HOUR)

    reopened = open_store()
    assert [reopened.last_alerted(key) for key in keys] == [T0 + hour * HOUR for hour in range(len(keys))]
    assert reopened.last_alerted("\udbff") is None


# -- suppression recorded in the same step as the window ----------------------------------------------

GUEST = "guest_contoso.com#EXT#@tenant.onmicrosoft.com|2001:db8::1"
OTHER = "ünïcode/user?@x.example|10.0.0.1"


def test_commit_window_records_alerted_with_the_window(open_store: StoreFactory) -> None:
    store = open_store()

    first = store.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={GUEST: T0 - HOUR})
    store.commit_window(window_end=T0 + HOUR, items=[], expected=first, alerted={OTHER: T0, GUEST: T0})

    reopened = open_store()
    assert reopened.last_alerted(GUEST) == T0
    assert reopened.last_alerted(OTHER) == T0
    assert reopened.last_alerted(OTHER).tzinfo is UTC


def test_a_commit_that_loses_records_no_alerted(store: StateStore) -> None:
    first = store.commit_window(window_end=T0, items=[], expected=None)
    second = store.commit_window(window_end=T0 + HOUR, items=[], expected=first)

    # A stale runner: the checkpoint moved since it read it. Every store finds this before writing
    # anything; a race lost only at the Table store's final conditional write is in test_tables.py.
    with pytest.raises(StateConflictError):
        store.commit_window(window_end=T0 + 2 * HOUR, items=[new("stale")], expected=first, alerted={GUEST: T0})

    assert store.last_alerted(GUEST) is None
    assert store.checkpoint() == second
    assert store.items() == []


def test_a_refused_alerted_argument_writes_nothing(store: StateStore) -> None:
    for alerted, error in (
        ({GUEST: T0, "": T0}, ValueError),
        ({GUEST: T0, OTHER: datetime(2026, 3, 1, 10)}, ValueError),  # naive on purpose
        ({GUEST: "2026-03-01T10:00:00Z"}, TypeError),
    ):
        with pytest.raises(error):
            store.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted=alerted)  # type: ignore[arg-type]
        with pytest.raises(error):
            store.add_items([new("b2")], alerted=alerted)  # type: ignore[arg-type]

    assert store.checkpoint() is None
    assert store.items() == []
    assert store.last_alerted(GUEST) is None


def test_add_items_records_alerted_and_leaves_the_checkpoint(open_store: StoreFactory) -> None:
    store = open_store()

    store.add_items([new("a1")], alerted={GUEST: T0, OTHER: T0 + HOUR})
    store.add_items([], alerted={"third|10.0.0.3": T0 + 2 * HOUR})

    reopened = open_store()
    assert reopened.checkpoint() is None
    assert [item.alert_id for item in reopened.items()] == ["a1"]
    assert [reopened.last_alerted(key) for key in (GUEST, OTHER, "third|10.0.0.3")] == [T0, T0 + HOUR, T0 + 2 * HOUR]


def test_a_suppression_time_never_moves_backwards(open_store: StoreFactory) -> None:
    store = open_store()
    live = T0 + 5 * HOUR
    store.remember_alerted(GUEST, live)

    # A backfill of an old window, by every path: none of them shortens the live suppression.
    store.remember_alerted(GUEST, T0)
    checkpoint = store.commit_window(window_end=T0, items=[], expected=None, alerted={GUEST: T0 + HOUR})
    store.add_items([new("a1")], alerted={GUEST: T0 + 2 * HOUR})
    store.remember_alerted(GUEST, live)  # the same time again changes nothing either
    assert open_store().last_alerted(GUEST) == live

    # A later time moves it on, by every path.
    store.commit_window(window_end=T0 + HOUR, items=[], expected=checkpoint, alerted={GUEST: live + HOUR})
    assert open_store().last_alerted(GUEST) == live + HOUR
    store.add_items([], alerted={GUEST: live + 2 * HOUR})
    assert open_store().last_alerted(GUEST) == live + 2 * HOUR
    store.remember_alerted(GUEST, live + 3 * HOUR)
    assert open_store().last_alerted(GUEST) == live + 3 * HOUR


def test_runners_remembering_one_key_at_once_keep_the_latest_time(open_store: StoreFactory) -> None:
    times = [T0 + minutes * timedelta(minutes=1) for minutes in (7, 3, 11, 5, 2, 13, 1, 8)]
    stores = [open_store() for _ in times]
    start = threading.Barrier(len(times))

    def remember(index: int) -> None:
        start.wait(THREAD_TIMEOUT)
        stores[index].remember_alerted(GUEST, times[index])

    with ThreadPoolExecutor(len(times)) as pool:
        for done in [pool.submit(remember, index) for index in range(len(times))]:
            done.result(THREAD_TIMEOUT)

    assert open_store().last_alerted(GUEST) == max(times)


# -- the run note -------------------------------------------------------------------------------------


def test_a_new_store_has_no_run_note(store: StateStore) -> None:
    assert store.last_run() is None


def test_a_success_is_noted_with_no_failure(open_store: StoreFactory) -> None:
    open_store().record_run(at=T0, error="")

    assert open_store().last_run() == RunNote(at=T0, error="", failed_at=None, failure="")


def test_the_last_failure_is_kept_after_later_successes(open_store: StoreFactory) -> None:
    store = open_store()

    store.record_run(at=T0, error="")
    store.record_run(at=T0 + HOUR, error="Log Analytics: HTTP 403 Forbidden")
    assert open_store().last_run() == RunNote(
        at=T0 + HOUR,
        error="Log Analytics: HTTP 403 Forbidden",
        failed_at=T0 + HOUR,
        failure="Log Analytics: HTTP 403 Forbidden",
    )
    store.record_run(at=T0 + 2 * HOUR, error="")
    store.record_run(at=T0 + 3 * HOUR, error="")

    note = open_store().last_run()
    assert note == RunNote(at=T0 + 3 * HOUR, error="", failed_at=T0 + HOUR, failure="Log Analytics: HTTP 403 Forbidden")
    assert note is not None
    assert note.at.tzinfo is UTC
    assert note.failed_at is not None
    assert note.failed_at.tzinfo is UTC


def test_a_later_failure_replaces_the_failure_noted(store: StateStore) -> None:
    store.record_run(at=T0, error="first")
    store.record_run(at=T0 + HOUR, error="second")

    assert store.last_run() == RunNote(at=T0 + HOUR, error="second", failed_at=T0 + HOUR, failure="second")


def test_an_older_run_never_moves_the_note_back(open_store: StoreFactory) -> None:
    store = open_store()
    store.record_run(at=T0 + 2 * HOUR, error="")

    # A slow run that started earlier finishes last: its failure is the only one, so it is noted,
    # but the latest run is still the later success.
    store.record_run(at=T0, error="timed out")
    assert open_store().last_run() == RunNote(at=T0 + 2 * HOUR, error="", failed_at=T0, failure="timed out")

    store.record_run(at=T0 + 3 * HOUR, error="HTTP 500")
    # Older again: neither the run nor the failure moves back.
    store.record_run(at=T0 + HOUR, error="older failure")
    store.record_run(at=T0 + HOUR, error="")
    assert open_store().last_run() == RunNote(
        at=T0 + 3 * HOUR, error="HTTP 500", failed_at=T0 + 3 * HOUR, failure="HTTP 500"
    )


def test_a_run_at_the_same_time_replaces_the_one_noted(store: StateStore) -> None:
    store.record_run(at=T0, error="HTTP 500")
    store.record_run(at=T0, error="")

    assert store.last_run() == RunNote(at=T0, error="", failed_at=T0, failure="HTTP 500")


def test_any_str_is_kept_as_run_error_text(open_store: StoreFactory) -> None:
    store = open_store()

    store.record_run(at=T0, error=AWKWARD)
    assert open_store().last_run() == RunNote(at=T0, error=AWKWARD_STORED, failed_at=T0, failure=AWKWARD_STORED)

    store.record_run(at=T0 + HOUR, error="x" + "\ud800" * (MAX_ERROR_CHARS + 5))
    expected = "x" + "\ufffd" * (MAX_ERROR_CHARS - 1)
    assert open_store().last_run() == RunNote(at=T0 + HOUR, error=expected, failed_at=T0 + HOUR, failure=expected)


def test_a_refused_run_writes_nothing(store: StateStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        store.record_run(at=datetime(2026, 3, 1, 10), error="")  # naive on purpose
    with pytest.raises(TypeError, match="must be a str"):
        store.record_run(at=T0, error=None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a datetime"):
        store.record_run(at="2026-03-01T10:00:00Z", error="")  # type: ignore[arg-type]

    assert store.last_run() is None


def test_run_times_are_kept_exactly_as_utc(store: StateStore) -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    at = datetime(2026, 3, 1, 15, 30, 0, 1, tzinfo=plus_five)

    store.record_run(at=at, error="HTTP 429")

    assert store.last_run() == RunNote(
        at=datetime(2026, 3, 1, 10, 0, 0, 1, tzinfo=UTC),
        error="HTTP 429",
        failed_at=datetime(2026, 3, 1, 10, 0, 0, 1, tzinfo=UTC),
        failure="HTTP 429",
    )


def test_runners_recording_runs_at_once_keep_the_latest_run_and_failure(open_store: StoreFactory) -> None:
    runs = [(T0 + minutes * timedelta(minutes=1), "" if minutes % 2 else f"failed {minutes}") for minutes in range(8)]
    stores = [open_store() for _ in runs]
    start = threading.Barrier(len(runs))

    def record(index: int) -> None:
        start.wait(THREAD_TIMEOUT)
        at, error = runs[index]
        stores[index].record_run(at=at, error=error)

    with ThreadPoolExecutor(len(runs)) as pool:
        for done in [pool.submit(record, index) for index in reversed(range(len(runs)))]:
            done.result(THREAD_TIMEOUT)

    assert open_store().last_run() == RunNote(
        at=T0 + 7 * timedelta(minutes=1), error="", failed_at=T0 + 6 * timedelta(minutes=1), failure="failed 6"
    )
