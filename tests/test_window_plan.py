"""The window plan: whole windows tiling sign-in time from the checkpoint, bounded by catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.models import Window
from shared.window_plan import Plan, late_horizon, plan_windows, window_end

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


# --- late data: windows to evaluate again ------------------------------------------------------------


def test_with_late_data_the_windows_before_the_checkpoint_within_the_catch_up_bound_are_offered_again() -> None:
    result = plan_windows(
        checkpoint=at(10, 0),
        now=at(11),
        lookback=H,
        ingestion_delay=timedelta(minutes=5),
        max_catchup=timedelta(hours=3),
        late_data=timedelta(hours=2),
    )
    assert result.windows == (Window(at(10, 0), at(11, 0)),)
    # Those ending after checkpoint - delay - late data (07:55), within the catch-up bound (from 08:00).
    assert result.again == tuple(Window(at(h, 0), at(h + 1, 0)) for h in range(8, 10))


def test_windows_before_the_stored_final_time_are_not_offered_again() -> None:
    result = plan_windows(
        checkpoint=at(10, 0),
        now=at(11),
        lookback=H,
        ingestion_delay=timedelta(minutes=5),
        max_catchup=timedelta(days=1),
        late_data=timedelta(hours=2),
        final_before=at(4, 0),  # a run's re-evaluation failed long ago: every window since is offered
    )
    assert result.again == tuple(Window(at(h, 0), at(h + 1, 0)) for h in range(4, 10))
    recent = plan_windows(
        checkpoint=at(10, 0),
        now=at(11),
        lookback=H,
        ingestion_delay=timedelta(minutes=5),
        max_catchup=timedelta(days=1),
        late_data=timedelta(hours=2),
        final_before=at(9, 0),
    )
    assert recent.again == (Window(at(9, 0), at(10, 0)),)


def test_without_late_data_nothing_is_evaluated_again() -> None:
    assert plan(at(9, 0), at(10)).again == ()


def test_a_first_run_evaluates_nothing_again() -> None:
    result = plan_windows(
        checkpoint=None,
        now=at(10),
        lookback=H,
        ingestion_delay=timedelta(minutes=5),
        max_catchup=timedelta(days=1),
        late_data=timedelta(hours=2),
    )
    assert result.again == ()


def test_the_late_horizon_is_the_time_a_window_is_first_due_plus_the_late_data_period() -> None:
    window = Window(at(9, 0), at(10, 0))
    assert late_horizon(window, ingestion_delay=timedelta(minutes=5), late_data=timedelta(hours=2)) == at(12, 5)
    assert late_horizon(window, ingestion_delay=timedelta(minutes=5), late_data=timedelta(0)) == at(10, 5)
