"""Late-data cost on a tiny tenant: the runner hourly, MFA_LATE_DATA PT0S and PT2H, in the loopback workspace."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.late_data_cost import BASELINE, LATE, Comparison, measure_tenant, render
from bench.machine import Machine
from bench.report import Report

MACHINE = Machine(cpus=2, cpu_model="Test CPU", memory_bytes=8 * 2**30, python="3.11.7", date="today", load="0 0 0")


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> Comparison:
    # 200 users: a few rule alerts over 4 hours (50 users have none), in a few seconds.
    return measure_tenant(200, hours=4, cache=Path(tmp_path_factory.mktemp("tenants")))


def test_the_table_is_produced_and_both_settings_alert_alike(comparison: Comparison) -> None:
    base, late = comparison.baseline, comparison.late
    assert comparison.same_alerts, comparison.alert_difference()
    assert base.alerts  # a check over something
    assert [(run.windows, run.again) for run in late.runs] == [(1, 0), (1, 1), (1, 2), (1, 2)]
    assert all((run.windows, run.again) == (1, 0) for run in base.runs)
    assert len(late.steady) == 2
    # The health measures: one per table, on the new window only, with either setting.
    assert all(run.health_queries == 3 for cost in (base, late) for run in cost.runs)
    assert late.mean("queries") > base.mean("queries")
    assert late.mean("bytes_sent") > base.mean("bytes_sent") > 0

    table = render(comparison)
    assert "| MFA_LATE_DATA | windows per run (new + again) | queries per run | bytes per run (gzip, json) " in table
    assert f"| {BASELINE} | 1 + 0 | " in table
    assert f"| {LATE} | 1 + 2 | " in table
    assert "goal: " in table
    assert "≤ 2× the bytes of PT0S" in table
    assert f"same alerts: yes ({len(base.alerts)} rule alerts in each outbox" in table


def test_the_bench_table_has_the_late_data_rows_and_fails_when_the_alerts_differ(comparison: Comparison) -> None:
    report = Report(machine=MACHINE, runs=1, late=comparison)
    table = report.render()
    assert "| 5 | late data, synthetic tenant, 200 users, 4 hours" in table
    assert "must hold: held" in table
    assert {goal.key for goal in report.goals()} == {"late queries", "late bytes", "late health"}
    assert report.failures() == []

    alerts = dict(comparison.late.alerts)
    alerts.popitem()
    fewer = replace(comparison.late, alerts=alerts)
    differing = replace(comparison, costs={BASELINE: comparison.baseline, LATE: fewer})
    assert not differing.same_alerts
    assert differing.alert_difference() == f"1 alert(s) only with {BASELINE}"
    assert "same alerts: NO (1 alert(s) only with PT0S)" in render(differing)
    failures = Report(machine=MACHINE, runs=1, late=differing).failures()
    assert len(failures) == 1
    assert failures[0].startswith("FAIL: late data, ")
