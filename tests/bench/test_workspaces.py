"""Many workspaces on a small scale: 10 workspaces, no latency, many 503s, in-process and through a real Azurite."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import replace

import pytest

from bench.workspace_server import Behaviour, FleetServer, workspace_ids
from bench.workspaces import Config, Result, measure, render

WORKSPACES = 10
# Seed 7 makes 2 of the 10 workspaces alert; a fifth of the requests fail, so several workspaces
# meet a 503 and some meet two in a row (the SDK's 1.6 s backoff): the retries are exercised.
BEHAVIOUR = Behaviour(latency=0.0, failure_rate=0.2, alerting_share=0.3, seed=7)
HEALTH_QUERIES = 3  # one "summarize Latest" per table on a window's first evaluation
RULE_QUERIES = 3  # SigninLogs; IdentityInfo and BehaviorAnalytics only with a candidate


@pytest.fixture(scope="module")
def result() -> Result:
    config = Config(
        workspaces=WORKSPACES, behaviour=BEHAVIOUR, sweep_workspaces=5, sweep=(2,), processes=(1, 2), batch=2
    )
    return measure(config)


def test_every_workspace_is_evaluated_once_and_its_alert_delivered(result: Result) -> None:
    full = result.full
    reports = full.child["reports"]
    assert [r["name"] for r in reports] == [f"ws{n:04d}" for n in range(1, WORKSPACES + 1)]
    assert all(r["windows"] == 1 and r["error"] is None for r in reports)
    assert full.alerting == 2
    assert full.alerts == full.delivered == full.hooks == full.alerting
    assert sum(r["health_alerts"] for r in reports) == 0  # the measures answer a recent row
    assert 0 < full.rss_before <= full.rss_peak  # ru_maxrss: the peak so far, before and after the run
    assert result.failures() == []


def test_a_first_run_sends_at_most_three_rule_queries_and_three_health_measures(result: Result) -> None:
    for counts in result.full.counts:
        answered = counts["requests"] - counts.get("503", 0)
        assert answered <= HEALTH_QUERIES + RULE_QUERIES
        assert answered in (4, 6)  # 3 measures + SigninLogs, and the two semi-joins for a candidate
    assert sum(1 for c in result.full.counts if c.get("IdentityInfo")) == result.full.alerting
    assert all(c["latest"] >= HEALTH_QUERIES for c in result.full.counts)


def test_workspaces_answered_503_were_retried_and_none_failed(result: Result) -> None:
    full = result.full
    assert full.status_503 > 0
    assert full.workspaces_with_503 >= 2
    assert full.failed == 0
    assert sum(full.requests) == sum(4 if not c.get("IdentityInfo") else 6 for c in full.counts) + full.status_503
    assert "retries exhausted) | " in render(result)


def test_the_queue_is_filled_once_per_workspace_and_emptied_by_each_drain(result: Result) -> None:
    assert result.enqueue["enqueued"] == WORKSPACES
    assert [d.processes for d in result.drains] == [1, 2]
    for drain in result.drains:
        assert drain.total("succeeded") == WORKSPACES
        assert drain.left == 0
        assert drain.hooks == result.full.alerting  # fresh state each time: the same work again
        assert len(drain.children) == drain.processes


def test_the_table_has_every_figure_and_a_broken_run_fails(result: Result) -> None:
    table = render(result)
    assert "| in-process, 10 workspaces, concurrency 16: wall time" in table
    assert "| sweep, 5 workspaces, concurrency 2: wall time (CPU; peak RSS)" in table
    assert "| queue: drain, 2 process(es) × 2 messages at once: time to empty the queue" in table
    assert "goal < 300 MB: met" in table
    assert "FAIL" not in table

    child = dict(result.full.child)
    child["reports"] = [{**child["reports"][0], "windows": 0}, *child["reports"][1:]]
    broken = replace(result, full=replace(result.full, child=child))
    assert broken.failures() == [
        "FAIL: 10 workspaces, concurrency 16: 10 reports for 10 workspaces; not evaluated: ['ws0001']"
    ]
    undelivered = replace(result, full=replace(result.full, hooks=0))
    assert any("2 alerts made, 2 delivered, 0 received" in f for f in undelivered.failures())


def _post(url: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_server_answers_only_its_workspaces_and_only_the_products_queries() -> None:
    with FleetServer(3, replace(BEHAVIOUR, failure_rate=0.0)) as server:
        known = workspace_ids(3, seed=BEHAVIOUR.seed)[0]
        timespan = "2025-06-02T09:00:00+00:00/2025-06-02T10:00:00+00:00"
        status, body = _post(f"{server.endpoint}/v1/workspaces/{known}/query", {"query": "SigninLogs | take 1"})
        assert status == 400  # no timespan: the product always sends one
        status, body = _post(
            f"{server.endpoint}/v1/workspaces/{known}/query",
            {"query": "SigninLogs\n| summarize Latest = max(TimeGenerated)", "timespan": timespan},
        )
        assert status == 200
        assert body["tables"][0]["rows"] == [["2025-06-02T09:59:00.000000Z"]]  # type: ignore[index]
        status, body = _post(
            f"{server.endpoint}/v1/workspaces/{known}/query", {"query": "Heartbeat | take 1", "timespan": timespan}
        )
        assert status == 400
        other = "00000000-0000-4000-8000-000000000000"
        status, body = _post(f"{server.endpoint}/v1/workspaces/{other}/query", {"query": "x", "timespan": timespan})
        assert status == 404
        assert body["error"]["code"] == "WorkspaceNotFoundError"  # type: ignore[index]
        assert server.stats()["workspaces"] == {known: {"requests": 1, "latest": 1}}  # refused queries are not counted
