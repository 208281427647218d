"""Late data end to end, as an operator drives it: `python -m shared run --now …` hour by hour over
fixture files whose rows arrive late (``_ingested``, or a file that changes between runs), with a
loopback webhook receiver. Every row alerts exactly once; a row found only by a re-evaluation is
marked late; MFA_LATE_DATA=PT0S is Sentinel's once-only evaluation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sinks.receiver import Receiver
from tests.sources.test_fixtures import BEHAVIOR, IDENTITY, SIGNIN, write_jsonl, write_tables
from tests.test_cli import SECRET, call

# SIGNIN is a rejection at 09:10 by john.doe from 203.0.113.7; its window is [09:00, 10:00), first due
# at 10:05 (MFA_INGESTION_DELAY PT5M); with MFA_LATE_DATA PT2H its last evaluation is the run at 12:05.
RUNS = ("2026-11-28T10:05Z", "2026-11-28T11:05Z", "2026-11-28T12:05Z", "2026-11-28T13:05Z")
JANE = SIGNIN | {"UserPrincipalName": "Jane.Roe@Contoso.com", "UserId": "u2", "IPAddress": "198.51.100.9"}
JANE_UEBA = BEHAVIOR | {"UserName": "jane.roe", "SourceIPAddress": "198.51.100.9"}


def hour_by_hour(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, runs=RUNS, between=None, grouping: str = "per-row"
) -> list[dict]:
    """The documents the receiver got, run by run (each run's list)."""
    monkeypatch.setenv("MFA_FIXTURES_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MFA_ALERT_GROUPING", grouping)
    state = str(tmp_path / "state.sqlite3")
    received = []
    with Receiver() as receiver:
        monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
        for index, now in enumerate(runs):
            seen = len(receiver.requests)
            code, _, err = call("run", "--no-console", "--state", state, "--now", now)
            assert code == 0, err
            received.append([json.loads(request.body) for request in receiver.requests[seen:]])
            if between is not None:
                between(index)
    return received


def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    directory.mkdir(exist_ok=True)
    return directory


def users(documents: list[dict]) -> list[str]:
    """The users of the rule alerts among ``documents`` (health alerts have no rows)."""
    rule_alerts = [document for document in documents if document["schema"] == "mfa-rejected.alert/v1"]
    return sorted(row["UserPrincipalName"] for document in rule_alerts for row in document["rows"])


def test_ueba_that_arrives_after_the_first_evaluation_alerts_once_at_the_next_run_marked_late(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late_ueba = JANE_UEBA | {"_ingested": "2026-11-28T10:40:00Z"}
    write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR, late_ueba))
    first, second, third, fourth = hour_by_hour(tmp_path, monkeypatch)
    assert users(first) == ["john.doe@contoso.com"]
    assert "late" not in first[0]
    [late] = second
    assert users([late]) == ["jane.roe@contoso.com"]
    assert late["late"] is True
    assert late["lateSeconds"] == 65 * 60  # found at 11:05, the window ended at 10:00
    assert third == []
    # The fixture holds one hour of sign-ins: by 13:00 SigninLogs has been silent for over 3 h.
    [health] = fourth
    assert (health["schema"], health["condition"], health["state"]) == (
        "mfa-rejected.health/v1",
        "signins-silent",
        "raised",
    )


def test_data_arriving_after_the_late_horizon_is_not_alerted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    too_late = JANE_UEBA | {"_ingested": "2026-11-28T12:30:00Z"}  # after the 12:05 run, the window's last
    write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR, too_late))
    received = hour_by_hour(tmp_path, monkeypatch)
    assert [users(documents) for documents in received] == [["john.doe@contoso.com"], [], [], []]


def test_a_file_that_changes_between_runs_is_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR,))

    def ueba_arrives(index: int) -> None:
        if index == 0:
            write_jsonl(data, "BehaviorAnalytics", [BEHAVIOR, JANE_UEBA])

    received = hour_by_hour(tmp_path, monkeypatch, between=ueba_arrives)
    assert [users(documents) for documents in received] == [["john.doe@contoso.com"], ["jane.roe@contoso.com"], [], []]
    assert received[1][0]["late"] is True


def test_with_late_data_off_the_window_is_evaluated_once_as_in_sentinel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFA_LATE_DATA", "PT0S")
    late_ueba = JANE_UEBA | {"_ingested": "2026-11-28T10:40:00Z"}
    write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR, late_ueba))
    received = hour_by_hour(tmp_path, monkeypatch)
    assert [users(documents) for documents in received] == [["john.doe@contoso.com"], [], [], []]


def test_the_single_alert_grouping_sends_only_the_late_rows_in_the_late_alert(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late_ueba = JANE_UEBA | {"_ingested": "2026-11-28T10:40:00Z"}
    write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR, late_ueba))
    first, second, *_ = hour_by_hour(tmp_path, monkeypatch, grouping="single")
    assert users(first) == ["john.doe@contoso.com"]
    assert users(second) == ["jane.roe@contoso.com"]
    assert second[0]["id"] != first[0]["id"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("P2D", "MFA_LATE_DATA: must be at most MFA_MAX_CATCHUP"),
        ("-PT1H", "MFA_LATE_DATA"),
        ("PT90S", "MFA_LATE_DATA"),
    ],
    ids=["longer than the catch-up bound", "negative", "not whole minutes"],
)
def test_an_unusable_late_data_period_exits_2_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("MFA_LATE_DATA", value)
    code, _, err = call("run", "--state", str(tmp_path / "s.sqlite3"))
    assert code == 2
    assert problem in err
    assert not (tmp_path / "s.sqlite3").exists()


def test_a_backfill_of_a_window_already_alerted_sends_none_of_its_rows_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    late_ueba = JANE_UEBA | {"_ingested": "2026-11-28T10:40:00Z"}
    write_tables(data_dir(tmp_path), signins=(SIGNIN, JANE), identities=(IDENTITY,), behaviors=(BEHAVIOR, late_ueba))
    # One alert per window (the default): a re-run of the window would otherwise be a new alert of both rows.
    received = hour_by_hour(tmp_path, monkeypatch, runs=RUNS[:2], grouping="single")
    assert [users(documents) for documents in received] == [["john.doe@contoso.com"], ["jane.roe@contoso.com"]]
    with Receiver() as receiver:
        monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
        state = str(tmp_path / "state.sqlite3")
        code, _, err = call(
            "backfill", "--no-console", "--state", state, "--from", "2026-11-28T09:00Z", "--to", "2026-11-28T10:00Z"
        )
        assert code == 0, err
    assert receiver.requests == []
