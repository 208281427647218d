"""Replay speed and memory: ours against its peers on the same files, and the floor of one scan of them.

The peers are DuckDB running the rule (``tests/oracle/rule.sql``) and Polars running only the rule's
first filter over SigninLogs (``bench.polars_peer``: a lower bound for a Polars port). Every replay
runs in a fresh process (``bench.replay``), which times itself after its imports and reports its
peak RSS. Rounds interleave the engines (ours, DuckDB, Polars, the scan) so that the load of a
shared machine falls on all of them alike; the figures are medians over the rounds. The page cache
is warmed first by one untimed scan.

Two shapes of tenant (issue 16): ``COMPACT``, a million sign-ins as the generator writes them by
default, and ``WIDE``, 300,000 sign-ins with the bulky columns of real ones (``--wide``).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from bench.canonical import differences
from shared.models import SCHEMAS
from tools.tenant.params import TenantParams

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
# The sign-in needle of the raw pre-filter: a line must hold it (or a numeric ResultType) to matter.
SCAN_NEEDLE: Final = "500121"
# ~1,000,000 sign-ins (1,001,660 with seed 1), with IdentityInfo and BehaviorAnalytics in proportion.
MILLION: Final = TenantParams(users=50_000, hours=2, rate=10)
# The same tenant shape at a tenth of the size (~100,000 sign-ins).
HUNDRED_THOUSAND: Final = TenantParams(users=5_000, hours=2, rate=10)
# ~300,000 sign-ins (300,461 with seed 1) of ~3.9 KB: the columns real sign-ins carry (tools/tenant/wide.py).
WIDE: Final = TenantParams(users=15_000, hours=2, rate=10, wide=True)
# The shapes of section 1, by name.
SHAPES: Final = {"compact": MILLION, "wide": WIDE}
PEERS: Final = ("duckdb", "polars")


@dataclass
class EngineRuns:
    engine: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_bytes: list[int] = field(default_factory=list)
    rows: set[int] = field(default_factory=set)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_rss(self) -> int:
        return max(self.peak_rss_bytes)


@dataclass
class ReplayResult:
    label: str
    files: list[Path]
    file_bytes: int
    table_rows: dict[str, int]
    ours: EngineRuns
    duckdb: EngineRuns
    scan: list[float]  # grep -c -F <needle>: reads every byte looking for the needle
    line_count: list[float]  # grep -c '': only finds the newlines (memory bandwidth)
    differences: list[str]  # empty when our rows equal DuckDB's
    polars: EngineRuns | None = None  # the rule's first filter only (bench.polars_peer)
    shape: str = "compact"
    signin_bytes: int = 0  # of the files, SigninLogs'

    @property
    def same_rows(self) -> bool:
        return not self.differences

    @property
    def peers(self) -> list[EngineRuns]:
        return [self.duckdb] + ([self.polars] if self.polars is not None else [])

    @property
    def fastest_peer(self) -> EngineRuns:
        return min(self.peers, key=lambda runs: runs.median)


def window_args(params: TenantParams) -> list[str]:
    end = params.start + timedelta(hours=params.hours)
    return ["--start", params.start.isoformat(), "--end", end.isoformat()]


def run_replay(engine: str, directory: Path, params: TenantParams, *, rows_out: Path | None = None) -> dict[str, Any]:
    """One replay in a fresh interpreter; its report (seconds, rows, peak_rss_bytes)."""
    command = [sys.executable, "-m", "bench.replay", engine, str(directory), *window_args(params)]
    if rows_out is not None:
        command += ["--rows-out", str(rows_out)]
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the {engine} replay of {directory} failed: {done.stderr.strip()[-1000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _grep(arguments: Sequence[str], files: Sequence[Path]) -> tuple[float, str]:
    began = time.perf_counter()
    done = subprocess.run(
        ["grep", *arguments, *map(str, files)],
        env=os.environ | {"LC_ALL": "C"},
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - began
    if done.returncode not in (0, 1):  # 1: no line matched
        raise RuntimeError(f"grep failed: {done.stderr.decode(errors='replace').strip()}")
    return elapsed, done.stdout.decode()


def scan_floor(files: Sequence[Path]) -> float:
    """One sequential scan of the files for the sign-in needle (``grep -c -F``)."""
    return _grep(["-c", "-F", SCAN_NEEDLE], files)[0]


def count_lines(files: Sequence[Path]) -> tuple[float, dict[str, int]]:
    """Only the newlines counted (``grep -c ''``), close to the machine's memory bandwidth; and the
    lines of each file (by table)."""
    elapsed, output = _grep(["-H", "-c", ""], files)
    counts = {}
    for line in output.splitlines():
        name, _, count = line.rpartition(":")
        counts[Path(name).stem] = int(count)
    return elapsed, counts


def table_files(directory: Path) -> list[Path]:
    return [directory / f"{table}.jsonl" for table in SCHEMAS]


def measure_replay(
    label: str, directory: Path, params: TenantParams, *, runs: int, polars: bool = True
) -> ReplayResult:
    """``runs`` interleaved rounds of ours, DuckDB, Polars' first filter and the scan; rows compared on the first."""
    files = table_files(directory)
    ours, duckdb = EngineRuns("ours"), EngineRuns("duckdb")
    polars_runs = EngineRuns("polars") if polars else None
    engines = [ours, duckdb] + ([polars_runs] if polars_runs is not None else [])
    scans: list[float] = []
    lines: list[float] = []
    table_rows: dict[str, int] = {}
    scan_floor(files)  # warm the page cache
    found: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as scratch:
        for round_number in range(runs):
            outputs = {}
            for runs_of in engines:
                # Only the rule's rows are compared (Polars' are the filtered sign-ins).
                compared = round_number == 0 and runs_of.engine in ("ours", "duckdb")
                rows_out = Path(scratch) / f"{runs_of.engine}.json" if compared else None
                report = run_replay(runs_of.engine, directory, params, rows_out=rows_out)
                runs_of.seconds.append(report["seconds"])
                runs_of.peak_rss_bytes.append(report["peak_rss_bytes"])
                runs_of.rows.add(report["rows"])
                if rows_out is not None:
                    outputs[runs_of.engine] = json.loads(rows_out.read_text(encoding="utf-8"))
            scans.append(scan_floor(files))
            elapsed, table_rows = count_lines(files)
            lines.append(elapsed)
            if outputs:
                found = differences(outputs["ours"], outputs["duckdb"])
    for runs_of in engines:
        if len(runs_of.rows) > 1:
            found.append(f"{runs_of.engine} gave different row counts across runs: {sorted(runs_of.rows)}")
    return ReplayResult(
        label=label,
        files=files,
        file_bytes=sum(path.stat().st_size for path in files),
        table_rows=table_rows,
        ours=ours,
        duckdb=duckdb,
        scan=scans,
        line_count=lines,
        differences=found,
        polars=polars_runs,
        shape="wide" if params.wide else "compact",
        signin_bytes=files[0].stat().st_size,
    )
