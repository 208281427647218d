"""Live cost on the bundled sample: pushdown against a naive pull, through the loopback workspace."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from bench.live_cost import Cost, Measurement, measure, render, window_of
from tools.tenant.params import SAMPLE_PARAMS

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_the_sample_costs_a_few_percent_of_a_naive_pull_and_gives_the_same_rows() -> None:
    m = measure("sample_data/", SAMPLE, window_of(SAMPLE_PARAMS))
    assert m.same_result
    assert m.alerts == 8
    assert m.table_rows == {"SigninLogs": 313, "IdentityInfo": 53, "BehaviorAnalytics": 227}
    assert m.pushdown.queries == 3  # sign-ins, then one batch of each semi-join
    assert m.naive.queries == 3
    assert m.naive.rows == 313 + 53 + 227  # every row of the hour
    assert 0 < m.pushdown.bytes_sent < m.naive.bytes_sent < m.naive.json_bytes
    assert m.share < 0.05
    assert m.naive_beyond_limits() == []
    assert "| sample_data/ | 313/53/227 | 3/3 |" in render([m])


def test_a_naive_answer_beyond_the_service_limits_is_named() -> None:
    cost = Cost(queries=3, rows=10, bytes_sent=10, json_bytes=10, largest_json=10, largest_rows=10, seconds=1.0)
    m = Measurement("big", {}, pushdown=cost, naive=cost, alerts=0, same_result=True)
    assert m.naive_beyond_limits() == []
    big = replace(m, naive=replace(cost, largest_json=726_400_000, largest_rows=600_000))
    assert big.naive_beyond_limits() == [
        "an answer of 726.4 MB (limit ~100 MB)",
        "an answer of 600,000 rows (limit 500,000)",
    ]
