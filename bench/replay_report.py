"""Section 1 of the table: the replay of each shape against its peers and the scan, with issue 16's goals.

Goals, on each shape: ours takes at most 0.8x the fastest peer's time (DuckDB running the rule, or
Polars running only its first filter, whichever is faster: a lower bound for a Polars port) and at
most 2.5x the scan's (stretch: 2x); our peak RSS is under 250 MB. That our rows equal DuckDB's is
a condition, not a goal (FAIL and a non-zero exit otherwise).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bench.speed import SCAN_NEEDLE, ReplayResult

MAX_VS_PEER: Final = 0.8
MAX_VS_SCAN: Final = 2.5
STRETCH_VS_SCAN: Final = 2.0
MAX_PEAK_RSS: Final = 250 * 10**6

PEER_NAMES: Final = {"duckdb": "DuckDB", "polars": "Polars first filter"}

Row = tuple[str, str, str, str]


@dataclass(frozen=True)
class Goal:
    key: str
    name: str
    met: bool
    figure: str

    def verdict(self) -> str:
        return f"{'met' if self.met else 'MISSED'} ({self.figure}; goal {self.name})"


def replay_goals(r: ReplayResult) -> list[Goal]:
    """The goals of one shape, keyed ``<shape> peer|scan|stretch|rss``."""
    peer, scan, rss = vs_peer(r), vs_scan(r), r.ours.peak_rss
    fastest = PEER_NAMES[r.fastest_peer.engine]
    return [
        Goal(f"{r.shape} peer", f"≤ {MAX_VS_PEER}× the fastest peer, {fastest}", peer <= MAX_VS_PEER, f"{peer:.2f}×"),
        Goal(f"{r.shape} scan", f"≤ {MAX_VS_SCAN}× the scan", scan <= MAX_VS_SCAN, f"{scan:.2f}×"),
        Goal(f"{r.shape} stretch", f"≤ {STRETCH_VS_SCAN:.0f}× the scan", scan <= STRETCH_VS_SCAN, f"{scan:.2f}×"),
        Goal(f"{r.shape} rss", f"< {mb(MAX_PEAK_RSS)}", rss < MAX_PEAK_RSS, mb(rss)),
    ]


def replay_rows(r: ReplayResult, goal: Callable[[str], str]) -> list[Row]:
    """The rows of one shape: each engine's time, the ratios with their goals, the rows, the memory."""
    median = f"median of {len(r.ours.seconds)}"
    shape = f"{r.shape}, {signins(r)} sign-ins"
    rows: list[Row] = [
        (
            "1",
            f"{shape}: {table_sizes(r)} ({gb(r.file_bytes)} of JSON Lines; SigninLogs {signin_size(r)}) "
            f"→ result rows, ours: FixtureSource + detect, {median}",
            timing(r.ours.seconds),
            "",
        ),
        (
            "1",
            f"{shape}: DuckDB, the rule (read_json + tests/oracle/rule.sql), same files",
            timing(r.duckdb.seconds),
            "",
        ),
    ]
    if r.polars is not None:
        rows.append(
            (
                "1",
                f"{shape}: Polars, the rule's first filter only (scan_ndjson of SigninLogs, ResultType and "
                f"additionalDetails, collected; {'/'.join(map(str, sorted(r.polars.rows)))} sign-ins): "
                "a lower bound for a Polars port",
                timing(r.polars.seconds),
                "",
            )
        )
    rows += [
        ("1", f"{shape}: one sequential scan, grep -c -F {SCAN_NEEDLE}, page cache warm", timing(r.scan), ""),
        ("1", f"{shape}: (for scale: grep -c '' only finds the newlines)", f"{median_of(r.line_count):.2f} s", ""),
        (
            "1",
            f"{shape}: ours / fastest peer ({PEER_NAMES[r.fastest_peer.engine]})",
            f"{vs_peer(r):.2f}×",
            goal("peer"),
        ),
        ("1", f"{shape}: ours / scan", f"{vs_scan(r):.2f}×", f"{goal('scan')}; stretch {goal('stretch')}"),
        (
            "1",
            f"{shape}: our rows = DuckDB's (rows as a set, arrays as sets, datetimes to the µs)",
            f"{'yes' if r.same_rows else 'NO'}, {'/'.join(map(str, sorted(r.ours.rows)))} rows",
            "must hold: " + ("held" if r.same_rows else "**FAIL**"),
        ),
        (
            "1",
            f"{shape}: peak RSS (fresh process), ours / " + " / ".join(PEER_NAMES[p.engine] for p in r.peers),
            " / ".join(mb(runs.peak_rss) for runs in (r.ours, *r.peers)),
            goal("rss"),
        ),
    ]
    return rows


def vs_peer(r: ReplayResult) -> float:
    return r.ours.median / r.fastest_peer.median


def vs_duckdb(r: ReplayResult) -> float:
    return r.ours.median / r.duckdb.median


def vs_scan(r: ReplayResult) -> float:
    return r.ours.median / median_of(r.scan)


def timing(seconds: Sequence[float]) -> str:
    return f"{median_of(seconds):.2f} s ({spread(seconds)})"


def median_of(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.2f}–{max(values):.2f}" if len(values) > 1 else "one run"


def signins(r: ReplayResult) -> str:
    return f"{r.table_rows.get('SigninLogs', 0):,}"


def signin_size(r: ReplayResult) -> str:
    count = r.table_rows.get("SigninLogs", 0)
    if not count:
        return gb(r.signin_bytes)
    return f"{gb(r.signin_bytes)}, {r.signin_bytes / count:,.0f} B a sign-in"


def table_sizes(r: ReplayResult) -> str:
    rows = r.table_rows
    return f"{rows.get('IdentityInfo', 0):,} IdentityInfo, {rows.get('BehaviorAnalytics', 0):,} BehaviorAnalytics rows"


def mb(count: float) -> str:
    return f"{count / 1e6:.0f} MB"


def gb(count: float) -> str:
    return f"{count / 1e9:.2f} GB"
