"""Which windows a run evaluates: whole windows tiling sign-in time from the checkpoint on.

The plan is pure (no state, no clock of its own): the runner, ``status`` and the local emulation's
time shift all ask it the same question and get the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from shared.models import Window

if TYPE_CHECKING:
    from shared.settings import Settings
    from shared.state.base import Checkpoint


@dataclass(frozen=True, slots=True)
class Plan:
    """The windows a run evaluates, and the sign-in time it gives up on (beyond the catch-up bound)."""

    windows: tuple[Window, ...]
    skipped: Window | None = None
    # Windows before the checkpoint that may still be within MFA_LATE_DATA: the evaluator evaluates
    # each again (oldest first) unless it was never evaluated or its last evaluation was final.
    again: tuple[Window, ...] = ()


def window_end(now: datetime, *, ingestion_delay: timedelta) -> datetime:
    """``now - ingestion delay``, truncated to the minute: the latest time a window may end."""
    end = now - ingestion_delay
    return end.replace(second=0, microsecond=0)


def plan_windows(
    *,
    checkpoint: datetime | None,
    now: datetime,
    lookback: timedelta,
    ingestion_delay: timedelta,
    max_catchup: timedelta,
    late_data: timedelta = timedelta(0),
    final_before: datetime | None = None,
    first_start: datetime | None = None,
) -> Plan:
    """Which windows to evaluate now.

    Without a checkpoint (the first run) only the latest window, or, when an earlier first run
    failed, every window from the one it attempted (``first_start``): a stream whose first hours
    failed (a workspace not yet granted access) catches up on them. With a checkpoint, every whole window from
    the checkpoint on, each ``lookback`` long, oldest first, that has ended by ``now - delay``; if
    the checkpoint lies further back than ``max_catchup``, the oldest time is skipped (and reported)
    in whole windows, so the tiling stays aligned.

    ``again`` (only with ``late_data``) are the windows of the tiling that end at or before the
    checkpoint, after ``final_before`` (every window ending by then had its last evaluation; without
    it, ``checkpoint - ingestion_delay - late_data``) and within the catch-up bound. Whether each was
    evaluated at all, and whether its last evaluation was final, is the evaluator's to check.
    """
    latest_end = window_end(now, ingestion_delay=ingestion_delay)
    if checkpoint is None and first_start is None:
        return Plan(windows=(Window(latest_end - lookback, latest_end),))
    if checkpoint is None:
        checkpoint, late_data = first_start, timedelta(0)  # tile from the first attempt; nothing to re-read
    again: list[Window] = []
    end = checkpoint
    final = checkpoint - ingestion_delay - late_data if final_before is None else final_before
    while late_data and end > final and end - lookback >= latest_end - max_catchup:
        again.insert(0, Window(end - lookback, end))
        end -= lookback
    start = checkpoint
    skipped: Window | None = None
    oldest_allowed = latest_end - max_catchup
    if start < oldest_allowed:
        whole_windows = -((start - oldest_allowed) // lookback)  # ceil((oldest_allowed - start) / lookback)
        resume = start + whole_windows * lookback
        skipped = Window(start, resume)
        start = resume
    windows: list[Window] = []
    while start + lookback <= latest_end:
        windows.append(Window(start, start + lookback))
        start += lookback
    return Plan(windows=tuple(windows), skipped=skipped, again=tuple(again))


def late_horizon(window: Window, *, ingestion_delay: timedelta, late_data: timedelta) -> datetime:
    """The clock from which an evaluation of ``window`` is its last: MFA_LATE_DATA after the time
    it is first due (its end plus the ingestion delay). With ``late_data`` zero the first
    evaluation is the last, as in Sentinel."""
    return window.end + ingestion_delay + late_data


def plan_for(
    settings: Settings,
    checkpoint: Checkpoint | None,
    *,
    now: datetime,
    final_before: datetime | None = None,
    first_start: datetime | None = None,
) -> Plan:
    """``plan_windows`` from a stored checkpoint, with the settings' lookback, delay and catch-up."""
    return plan_windows(
        final_before=final_before,
        first_start=first_start,
        checkpoint=checkpoint.end if checkpoint else None,
        now=now,
        lookback=settings.lookback,
        ingestion_delay=settings.ingestion_delay,
        max_catchup=settings.max_catchup,
        late_data=settings.late_data,
    )
