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

from shared.alerts import Alert
from shared.errors import DeliveryError
from shared.health import HealthAlert
from shared.models import Window
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
    rule_alerts = [alert for alert in sink.alerts.values() if isinstance(alert, Alert)]
    assert sorted(alert.window.start for alert in rule_alerts) == with_data
    assert set(sink.delivered.values()) == {1}
    # A failing run three or more hours behind raises `unevaluated` once; catching up clears it, once.
    health = [alert for alert in sink.alerts.values() if isinstance(alert, HealthAlert)]
    raised = sorted(alert.since for alert in health if alert.condition == "unevaluated" and alert.state == "raised")
    cleared = sorted(alert.since for alert in health if alert.condition == "unevaluated" and alert.state == "cleared")
    assert raised == cleared
    fail_runs = [
        len(list(run)) for fails, run in itertools.groupby(actions, key=lambda a: a == "source-fails") if fails
    ]
    assert max(fail_runs, default=0) < 3 or raised  # the third failing hour in a row raises it at the latest


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    actions=st.lists(st.sampled_from(ACTIONS), min_size=HOURS, max_size=HOURS),
    # Minutes after its TimeGenerated that each hour's sign-in row and UEBA row become visible.
    delays=st.lists(st.tuples(st.integers(0, 240), st.integers(0, 240)), min_size=HOURS + 3, max_size=HOURS + 3),
    grouping=st.sampled_from(["single", "per-row"]),
)
def test_a_week_of_late_data_alerts_each_row_once_iff_it_arrived_by_its_windows_last_evaluation(
    tmp_path_factory, actions, delays, grouping
) -> None:
    signins, behaviors = rejections_every_hour(START, HOURS + 3)
    for (signin_delay, ueba_delay), signin, behavior in zip(delays, signins, behaviors, strict=True):
        signin["_ingested"] = signin["TimeGenerated"] + timedelta(minutes=signin_delay)
        behavior["_ingested"] = behavior["TimeGenerated"] + timedelta(minutes=ueba_delay)
    source = MemorySource(signins=signins, behaviors=behaviors)
    failing = {"now": False}
    source.fail = lambda request: "Log Analytics answered HTTP 503" if failing["now"] else None
    sink = RecordingSink()
    scratch = _scratch(tmp_path_factory)
    store = SqliteStateStore(scratch / "state.sqlite3")
    overrides = {"MFA_MAX_CATCHUP": "P7D", "MFA_LATE_DATA": "PT2H", "MFA_ALERT_GROUPING": grouping}
    runner = Runner(settings=make_settings(**overrides), source=source, sinks=[sink], state=store, jitter=lambda: 0.5)
    evaluations: dict[Window, list[datetime]] = {}  # window -> the clock of each of its evaluations

    def run(now: datetime) -> None:
        report = runner.run(now=now)
        for window in [*report.windows_evaluated, *report.reevaluated]:
            evaluations.setdefault(window, []).append(now)

    try:
        for hour, action in enumerate(actions):
            scheduled = START + timedelta(hours=hour, minutes=5)
            failing["now"] = action == "source-fails"
            for now in {"missed": [], "late": [scheduled + timedelta(minutes=30)], "twice": [scheduled] * 2}.get(
                action, [scheduled]
            ):
                run(now)
        failing["now"] = False
        for extra in range(4):  # on time again, past the late horizon of every window of the week
            last_run = START + timedelta(hours=HOURS + extra, minutes=5)
            run(last_run)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)

    alerted = [
        (alert, row["UserPrincipalName"])
        for alert in sink.alerts.values()
        if isinstance(alert, Alert)
        for row in alert.rows
    ]
    assert set(sink.delivered.values()) <= {1}
    assert len({user for _, user in alerted}) == len(alerted)  # no row in two alerts
    late_by_user = {user: alert.late is not None for alert, user in alerted}
    for signin, behavior in zip(signins, behaviors, strict=True):
        # The windows tile time from the first run's clock: find the one holding this sign-in.
        windows = [window for window in evaluations if window.contains(signin["TimeGenerated"])]
        assert len(windows) <= 1
        clocks = evaluations[windows[0]] if windows else []
        arrived = max(signin["_ingested"], behavior["_ingested"])
        user = signin["UserPrincipalName"]
        expected = any(now >= arrived for now in clocks)
        assert (user in late_by_user) == expected, (user, arrived, clocks)
        if expected:
            assert late_by_user[user] == (min(clocks) < arrived), (user, arrived, clocks)
        if windows:
            # The last evaluation is at or after the late horizon: what arrived by then is never missed.
            horizon = windows[0].end + timedelta(minutes=5) + timedelta(hours=2)
            assert max(clocks) >= horizon or horizon > last_run, (user, windows[0], clocks)
