"""Plain data shared by every layer: how a window shows itself and what it refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.models import Window

START = datetime(2026, 11, 20, 9, tzinfo=UTC)


def test_a_window_shows_itself_half_open_in_the_output_time_format() -> None:
    assert str(Window(START, START + timedelta(hours=1))) == "[2026-11-20T09:00:00Z, 2026-11-20T10:00:00Z)"


def test_a_window_with_another_offset_shows_in_utc_with_its_fraction() -> None:
    plus_two = timezone(timedelta(hours=2))
    window = Window(datetime(2026, 11, 20, 11, 0, 0, 250000, tzinfo=plus_two), START + timedelta(hours=1))
    assert str(window) == "[2026-11-20T09:00:00.250000Z, 2026-11-20T10:00:00Z)"


def test_a_window_refuses_naive_bounds_and_an_end_not_after_its_start() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Window(START.replace(tzinfo=None), START + timedelta(hours=1))
    with pytest.raises(ValueError, match="is not after its start"):
        Window(START, START)


def test_a_window_contains_its_start_but_not_its_end() -> None:
    window = Window(START, START + timedelta(hours=1))
    assert window.contains(START)
    assert not window.contains(START + timedelta(hours=1))
    assert not window.contains(None)
