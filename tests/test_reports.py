"""What a person reads after a run and from `status`: alerts counted as alerts, outcomes by sink,
a delivery waiting for its next attempt said so."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.models import Window
from shared.reports import describe_report, render_status, state_snapshot
from shared.run_report import RunReport
from shared.state.base import NewItem
from shared.state.sqlite import SqliteStateStore

T0 = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
WINDOW = Window(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))


def test_one_alert_to_two_sinks_is_one_alert_delivered_once_to_each() -> None:
    report = RunReport(
        windows_evaluated=[WINDOW],
        alerts=1,
        delivered=2,
        delivered_alerts=1,
        by_sink={"teams": Counter(delivered=1), "webhook": Counter(delivered=1)},
    )
    line = describe_report(report).splitlines()[-1]
    assert line == "Delivered 1 alert (teams 1, webhook 1), retrying later 0, dead 0."


def test_each_outcome_names_its_sinks() -> None:
    report = RunReport(
        windows_evaluated=[WINDOW],
        alerts=2,
        delivered=2,
        delivered_alerts=2,
        retried=1,
        dead=1,
        deferred=3,
        by_sink={
            "console": Counter(delivered=2),
            "teams": Counter(retried=1, deferred=3),
            "webhook": Counter(dead=1),
        },
    )
    lines = describe_report(report).splitlines()
    assert "Delivered 2 alerts (console 2), retrying later 1 (teams 1), dead 1 (webhook 1)." in lines
    assert "3 delivery(ies) deferred to the next run (teams 3): their receiver is failing." in lines


def test_nothing_delivered_is_said_plainly() -> None:
    line = describe_report(RunReport()).splitlines()[-1]
    assert line == "Delivered 0 alerts, retrying later 0, dead 0."


def _store(tmp_path: Path) -> SqliteStateStore:
    store = SqliteStateStore(tmp_path / "s.sqlite3")
    store.add_items(
        [
            NewItem("msg_retry", "webhook", "{}", created_at=T0),
            NewItem("msg_dead", "teams", "{}", created_at=T0),
            NewItem("msg_due", "console", "{}", created_at=T0),
        ]
    )
    for alert_id, retry_at in (("msg_retry", T0 + timedelta(minutes=2)), ("msg_dead", None)):
        [item] = [item for item in store.items() if item.alert_id == alert_id]
        claimed = store.claim(item, now=T0, lease=timedelta(minutes=10))
        assert claimed is not None
        store.mark_failed(claimed, at=T0, error=f"{alert_id}: HTTP 503", retry_at=retry_at)
    return store


def test_status_shows_a_delivery_not_yet_due_as_retrying_later_with_its_next_attempt(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        text = render_status(state_snapshot(store), now=T0 + timedelta(minutes=1))
    finally:
        store.close()
    lines = text.splitlines()
    assert (
        "  Pending: msg_retry -> webhook: retrying later, next attempt at 2026-11-28T10:07:00Z; "
        "1 attempt(s) so far, last error: msg_retry: HTTP 503"
    ) in lines
    assert "  Pending: msg_due -> console: due now (the next run tries it); 0 attempt(s) so far" in lines
    [dead] = [line for line in lines if line.startswith("  Dead:")]
    assert "next" not in dead


def test_a_dead_delivery_has_no_next_attempt(tmp_path: Path) -> None:
    store = _store(tmp_path)
    try:
        snapshot = json.loads(json.dumps(state_snapshot(store)))
    finally:
        store.close()
    [dead] = snapshot["dead"]
    assert dead["alert_id"] == "msg_dead"
    assert "next_attempt_at" not in dead
    assert {item["alert_id"]: item["next_attempt_at"] for item in snapshot["pending"]} == {
        "msg_retry": "2026-11-28T10:07:00Z",
        "msg_due": "2026-11-28T10:05:00Z",
    }
