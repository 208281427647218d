"""The benchmark's one table: every figure, and each goal as met / MISSED with the figure.

Goals (benchmarks, not timed tests). Replay (issue 16, on each shape, see bench/replay_report.py):
at most 0.8x the fastest peer's time and 2.5x the scan's (stretch 2x), peak RSS under 250 MB.
Live pushdown (issue 7): under 1 % of the naive pull's bytes. Late data (issue 11): steady hourly
runs with MFA_LATE_DATA=PT2H send at most 2x the queries and 2x the bytes of PT0S, and the health
measures add at most one query per table per run. That our rows equal DuckDB's is not a goal but a
condition: a fast wrong answer does not count (FAIL, non-zero exit); so is that PT2H alerts exactly
what PT0S alerts on data that was all on time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from bench import late_data_cost
from bench.cold_start import ImportTiming, PackageSize
from bench.live_cost import Measurement, size
from bench.machine import Machine
from bench.replay_report import Goal, mb, replay_goals, replay_rows, signins
from bench.speed import ReplayResult

MAX_LIVE_SHARE: Final = 0.01


@dataclass
class Report:
    machine: Machine
    runs: int
    replays: list[ReplayResult] = field(default_factory=list)  # section 1: one per shape
    small: ReplayResult | None = None  # the compact shape at a tenth of the size (memory)
    live: list[Measurement] = field(default_factory=list)
    cold_start: ImportTiming | None = None
    package: PackageSize | None = None
    late: late_data_cost.Comparison | None = None  # MFA_LATE_DATA=PT2H against PT0S, steady hourly runs

    def goals(self) -> list[Goal]:
        goals = [goal for r in self.replays for goal in replay_goals(r)]
        for m in self.live:
            goals.append(Goal(f"live {m.dataset}", "< 1 % of naive", m.share < MAX_LIVE_SHARE, pct(m.share)))
        if self.late is not None:
            for key, goal in zip(("late queries", "late bytes", "late health"), self.late.goals(), strict=True):
                goals.append(Goal(key, goal.name, goal.met, goal.figure))
        return goals

    def failures(self) -> list[str]:
        """Wrong answers: each makes the bench fail, whatever the speed."""
        found = []
        for result in (*self.replays, self.small):
            if result is not None and not result.same_rows:
                found += [f"FAIL: {result.label}: our rows differ from DuckDB's: {d}" for d in result.differences]
        found += [
            f"FAIL: {m.dataset}: the pushdown's detect result differs from the fixture replay's"
            for m in self.live
            if not m.same_result
        ]
        if self.late is not None and not self.late.same_alerts:
            found.append(
                f"FAIL: late data, {self.late.dataset}: MFA_LATE_DATA={late_data_cost.LATE} alerts differently from "
                f"{late_data_cost.BASELINE} on data all on time: {self.late.alert_difference()}"
            )
        return found

    def render(self) -> str:
        lines = [
            f"Benchmark on {self.machine.describe()}",
            "",
            "| # | measurement | figure | goal |",
            "|---|---|---|---|",
        ]
        goals = {goal.key: goal for goal in self.goals()}
        lines += [f"| {n} | {what} | {figure} | {goal} |" for n, what, figure, goal in self._rows(goals)]
        notes = self._notes()
        return "\n".join(lines + (["", *notes] if notes else []))

    def _rows(self, goals: dict[str, Goal]) -> list[tuple[str, str, str, str]]:
        rows: list[tuple[str, str, str, str]] = []

        def goal(key: str) -> str:
            found = goals.get(key)
            return "" if found is None else found.verdict()

        for r in self.replays:
            rows += replay_rows(r, lambda key, shape=r.shape: goal(f"{shape} {key}"))
        rows += self._memory_rows()
        for m in self.live:
            beyond = m.naive_beyond_limits()
            rows += [
                (
                    "3",
                    f"live, {m.dataset} ({m.table_rows['SigninLogs']:,} sign-ins): bytes received per run, "
                    "pushdown / naive full pull (gzip on the wire)",
                    f"{size(m.pushdown.bytes_sent)} / {size(m.naive.bytes_sent)} = {pct(m.share)}",
                    goal(f"live {m.dataset}"),
                ),
                (
                    "3",
                    f"live, {m.dataset}: uncompressed JSON, pushdown / naive (its largest answer); "
                    "queries per run, pushdown / naive",
                    f"{size(m.pushdown.json_bytes)} / {size(m.naive.json_bytes)} "
                    f"({size(m.naive.largest_json)}, {m.naive.largest_rows:,} rows); "
                    f"{m.pushdown.queries} / {m.naive.queries} queries",
                    "naive beyond the service's limits (~100 MB, 500,000 rows)" if beyond else "",
                ),
            ]
        if self.late is not None:
            rows += self._late_rows(self.late, goal)
        if self.cold_start is not None:
            c = self.cold_start
            rows.append(
                (
                    "4",
                    f"cold start: import MfaRejectedTimer in a fresh interpreter, median of {len(c.import_seconds)}",
                    f"{c.median:.3f} s (whole interpreter {c.process_median:.3f} s)",
                    "",
                )
            )
        if self.package is not None:
            p = self.package
            rows += [
                (
                    "4",
                    f"deployment package: {p.app_files} app files + a fresh pip install --target of "
                    "requirements.txt, zip / unpacked",
                    f"{size(p.zip_bytes)} / {size(p.unpacked_bytes)} ({p.zip_files:,} files)",
                    "",
                ),
                ("4", "of which site-packages, as pip installed it", size(p.site_packages_bytes), ""),
            ]
        return rows

    def _memory_rows(self) -> list[tuple[str, str, str, str]]:
        """Section 2: how memory grows with the tenant, 100,000 and 1,000,000 compact sign-ins."""
        if self.small is None:
            return []
        compact = next((r for r in self.replays if r.shape == "compact"), None)
        sizes = [x for x in (self.small, compact) if x is not None]
        label = " / ".join(f"{signins(x)}" for x in sizes)
        rows = [
            (
                "2",
                f"peak RSS of the replay (fresh process), ours: {label} compact sign-ins",
                " / ".join(mb(x.ours.peak_rss) for x in sizes),
                "",
            ),
            ("2", f"peak RSS, DuckDB: {label} compact sign-ins", " / ".join(mb(x.duckdb.peak_rss) for x in sizes), ""),
        ]
        if not self.small.same_rows:
            rows.append(("2", f"rows at {signins(self.small)} sign-ins = DuckDB's", "NO", "**FAIL**"))
        return rows

    @staticmethod
    def _late_rows(m: late_data_cost.Comparison, goal: Callable[[str], str]) -> list[tuple[str, str, str, str]]:
        base, late = m.baseline, m.late
        steady = f"mean of {len(base.steady)} steady hourly runs"
        return [
            (
                "5",
                f"late data, {m.dataset} ({m.table_rows['SigninLogs']:,} sign-ins): queries per run, "
                f"MFA_LATE_DATA {late.setting} / {base.setting} ({steady}; windows new + again "
                f"{late_data_cost.steady_windows(late)} / {late_data_cost.steady_windows(base)})",
                f"{late.mean('queries'):.0f} / {base.mean('queries'):.0f} = {m.ratio('queries'):.2f}×",
                goal("late queries"),
            ),
            (
                "5",
                f"late data: bytes received per run, {late.setting} / {base.setting} (gzip on the wire; "
                "uncompressed JSON)",
                f"{size(late.mean('bytes_sent'))} / {size(base.mean('bytes_sent'))} = {m.ratio('bytes_sent'):.2f}×; "
                f"{size(late.mean('json_bytes'))} / {size(base.mean('json_bytes'))} = {m.ratio('json_bytes'):.2f}×",
                goal("late bytes"),
            ),
            (
                "5",
                f"late data: health measure queries (summarize Latest) per run, {late.setting} / {base.setting}",
                f"{late.mean('health_queries'):.0f} / {base.mean('health_queries'):.0f}",
                goal("late health"),
            ),
            (
                "5",
                f"late data: {late.setting} alerts = {base.setting}'s on data all on time (rule alert ids and "
                "payloads in the outboxes)",
                f"{'yes' if m.same_alerts else 'NO'}, {len(base.alerts)} / {len(late.alerts)} alerts",
                "must hold: " + ("held" if m.same_alerts else "**FAIL**"),
            ),
        ]

    def _notes(self) -> list[str]:
        notes = self.failures()
        for m in self.live:
            beyond = m.naive_beyond_limits()
            if beyond:
                notes.append(
                    f"NOTE: {m.dataset}: the naive pull holds {'; '.join(beyond)}: the real service would "
                    "not return it complete in one query."
                )
        if self.package is not None and self.package.strays:
            p = self.package
            examples = ", ".join(folder for folder, _, _ in p.strays[:3])
            notes.append(
                f"WARNING: .funcignore, read as Core Tools reads it, also lets {p.stray_files:,} files "
                f"({size(p.stray_bytes)}) outside the app into a publish: {examples} (not counted above)."
            )
        return notes


def pct(share: float) -> str:
    return f"{100 * share:.3f} %"
