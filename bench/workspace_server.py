"""The processes of bench/workspaces.py: a light loopback Log Analytics endpoint hosting many workspaces
(and a webhook receiver), and the measured runs.

    python -m bench.workspace_server --workspaces 1000 --latency 0.15 --failure-rate 0.01

prints one JSON line ``{"endpoint": "http://127.0.0.1:PORT"}`` and serves until its stdin closes;
``--child inline|enqueue|drain`` is instead one measured process, configured by its environment (app
settings), that prints its figures as one JSON line.

It speaks ``POST /v1/workspaces/{GUID}/query`` for every GUID of ``workspace_ids(count, seed=...)``
(404 with the API's error body otherwise). It does not execute KQL (a duckdb database per workspace,
as ``tests.harness.la_server`` has, would dominate 1,000 workspaces): it sleeps ``latency``, answers a
seeded-random ``failure_rate`` of the requests with 503 and the API's error body, and otherwise
answers by the query's text, as ``shared.sources.la_queries`` writes it:

- a health measure (``summarize Latest``): one row, a minute before the request's timespan ends, so
  no health alert fires;
- SigninLogs: for the ``alerting_share`` of workspaces (seeded) one rejected-MFA sign-in in the
  window, else no row;
- IdentityInfo / BehaviorAnalytics (only asked when there is a candidate): that user's row, with
  InvestigationPriority 5, so the rule alerts.

``POST /hook`` is the webhook receiver (204); ``GET /stats`` returns the counts per workspace (HTTP
requests by kind, 503s), the webhook deliveries and the server's CPU seconds; ``POST /reset`` clears
them. Whether a request fails depends only on (seed, workspace, its request number), so a run is
reproducible while each workspace's queries are sequential, as they are in the product.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

REPO_ROOT: Final = Path(__file__).resolve().parents[1]
NOW: Final = datetime(2025, 6, 2, 10, 5, tzinfo=UTC)  # the measured runs' clock: the window 09:00-10:00 is due
BATCH_SETTING: Final = "BENCH_DRAIN_BATCH"  # a drain process's messages at once (not an app setting)
HEALTH_MARK: Final = "summarize Latest"  # shared.sources.la_queries.latest_query
BACKLOG: Final = 512  # the listen queue: the default 5 would refuse bursts of 64 new connections
_PATH: Final = re.compile(r"^/v1/workspaces/(?P<workspace>[^/]+)/query/?$")
_TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"


def workspace_ids(count: int, *, seed: int) -> list[str]:
    """``count`` distinct workspace GUIDs, the same for the same seed (server and client derive them alike)."""
    return [str(uuid.UUID(int=random.Random(f"{seed}:ws:{n}").getrandbits(128), version=4)) for n in range(count)]


@dataclass(frozen=True)
class Behaviour:
    latency: float = 0.15  # seconds slept before every answer
    failure_rate: float = 0.01  # share of requests answered 503
    alerting_share: float = 0.02  # share of workspaces with one rejected-MFA sign-in
    seed: int = 7


def error_body(*args: Any) -> dict[str, Any]:
    """The API's error shape (``tests.harness.la_server``), imported late: that module loads duckdb, which
    the measured processes must not."""
    from tests.harness.la_server import error_body  # noqa: PLC0415

    return error_body(*args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG


class FleetServer:
    """The workspaces' endpoint; a context manager (``endpoint`` is ``http://127.0.0.1:PORT``)."""

    def __init__(self, count: int, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.workspaces = frozenset(workspace_ids(count, seed=behaviour.seed))
        self.alerting = frozenset(
            guid
            for guid in self.workspaces
            if random.Random(f"{behaviour.seed}:alert:{guid}").random() < behaviour.alerting_share
        )
        self._lock = threading.Lock()
        self.counts: dict[str, Counter[str]] = {}
        self.hooks = 0
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fleet-server", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FleetServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def stats(self) -> dict[str, Any]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        with self._lock:
            return {
                "workspaces": {guid: dict(counts) for guid, counts in self.counts.items()},
                "alerting": sorted(self.alerting),
                "hooks": self.hooks,
                "cpu_seconds": usage.ru_utime + usage.ru_stime,
            }

    def reset(self) -> None:
        with self._lock:
            self.counts.clear()
            self.hooks = 0

    def hook(self) -> None:
        with self._lock:
            self.hooks += 1

    def answer(self, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for one query request, counted; sleeps the latency first."""
        match = _PATH.match(path)
        guid = match["workspace"] if match else None
        if guid not in self.workspaces:
            return 404, error_body("WorkspaceNotFoundError", f"The workspace could not be found: {path}")
        try:
            request = json.loads(body)
            query: str = request["query"]
            start, end = (datetime.fromisoformat(part) for part in request["timespan"].split("/"))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return 400, error_body("BadArgumentError", "The request had some invalid properties", ("", str(error)))
        kind = "latest" if HEALTH_MARK in query else query.split("\n", 1)[0].strip()
        if kind not in _COLUMNS:
            return 400, error_body("BadArgumentError", f"This server answers only the product's queries, not {kind}")
        with self._lock:
            counts = self.counts.setdefault(guid, Counter())
            number = counts["requests"]
            counts["requests"] += 1
            counts[kind] += 1
        time.sleep(self.behaviour.latency)
        if random.Random(f"{self.behaviour.seed}:fail:{guid}:{number}").random() < self.behaviour.failure_rate:
            with self._lock:
                counts["503"] += 1
            from tests.harness.la_server import DEFAULT_ERRORS  # noqa: PLC0415 - see error_body

            return 503, DEFAULT_ERRORS[503]
        return 200, {"tables": [_table(kind, guid, start, end, alerting=guid in self.alerting)]}


def user_of(guid: str) -> tuple[str, str]:
    """The (UPN, IP address) of the one rejected-MFA sign-in of an alerting workspace."""
    return f"user-{guid[:8]}@contoso.example", f"203.0.113.{int(guid[:2], 16)}"


# The columns each answer has, as shared.sources.la_queries projects them (name:type).
_COLUMNS: Final = {
    "latest": "Latest:datetime",
    "SigninLogs": "TimeGenerated:datetime ResultType:string Status:dynamic UserPrincipalName:string UserId:string "
    "AADTenantId:string IPAddress:string",
    "IdentityInfo": "TimeGenerated:datetime AccountUPN:string Tags:string GroupMembership:dynamic "
    "AssignedRoles:dynamic UserType:string",
    "BehaviorAnalytics": "TimeGenerated:datetime ActivityType:string SourceIPAddress:string UserName:string "
    "InvestigationPriority:int",
}
_DECLINED: Final = json.dumps(
    {"errorCode": 500121, "additionalDetails": "MFA denied; user declined the authentication"}
)


def _table(kind: str, guid: str, start: datetime, end: datetime, *, alerting: bool) -> dict[str, Any]:
    upn, ip = user_of(guid)
    seen = (start + timedelta(minutes=10)).strftime(_TIME_FORMAT)
    rows: list[list[Any]] = []
    if kind == "latest":
        rows = [[(end - timedelta(minutes=1)).strftime(_TIME_FORMAT)]]
    elif alerting and kind == "SigninLogs":
        rows = [[seen, "500121", _DECLINED, upn, str(uuid.uuid5(uuid.NAMESPACE_URL, upn)), guid, ip]]
    elif alerting and kind == "IdentityInfo":
        rows = [[seen, upn, "", '["Finance"]', '["Global Reader"]', "Member"]]
    elif alerting:
        rows = [[seen, "FailedLogOn", ip, upn.split("@")[0], 5]]
    columns = [dict(zip(("name", "type"), column.split(":"), strict=True)) for column in _COLUMNS[kind].split()]
    return {"name": "PrimaryResult", "columns": columns, "rows": rows}


def _handler_for(server: FleetServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path.startswith("/hook"):
                server.hook()
                self._send(204, b"")
            elif self.path == "/reset":
                server.reset()
                self._send(204, b"")
            else:
                status, payload = server.answer(self.path, body)
                self._send(status, json.dumps(payload).encode())

        def do_GET(self) -> None:
            if self.path == "/stats":
                self._send(200, json.dumps(server.stats()).encode())
            else:
                self._send(405, json.dumps(error_body("MethodNotAllowed", "Use POST for queries")).encode())

        def _send(self, status: int, data: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the counts are in /stats."""

    return Handler


@dataclass(frozen=True)
class ServerHandle:
    """The server running in its own process (``running_server``): its endpoint, counts and reset."""

    endpoint: str
    behaviour: Behaviour

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.endpoint + "/stats", timeout=30) as response:
            return json.load(response)

    def reset(self) -> None:
        request = urllib.request.Request(self.endpoint + "/reset", data=b"", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass


@contextmanager
def running_server(count: int, behaviour: Behaviour) -> Iterator[ServerHandle]:
    """The server in a process of its own, so that its threads and memory are not the measured run's."""
    command = [sys.executable, "-m", "bench.workspace_server", "--workspaces", str(count)]
    command += ["--latency", str(behaviour.latency), "--failure-rate", str(behaviour.failure_rate)]
    command += ["--alerting-share", str(behaviour.alerting_share), "--seed", str(behaviour.seed)]
    env = os.environ | {"PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline() if process.stdout is not None else ""
        if not line:
            raise RuntimeError(f"the workspace server exited ({process.wait()}) before it listened")
        yield ServerHandle(endpoint=json.loads(line)["endpoint"], behaviour=behaviour)
    finally:
        if process.stdin is not None:
            process.stdin.close()  # its cue to stop
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


# --- the measured processes: python -m bench.workspace_server --child MODE ----------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _maxrss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def child_main(mode: str) -> int:
    """One measured process, configured by its environment; prints one JSON line."""
    import shared.sinks.webhook  # noqa: PLC0415 - the SDKs the run loads belong to the baseline
    import shared.sources.loganalytics  # noqa: F401, PLC0415
    from bench.queue_drain import drain  # noqa: PLC0415
    from shared.fanout import enqueue_runs  # noqa: PLC0415
    from shared.fleet import run_fleet  # noqa: PLC0415
    from shared.settings import load_settings  # noqa: PLC0415

    settings = load_settings()
    rss_before, cpu, started = _maxrss(), _cpu(), time.perf_counter()
    out: dict[str, Any] = {}
    if mode == "inline":
        fleet = run_fleet(settings, now=NOW)
        keys = ("name", "windows", "alerts", "delivered", "health_alerts", "error")
        values = [
            (r.workspace, len(r.windows_evaluated), r.alerts, r.delivered, r.health_alerts, r.error)
            for r in fleet.reports
        ]
        out["reports"] = [dict(zip(keys, row, strict=True)) for row in values]
    elif mode == "enqueue":
        out["enqueued"] = enqueue_runs(settings, now=NOW).enqueued
    else:  # drain: BATCH loops at once in this process, as an instance runs a batch of messages
        batch = int(os.environ[BATCH_SETTING])
        with ThreadPoolExecutor(max_workers=batch, thread_name_prefix="drain") as pool:
            reports = list(pool.map(lambda _: drain(settings, queue=settings.fanout_queue), range(batch)))
        for key in ("received", "succeeded", "failed", "poisoned", "lost"):
            out[key] = sum(getattr(report, key) for report in reports)
    out |= {"seconds": time.perf_counter() - started, "cpu_seconds": _cpu() - cpu}
    out |= {"rss_before": rss_before, "rss_peak": _maxrss()}
    print(json.dumps(out), flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workspace_server", description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("inline", "enqueue", "drain"), help="run one measured process instead")
    parser.add_argument("--workspaces", type=int, default=1)
    parser.add_argument("--latency", type=float, default=Behaviour.latency)
    parser.add_argument("--failure-rate", type=float, default=Behaviour.failure_rate)
    parser.add_argument("--alerting-share", type=float, default=Behaviour.alerting_share)
    parser.add_argument("--seed", type=int, default=Behaviour.seed)
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    behaviour = Behaviour(
        latency=args.latency, failure_rate=args.failure_rate, alerting_share=args.alerting_share, seed=args.seed
    )
    with FleetServer(args.workspaces, behaviour) as server:
        print(json.dumps({"endpoint": server.endpoint}), flush=True)
        sys.stdin.read()  # serve until the parent closes our stdin (or dies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
