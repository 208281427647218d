"""Replay speed and memory: ours against DuckDB on the same files, and the floor of one scan of them.

Every replay runs in a fresh process (``bench.replay``), which times itself after its imports and
reports its peak RSS. Rounds interleave the engines (ours, DuckDB, the scan) so that the load of a
shared machine falls on all of them alike; the figures are medians over the rounds. The page cache
is warmed first by one untimed scan.
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

    @property
    def same_rows(self) -> bool:
        return not self.differences


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


def measure_replay(label: str, directory: Path, params: TenantParams, *, runs: int) -> ReplayResult:
    """``runs`` interleaved rounds of ours, DuckDB and the scan; rows compared on the first."""
    files = table_files(directory)
    ours, duckdb = EngineRuns("ours"), EngineRuns("duckdb")
    scans: list[float] = []
    lines: list[float] = []
    table_rows: dict[str, int] = {}
    scan_floor(files)  # warm the page cache
    found: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-rows-") as scratch:
        for round_number in range(runs):
            outputs = {}
            for runs_of in (ours, duckdb):
                rows_out = Path(scratch) / f"{runs_of.engine}.json" if round_number == 0 else None
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
    for runs_of in (ours, duckdb):
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
    )
