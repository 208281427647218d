"""The one table: figures, goals as met / MISSED, and a wrong answer as FAIL with a non-zero exit."""

from __future__ import annotations

from pathlib import Path

import pytest

import bench.__main__ as bench_main
from bench.machine import Machine, current
from bench.report import Report
from bench.speed import EngineRuns, ReplayResult

MACHINE = Machine(cpus=2, cpu_model="Test CPU", memory_bytes=8 * 2**30, python="3.11.7", date="today", load="0 0 0")


def _result(
    ours: float,
    duckdb: float,
    scan: float,
    *,
    polars: float | None = None,
    rss: int = 80_000_000,
    differences=(),
    shape: str = "compact",
) -> ReplayResult:
    return ReplayResult(
        label=f"{shape} sign-ins",
        files=[],
        file_bytes=3_240_000_000,
        table_rows={"SigninLogs": 1_001_660, "IdentityInfo": 61_946, "BehaviorAnalytics": 704_081},
        ours=EngineRuns("ours", [ours, ours + 1, ours - 0.1], [rss], {1528}),
        duckdb=EngineRuns("duckdb", [duckdb], [2_500_000_000], {1528}),
        scan=[scan],
        line_count=[scan / 3],
        differences=list(differences),
        polars=None if polars is None else EngineRuns("polars", [polars], [400_000_000], {4152}),
        shape=shape,
        signin_bytes=2_432_851_407,
    )


def test_goals_are_met_or_missed_with_their_figures() -> None:
    report = Report(machine=MACHINE, runs=3, replays=[_result(2.0, 10.0, 1.0)])
    table = report.render()
    peer = "| 1 | compact, 1,001,660 sign-ins: ours / fastest peer (DuckDB) | 0.20× | met (0.20×; goal ≤ 0.8×"
    assert peer in table
    scan = "| 1 | compact, 1,001,660 sign-ins: ours / scan | 2.00× | met (2.00×; goal ≤ 2.5× the scan); stretch met"
    assert scan in table
    assert "met (80 MB; goal < 250 MB)" in table
    assert "2.43 GB, 2,429 B a sign-in" in table
    assert report.failures() == []

    slow = Report(machine=MACHINE, runs=3, replays=[_result(12.0, 10.0, 1.2, rss=300_000_000)])
    verdicts = {goal.key: goal.met for goal in slow.goals()}
    assert verdicts == {"compact peer": False, "compact scan": False, "compact stretch": False, "compact rss": False}
    assert "MISSED (1.20×; goal ≤ 0.8× the fastest peer, DuckDB)" in slow.render()


def test_the_fastest_peer_is_polars_first_filter_when_it_is_faster() -> None:
    report = Report(machine=MACHINE, runs=3, replays=[_result(3.0, 10.0, 1.2, polars=3.5, shape="wide")])
    table = report.render()
    assert "| 1 | wide, 1,001,660 sign-ins: ours / fastest peer (Polars first filter) | 0.86× |" in table
    assert "MISSED (0.86×; goal ≤ 0.8× the fastest peer, Polars first filter)" in table
    assert "a lower bound for a Polars port | 3.50 s (one run) |" in table
    assert "ours / DuckDB / Polars first filter | 80 MB / 2500 MB / 400 MB |" in table


def test_both_shapes_are_rows_of_one_table() -> None:
    replays = [_result(2.0, 10.0, 1.0), _result(1.0, 3.0, 0.5, polars=2.0, shape="wide")]
    table = Report(machine=MACHINE, runs=3, replays=replays).render()
    assert table.count("| # | measurement | figure | goal |") == 1
    assert table.index("compact, 1,001,660 sign-ins: ours / scan") < table.index(
        "wide, 1,001,660 sign-ins: ours / scan"
    )


def test_rows_that_differ_from_duckdb_fail_however_fast() -> None:
    wrong = _result(1.0, 10.0, 1.2, differences=["1528 rows against 1527"], shape="wide")
    report = Report(machine=MACHINE, runs=1, replays=[_result(1.0, 10.0, 1.2), wrong])
    assert report.failures() == ["FAIL: wide sign-ins: our rows differ from DuckDB's: 1528 rows against 1527"]
    assert "**FAIL**" in report.render()


def test_the_bench_exits_non_zero_on_a_wrong_answer(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setattr(bench_main, "ensure_generated", lambda params, root: Path("/nonexistent"))
    monkeypatch.setattr(
        bench_main.speed, "measure_replay", lambda *a, **k: _result(1.0, 10.0, 1.2, differences=["only ours: [...]"])
    )
    status = bench_main.main(
        ["--runs", "1", "--shapes", "compact", "--skip", "memory", "live", "cold-start", "package"]
    )
    printed = capsys.readouterr()
    assert status == 1
    assert "FAIL: compact sign-ins: our rows differ from DuckDB's: only ours: [...]" in printed.out
    assert printed.out.count("| # | measurement | figure | goal |") == 1  # one table


def test_the_machine_is_described_from_proc() -> None:
    machine = current()
    assert machine.cpus >= 1
    assert machine.memory_bytes > 2**28
    assert machine.cpu_model
    assert "GiB RAM, Python 3." in machine.describe()
