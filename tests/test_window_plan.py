"""The window plan: whole windows tiling sign-in time from the checkpoint, bounded by catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.models import Window
from shared.window_plan import Plan, plan_windows, window_end

H = timedelta(hours=1)
DAY0 = datetime(2026, 11, 20, tzinfo=UTC)


def at(hours: float, minutes: float = 5) -> datetime:
    return DAY0 + timedelta(hours=hours, minutes=minutes)


def plan(checkpoint: datetime | None, now: datetime, *, catchup: timedelta = timedelta(days=1)) -> Plan:
    return plan_windows(
        checkpoint=checkpoint, now=now, lookback=H, ingestion_delay=timedelta(minutes=5), max_catchup=catchup
    )


def test_window_end_is_now_minus_delay_truncated_to_the_minute() -> None:
    assert window_end(at(3, 7.5), ingestion_delay=timedelta(minutes=5)) == at(3, 2)


def test_first_run_evaluates_only_the_latest_window() -> None:
    assert plan(None, at(10)) == Plan(windows=(Window(at(9, 0), at(10, 0)),))


def test_on_time_run_evaluates_the_next_window() -> None:
    assert plan(at(9, 0), at(10)).windows == (Window(at(9, 0), at(10, 0)),)


def test_missed_runs_are_caught_up_oldest_first_each_one_lookback_long() -> None:
    assert plan(at(6, 0), at(10)).windows == tuple(Window(at(h, 0), at(h + 1, 0)) for h in range(6, 10))


def test_a_late_run_keeps_the_tiling_and_leaves_a_partial_window_for_later() -> None:
    assert plan(at(9, 0), at(10, 40)).windows == (Window(at(9, 0), at(10, 0)),)
    assert plan(at(9, 0), at(10, 4)).windows == ()  # 10:04 - 5 min: the 9:00 window has not ended


def test_nothing_is_due_when_the_checkpoint_is_current() -> None:
    assert plan(at(10, 0), at(10, 30)) == Plan(windows=())


def test_time_beyond_the_catch_up_bound_is_skipped_in_whole_windows_and_reported() -> None:
    result = plan(at(0, 0), at(10), catchup=timedelta(hours=3, minutes=30))
    # Only 3.5 h may be caught up: whole windows from 7:00 (6:00 would make it 4 h).
    assert result.skipped == Window(at(0, 0), at(7, 0))
    assert result.windows == tuple(Window(at(h, 0), at(h + 1, 0)) for h in range(7, 10))
