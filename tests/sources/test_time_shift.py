"""MFA_FIXTURES_TIME_SHIFT=latest: the recorded period moved, whole, onto the window a run evaluates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.detection import detect
from shared.job import run_scheduled
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE, ReadRequest, Window
from shared.settings import load_settings
from shared.sources.fixtures import FixtureSource
from shared.sources.time_shift import TimeShiftedSource, shift_to
from shared.state.sqlite import SqliteStateStore
from tests.builders import at, behavior, identity, signin
from tests.sources.test_loganalytics import write_fixtures

HOUR = timedelta(hours=1)


def recorded(directory: Path) -> FixtureSource:
    tables = {
        SIGNIN_TABLE: [signin(minute=10), signin("ann@contoso.com", result_type="0", minute=95)],
        IDENTITY_TABLE: [identity(minute=-30)],
        BEHAVIOR_TABLE: [behavior(score=8, minute=12)],
    }
    return FixtureSource(write_fixtures(directory, tables))


def test_the_period_of_the_latest_rejected_sign_in_ends_at_the_window_end(tmp_path: Path) -> None:
    # The latest rejected-MFA sign-in is at 09:10 (the later one succeeded): its hour is 09:00-10:00.
    end = datetime(2030, 1, 2, 17, 43, tzinfo=UTC)
    assert shift_to(recorded(tmp_path), window_end=end, lookback=HOUR) == end - at(60)
    # Periods are counted from the epoch in lookbacks: with PT20M, 09:10 lies in 09:00-09:20.
    assert shift_to(recorded(tmp_path), window_end=end, lookback=timedelta(minutes=20)) == end - at(20)


def test_no_rejected_sign_in_means_no_shift(tmp_path: Path) -> None:
    source = FixtureSource(write_fixtures(tmp_path, {SIGNIN_TABLE: [signin(result_type="0")]}))
    assert shift_to(source, window_end=datetime(2030, 1, 1, tzinfo=UTC), lookback=HOUR) == timedelta(0)


def test_every_time_moves_by_the_shift_and_the_result_is_the_recorded_one(tmp_path: Path) -> None:
    source = recorded(tmp_path)
    shift = timedelta(days=400, minutes=7)
    moved_hour = Window(at(0) + shift, at(60) + shift)
    request = ReadRequest.evaluating(moved_hour, identity_lookback=2 * HOUR)
    moved = TimeShiftedSource(source, shift).read(request)
    original = source.read(ReadRequest.evaluating(Window(at(0), at(60)), identity_lookback=2 * HOUR))
    assert [r["TimeGenerated"] for r in moved.signins] == [r["TimeGenerated"] + shift for r in original.signins]
    assert [r["TimeGenerated"] for r in moved.identities] == [at(-30) + shift]
    [shifted] = detect(moved.signins, moved.identities, moved.behaviors)
    [recorded_row] = detect(original.signins, original.identities, original.behaviors)
    assert shifted["StartTime"] == recorded_row["StartTime"] + shift
    assert {k: v for k, v in shifted.items() if k not in ("StartTime", "EndTIme")} == {
        k: v for k, v in recorded_row.items() if k not in ("StartTime", "EndTIme")
    }


def test_after_a_pause_the_recorded_hour_lands_whole_in_the_last_window_caught_up(tmp_path: Path) -> None:
    state = tmp_path / "state.sqlite3"
    (tmp_path / "data").mkdir()
    settings = load_settings(
        MFA_FIXTURES_DIR=str(recorded(tmp_path / "data").directory),
        MFA_FIXTURES_TIME_SHIFT="latest",
        MFA_STATE=str(state),
        MFA_ALLOW_NO_SINK=True,
    )
    first = run_scheduled(settings, now=datetime(2030, 1, 1, 12, 5, tzinfo=UTC))
    assert first.alerts == 1
    # 3 h 37 min later: windows 11:00-12:00 ... 13:00-14:00 are due, then 14:00-15:00 (not 15:37).
    later = run_scheduled(settings, now=datetime(2030, 1, 1, 15, 42, tzinfo=UTC))
    assert [w.end.hour for w in later.windows_evaluated] == [13, 14, 15]
    assert later.alerts == 1
    store = SqliteStateStore(state)
    try:
        windows = sorted(item.payload for item in store.items())
    finally:
        store.close()
    assert len(windows) == 2
    assert '"end":"2030-01-01T15:00:00' in "".join(windows).replace(" ", "")


def test_the_cli_run_moves_the_sample_to_the_real_clock(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from tests.test_cli import call  # noqa: PLC0415 (the CLI's own test helper)

    monkeypatch.setenv("MFA_FIXTURES_TIME_SHIFT", "latest")
    state = tmp_path / "state.sqlite3"
    code, _out, err = call("run", "--state", str(state), "--no-console")
    assert code == 0, err
    store = SqliteStateStore(state)
    try:
        [checkpoint, items] = store.checkpoint(), store.items()
    finally:
        store.close()
    # Not the sample's recorded clock (2026-11-28T10:05Z): today's due window, and it alerted.
    assert checkpoint is not None
    assert datetime.now(UTC) - checkpoint.end < timedelta(minutes=7)
    assert len(items) == 1
