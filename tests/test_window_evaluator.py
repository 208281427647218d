"""One window evaluated on its own: what it reads, what it records, and that it records it in one step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
