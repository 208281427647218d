"""The one table: figures, goals as met / MISSED, and a wrong answer as FAIL with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench.machine import Machine, current
from bench.report import Report
from bench.speed import EngineRuns, ReplayResult

MACHINE = Machine(cpus=2, cpu_model="Test CPU", memory_bytes=8 * 2**30, python="3.11.7", date="today", load="0 0 0")


def _result(ours: float, duckdb: float, scan: float, *, rss: int = 80_000_000, differences=()) -> ReplayResult:
    return ReplayResult(
        label="1,000,000 sign-ins",
        files=[],
        file_bytes=3_240_000_000,
        table_rows={"SigninLogs": 1_001_660, "IdentityInfo": 61_946, "BehaviorAnalytics": 704_081},
        ours=EngineRuns("ours", [ours, ours + 1, ours - 0.1], [rss], {1528}),
        duckdb=EngineRuns("duckdb", [duckdb], [2_500_000_000], {1528}),
        scan=[scan],
        line_count=[scan / 3],
        differences=list(differences),
    )


def test_goals_are_met_or_missed_with_their_figures() -> None:
    report = Report(machine=MACHINE, runs=3, replay=_result(3.0, 10.0, 1.2))
    table = report.render()
    assert "| 1 | ours / DuckDB | 0.30× | met (0.30×; goal ≤ 1.0× DuckDB) |" in table
    assert "| 1 | ours / scan | 2.50× | met (2.50×; goal ≤ 3× the scan) |" in table
    assert "met (80 MB; goal < 250 MB at 1,001,660)" in table
    assert report.failures() == []

    slow = Report(machine=MACHINE, runs=3, replay=_result(12.0, 10.0, 1.2, rss=300_000_000))
    verdicts = {goal.key: goal.met for goal in slow.goals()}
    assert verdicts == {"duckdb": False, "scan": False, "rss": False}
    assert "MISSED (1.20×; goal ≤ 1.0× DuckDB)" in slow.render()


def test_rows_that_differ_from_duckdb_fail_however_fast() -> None:
    report = Report(machine=MACHINE, runs=1, replay=_result(1.0, 10.0, 1.2, differences=["1528 rows against 1527"]))
    assert report.failures() == ["FAIL: 1,000,000 sign-ins: our rows differ from DuckDB's: 1528 rows against 1527"]
    assert "**FAIL**" in report.render()


def test_the_bench_exits_non_zero_on_a_wrong_answer(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench_main, "ensure_generated", lambda params, root: Path("/nonexistent"))
    monkeypatch.setattr(
        bench_main.speed, "measure_replay", lambda *a, **k: _result(1.0, 10.0, 1.2, differences=["only ours: [...]"])
    )
    status = bench_main.main(["--runs", "1", "--skip", "memory", "live", "cold-start", "package"])
    printed = capsys.readouterr()
    assert status == 1
    assert "FAIL: 1,000,000 sign-ins: our rows differ from DuckDB's: only ours: [...]" in printed.out
    assert printed.out.count("| # | measurement | figure | goal |") == 1  # one table


def test_the_machine_is_described_from_proc() -> None:
    machine = current()
    assert machine.cpus >= 1
    assert machine.memory_bytes > 2**28
    assert machine.cpu_model
    assert "GiB RAM, Python 3." in machine.describe()
