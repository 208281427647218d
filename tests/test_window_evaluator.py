"""One window evaluated on its own: what it reads, what it records, and that it records it in one step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.alerts import Alert
from shared.errors import SourceError
from shared.models import Window
from shared.run_report import RunReport
from shared.state.base import StateStore
from shared.window_evaluator import WindowEvaluator, suppression_key
from tests.runner_parts import MemorySource, rejections_every_hour, settings

H = timedelta(hours=1)
DAY0 = datetime(2026, 11, 20, tzinfo=UTC)
WINDOW = Window(DAY0, DAY0 + H)
NOW = DAY0 + H + timedelta(minutes=5)


def evaluator(store: StateStore, source: MemorySource | None = None, **overrides: object) -> WindowEvaluator:
    if source is None:
        signins, behaviors = rejections_every_hour(DAY0, 3)
        source = MemorySource(signins=signins, behaviors=behaviors)
    return WindowEvaluator(settings=settings(**overrides), source=source, state=store, sink_names=["teams", "webhook"])


def test_a_window_records_its_alerts_for_every_sink_and_moves_the_checkpoint(store: StateStore) -> None:
    report = RunReport()
    checkpoint = evaluator(store).evaluate(WINDOW, expected=None, now=NOW, report=report, commit=True)
    assert checkpoint is not None
    assert checkpoint.end == WINDOW.end
    assert store.checkpoint() == checkpoint
    assert sorted(item.sink for item in store.items()) == ["teams", "webhook"]
    assert (report.candidates, report.result_rows, report.alerts) == (1, 1, 1)
    assert report.windows_evaluated == [WINDOW]


def test_the_rows_alerted_on_are_remembered_in_the_same_commit(store: StateStore) -> None:
    signins, _ = rejections_every_hour(DAY0, 1)
    evaluator(store, MFA_SUPPRESSION="PT6H").evaluate(WINDOW, expected=None, now=NOW, report=RunReport(), commit=True)
    assert store.last_alerted(suppression_key(_result_row(signins[0]))) == WINDOW.end


def test_a_lost_race_records_neither_alerts_nor_suppression_times(store: StateStore) -> None:
    store.commit_window(window_end=WINDOW.start, items=[], expected=None)  # another runner was first
    signins, _ = rejections_every_hour(DAY0, 1)
    report = RunReport()
    result = evaluator(store, MFA_SUPPRESSION="PT6H").evaluate(
        WINDOW, expected=None, now=NOW, report=report, commit=True
    )
    assert result is None
    assert report.conflicts == 1
    assert report.windows_evaluated == []
    assert store.checkpoint().end == WINDOW.start
    if store.__class__.__name__ == "SqliteStateStore":  # one transaction: nothing at all was written
        assert store.items() == []
        assert store.last_alerted(suppression_key(_result_row(signins[0]))) is None


def test_a_backfilled_window_records_alerts_and_suppression_but_leaves_the_checkpoint(store: StateStore) -> None:
    signins, _ = rejections_every_hour(DAY0, 1)
    checkpoint = evaluator(store, MFA_SUPPRESSION="PT6H").evaluate(
        WINDOW, expected=None, now=NOW, report=RunReport(), commit=False
    )
    assert checkpoint is None
    assert store.checkpoint() is None
    assert len(store.items()) == 2
    assert store.last_alerted(suppression_key(_result_row(signins[0]))) == WINDOW.end


def test_a_source_failure_names_the_window_and_records_nothing(store: StateStore) -> None:
    source = MemorySource(signins=[], behaviors=[], fail=lambda request: "HTTP 503 from the workspace")
    with pytest.raises(SourceError, match=r"window \[2026-11-20T00:00:00Z, 2026-11-20T01:00:00Z\)"):
        evaluator(store, source).evaluate(WINDOW, expected=None, now=NOW, report=RunReport(), commit=True)
    assert store.checkpoint() is None
    assert store.items() == []


def test_a_user_and_ip_alerted_within_the_period_are_suppressed_and_counted(store: StateStore) -> None:
    signins, _ = rejections_every_hour(DAY0, 1)
    store.remember_alerted(suppression_key(_result_row(signins[0])), WINDOW.start)
    report = RunReport()
    evaluator(store, MFA_SUPPRESSION="PT6H").evaluate(WINDOW, expected=None, now=NOW, report=report, commit=True)
    assert (report.result_rows, report.suppressed, report.alerts) == (1, 1, 0)
    assert store.items() == []


def _result_row(signin: dict) -> dict:
    # The suppression key reads the result row's user and IP, which are the sign-in's.
    return {"UserPrincipalName": signin["UserPrincipalName"], "FailedIPAddress": signin["IPAddress"]}


# --- late data (MFA_LATE_DATA) -------------------------------------------------------------------


def late_ueba_source(*, arrives: datetime, score: int = 8) -> MemorySource:
    """One rejection in WINDOW whose UEBA row arrives at ``arrives``."""
    signins, behaviors = rejections_every_hour(DAY0, 1)
    behaviors = [
        row | {"UEBARiskScore": None, "InvestigationPriority": score, "_ingested": arrives} for row in behaviors
    ]
    return MemorySource(signins=signins, behaviors=behaviors)


def test_a_row_whose_ueba_data_arrived_after_the_first_evaluation_alerts_once_marked_late(store: StateStore) -> None:
    source = late_ueba_source(arrives=NOW + timedelta(minutes=30))
    first = RunReport()
    evaluator(store, source).evaluate(WINDOW, expected=None, now=NOW, report=first, commit=True)
    assert (first.result_rows, first.alerts) == (0, 0)

    again = RunReport()
    later = NOW + H
    evaluator(store, source).evaluate_again([WINDOW], now=later, report=again)
    assert again.reevaluated == [WINDOW]
    assert (again.late_rows, again.late_alerts, again.alerts) == (1, 1, 1)
    [item, _] = store.items()
    alert = Alert.from_json(item.payload)
    assert alert.late == later - WINDOW.end
    assert json.loads(item.payload)["late"] is True
    assert json.loads(item.payload)["lateSeconds"] == int((later - WINDOW.end).total_seconds())

    # A third look finds the same row again: it was decided, nothing more is recorded.
    third = RunReport()
    evaluator(store, source).evaluate_again([WINDOW], now=later + timedelta(minutes=30), report=third)
    assert (third.late_rows, third.alerts) == (0, 0)
    assert len(store.items()) == 2


def test_a_row_already_alerted_is_not_sent_again_whatever_its_new_score(store: StateStore) -> None:
    source = late_ueba_source(arrives=DAY0, score=5)
    evaluator(store, source).evaluate(WINDOW, expected=None, now=NOW, report=RunReport(), commit=True)
    # A second UEBA row with a higher score arrives late: the same result row (same user, IP, ...).
    source.behaviors.append(source.behaviors[0] | {"InvestigationPriority": 9, "_ingested": NOW + timedelta(minutes=9)})
    report = RunReport()
    evaluator(store, source).evaluate_again([WINDOW], now=NOW + H, report=report)
    assert (report.late_rows, report.alerts) == (0, 0)
    assert len(store.items()) == 2  # the first evaluation's alert, for two sinks


def test_a_window_never_evaluated_is_not_read_again(store: StateStore) -> None:
    source = late_ueba_source(arrives=DAY0)
    report = RunReport()
    evaluator(store, source).evaluate_again([WINDOW], now=NOW + H, report=report)
    assert source.reads == []
    assert report.reevaluated == []


def test_a_window_whose_last_evaluation_was_at_its_late_horizon_is_final(store: StateStore) -> None:
    source = late_ueba_source(arrives=NOW + timedelta(hours=5))
    horizon = WINDOW.end + timedelta(minutes=5) + timedelta(hours=2)  # the defaults: PT5M delay, PT2H late data
    evaluator(store, source).evaluate(WINDOW, expected=None, now=NOW, report=RunReport(), commit=True)
    evaluator(store, source).evaluate_again([WINDOW], now=horizon, report=RunReport())
    reads = len(source.reads)
    report = RunReport()
    evaluator(store, source).evaluate_again([WINDOW], now=horizon + timedelta(hours=6), report=report)
    assert len(source.reads) == reads
    assert report.reevaluated == []
    assert store.items() == []


def test_the_windows_evaluated_again_in_one_run_are_read_in_one_read(store: StateStore) -> None:
    signins, behaviors = rejections_every_hour(DAY0, 3)
    late = [row | {"_ingested": DAY0 + 4 * H} for row in behaviors]
    source = MemorySource(signins=signins, behaviors=late)
    windows = [Window(DAY0 + hour * H, DAY0 + (hour + 1) * H) for hour in range(3)]
    for window in windows:
        evaluator(store, source).evaluate(
            window, expected=None, now=window.end + timedelta(minutes=5), report=RunReport(), commit=False
        )
    source.reads.clear()
    report = RunReport()
    evaluator(store, source).evaluate_again(windows, now=DAY0 + 4 * H + timedelta(minutes=5), report=report)
    assert len(source.reads) == 1
    assert source.reads[0].signins == Window(windows[0].start, windows[-1].end)
    assert report.reevaluated == windows
    # Each window's own rows, in its own late alert.
    found = sorted(Alert.from_json(item.payload).window.start for item in store.items() if item.sink == "teams")
    assert found == [window.start for window in windows]
