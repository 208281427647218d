"""A simulated week of hourly runs that go wrong in every way the platform allows.

Runs are missed, late, repeated and failing (the source raises); deliveries fail transiently. Over
all of it: the evaluated windows tile time with no gap and no overlap, and every alert is delivered
exactly once.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.errors import DeliveryError
from shared.runner import Runner
from shared.state.sqlite import SqliteStateStore
from tests.runner_parts import MemorySource, RecordingSink, rejections_every_hour
from tests.runner_parts import settings as make_settings

START = datetime(2026, 11, 16, tzinfo=UTC)
HOURS = 7 * 24

# What happens at each scheduled hour: the run is on time, missed, late, runs twice, or its data
# source fails.
ACTIONS = ["on-time", "on-time", "on-time", "missed", "late", "twice", "source-fails"]


def _scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A week is ~2,000 SQLite transactions, each fsynced: on a memory file system (when there is one)
    # the test takes seconds whatever else the disk is doing. It is the same SQLite either way.
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return Path(tempfile.mkdtemp(prefix="mfa-week-", dir=shm))
    return tmp_path_factory.mktemp("week")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    actions=st.lists(st.sampled_from(ACTIONS), min_size=HOURS, max_size=HOURS),
    late_minutes=st.integers(1, 55),
    # How often a delivery attempt fails (a receiver answering 503 at random), and the dice.
    failure_rate=st.floats(0.0, 0.7),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_week_of_chaos_tiles_time_and_delivers_each_alert_once(
    tmp_path_factory, actions, late_minutes, failure_rate, seed
) -> None:
    signins, behaviors = rejections_every_hour(START, HOURS + 3)
    source = MemorySource(signins=signins, behaviors=behaviors)
    failing = {"now": False}
    source.fail = lambda request: "Log Analytics answered HTTP 503" if failing["now"] else None
    dice = random.Random(seed)
    sink = RecordingSink(fail=lambda alert: DeliveryError("HTTP 503") if dice.random() < failure_rate else None)
    scratch = _scratch(tmp_path_factory)
    store = SqliteStateStore(scratch / "state.sqlite3")
    runner = Runner(
        settings=make_settings(MFA_MAX_CATCHUP="P7D", MFA_MAX_DELIVERY_ATTEMPTS=100),
        source=source,
        sinks=[sink],
        state=store,
        jitter=lambda: 0.5,
    )
    evaluated = []
    try:
        for hour, action in enumerate(actions):
            scheduled = START + timedelta(hours=hour, minutes=5)
            failing["now"] = action == "source-fails"
            times = {"missed": [], "late": [scheduled + timedelta(minutes=late_minutes)], "twice": [scheduled] * 2}
            for now in times.get(action, [scheduled]):
                report = runner.run(now=now)
                evaluated.extend(report.windows_evaluated)
                if action == "source-fails":
                    assert report.windows_evaluated == []  # nothing counts as evaluated
                else:
                    assert not report.failed, report.error
        # Afterwards the platform behaves: runs on time until the outbox is drained.
        failing["now"] = False
        sink.fail = lambda alert: None
        end = START + timedelta(hours=HOURS, minutes=5)
        for extra in range(3):
            evaluated.extend(runner.run(now=end + timedelta(hours=extra)).windows_evaluated)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)

    # No gap, no overlap: consecutive windows meet exactly, from the first to the checkpoint.
    assert evaluated, "no window was evaluated"
    for before, after in itertools.pairwise(evaluated):
        assert before.end == after.start
    assert all(w.end - w.start == timedelta(hours=1) for w in evaluated)
    # Each window holding a rejection gives one alert, delivered exactly once. Time before the first
    # run is not evaluated (a first run evaluates only the latest window; older time is backfill's);
    # from there on every hour's rejection is in an evaluated window.
    rejected_at = [row["TimeGenerated"] for row in signins]
    with_data = [w.start for w in evaluated if any(w.contains(moment) for moment in rejected_at)]
    covered = [moment for moment in rejected_at if evaluated[0].start <= moment < evaluated[-1].end]
    first_run = next((hour for hour, action in enumerate(actions) if action in ("on-time", "late", "twice")), HOURS)
    assert len(with_data) == len(covered) >= HOURS - first_run - 1
    assert sorted(alert.window.start for alert in sink.alerts.values()) == with_data
    assert set(sink.delivered.values()) == {1}
