"""Many workspaces: one hourly run over 1,000 workspaces in-process, and the same work through the queue fan-out.

    python -m bench.workspaces               # 1,000 workspaces, 150 ms per query, 1 % of queries 503
    python -m bench.workspaces --no-queue    # the in-process run and the concurrency sweep only
    python -m bench.workspaces --workspaces 100 --sweep-workspaces 50 --sweep 4 16

A loopback endpoint (``bench.workspace_server``, a process of its own) hosts the workspaces and receives
the alerts (MFA_WEBHOOK_URL). Every run is a fresh process configured only by app settings, as the
Functions host starts one: MFA_SOURCE=loganalytics, ``ws0001=GUID,...`` in LOG_ANALYTICS_WORKSPACE_ID,
a fresh SQLite MFA_STATE, the fixed clock ``NOW`` (each workspace's first run: one window).

1. In-process (``shared.fleet.run_fleet``): wall and CPU time, peak RSS (``ru_maxrss``: it includes
   the interpreter and the SDKs, so the peak before the run is given too), HTTP requests per workspace
   (503s and their retries included), workspaces failed, alerts delivered. The peer, in the same run:
   the serial lower bound, requests x latency / concurrency (the time if waiting were the only cost);
   a sweep of MFA_WORKSPACE_CONCURRENCY on fewer workspaces shows how much latency the threads hide.
2. Queue (MFA_FANOUT=queue, a real Azurite): the timer's ``enqueue_runs`` (messages, seconds), then
   ``bench.queue_drain.drain`` in 1 and in 4 processes, each running ``BATCH`` messages at once as a
   Functions instance does (host.json batchSize); the queue is refilled and the state new for each.

Must hold (exit status 1 otherwise): every workspace evaluated its window or failed by name, every
alert made was delivered, and every alerting workspace that did not fail alerted. Goals (the issue):
the 1,000-workspace run under 5 minutes on 2 cores, peak RSS under 300 MB; printed as met / MISSED.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bench import machine
from bench.workspace_server import (
    BATCH_SETTING,
    NOW,
    REPO_ROOT,
    Behaviour,
    ServerHandle,
    running_server,
    workspace_ids,
)
from tests.harness.azurite import run_azurite

DEFAULT_WORKSPACES: Final = 1000
DEFAULT_CONCURRENCY: Final = 16  # MFA_WORKSPACE_CONCURRENCY's default
SWEEP_WORKSPACES: Final = 200
SWEEP: Final = (4, 16, 64)
BATCH: Final = 8  # host.json extensions.queues.batchSize: the messages one instance runs at once
PROCESSES: Final = (1, 4)
MAX_SECONDS: Final = 300.0
MAX_RSS: Final = 300 * 2**20
# A bench-only signing key, the Standard Webhooks form MFA_WEBHOOK_SECRET requires (never printed).
WEBHOOK_SECRET: Final = "whsec_" + base64.b64encode(b"bench.workspaces signing key").decode()
_CLEARED: Final = ("MFA_", "LOG_ANALYTICS_", "AzureWebJobs", "AZURE_")  # a developer's own settings stay out


@dataclass
class InlineRun:
    """One run over ``workspaces`` in one fresh process, and what the server counted for it."""

    workspaces: int
    concurrency: int
    latency: float
    child: dict[str, Any]  # what the run's process reported
    counts: list[dict[str, int]]  # per workspace, in order: HTTP requests (503s included), by kind, 503s
    hooks: int  # webhook requests the receiver got
    alerting: int  # workspaces the server gave a rejected-MFA sign-in
    server_cpu: float

    label = property(lambda self: f"{self.workspaces:,} workspaces, concurrency {self.concurrency}")
    seconds = property(lambda self: self.child["seconds"])
    cpu_seconds = property(lambda self: self.child["cpu_seconds"])
    rss_before = property(lambda self: self.child["rss_before"])
    rss_peak = property(lambda self: self.child["rss_peak"])
    failed = property(lambda self: sum(1 for r in self.child["reports"] if r["error"]))
    alerts = property(lambda self: sum(r["alerts"] for r in self.child["reports"]))
    delivered = property(lambda self: sum(r["delivered"] for r in self.child["reports"]))

    requests = property(lambda self: [c.get("requests", 0) for c in self.counts])
    status_503 = property(lambda self: sum(c.get("503", 0) for c in self.counts))
    workspaces_with_503 = property(lambda self: sum(1 for c in self.counts if c.get("503")))

    def bound(self) -> float:
        return sum(self.requests) * self.latency / self.concurrency

    def bound_text(self) -> str:
        return _bound_text(self.seconds, self.bound())

    def requests_text(self) -> str:
        return f"{statistics.fmean(self.requests):.2f} / {max(self.requests)}"

    def problems(self) -> list[str]:
        reports = self.child["reports"]
        found = []
        unevaluated = [r["name"] for r in reports if not r["error"] and r["windows"] != 1]
        if len(reports) != self.workspaces or unevaluated:
            found.append(f"{len(reports)} reports for {self.workspaces} workspaces; not evaluated: {unevaluated[:5]}")
        if self.delivered < self.alerts or self.hooks < self.alerts:
            found.append(f"{self.alerts} alerts made, {self.delivered} delivered, {self.hooks} received")
        if self.alerts < self.alerting - self.failed:
            found.append(f"{self.alerts} alerts for {self.alerting} alerting workspaces ({self.failed} failed)")
        return found


@dataclass
class Drain:
    """The queue emptied by ``processes`` drain processes, each running ``batch`` messages at once."""

    processes: int
    batch: int
    latency: float
    seconds: float  # from starting the processes until the last one exited
    children: list[dict[str, Any]]
    left: int  # messages in the queue afterwards (invisible ones too)
    requests: int
    hooks: int

    label = property(lambda self: f"{self.processes} process(es) × {self.batch} messages at once")
    drain_seconds = property(lambda self: max(c["seconds"] for c in self.children))

    def total(self, key: str) -> int:
        return sum(child[key] for child in self.children)

    def bound_text(self) -> str:
        return _bound_text(self.seconds, self.requests * self.latency / (self.processes * self.batch))

    def summary(self) -> str:
        return (
            f"{self.total('succeeded'):,} succeeded, {self.total('failed')} failed, {self.total('poisoned')} poisoned, "
            f"{self.left} left; {self.hooks} alerts received"
        )

    def problems(self, workspaces: int) -> list[str]:
        if self.total("succeeded") != workspaces or self.left:
            return [f"{self.summary()} (expected {workspaces:,} succeeded, none left)"]
        return []


@dataclass
class Result:
    config: Config
    full: InlineRun
    sweep: list[InlineRun] = field(default_factory=list)
    enqueue: dict[str, Any] = field(default_factory=dict)  # the first fill: the timer's figures
    drains: list[Drain] = field(default_factory=list)

    def failures(self) -> list[str]:
        found = [f"FAIL: {run.label}: {problem}" for run in (self.full, *self.sweep) for problem in run.problems()]
        return found + [f"FAIL: {d.label}: {p}" for d in self.drains for p in d.problems(self.config.workspaces)]


@dataclass(frozen=True)
class Config:
    workspaces: int = DEFAULT_WORKSPACES
    behaviour: Behaviour = field(default_factory=Behaviour)
    concurrency: int = DEFAULT_CONCURRENCY
    sweep_workspaces: int = SWEEP_WORKSPACES
    sweep: tuple[int, ...] = SWEEP
    queue: bool = True
    processes: tuple[int, ...] = PROCESSES
    batch: int = BATCH


def settings_env(server: ServerHandle, count: int, *, state: Path, concurrency: int) -> dict[str, str]:
    """The app settings of a run over the first ``count`` workspaces (the rest of the environment kept)."""
    ids = workspace_ids(count, seed=server.behaviour.seed)
    kept = {key: value for key, value in os.environ.items() if not key.startswith(_CLEARED)}
    return kept | {
        "PYTHONPATH": str(REPO_ROOT),
        "MFA_SOURCE": "loganalytics",
        "LOG_ANALYTICS_WORKSPACE_ID": ",".join(f"ws{n:04d}={guid}" for n, guid in enumerate(ids, start=1)),
        "MFA_LA_ENDPOINT": server.endpoint,
        "MFA_STATE": str(state / "mfa-rejected.sqlite3"),
        "MFA_WEBHOOK_URL": server.endpoint + "/hook",
        "MFA_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MFA_WORKSPACE_CONCURRENCY": str(concurrency),
    }


def _child(mode: str, env: dict[str, str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "bench.workspace_server", "--child", mode]
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, text=True)


def _result(process: subprocess.Popen[str]) -> dict[str, Any]:
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, process.args[-2:]))} exited with {process.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def run_inline(server: ServerHandle, count: int, *, concurrency: int, work: Path) -> InlineRun:
    server.reset()
    child = _result(_child("inline", settings_env(server, count, state=work, concurrency=concurrency)))
    stats = server.stats()
    ids = workspace_ids(count, seed=server.behaviour.seed)
    return InlineRun(
        workspaces=count,
        concurrency=concurrency,
        latency=server.behaviour.latency,
        child=child,
        counts=[stats["workspaces"].get(guid, {}) for guid in ids],
        hooks=stats["hooks"],
        alerting=len(set(stats["alerting"]) & set(ids)),
        server_cpu=stats["cpu_seconds"],
    )


def run_queue(server: ServerHandle, storage: str, config: Config, *, processes: int, work: Path) -> tuple[dict, Drain]:
    """Fill a fresh queue (the timer, one process), then empty it with ``processes`` drain processes."""
    env = settings_env(server, config.workspaces, state=work, concurrency=config.concurrency)
    queue = f"bench-ws-{uuid.uuid4().hex[:12]}"
    env |= {"AzureWebJobsStorage": storage, "MFA_FANOUT": "queue", "MFA_FANOUT_QUEUE": queue}
    enqueued = _result(_child("enqueue", env))
    server.reset()
    # Each message is one workspace: a worker's run needs no concurrency of its own; the batch is its parallelism.
    env |= {"MFA_WORKSPACE_CONCURRENCY": "1", BATCH_SETTING: str(config.batch)}
    started = time.perf_counter()
    children = [_child("drain", env) for _ in range(processes)]
    reports = [_result(child) for child in children]
    seconds = time.perf_counter() - started
    stats = server.stats()
    from azure.storage.queue import QueueClient  # noqa: PLC0415

    with QueueClient.from_connection_string(storage, queue) as client:
        left = client.get_queue_properties().approximate_message_count
    requests = sum(c.get("requests", 0) for c in stats["workspaces"].values())
    drain = Drain(processes, config.batch, server.behaviour.latency, seconds, reports, left, requests, stats["hooks"])
    return enqueued, drain


def measure(config: Config) -> Result:
    """Every figure, each run in fresh processes against one server."""
    with tempfile.TemporaryDirectory(prefix="bench-workspaces-") as scratch:
        work = Path(scratch)
        with running_server(config.workspaces, config.behaviour) as server:
            full = run_inline(server, config.workspaces, concurrency=config.concurrency, work=work / "full")
            result = Result(config=config, full=full)
            for c in config.sweep:
                result.sweep.append(run_inline(server, config.sweep_workspaces, concurrency=c, work=work / f"s{c}"))
            if config.queue:
                with run_azurite(location=work / "azurite") as azurite:
                    for processes in config.processes:
                        enqueued, drain = run_queue(
                            server, azurite.connection_string, config, processes=processes, work=work / f"q{processes}"
                        )
                        result.enqueue = result.enqueue or enqueued
                        result.drains.append(drain)
    return result


# --- the table ----------------------------------------------------------------------------------


def mb(size: float) -> str:
    return f"{size / 2**20:.0f} MB"


def _bound_text(seconds: float, bound: float) -> str:
    ratio = f"{seconds / bound:.2f}×" if bound else "no latency"
    return f"serial lower bound {bound:.1f} s (requests × latency / concurrency): {ratio}"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def render(result: Result) -> str:
    c, full, b = result.config, result.full, result.config.behaviour
    health = sum(r["health_alerts"] for r in full.child["reports"])
    lines = [
        f"Many workspaces: {c.workspaces:,} workspaces, {b.latency * 1000:.0f} ms per query, {b.failure_rate:.0%} of "
        f"queries 503, each workspace's first run at {NOW:%Y-%m-%d %H:%M}Z; {machine.current().describe()}",
        "",
        "| measurement | figure | peer / goal |",
        "|---|---|---|",
        f"| in-process, {full.label}: wall time (CPU of the run's process; of the server's) | {full.seconds:.1f} s "
        f"({full.cpu_seconds:.1f} s; {full.server_cpu:.1f} s) | {full.bound_text()}; goal < 5 min: "
        f"{_verdict(full.seconds < MAX_SECONDS)} |",
        f"| peak RSS of the run's process (its peak before the run: Python, SDKs, settings) | {mb(full.rss_peak)} "
        f"({mb(full.rss_before)}) | goal < 300 MB: {_verdict(full.rss_peak < MAX_RSS)} |",
        f"| HTTP requests per workspace, mean / max (503s and their retries included) | {full.requests_text()} | |",
        f"| 503s answered (workspaces); workspaces failed (retries exhausted) | {full.status_503} "
        f"({full.workspaces_with_503}); {full.failed} | |",
        f"| alerts made / delivered (webhook requests received); alerting workspaces; health alerts | {full.alerts} / "
        f"{full.delivered} ({full.hooks}); {full.alerting}; {health} | |",
    ]
    for run in result.sweep:
        lines.append(
            f"| sweep, {run.label}: wall time (CPU; peak RSS) | {run.seconds:.1f} s ({run.cpu_seconds:.1f} s; "
            f"{mb(run.rss_peak)}) "
            f"| {run.bound_text()} |"
        )
    if result.drains:
        e = result.enqueue
        lines.append(f"| queue: messages enqueued by the timer; seconds | {e['enqueued']:,}; {e['seconds']:.1f} s | |")
    for d in result.drains:
        lines.append(
            f"| queue: drain, {d.label}: time to empty the queue (slowest drain in-process) | {d.seconds:.1f} s "
            f"({d.drain_seconds:.1f} s); {d.summary()} | {d.bound_text()} |"
        )
    return "\n".join([*lines, *result.failures()])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.workspaces", description=__doc__.splitlines()[0])
    parser.add_argument("--workspaces", type=int, default=DEFAULT_WORKSPACES)
    parser.add_argument("--latency", type=float, default=Behaviour.latency, help="seconds per query (default 0.15)")
    parser.add_argument("--failure-rate", type=float, default=Behaviour.failure_rate, help="share of 503s")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="MFA_WORKSPACE_CONCURRENCY")
    parser.add_argument("--sweep-workspaces", type=int, default=SWEEP_WORKSPACES)
    parser.add_argument("--sweep", type=int, nargs="*", default=list(SWEEP), help="concurrencies (default 4 16 64)")
    parser.add_argument("--no-queue", action="store_true", help="leave out the queue fan-out (and Azurite)")
    parser.add_argument("--processes", type=int, nargs="+", default=list(PROCESSES), help="drain processes")
    parser.add_argument("--batch", type=int, default=BATCH, help="messages per process at once (host.json)")
    args = parser.parse_args(argv)
    config = Config(
        workspaces=args.workspaces,
        behaviour=Behaviour(latency=args.latency, failure_rate=args.failure_rate),
        concurrency=args.concurrency,
        sweep_workspaces=min(args.sweep_workspaces, args.workspaces),
        sweep=tuple(args.sweep),
        queue=not args.no_queue,
        processes=tuple(args.processes),
        batch=args.batch,
    )
    result = measure(config)
    print(render(result))
    return 1 if result.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
