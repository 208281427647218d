"""What the Log Analytics pushdown saves: bytes received with pushdown versus a naive pull of the tables.

    python -m bench.live_cost                   # sample_data/ and a synthetic 10,000-user hour
    python -m bench.live_cost --users 2000      # a smaller synthetic tenant

Each dataset is served by the loopback workspace (``tests.harness.la_server``), which executes the
KQL it receives and gzips its answers as the service does. Measured, with the real SDK client:
- pushdown: ``LogAnalyticsSource.read`` over the hour (the rule's filters and semi-joins in KQL);
- naive: the three tables in full over the same windows, one query each (``T | where TimeGenerated
  >= start and TimeGenerated < end``), as a source without pushdown would read them.
The bench also checks that ``detect`` gives the same rows both ways. The synthetic tenant comes from
``tools/generate_tenant.py`` (seeded), cached under bench/data/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.monitor.query import LogsQueryClient

from shared.detection import detect
from shared.models import SCHEMAS, ReadRequest, Window
from shared.sources.fixtures import read_records, table_file
from shared.sources.kql_text import datetime_literal
from shared.sources.loganalytics import LogAnalyticsSource, PlaceholderCredential
from shared.sources.values import normalise_row
from tests.harness.la_server import WORKSPACE_SCHEMAS, LogAnalyticsServer
from tools.tenant.generate import ensure_generated
from tools.tenant.params import SAMPLE_PARAMS, TenantParams

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DATA = REPO_ROOT / "sample_data"
DATA_CACHE = REPO_ROOT / "bench" / "data"


@dataclass(frozen=True)
class Cost:
    queries: int
    rows: int
    bytes_sent: int  # on the wire (gzip)
    json_bytes: int  # the same answers uncompressed
    seconds: float


@dataclass(frozen=True)
class Measurement:
    dataset: str
    table_rows: dict[str, int]
    pushdown: Cost
    naive: Cost
    alerts: int
    same_result: bool


def load_tables(directory: Path) -> dict[str, list[dict[str, Any]]]:
    """A directory of fixture files as rows of the workspace's columns."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, schema in WORKSPACE_SCHEMAS.items():
        path = table_file(directory, table)
        tables[table] = [{k: v for k, v in raw.items() if k in schema} for _, raw in read_records(path, table)]
    return tables


def _canonical(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted(repr({k: sorted(map(repr, v)) if isinstance(v, list) else v for k, v in r.items()}) for r in rows)


def measure(dataset: str, tables: Mapping[str, list[dict[str, Any]]], window: Window) -> Measurement:
    request = ReadRequest.same(window)
    with LogAnalyticsServer(tables) as workspace:
        began = time.perf_counter()
        with LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=workspace.endpoint) as source:
            pushed = source.read(request)
        pushdown = Cost(
            queries=len(workspace.received),
            rows=sum(r.rows for r in workspace.received),
            bytes_sent=workspace.bytes_sent,
            json_bytes=workspace.json_bytes,
            seconds=time.perf_counter() - began,
        )
        expected = detect(pushed.signins, pushed.identities, pushed.behaviors)

        workspace.reset_counters()
        began = time.perf_counter()
        client = LogsQueryClient(PlaceholderCredential(), endpoint=workspace.endpoint)
        naive_rows: dict[str, list[dict[str, Any]]] = {}
        span = f"TimeGenerated >= {datetime_literal(window.start)} and TimeGenerated < {datetime_literal(window.end)}"
        for table in SCHEMAS:
            result = client.query_workspace(
                workspace.workspace_id,
                f"{table} | where {span}",
                timespan=(window.start, window.end),
                enforce_https=False,
                read_timeout=600,
            )
            found = result.tables[0]
            naive_rows[table] = [
                normalise_row(dict(zip(found.columns, row, strict=True)), SCHEMAS[table]) for row in found.rows
            ]
        client.close()
        naive = Cost(
            queries=len(workspace.received),
            rows=sum(r.rows for r in workspace.received),
            bytes_sent=workspace.bytes_sent,
            json_bytes=workspace.json_bytes,
            seconds=time.perf_counter() - began,
        )
    actual = detect(*(naive_rows[table] for table in SCHEMAS))
    return Measurement(
        dataset=dataset,
        table_rows={table: len(rows) for table, rows in tables.items()},
        pushdown=pushdown,
        naive=naive,
        alerts=len(expected),
        same_result=_canonical(actual) == _canonical(expected),
    )


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count} B"


def render(measurements: Sequence[Measurement]) -> str:
    header = (
        "| dataset | rows S/I/B in the tables | queries push/naive | rows received push/naive "
        "| bytes push (gzip, json) | bytes naive (gzip, json) | push/naive (gzip) | same result |"
    )
    lines = [header, "|" + "---|" * 8]
    for m in measurements:
        p, n = m.pushdown, m.naive
        lines.append(
            f"| {m.dataset} | {'/'.join(str(v) for v in m.table_rows.values())} | {p.queries}/{n.queries} "
            f"| {p.rows}/{n.rows} | {_size(p.bytes_sent)}, {_size(p.json_bytes)} "
            f"| {_size(n.bytes_sent)}, {_size(n.json_bytes)} | {100 * p.bytes_sent / n.bytes_sent:.3f} % "
            f"| {'yes' if m.same_result else 'NO'} ({m.alerts} rows) |"
        )
    return "\n".join(lines)


def _window(params: TenantParams) -> Window:
    return Window(params.start, params.start + timedelta(hours=params.hours))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=10_000, help="users in the synthetic tenant (default 10000)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic tenant")
    parser.add_argument("--no-sample", action="store_true", help="skip sample_data/")
    args = parser.parse_args(argv)

    measurements = []
    if not args.no_sample and SAMPLE_DATA.is_dir():
        measurements.append(measure("sample_data/", load_tables(SAMPLE_DATA), _window(SAMPLE_PARAMS)))
    params = TenantParams(seed=args.seed, users=args.users, hours=1)
    directory = ensure_generated(params, DATA_CACHE)
    measurements.append(measure(f"synthetic hour, {args.users:,} users", load_tables(directory), _window(params)))
    print(render(measurements))
    for m in measurements:
        print(
            f"{m.dataset}: pushdown {m.pushdown.seconds:.1f} s, naive {m.naive.seconds:.1f} s; "
            f"pushdown/naive bytes uncompressed {100 * m.pushdown.json_bytes / m.naive.json_bytes:.3f} %"
        )
    return 0 if all(m.same_result for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
