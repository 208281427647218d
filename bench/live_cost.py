"""What the Log Analytics pushdown saves: bytes received with pushdown versus a naive pull of the tables.

    python -m bench.live_cost                          # sample_data/ and synthetic hours of 10,000 and 100,000 users
    python -m bench.live_cost --users 2000 --no-sample # one smaller synthetic tenant

Each dataset is served by the loopback workspace (``tests.harness.la_server``), which executes the
KQL it receives and gzips its answers as the service does. Measured per run:
- pushdown: ``LogAnalyticsSource.read`` over the hour with the real SDK client (the rule's filters
  and semi-joins in KQL): its queries, the rows and bytes the server sent;
- naive: the three tables in full over the same window, one query each (``T | where TimeGenerated
  >= start and TimeGenerated < end``), as a source without pushdown would read them. These answers
  are read off the wire and counted, not deserialised: the SDK would take minutes to turn a
  100,000-user hour into Python objects, and the bytes are what is being measured.
The pushdown's ``detect`` result is checked against ``FixtureSource`` + ``detect`` on the same files
and window. The real service answers at most 500,000 rows and ~100 MB per result
(azure-facts.md): a naive answer beyond either would not even arrive complete, which the output
says. Synthetic tenants come from ``tools/generate_tenant.py`` (seed 7, one hour, 4 sign-ins per
user-hour), cached under bench/data/.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

import httpx

from bench.canonical import canonical_rows
from shared.detection import detect
from shared.models import SCHEMAS, ReadRequest, Window
from shared.sources.fixtures import FixtureSource, read_records, table_file
from shared.sources.kql_text import datetime_literal
from shared.sources.loganalytics import SERVICE_ROW_LIMIT, LogAnalyticsSource
from tests.harness.la_server import WORKSPACE_SCHEMAS, LogAnalyticsServer
from tools.tenant.generate import ensure_generated
from tools.tenant.params import SAMPLE_PARAMS, TenantParams

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
SAMPLE_DATA: Final = REPO_ROOT / "sample_data"
DATA_CACHE: Final = REPO_ROOT / "bench" / "data"
DEFAULT_USERS: Final = (10_000, 100_000)
# The service's result size limit (azure-facts.md: "~100 MB per result"), on the JSON it sends.
SERVICE_BYTES_LIMIT: Final = 100 * 1000 * 1000


@dataclass(frozen=True)
class Cost:
    queries: int
    rows: int
    bytes_sent: int  # on the wire (gzip)
    json_bytes: int  # the same answers uncompressed
    largest_json: int  # the largest single answer, uncompressed
    largest_rows: int  # the most rows in a single answer
    seconds: float


@dataclass(frozen=True)
class Measurement:
    dataset: str
    table_rows: dict[str, int]
    pushdown: Cost
    naive: Cost
    alerts: int
    same_result: bool  # the pushdown's detect result equals the fixture replay's on the same files

    @property
    def share(self) -> float:
        """Pushdown bytes on the wire as a fraction of the naive pull's."""
        return self.pushdown.bytes_sent / self.naive.bytes_sent

    def naive_beyond_limits(self) -> list[str]:
        """Why the real service would not deliver the naive pull complete (empty if it would)."""
        found = []
        if self.naive.largest_json > SERVICE_BYTES_LIMIT:
            found.append(f"an answer of {size(self.naive.largest_json)} (limit ~100 MB)")
        if self.naive.largest_rows > SERVICE_ROW_LIMIT:
            found.append(f"an answer of {self.naive.largest_rows:,} rows (limit {SERVICE_ROW_LIMIT:,})")
        return found


class CountedRows:
    """The rows of one table file in the workspace's columns, streamed, counted as they go."""

    def __init__(self, directory: Path, table: str) -> None:
        self.path = table_file(directory, table)
        self.table = table
        self.count = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        schema = WORKSPACE_SCHEMAS[self.table]
        for _, raw in read_records(self.path, self.table):
            self.count += 1
            yield {k: v for k, v in raw.items() if k in schema}


def _fixture_result(directory: Path, window: Window) -> list[Any]:
    tables = FixtureSource(directory).read(ReadRequest.same(window))
    return canonical_rows(detect(tables.signins, tables.identities, tables.behaviors))


