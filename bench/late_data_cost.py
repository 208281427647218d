"""Late data: what reading windows again (MFA_LATE_DATA) costs in Log Analytics, PT2H against PT0S.

    python -m bench.late_data_cost                         # a synthetic tenant of 10,000 users, 5 hours
    python -m bench.late_data_cost --users 2000 --hours 6  # another size

The real ``shared.runner.Runner`` runs on time every hour (``now`` = the window's end + the
ingestion delay) over the tenant's hours, reading the loopback workspace (``tests.harness.la_server``,
which executes the KQL it receives and gzips its answers) through ``LogAnalyticsSource``, with a
fresh SQLite state store and no sink, once with MFA_LATE_DATA=PT0S (each window evaluated once, as
Sentinel) and once with PT2H (the default). The first run has no checkpoint and the second re-reads
only one earlier window: the runs after those two are the steady state, each evaluating one new
window (its sign-ins, its semi-joins when there are candidates, and the three health measures,
``summarize Latest``) and, with PT2H, re-reading the earlier windows still within MFA_LATE_DATA in
one combined read. Per steady run: the queries the workspace received, and the bytes it sent (gzip
on the wire, and the same answers as uncompressed JSON); counters are reset before each run.

Goals (the issue): PT2H at most 2x the queries and 2x the bytes of PT0S; the health measures add at
most one query per table per run. Checked, not a goal: the synthetic tenant's data is all on time
(no ``_ingested`` column), so PT2H must alert exactly what PT0S alerts: the rule alerts in the two
outboxes (``store.items()``) must have the same ids and the same payloads, and no alert may be late.
Exit status 1 when they differ; a missed goal is printed as MISSED.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

from bench.live_cost import CountedRows, size
from shared.alert_document import SCHEMA as ALERT_SCHEMA
from shared.runner import Runner
from shared.settings import load_settings
from shared.sources.loganalytics import LogAnalyticsSource
from shared.state.sqlite import SqliteStateStore
from tests.harness.la_server import WORKSPACE_SCHEMAS, LogAnalyticsServer
from tools.tenant.generate import ensure_generated
from tools.tenant.params import TenantParams

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
DATA_CACHE: Final = REPO_ROOT / "bench" / "data"
DEFAULT_USERS: Final = 10_000
DEFAULT_HOURS: Final = 5
BASELINE: Final = "PT0S"  # each window evaluated once, as Sentinel
LATE: Final = "PT2H"  # the default
SETTINGS: Final = (BASELINE, LATE)
WARM_UP_RUNS: Final = 2  # the first run has no checkpoint; the second has only one earlier window
HEALTH_MARK: Final = "summarize Latest"  # in each health measure query (shared.sources.la_queries.latest_query)
TABLES: Final = len(WORKSPACE_SCHEMAS)
MAX_QUERY_RATIO: Final = 2.0
MAX_BYTES_RATIO: Final = 2.0
MAX_HEALTH_PER_TABLE: Final = 1


@dataclass(frozen=True)
class RunCost:
    """One hourly run: what it evaluated and what the workspace received and sent for it."""

    now: datetime
    windows: int  # new windows evaluated
    again: int  # earlier windows evaluated again for late data (one combined read)
    queries: int
    health_queries: int
    bytes_sent: int  # gzip, on the wire
    json_bytes: int  # the same answers uncompressed
    alerts: int
    late_alerts: int


@dataclass(frozen=True)
class SettingCost:
    setting: str
    runs: list[RunCost]  # every run, in order
    alerts: dict[str, str]  # the rule alerts in the outbox: id -> payload

    @property
    def steady(self) -> list[RunCost]:
        return self.runs[WARM_UP_RUNS:]

    def mean(self, name: str) -> float:
        return statistics.fmean(getattr(run, name) for run in self.steady)

    def most(self, name: str) -> int:
        return max(getattr(run, name) for run in self.steady)


@dataclass(frozen=True)
class Goal:
    name: str
    met: bool
    figure: str

    def verdict(self) -> str:
        return f"{'met' if self.met else 'MISSED'} ({self.figure}; goal {self.name})"


@dataclass(frozen=True)
class Comparison:
    dataset: str
    table_rows: dict[str, int]
    costs: dict[str, SettingCost] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def baseline(self) -> SettingCost:
        return self.costs[BASELINE]

    @property
    def late(self) -> SettingCost:
        return self.costs[LATE]

    def ratio(self, name: str, setting: str = LATE) -> float:
        return self.costs[setting].mean(name) / self.baseline.mean(name)

    @property
    def same_alerts(self) -> bool:
        """Both settings put the same rule alerts (ids and payloads) into their outboxes, none late."""
        late_alerts = sum(run.late_alerts for cost in self.costs.values() for run in cost.runs)
        return self.late.alerts == self.baseline.alerts and late_alerts == 0

    def alert_difference(self) -> str:
        """How the two outboxes differ ('' when they do not)."""
        ours, theirs = self.late.alerts, self.baseline.alerts
        parts = []
        if set(ours) - set(theirs):
            parts.append(f"{len(set(ours) - set(theirs))} alert(s) only with {LATE}")
        if set(theirs) - set(ours):
            parts.append(f"{len(set(theirs) - set(ours))} alert(s) only with {BASELINE}")
        changed = [key for key in set(ours) & set(theirs) if ours[key] != theirs[key]]
        if changed:
            parts.append(f"{len(changed)} alert(s) with different payloads")
        late = sum(run.late_alerts for cost in self.costs.values() for run in cost.runs)
        if late:
            parts.append(f"{late} alert(s) found late")
        return "; ".join(parts)

    def goals(self) -> list[Goal]:
        queries, gzip, raw = self.ratio("queries"), self.ratio("bytes_sent"), self.ratio("json_bytes")
        worst_bytes = max(gzip, raw)
        health = max(cost.most("health_queries") for cost in self.costs.values())
        return [
            Goal(f"≤ {MAX_QUERY_RATIO:g}× the queries of {BASELINE}", queries <= MAX_QUERY_RATIO, _times(queries)),
            Goal(
                f"≤ {MAX_BYTES_RATIO:g}× the bytes of {BASELINE}",
                worst_bytes <= MAX_BYTES_RATIO,
                f"{_times(gzip)} gzip, {_times(raw)} JSON",
            ),
            Goal(
                f"health measures ≤ {MAX_HEALTH_PER_TABLE} query per table per run ({TABLES} tables)",
                health <= MAX_HEALTH_PER_TABLE * TABLES,
                f"at most {health} per run",
            ),
        ]


def _rule_alerts(store: SqliteStateStore) -> dict[str, str]:
    alerts = {}
    for item in store.items():
        if json.loads(item.payload).get("schema") == ALERT_SCHEMA:
            alerts[item.alert_id] = item.payload
    return alerts


@contextmanager
def _quiet(name: str = "shared") -> Iterator[None]:
    """The product's info and warnings (a run record per run; alerts waiting for a sink) held back:
    a failed run is raised instead."""
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def run_hourly(workspace: LogAnalyticsServer, setting: str, *, start: datetime, hours: int) -> SettingCost:
    """The runner on time every hour over ``hours`` one-hour windows from ``start``, with
    MFA_LATE_DATA=``setting``, a fresh state store and no sink; the workspace's counts per run."""
    with tempfile.TemporaryDirectory(prefix="late-data-cost-") as directory:
        path = Path(directory) / "state.sqlite3"
        settings = load_settings(MFA_SOURCE="fixtures", MFA_CONSOLE=False, MFA_STATE=str(path), MFA_LATE_DATA=setting)
        if settings.lookback != timedelta(hours=1):
            raise RuntimeError(f"expected hourly windows, MFA_LOOKBACK is {settings.lookback}")
        store = SqliteStateStore(path)
        runs = []
        try:
            source = LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=workspace.endpoint)
            with _quiet(), source:
                runner = Runner(settings=settings, source=source, sinks=[], state=store)
                for hour in range(1, hours + 1):
                    now = start + hour * settings.lookback + settings.ingestion_delay
                    workspace.reset_counters()
                    report = runner.run(now=now)
                    if report.failed:
                        raise RuntimeError(f"MFA_LATE_DATA={setting}, run at {now.isoformat()}: {report.error}")
                    queries = workspace.queries
                    runs.append(
                        RunCost(
                            now=now,
                            windows=len(report.windows_evaluated),
                            again=len(report.reevaluated),
                            queries=len(queries),
                            health_queries=sum(HEALTH_MARK in query for query in queries),
                            bytes_sent=workspace.bytes_sent,
                            json_bytes=workspace.json_bytes,
                            alerts=report.alerts,
                            late_alerts=report.late_alerts,
                        )
                    )
            alerts = _rule_alerts(store)
        finally:
            store.close()
    return SettingCost(setting=setting, runs=runs, alerts=alerts)


