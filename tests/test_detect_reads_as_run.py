"""`detect` over an hour reads exactly what `run` reads for it, from fixtures and from Log Analytics.

With MFA_IDENTITY_LOOKBACK longer than the hour, the timer's alert is enriched from an IdentityInfo
row days old; the preview a user runs with `detect --start/--end` must show the same enrichment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE
from shared.settings import load_settings
from shared.state import open_state
from tests.builders import at, behavior, identity, signin
from tests.harness.la_server import LogAnalyticsServer
from tests.sources.test_loganalytics import write_fixtures
from tests.test_cli import call

HOUR = ("--start", "2026-11-28T09:00:00Z", "--end", "2026-11-28T10:00:00Z")
NOW = "2026-11-28T10:05:00Z"  # the hour is due: it ended MFA_INGESTION_DELAY (5 min) ago
COMPARED = ("UserPrincipalName", "FailedIPAddress", "AccountUPN", "Tags", "GroupMembership", "AssignedRoles")


def tables() -> dict[str, list[dict[str, Any]]]:
    three_days_before = identity(tags=["VIP"], groups=("Finance",), minute=-3 * 24 * 60)
    assert three_days_before["TimeGenerated"] < at(0)
    return {SIGNIN_TABLE: [signin()], IDENTITY_TABLE: [three_days_before], BEHAVIOR_TABLE: [behavior(score=7)]}


def run_rows(tmp_path: Path, *source: str) -> list[dict[str, Any]]:
    state = tmp_path / "state.sqlite3"
    code, _, err = call("run", *source, "--state", str(state), "--now", NOW, "--no-console")
    assert code == 0, err
    store = open_state(load_settings(MFA_STATE=str(state)))
    try:
        [item] = store.items()
    finally:
        store.close()
    return json.loads(item.payload)["rows"]


def picked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{column: row[column] for column in COMPARED} for row in rows]


@pytest.fixture(autouse=True)
def long_identity_lookback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFA_IDENTITY_LOOKBACK", "P14D")
    monkeypatch.setenv("MFA_ALLOW_NO_SINK", "true")


def test_detect_on_fixtures_reads_identities_as_run_does(tmp_path: Path) -> None:
    directory = write_fixtures(tmp_path, tables())
    code, out, err = call("detect", "--fixtures", str(directory), *HOUR)
    assert code == 0, err
    previewed = picked(json.loads(out))
    assert previewed == picked(run_rows(tmp_path, "--fixtures", str(directory)))
    assert previewed[0]["AccountUPN"] == "john.doe@contoso.com"
    assert previewed[0]["Tags"] == ["VIP"]


def test_detect_on_log_analytics_reads_identities_as_run_does(tmp_path: Path) -> None:
    with LogAnalyticsServer(tables()) as workspace:
        source = ("--source", "loganalytics", "--workspace", workspace.workspace_id, "--endpoint", workspace.endpoint)
        code, out, err = call("detect", *source, *HOUR)
        assert code == 0, err
        previewed = picked(json.loads(out))
        assert previewed == picked(run_rows(tmp_path, *source))
        # The identity reads (the run also measures the table for health, over the same span).
        identity_spans = [
            r.timespan
            for r in workspace.received
            if r.query.lstrip().startswith(IDENTITY_TABLE) and "summarize Latest" not in r.query
        ]
    assert previewed[0]["AccountUPN"] == "john.doe@contoso.com"
    assert previewed[0]["GroupMembership"] == ["Finance"]
    assert len(identity_spans) == 2
    assert identity_spans[0] == identity_spans[1]


def test_detect_without_a_window_still_reads_every_fixture_row(tmp_path: Path) -> None:
    code, out, err = call("detect", "--fixtures", str(write_fixtures(tmp_path, tables())))
    assert code == 0, err
    assert picked(json.loads(out))[0]["AccountUPN"] == "john.doe@contoso.com"