def _naive_pull(workspace: LogAnalyticsServer, window: Window) -> tuple[int, int, int]:
    """Every table in full over ``window``, one raw POST each, read off the wire and dropped.

    Returns (bytes received, largest answer uncompressed, most rows in one answer)."""
    span = f"TimeGenerated >= {datetime_literal(window.start)} and TimeGenerated < {datetime_literal(window.end)}"
    url = f"{workspace.endpoint}/v1/workspaces/{workspace.workspace_id}/query"
    headers = {"Authorization": "Bearer loopback-placeholder-token", "Accept-Encoding": "gzip"}
    received = largest_json = largest_rows = 0
    with httpx.Client(timeout=httpx.Timeout(30.0, read=1800.0)) as client:
        for table in SCHEMAS:
            before = workspace.json_bytes
            body = {
                "query": f"{table} | where {span}",
                "timespan": f"{window.start.isoformat()}/{window.end.isoformat()}",
            }
            with client.stream("POST", url, json=body, headers=headers) as response:
                if response.status_code != 200:
                    response.read()
                    raise RuntimeError(f"naive {table} query: HTTP {response.status_code}: {response.text[:300]}")
                received += sum(len(chunk) for chunk in response.iter_raw())
            largest_json = max(largest_json, workspace.json_bytes - before)
            largest_rows = max(largest_rows, workspace.received[-1].rows)
    return received, largest_json, largest_rows


def measure(dataset: str, directory: Path, window: Window) -> Measurement:
    """Pushdown and naive costs of one run over ``window`` on the fixture files in ``directory``."""
    streams = {table: CountedRows(directory, table) for table in WORKSPACE_SCHEMAS}
    tables: Mapping[str, Iterable[Mapping[str, Any]]] = streams
    with LogAnalyticsServer(tables) as workspace:
        began = time.perf_counter()
        with LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=workspace.endpoint) as source:
            pushed = source.read(ReadRequest.same(window))
        pushdown = Cost(
            queries=len(workspace.received),
            rows=sum(r.rows for r in workspace.received),
            bytes_sent=workspace.bytes_sent,
            json_bytes=workspace.json_bytes,
            largest_json=0,
            largest_rows=max((r.rows for r in workspace.received), default=0),
            seconds=time.perf_counter() - began,
        )
        result = detect(pushed.signins, pushed.identities, pushed.behaviors)

        workspace.reset_counters()
        began = time.perf_counter()
        received, largest_json, largest_rows = _naive_pull(workspace, window)
        naive = Cost(
            queries=len(workspace.received),
            rows=sum(r.rows for r in workspace.received),
            bytes_sent=workspace.bytes_sent,
            json_bytes=workspace.json_bytes,
            largest_json=largest_json,
            largest_rows=largest_rows,
            seconds=time.perf_counter() - began,
        )
        if received != naive.bytes_sent:
            raise RuntimeError(f"received {received} bytes, the server counted {naive.bytes_sent}")
    return Measurement(
        dataset=dataset,
        table_rows={table: stream.count for table, stream in streams.items()},
        pushdown=pushdown,
        naive=naive,
        alerts=len(result),
        same_result=canonical_rows(result) == _fixture_result(directory, window),
    )


def tenant_params(users: int, *, seed: int = 7) -> TenantParams:
    """The synthetic tenant-hour measured for ``users`` users."""
    return TenantParams(seed=seed, users=users, hours=1)


def window_of(params: TenantParams) -> Window:
    return Window(params.start, params.start + timedelta(hours=params.hours))


def measure_tenant(users: int, *, seed: int = 7, cache: Path = DATA_CACHE) -> Measurement:
    params = tenant_params(users, seed=seed)
    directory = ensure_generated(params, cache)
    return measure(f"synthetic hour, {users:,} users", directory, window_of(params))


def size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
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
            f"| {m.dataset} | {'/'.join(f'{v:,}' for v in m.table_rows.values())} | {p.queries}/{n.queries} "
            f"| {p.rows:,}/{n.rows:,} | {size(p.bytes_sent)}, {size(p.json_bytes)} "
            f"| {size(n.bytes_sent)}, {size(n.json_bytes)} | {100 * m.share:.3f} % "
            f"| {'yes' if m.same_result else 'NO'} ({m.alerts} rows) |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--users", type=int, nargs="+", default=list(DEFAULT_USERS), help="users of each synthetic tenant"
    )
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic tenants")
    parser.add_argument("--no-sample", action="store_true", help="skip sample_data/")
    args = parser.parse_args(argv)

    measurements = []
    if not args.no_sample and SAMPLE_DATA.is_dir():
        measurements.append(measure("sample_data/", SAMPLE_DATA, window_of(SAMPLE_PARAMS)))
    measurements += [measure_tenant(users, seed=args.seed) for users in args.users]
    print(render(measurements))
    for m in measurements:
        print(
            f"{m.dataset}: pushdown {m.pushdown.seconds:.1f} s, naive {m.naive.seconds:.1f} s; "
            f"pushdown/naive bytes uncompressed {100 * m.pushdown.json_bytes / m.naive.json_bytes:.3f} %"
        )
        beyond = m.naive_beyond_limits()
        if beyond:
            print(f"{m.dataset}: the naive pull exceeds the service's result limits: {'; '.join(beyond)}")
    return 0 if all(m.same_result for m in measurements) else 1


if __name__ == "__main__":
    sys.exit(main())