def measure(dataset: str, directory: Path, *, start: datetime, hours: int) -> Comparison:
    """PT0S and PT2H, each on a fresh state, over the same workspace loaded with the files in ``directory``."""
    if hours <= WARM_UP_RUNS:
        raise ValueError(f"need more than {WARM_UP_RUNS} hours for a steady state, got {hours}")
    began = time.perf_counter()
    streams = {table: CountedRows(directory, table) for table in WORKSPACE_SCHEMAS}
    with LogAnalyticsServer(streams) as workspace:
        costs = {setting: run_hourly(workspace, setting, start=start, hours=hours) for setting in SETTINGS}
    return Comparison(
        dataset=dataset,
        table_rows={table: stream.count for table, stream in streams.items()},
        costs=costs,
        seconds=time.perf_counter() - began,
    )


def tenant_params(users: int, *, hours: int = DEFAULT_HOURS, seed: int = 7) -> TenantParams:
    return TenantParams(seed=seed, users=users, hours=hours)


def measure_tenant(users: int, *, hours: int = DEFAULT_HOURS, seed: int = 7, cache: Path = DATA_CACHE) -> Comparison:
    params = tenant_params(users, hours=hours, seed=seed)
    directory = ensure_generated(params, cache)
    return measure(f"synthetic tenant, {users:,} users, {hours} hours", directory, start=params.start, hours=hours)


