"""``make bench``: every benchmark of issue 7, printed as one table.

    python -m bench [--runs 5] [--shapes compact wide] [--live-users 10000 100000] [--late-users 10000]
                    [--skip replay|memory|live|late-data|cold-start|package|workspaces ...]

1. replay speed, on two shapes of tenant: ~1,000,000 compact sign-ins and ~300,000 wide ones (the
   bulky columns of real sign-ins), with IdentityInfo and BehaviorAnalytics in proportion, as JSON
   Lines, through ``FixtureSource`` + ``detect``, against its peers on the same files (DuckDB running
   the rule; Polars running only its first filter, a lower bound for a Polars port) and one ``grep``
   scan of them; medians of ``--runs`` rounds; peak RSS of each; our rows must equal DuckDB's.
2. memory: the peak RSS of the replay at 100,000 and 1,000,000 compact sign-ins, ours and DuckDB's.
3. live cost: bytes received from the loopback Log Analytics workspace per run, pushdown against a
   naive full pull, on synthetic tenant-hours of ``--live-users`` users.
4. cold start: importing the function's entry module, and the deployment package's size.
5. late data: queries and bytes of steady hourly runs of the runner with MFA_LATE_DATA=PT2H against
   PT0S, on a synthetic tenant of ``--late-users`` users over 5 hours, in the loopback workspace;
   both must alert alike. A live measurement too: ``--skip live`` leaves it out as well,
   ``--skip late-data`` alone.
6. many workspaces (``bench.workspaces``): one hourly run over 1,000 workspaces of a loopback endpoint
   (150 ms per query, 1 % of queries 503) in-process, its peak RSS and queries per workspace, a
   concurrency sweep against the serial lower bound, and the queue fan-out (a real Azurite) drained by
   1 and by 4 processes; printed as its own table after the others. A live measurement too: ``--skip
   live`` leaves it out as well, ``--skip workspaces`` alone.

Generated data is cached under bench/data/ (git-ignored), keyed by the generator's parameters: the
first run generates ~6.8 GB (about two minutes), later runs reuse it. Exit status 1 when a result is
wrong (our rows differ from DuckDB's, the pushdown's from the replay's, or PT2H's alerts from PT0S's);
a missed goal is printed as MISSED but does not fail the run: these are benchmarks, not timed tests.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from bench import cold_start, late_data_cost, live_cost, machine, speed, workspaces
from bench.report import Report
from tools.tenant.generate import ensure_generated

DATA_CACHE: Final = Path(__file__).resolve().parent / "data"
SECTIONS: Final = ("replay", "memory", "live", "late-data", "cold-start", "package", "workspaces")


def _progress(message: str) -> None:
    # Progress goes to stderr, so that stdout holds only the table.
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _replay(shape: str, *, runs: int) -> speed.ReplayResult:
    params = speed.SHAPES[shape]
    _progress(f"replay, {shape}: generating or reusing {params.users * params.hours * params.rate:,.0f} sign-ins")
    directory = ensure_generated(params, DATA_CACHE)
    _progress(f"replay, {shape}: {runs} rounds of ours, DuckDB, Polars' first filter and the scan on {directory.name}")
    return speed.measure_replay(f"{shape} sign-ins", directory, params, runs=runs)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="rounds of each timed measurement (default 5)")
    parser.add_argument(
        "--live-users",
        type=int,
        nargs="+",
        default=list(live_cost.DEFAULT_USERS),
        help="users of each synthetic tenant-hour for the live cost (default 10000 100000)",
    )
    parser.add_argument(
        "--late-users",
        type=int,
        default=late_data_cost.DEFAULT_USERS,
        help=f"users of the synthetic tenant for the late-data cost (default {late_data_cost.DEFAULT_USERS})",
    )
    parser.add_argument(
        "--shapes",
        choices=tuple(speed.SHAPES),
        nargs="+",
        default=list(speed.SHAPES),
        help="the tenant shapes of the replay (default: compact wide)",
    )
    parser.add_argument("--skip", choices=SECTIONS, nargs="+", default=[], help="sections to leave out")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    report = Report(machine=machine.current(), runs=args.runs)
    if "replay" not in args.skip:
        for shape in args.shapes:
            report.replays.append(_replay(shape, runs=args.runs))
    if "memory" not in args.skip:
        directory = ensure_generated(speed.HUNDRED_THOUSAND, DATA_CACHE)
        _progress(f"memory: ours and DuckDB on ~100,000 sign-ins ({directory.name})")
        report.small = speed.measure_replay("100,000 sign-ins", directory, speed.HUNDRED_THOUSAND, runs=1, polars=False)
    if "live" not in args.skip:
        for users in args.live_users:
            _progress(f"live cost: a {users:,}-user hour in the loopback workspace")
            report.live.append(live_cost.measure_tenant(users, cache=DATA_CACHE))
    if "late-data" not in args.skip and "live" not in args.skip:
        hours = late_data_cost.DEFAULT_HOURS
        _progress(f"late data: hourly runs, MFA_LATE_DATA PT0S and PT2H, {args.late_users:,} users, {hours} hours")
        report.late = late_data_cost.measure_tenant(args.late_users, hours=hours, cache=DATA_CACHE)
    if "cold-start" not in args.skip:
        _progress(f"cold start: {args.runs} fresh imports of {cold_start.ENTRY_MODULE}")
        report.cold_start = cold_start.time_import(runs=args.runs)
    if "package" not in args.skip:
        _progress("package: pip install --target into a temporary directory, then zip")
        report.package = cold_start.measure_package()

    print(report.render())
    failures = report.failures()
    if "workspaces" not in args.skip and "live" not in args.skip:
        _progress("many workspaces: 1,000 in-process, a concurrency sweep, the queue fan-out in Azurite")
        fleet = workspaces.measure(workspaces.Config())
        print("\n" + workspaces.render(fleet))
        failures += fleet.failures()
    if failures:
        print(f"\nFAIL: {len(failures)} wrong result(s); see above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
