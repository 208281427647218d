"""The runner's promises: windows without gaps or duplicates, a durable outbox, bounded retries."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import Alert
from shared.errors import DeliveryError
from shared.health import HealthAlert
from shared.models import Window
from shared.runner import Runner
from shared.state.base import StateStorageError, StateStore
from tests.builders import identity
from tests.runner_parts import MemorySource, RecordingSink, rejections_every_hour, settings

H = timedelta(hours=1)
DAY0 = datetime(2026, 11, 20, tzinfo=UTC)


def at(hours: float, minutes: float = 5) -> datetime:
    return DAY0 + timedelta(hours=hours, minutes=minutes)


# --- running ----------------------------------------------------------------------------------


def make_runner(store: StateStore, source: MemorySource, *sinks: RecordingSink, **overrides: object) -> Runner:
    return Runner(settings=settings(**overrides), source=source, sinks=list(sinks), state=store, jitter=lambda: 0.5)


def hourly_source(hours: int = 48) -> MemorySource:
    signins, behaviors = rejections_every_hour(DAY0, hours)
    return MemorySource(signins=signins, behaviors=behaviors)


def test_a_run_records_alerts_moves_the_checkpoint_and_delivers(store: StateStore) -> None:
    sink = RecordingSink()
    report = make_runner(store, hourly_source(), sink).run(now=at(10))
    assert report.windows_evaluated == [Window(at(9, 0), at(10, 0))]
    assert report.alerts == report.delivered == 1
    assert store.checkpoint().end == at(10, 0)
    [alert] = sink.alerts.values()
    assert alert.rows[0]["UserPrincipalName"] == "user9@contoso.com"
    assert [item.status for item in store.items()] == ["delivered"]


def test_rerunning_the_same_hour_sends_nothing_twice(store: StateStore) -> None:
    sink = RecordingSink()
    runner = make_runner(store, hourly_source(), sink)
    runner.run(now=at(10))
    second = runner.run(now=at(10, 30))
    assert second.windows_evaluated == []
    assert sum(sink.delivered.values()) == 1


def test_missed_hours_are_each_evaluated_once_and_alerted(store: StateStore) -> None:
    sink = RecordingSink()
    runner = make_runner(store, hourly_source(), sink)
    runner.run(now=at(3))
    report = runner.run(now=at(8))
    assert [w.start for w in report.windows_evaluated] == [at(h, 0) for h in range(3, 8)]
    assert len(sink.delivered) == 6
    assert set(sink.delivered.values()) == {1}


def test_a_source_failure_leaves_the_checkpoint_and_fails_the_run(store: StateStore) -> None:
    source = hourly_source()
    runner = make_runner(store, source, RecordingSink())
    runner.run(now=at(3))
    source.fail = lambda request: "Log Analytics answered HTTP 403: the identity lacks read access"
    report = runner.run(now=at(5))
    assert report.failed
    assert "HTTP 403" in report.error
    assert store.checkpoint().end == at(3, 0)
    source.fail = lambda request: None
    assert [w.start for w in runner.run(now=at(5, 10)).windows_evaluated] == [at(3, 0), at(4, 0)]


def test_a_catch_up_is_one_read_and_a_failed_one_records_nothing(store: StateStore) -> None:
    source = hourly_source()
    runner = make_runner(store, source, RecordingSink())
    runner.run(now=at(2))
    source.fail = lambda request: "boom" if request.signins.end > at(4, 0) else None
    report = runner.run(now=at(7))
    assert report.failed
    assert report.windows_evaluated == []
    assert store.checkpoint().end == at(2, 0)
    source.fail = lambda request: None
    source.reads.clear()
    report = runner.run(now=at(7))
    assert [w.start for w in report.windows_evaluated] == [at(2, 0), at(3, 0), at(4, 0), at(5, 0), at(6, 0)]
    # One read for the five windows (and one for the late-data re-read of the earlier ones).
    assert [(r.signins.start, r.signins.end) for r in source.reads if r.measure] == [(at(2, 0), at(7, 0))]
    assert store.checkpoint().end == at(7, 0)


def test_skipped_time_is_recorded_and_reported(store: StateStore, caplog: pytest.LogCaptureFixture) -> None:
    runner = make_runner(store, hourly_source(), RecordingSink(), MFA_MAX_CATCHUP="PT3H")
    runner.run(now=at(1))
    report = runner.run(now=at(10))
    assert report.skipped == Window(at(1, 0), at(7, 0))
    assert [(s.start, s.end) for s in store.skipped()] == [(at(1, 0), at(7, 0))]
    assert "was NOT evaluated" in caplog.text


def test_identity_lookback_widens_only_the_identity_window(store: StateStore) -> None:
    source = hourly_source()
    make_runner(store, source, RecordingSink(), MFA_IDENTITY_LOOKBACK="P14D").run(now=at(10))
    [request] = source.reads
    assert request.signins == request.behaviors == Window(at(9, 0), at(10, 0))
    assert request.identities == Window(at(10, 0) - timedelta(days=14), at(10, 0))


def test_per_row_grouping_gives_one_alert_per_row(store: StateStore) -> None:
    signins, behaviors = rejections_every_hour(DAY0, 2)
    extra = [signins[1] | {"UserPrincipalName": "other@contoso.com"}]
    extra_b = [behaviors[1] | {"UserName": "other"}]
    sink = RecordingSink()
    runner = make_runner(store, MemorySource(signins + extra, behaviors + extra_b), sink, MFA_ALERT_GROUPING="per-row")
    assert runner.run(now=at(2)).alerts == 2
    assert len(sink.delivered) == 2


def test_suppression_drops_a_user_and_ip_alerted_within_the_period(store: StateStore) -> None:
    signins, behaviors = rejections_every_hour(DAY0, 1)
    repeated = [signins[0] | {"TimeGenerated": signins[0]["TimeGenerated"] + h * H} for h in range(4)]
    scores = [behaviors[0] | {"TimeGenerated": behaviors[0]["TimeGenerated"] + h * H} for h in range(4)]
    sink = RecordingSink()
    runner = make_runner(store, MemorySource(repeated, scores), sink, MFA_SUPPRESSION="PT2H")
    runner.run(now=at(1))
    reports = [runner.run(now=at(h)) for h in (2, 3, 4)]
    assert [r.suppressed for r in reports] == [1, 0, 1]
    assert len(sink.delivered) == 2


# --- the outbox -------------------------------------------------------------------------------


def test_webhook_down_for_three_runs_then_up_delivers_once(store: StateStore) -> None:
    sink = RecordingSink()
    runner = make_runner(store, hourly_source(), sink)
    reports = []
    for hour in (10, 11, 12, 13):
        sink.fail = (lambda alert: DeliveryError("HTTP 503")) if hour < 13 else (lambda alert: None)
        reports.append(runner.run(now=at(hour)))
    # Each hour adds an alert that waits too; after two failures in a row the rest wait for the next run.
    assert [r.retried for r in reports] == [1, 2, 2, 0]
    assert [r.deferred for r in reports] == [0, 0, 1, 0]
    first = next(iter(sink.attempts))
    assert sink.attempts[first] == 4
    assert len(sink.delivered) == 4
    assert set(sink.delivered.values()) == {1}


def test_a_receiver_that_is_down_is_not_tried_for_every_pending_alert_in_one_run(store: StateStore) -> None:
    sink = RecordingSink(fail=lambda alert: DeliveryError("connection refused"))
    runner = make_runner(store, hourly_source(), sink)
    runner.run(now=at(1))
    report = runner.run(now=at(6))  # five new hours, plus the first alert due again
    assert sum(sink.attempts.values()) == 1 + 2  # the first run's attempt; then two in a row failed
    assert (report.retried, report.deferred) == (2, 4)
    sink.fail = lambda alert: None
    assert runner.run(now=at(8)).delivered == 8  # every alert delivered once the receiver is back
    assert set(sink.delivered.values()) == {1}


def test_one_alert_failing_does_not_hold_up_the_others(store: StateStore) -> None:
    poison: list[str] = []

    def fail(alert: Alert) -> DeliveryError | None:
        poison[:] = poison or [alert.id]  # the first alert always fails; the others go through
        return DeliveryError("HTTP 500") if alert.id == poison[0] else None

    sink = RecordingSink(fail=fail)
    runner = make_runner(store, hourly_source(), sink)
    runner.run(now=at(1))
    report = runner.run(now=at(5))
    assert report.delivered == 4
    assert report.deferred == 0


def test_a_permanent_failure_is_dead_at_once_and_reported(store: StateStore, caplog: pytest.LogCaptureFixture) -> None:
    sink = RecordingSink(fail=lambda alert: DeliveryError("HTTP 400: bad card", permanent=True))
    runner = make_runner(store, hourly_source(), sink)
    report = runner.run(now=at(10))
    assert report.dead == 1
    [item] = store.items(status="dead")
    assert "HTTP 400" in item.last_error
    assert "is DEAD" in caplog.text
    assert runner.run(now=at(10, 30)).dead == 0  # a dead alert is not retried


def test_transient_failures_end_dead_after_the_attempt_bound(store: StateStore) -> None:
    sink = RecordingSink(fail=lambda alert: DeliveryError("HTTP 503"))
    runner = make_runner(store, hourly_source(1), sink, MFA_MAX_DELIVERY_ATTEMPTS=3)
    runner.run(now=at(1))
    for hour in range(2, 8):
        runner.run(now=at(hour))
    [item] = store.items()
    assert (item.status, item.attempts) == ("dead", 3)
    assert sum(sink.attempts.values()) == 3


class Crash(BaseException):
    """The process dies: nothing of ours catches a BaseException."""


def test_crash_after_recording_before_delivering_is_delivered_next_run(store: StateStore) -> None:
    crash = RecordingSink(name="webhook", fail=lambda alert: Crash())
    with pytest.raises(Crash):
        make_runner(store, hourly_source(), crash).run(now=at(10))
    assert store.checkpoint().end == at(10, 0)  # the alert was recorded before delivery
    sink = RecordingSink(name="webhook")
    make_runner(store, hourly_source(), sink).run(now=at(10, 10))  # within the crashed run's lease: not yet
    assert sink.delivered == {}
    make_runner(store, hourly_source(), sink).run(now=at(10, 30))
    [alert_id] = crash.attempts
    assert sink.delivered == {alert_id: 1}  # the same alert id: the same webhook-id


def test_crash_after_delivering_before_recording_redelivers_with_the_same_id(store: StateStore) -> None:
    sink = RecordingSink(name="webhook")

    class DiesAfterSending(RecordingSink):
        def deliver(self, alert: Alert) -> None:
            super().deliver(alert)
            raise Crash

    dying = DiesAfterSending(name="webhook")
    with pytest.raises(Crash):
        make_runner(store, hourly_source(), dying).run(now=at(10))
    make_runner(store, hourly_source(), sink).run(now=at(10, 30))
    [alert_id] = dying.delivered
    assert sink.delivered == {alert_id: 1}  # at-least-once, with a stable id the receiver can drop
    assert [item.status for item in store.items()] == ["delivered"]


def test_two_runners_at_once_one_advances_and_nothing_is_sent_twice(open_store) -> None:
    barrier = threading.Barrier(2, timeout=10)
    sink = RecordingSink()
    reports = []

    def one_runner() -> None:
        source = hourly_source()
        # Both runners read their first window at the same moment, from the same checkpoint.
        source.before_read = lambda: barrier.wait() if len(source.reads) == 1 else None
        store = open_store()
        try:
            reports.append(make_runner(store, source, sink).run(now=at(10)))
        finally:
            store.close()

    first = open_store()
    make_runner(first, hourly_source(), sink).run(now=at(5))  # a checkpoint to race from
    first.close()
    threads = [threading.Thread(target=one_runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(r.conflicts for r in reports) == [0, 1]
    assert set(sink.delivered.values()) == {1}
    assert len(sink.delivered) == 6  # hours 4 (first run) and 5..9, each once


# --- nothing wedges, nothing is lost ------------------------------------------------------------


def test_with_no_sink_alerts_wait_in_the_outbox_and_a_sink_added_later_delivers_them(store: StateStore) -> None:
    source = hourly_source()
    first = make_runner(store, source).run(now=at(3))  # no sink at all
    second = make_runner(store, source).run(now=at(4))
    assert (first.alerts, first.unrouted, first.delivered) == (1, 1, 0)
    assert second.unrouted == 2  # both wait; nothing is dropped while the checkpoint moves on
    assert store.checkpoint().end == at(4, 0)
    assert {(item.sink, item.status) for item in store.items()} == {("unrouted", "pending")}

    sink = RecordingSink(name="teams")
    third = make_runner(store, source, sink).run(now=at(5))
    assert third.delivered == 3  # the two that waited and this hour's
    assert set(sink.delivered.values()) == {1}
    assert {(item.sink, item.status) for item in store.items()} == {("unrouted", "delivered"), ("teams", "delivered")}
    assert make_runner(store, source, sink).run(now=at(5, 30)).delivered == 0  # handed on once only


def test_an_alert_that_waited_beyond_the_catch_up_bound_goes_out_marked_delayed(store: StateStore) -> None:
    source = hourly_source(1)
    make_runner(store, source, MFA_MAX_CATCHUP="PT2H").run(now=at(1))
    sink = RecordingSink()
    make_runner(store, source, sink, MFA_MAX_CATCHUP="PT2H").run(now=at(9))
    [alert] = [alert for alert in sink.alerts.values() if isinstance(alert, Alert)]
    assert alert.delay == timedelta(hours=8)
    # The hours skipped meanwhile are a health alert of their own, on time.
    [skipped] = [alert for alert in sink.alerts.values() if isinstance(alert, HealthAlert)]
    assert (skipped.condition, skipped.state, skipped.delay) == ("skipped", "raised", None)


def test_an_unexpected_error_while_evaluating_fails_the_run_keeps_the_checkpoint_and_still_delivers(
    store: StateStore,
) -> None:
    source = hourly_source()
    sink = RecordingSink(fail=lambda alert: DeliveryError("HTTP 503"))
    runner = make_runner(store, source, sink)
    runner.run(now=at(3))  # one alert waits for a retry
    sink.fail = lambda alert: None

    def explode(request: object) -> None:
        raise KeyError("a value nothing foresaw")

    source.before_read = lambda: explode(None)
    report = runner.run(now=at(5))
    assert report.failed
    assert "unexpected KeyError" in report.error
    assert store.checkpoint().end == at(3, 0)
    assert report.delivered == 1  # what the outbox held still went out


@pytest.mark.parametrize(
    "value",
    ["\ud800", "a\udfffb", "\x00", "".join(map(chr, range(32))) + "\x7f", "\ufeff\u202e\u2028"],
    ids=["lone-high", "lone-low", "nul", "c0", "bom-bidi-separator"],
)
def test_any_text_in_the_data_is_recorded_delivered_and_read_back(store: StateStore, value: str) -> None:
    signins, behaviors = rejections_every_hour(DAY0, 1)
    identities = [
        identity("user0@contoso.com", groups=(value, "IT"), roles=(value,), tags=value)
        | {"TimeGenerated": signins[0]["TimeGenerated"]}
    ]
    sink = RecordingSink()
    runner = make_runner(store, MemorySource(signins, behaviors, identities), sink)

    report = runner.run(now=at(1))

    assert not report.failed
    assert store.checkpoint().end == at(1, 0)  # the window was committed: nothing wedged
    [alert] = sink.alerts.values()
    assert alert.rows[0]["GroupMembership"] == [value, "IT"]
    assert alert.rows[0]["AssignedRoles"] == [value]
    [item] = store.items()
    assert Alert.from_json(item.payload).rows[0]["GroupMembership"] == [value, "IT"]


def test_a_failed_re_evaluation_is_tried_again_after_the_checkpoint_moved_on(store: StateStore) -> None:
    signins, behaviors = rejections_every_hour(DAY0, 1)
    late = [row | {"_ingested": at(1, 30)} for row in behaviors]  # UEBA for the 00:17 rejection arrives at 01:30
    source = MemorySource(signins=signins, behaviors=late)
    sink = RecordingSink()
    failing = {"again": False}
    # A re-read is the one read without the health measure; it fails while ``failing`` says so.
    source.fail = lambda request: "HTTP 503" if failing["again"] and not request.measure else None
    runner = make_runner(store, source, sink)
    assert runner.run(now=at(1)).alerts == 0  # [00:00, 01:00): the UEBA row has not arrived
    failing["again"] = True
    for hour in (2, 3, 4):  # new windows advance, the re-reads fail, past the window's late horizon (03:05)
        report = runner.run(now=at(hour))
        assert report.failed
        assert report.windows_evaluated
    failing["again"] = False
    report = runner.run(now=at(5))
    assert not report.failed, report.error
    assert report.late_alerts == 1
    [alert] = [alert for alert in sink.alerts.values() if isinstance(alert, Alert)]
    assert alert.late == timedelta(hours=4, minutes=5)


def test_a_health_check_that_fails_fails_the_run_by_name_and_delivery_still_happens(tmp_path) -> None:
    from shared.state.sqlite import SqliteStateStore  # noqa: PLC0415  # only this test needs a store to break

    class HealthMarksUnreadable(SqliteStateStore):
        def last_alerted(self, key: str):
            if key.startswith("health_raised_"):
                raise StateStorageError("state file: health marks unreadable", where="state file")
            return super().last_alerted(key)

    store = HealthMarksUnreadable(tmp_path / "state.sqlite3")
    sink = RecordingSink()
    try:
        report = make_runner(store, hourly_source(2), sink).run(now=at(1))
    finally:
        store.close()
    assert report.error == "health: state file: health marks unreadable"
    assert report.delivered == 1
    assert len(sink.delivered) == 1
