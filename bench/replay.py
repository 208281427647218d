"""One replay, in a process of its own: the rule over a directory of fixture files, timed, with peak memory.

    python -m bench.replay ours   DIR --start ISO --end ISO [--rows-out FILE]
    python -m bench.replay duckdb DIR --start ISO --end ISO [--rows-out FILE]
    python -m bench.replay polars DIR --start ISO --end ISO [--rows-out FILE]

``ours`` is the product's path (``FixtureSource(DIR).read`` then ``detect``); ``duckdb`` is the SQL
oracle (``tests.oracle.sql_port.run_rule``: ``read_json`` plus ``rule.sql``); ``polars`` is only the
rule's first filter over SigninLogs in Polars (``bench.polars_peer``: a lower bound for a Polars
port, whose rows are the sign-ins that pass it, not the rule's rows). Prints one JSON object:
``seconds`` (the replay, in-process, after imports), ``rows``, ``peak_rss_bytes`` (VmHWM of this
process: the interpreter, the imports and the replay; for ours plus its reader's forked workers)
and, with ``--rows-out``, writes the rows in canonical form (``bench.canonical``) to FILE. A fresh
process per replay is what makes the peak memory that of one replay alone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from bench.canonical import canonical_rows, canonical_value

ENGINES = ("ours", "duckdb", "polars")


def peak_rss_bytes() -> int:
    """This process's peak resident set size (VmHWM), in bytes."""
    for line in Path("/proc/self/status").read_text(encoding="ascii").splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


# Each engine imports only what it runs, so that a replay's peak memory is its own (DuckDB's
# library alone is tens of MB).
_MODULES = {
    "ours": ("shared.detection", "shared.models", "shared.sources.fixtures"),
    "duckdb": ("tests.oracle.sql_port",),
    "polars": ("bench.polars_peer",),
}


def _modules(engine: str) -> list[ModuleType]:
    if engine not in _MODULES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {', '.join(ENGINES)}")
    return [importlib.import_module(name) for name in _MODULES[engine]]


def replay(engine: str, directory: Path, *, start: datetime, end: datetime) -> list[Mapping[str, Any]]:
    """The rule's rows on the jsonl files in ``directory`` over ``[start, end)``, by ``engine``."""
    if engine == "ours":
        detection, models, fixtures = _modules(engine)
        window = models.Window(start, end)
        tables = fixtures.FixtureSource(directory).read(models.ReadRequest.same(window))
        return detection.detect(tables.signins, tables.identities, tables.behaviors)
    if engine == "polars":
        (polars_peer,) = _modules(engine)
        return polars_peer.replay(directory, start=start, end=end)
    (duckdb_rule,) = _modules(engine)
    return duckdb_rule.run_rule(directory, fmt="jsonl", start=start, end=end)


def _instant(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _canonical(engine: str, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
    if engine == "polars":  # the filtered sign-ins, not result rows: their own columns, sorted
        converted = [{name: canonical_value(value) for name, value in row.items()} for row in rows]
        return sorted(converted, key=lambda row: json.dumps(row, sort_keys=True))
    return canonical_rows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replay", description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=ENGINES)
    parser.add_argument("directory", type=Path)
    parser.add_argument("--start", type=_instant, required=True, help="window start, ISO 8601 (inclusive)")
    parser.add_argument("--end", type=_instant, required=True, help="window end, ISO 8601 (exclusive)")
    parser.add_argument("--rows-out", type=Path, help="write the rows, canonical, as JSON to this file")
    args = parser.parse_args(argv)
    _modules(args.engine)  # imports are not the replay: load them before the clock starts
    began = time.perf_counter()
    rows = replay(args.engine, args.directory, start=args.start, end=args.end)
    seconds = time.perf_counter() - began
    if args.rows_out is not None:
        args.rows_out.write_text(json.dumps(_canonical(args.engine, rows), ensure_ascii=True), encoding="utf-8")
    report = {"engine": args.engine, "seconds": seconds, "rows": len(rows), "peak_rss_bytes": peak_rss_bytes()}
    # Our reader forks a worker per core for big files (shared.sources.json_lines_parallel): their
    # memory counts too, each at the largest any of them reached (an upper bound).
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if args.engine == "ours" and children:
        from shared.sources.json_lines_parallel import workers  # noqa: PLC0415  (ours only, as _MODULES)

        report["peak_rss_bytes"] += children * workers()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