def _times(ratio: float) -> str:
    return f"{ratio:.2f}×"


def _count(value: float) -> str:
    return f"{value:.0f}" if value == int(value) else f"{value:.2f}"


def steady_windows(cost: SettingCost) -> str:
    """'1 + 2' (new + again) when every steady run did the same, else the range."""
    shapes = sorted({(run.windows, run.again) for run in cost.steady})
    return " or ".join(f"{new} + {again}" for new, again in shapes)


def render(m: Comparison) -> str:
    """The markdown table (means per steady run), the health measures, the goals and the alert check."""
    steady = len(m.baseline.steady)
    lines = [
        f"{m.dataset} ({m.table_rows['SigninLogs']:,} sign-ins): means of {steady} steady hourly runs "
        f"(runs {WARM_UP_RUNS + 1}–{WARM_UP_RUNS + steady})",
        "",
        "| MFA_LATE_DATA | windows per run (new + again) | queries per run | bytes per run (gzip, json) "
        "| ratio to PT0S (queries; gzip, json) |",
        "|---|---|---|---|---|",
    ]
    for setting, cost in m.costs.items():
        lines.append(
            f"| {setting} | {steady_windows(cost)} | {_count(cost.mean('queries'))} "
            f"| {size(cost.mean('bytes_sent'))}, {size(cost.mean('json_bytes'))} "
            f"| {_times(m.ratio('queries', setting))}; {_times(m.ratio('bytes_sent', setting))}, "
            f"{_times(m.ratio('json_bytes', setting))} |"
        )
    lines += [
        "",
        "| MFA_LATE_DATA | health measure queries per run (`summarize Latest`) | other queries per run |",
        "|---|---|---|",
    ]
    for setting, cost in m.costs.items():
        others = cost.mean("queries") - cost.mean("health_queries")
        lines.append(f"| {setting} | {_count(cost.mean('health_queries'))} | {_count(others)} |")
    lines.append("")
    lines += [f"goal: {goal.verdict()}" for goal in m.goals()]
    rule_alerts = len(m.baseline.alerts)
    if m.same_alerts:
        lines.append(
            f"same alerts: yes ({rule_alerts} rule alerts in each outbox, same ids and payloads; none found late)"
        )
    else:
        lines.append(f"same alerts: NO ({m.alert_difference()})")
    return "\n".join(lines)


def render_runs(m: Comparison) -> str:
    """Every run, warm-up included: one line each."""
    lines = []
    for setting, cost in m.costs.items():
        for number, run in enumerate(cost.runs, start=1):
            kind = "warm-up" if number <= WARM_UP_RUNS else "steady"
            lines.append(
                f"{setting} run {number} ({kind}) at {run.now:%H:%M}: {run.windows} + {run.again} windows, "
                f"{run.queries} queries ({run.health_queries} health), {size(run.bytes_sent)} gzip, "
                f"{size(run.json_bytes)} json, {run.alerts} alerts"
            )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.late_data_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help=f"users (default {DEFAULT_USERS:,})")
    parser.add_argument(
        "--hours", type=int, default=DEFAULT_HOURS, help=f"hours, so hourly runs (default {DEFAULT_HOURS})"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic tenant")
    parser.add_argument("--runs", action="store_true", help="also print every run, warm-up included")
    args = parser.parse_args(argv)
    if args.hours <= WARM_UP_RUNS:
        parser.error(f"--hours must be more than {WARM_UP_RUNS}")

    m = measure_tenant(args.users, hours=args.hours, seed=args.seed)
    print(render(m))
    if args.runs:
        print("\n" + render_runs(m))
    return 0 if m.same_alerts else 1


if __name__ == "__main__":
    sys.exit(main())
