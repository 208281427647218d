"""The command line: output formats, exit codes and one-line errors."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.cli import main, render_table
from shared.models import OUTPUT_COLUMNS, ReadRequest
from shared.serialise import jsonable
from shared.sources.fixtures import FixtureSource
from tests.harness.la_server import LogAnalyticsServer
from tests.sinks.receiver import Receiver, Reply
from tests.sources.test_fixtures import BEHAVIOR, SIGNIN, write_tables

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="


def call(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    # argparse writes --help and usage errors to sys.stdout / sys.stderr and exits.
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exit_:
            code = int(exit_.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_detect_json_has_exactly_the_16_columns_in_order(tmp_path: Path) -> None:
    code, out, _ = call("detect", "--fixtures", str(write_tables(tmp_path)), "--format", "json")
    assert code == 0
    [row] = json.loads(out)
    assert list(row) == list(OUTPUT_COLUMNS)
    assert row["StartTime"] == "2026-11-28T09:10:00.123456Z"
    assert row["Tags"] == ["VIP"]
    assert row["UEBARiskScore"] == 7


def test_detect_table_is_readable(tmp_path: Path) -> None:
    code, out, _ = call("detect", "--fixtures", str(write_tables(tmp_path)), "--format", "table")
    assert code == 0
    assert "john.doe@contoso.com" in out
    assert "203.0.113.7" in out
    assert "1 row(s)." in out


def test_window_limits_rows(tmp_path: Path) -> None:
    directory = str(write_tables(tmp_path))
    code, out, _ = call(
        "detect", "--fixtures", directory, "--start", "2026-11-28T09:11:00Z", "--end", "2026-11-28T10:00Z"
    )
    assert (code, json.loads(out)) == (0, [])


def test_cutoff_is_an_option(tmp_path: Path) -> None:
    directory = str(write_tables(tmp_path))
    assert json.loads(call("detect", "--fixtures", directory, "--risk-score-cutoff", "7")[1]) == []
    assert len(json.loads(call("detect", "--fixtures", directory, "--risk-score-cutoff", "6")[1])) == 1


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["detect", "--fixtures", "/nonexistent"], "not a directory"),
        (["detect"], "detect needs --fixtures DIR"),
        (["detect", "--fixtures", ".", "--start", "yesterday", "--end", "2026-01-01"], "not a datetime"),
        (["detect", "--fixtures", ".", "--start", "2026-01-01T00:00Z"], "--start and --end go together"),
        (["detect", "--fixtures", ".", "--start", "2026-01-02", "--end", "2026-01-01"], "is not after its start"),
        (["detect", "--fixtures", ".", "--format", "xml"], "invalid choice"),
        (["detect", "--risk-score-cutoff", "x"], "not an integer"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], message: str) -> None:
    code, out, err = call(*argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1


def test_bad_fixture_exits_2_naming_file_and_line(tmp_path: Path) -> None:
    write_tables(tmp_path, signins=[SIGNIN], behaviors=[BEHAVIOR, BEHAVIOR | {"InvestigationPriority": "high"}])
    code, _, err = call("detect", "--fixtures", str(tmp_path))
    assert code == 2
    assert "BehaviorAnalytics.jsonl: line 2: column InvestigationPriority" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("command", [[], ["detect"], ["run"]])
def test_help_on_every_command(command: list[str]) -> None:
    code, out, _ = call(*command, "--help")
    assert code == 0
    assert "usage:" in out or "usage:" in out.lower()


def test_python_dash_m_shared_runs_as_a_module(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "shared", "detect", "--fixtures", str(write_tables(tmp_path))],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["UserPrincipalName"] == "john.doe@contoso.com"


def test_run_with_no_configuration_shows_the_sample_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MFA_SOURCE", "MFA_FIXTURES_DIR", "MFA_STATE", "MFA_TEAMS_WEBHOOK_URL", "MFA_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    code, out, err = call("run", "--state", str(tmp_path / "state.sqlite3"))
    assert code == 0, err
    assert "MFA Rejected by User" in out
    assert "entities: Account(FullName=" in out
    assert "Evaluated 1 window(s)" in out
    assert "Delivered 1 " in out
    assert "(console 1), retrying later 0, dead 0." in out
    code, out, _ = call("run", "--state", str(tmp_path / "state.sqlite3"))
    assert "No window was due" in out  # the same hour is not evaluated twice


def test_status_shows_the_checkpoint_and_outbox(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite3")
    call("run", "--state", state)
    code, out, _ = call("status", "--state", state)
    assert code == 0
    assert "Checkpoint: 2026-11-28T10:00:00" in out
    assert "0 pending, 1 delivered, 0 dead" in out
    code, out, _ = call("status", "--state", state, "--format", "json")
    assert json.loads(out)["outbox"] == {"delivered": 1}


def test_backfill_evaluates_a_range_without_moving_the_checkpoint(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite3")
    code, out, err = call("backfill", "--from", "2026-11-28T08:00Z", "--to", "2026-11-28T11:00Z", "--state", state)
    assert code == 0, err
    assert "Evaluated 3 window(s)" in out
    assert "1 alert(s)" in out
    assert "3/3" in err  # the progress bar
    _, out, _ = call("status", "--state", state)
    assert "Checkpoint: none" in out
    code, out, _ = call("backfill", "--from", "2026-11-28T09:00Z", "--to", "2026-11-28T10:00Z", "--state", state)
    assert "Delivered 0 " in out  # the same window's alert is already in the outbox: not sent twice


def test_backfill_needs_whole_windows(tmp_path: Path) -> None:
    code, _, err = call(
        "backfill", "--from", "2026-11-28T08:00Z", "--to", "2026-11-28T08:30Z", "--state", str(tmp_path / "s.sqlite3")
    )
    assert code == 2
    assert "whole number of MFA_LOOKBACK windows" in err


def test_run_against_an_unreachable_workspace_exits_1_with_the_cause(tmp_path: Path) -> None:
    code, _, err = call(
        "run",
        "--source",
        "loganalytics",
        "--workspace",
        "11111111-2222-3333-4444-555555555555",
        "--endpoint",
        "http://127.0.0.1:9",
        "--state",
        str(tmp_path / "s.sqlite3"),
        "--now",
        "2026-11-28T10:05Z",
    )
    assert code == 1
    assert "127.0.0.1:9" in err or "connect" in err.lower()


def test_detect_from_log_analytics_prints_the_same_json_as_the_fixture_source(tmp_path: Path) -> None:
    fixtures = write_tables(tmp_path)
    read = FixtureSource(fixtures, strict=True).read(ReadRequest.same(None))
    tables = {
        "SigninLogs": [jsonable(row) for row in read.signins],
        "IdentityInfo": [jsonable(row) for row in read.identities],
        "BehaviorAnalytics": [jsonable(row) for row in read.behaviors],
    }
    window = ["--start", "2026-11-28T09:00Z", "--end", "2026-11-28T10:00Z"]
    with LogAnalyticsServer(tables) as server:
        code, live, err = call(
            "detect",
            "--source",
            "loganalytics",
            "--workspace",
            server.workspace_id,
            "--endpoint",
            server.endpoint,
            *window,
        )
    assert code == 0, err
    assert live == call("detect", "--fixtures", str(fixtures), *window)[1]
    assert json.loads(live)[0]["UEBARiskScore"] == 7


def test_detect_from_log_analytics_reads_the_latest_hour_by_default() -> None:
    with LogAnalyticsServer({}) as server:
        code, out, err = call(
            "detect", "--source", "loganalytics", "--workspace", server.workspace_id, "--endpoint", server.endpoint
        )
    assert (code, json.loads(out)) == (0, []), err
    [received] = server.received
    start, end = (datetime.fromisoformat(part.replace("Z", "+00:00")) for part in received.timespan.split("/"))
    assert end - start == timedelta(hours=1)
    assert timedelta(minutes=5) <= datetime.now(UTC) - end <= timedelta(minutes=7)


def test_bad_settings_exit_2_with_one_line_naming_each(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MFA_LOOKBACK", "an hour")
    monkeypatch.setenv("MFA_RISK_SCORE_CUTOFF", "high")
    code, _, err = call("run", "--state", str(tmp_path / "s.sqlite3"))
    assert code == 2
    assert err.count("\n") == 1
    assert "MFA_LOOKBACK" in err
    assert "MFA_RISK_SCORE_CUTOFF" in err


# --- validate before touching state; no sink; requeue ---------------------------------------------


def test_run_with_a_missing_fixtures_directory_exits_2_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state" / "s.sqlite3"
    code, _, err = call(
        "run", "--fixtures", str(tmp_path / "typo"), "--state", str(state), "--now", "2026-11-28T10:05Z"
    )
    assert code == 2
    assert err.count("\n") == 1
    assert "MFA_FIXTURES_DIR" in err
    assert "typo" in err
    assert not state.parent.exists()


@pytest.mark.parametrize("command", ["status", "requeue"])
def test_a_command_on_a_state_that_does_not_exist_says_so_and_creates_nothing(tmp_path: Path, command: str) -> None:
    state = tmp_path / "typo" / "x.sqlite3"
    code, _, err = call(command, "--state", str(state), *(["--all-dead"] if command == "requeue" else []))
    assert code == 2
    assert f"no state at {state}" in err
    assert not state.parent.exists()


def test_a_damaged_state_is_one_line_exit_1_and_left_as_it_was(tmp_path: Path) -> None:
    state = tmp_path / "s.sqlite3"
    call("run", "--state", str(state))
    with contextlib.closing(sqlite3.connect(state)) as connection, connection:
        connection.execute("UPDATE checkpoint SET window_end = 'garbage'")
    before = state.read_bytes()
    for argv in (["status"], ["run"]):
        code, _, err = call(*argv, "--state", str(state))
        assert code == 1, err
        assert err.count("\n") == 1
        assert str(state) in err
        assert "damaged" in err
    assert state.read_bytes() == before


def test_live_source_with_no_sink_is_a_settings_error_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = str(tmp_path / "s.sqlite3")
    with LogAnalyticsServer({}) as server:
        argv = ["run", "--no-console", "--source", "loganalytics", "--workspace", server.workspace_id]
        argv += ["--endpoint", server.endpoint, "--state", state]
        code, _, err = call(*argv)
        assert code == 2
        assert "MFA_ALLOW_NO_SINK=true" in err
        assert not (tmp_path / "s.sqlite3").exists()
        assert server.received == []  # refused before anything was read or written
        monkeypatch.setenv("MFA_ALLOW_NO_SINK", "true")
        code, out, err = call(*argv)
    assert code == 0, err
    assert "Evaluated 1 window(s)" in out


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://prod.example.org/workflows/x?sig=s3cr3tValue\n", "was a line break pasted with it?"),
        ("https://prod.example.org:99999/workflows/x?sig=s3cr3tValue", "port 99999 is out of range"),
    ],
)
def test_a_webhook_url_that_cannot_be_sent_to_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str, problem: str
) -> None:
    monkeypatch.setenv("MFA_TEAMS_WEBHOOK_URL", value)
    code, _, err = call("run", "--state", str(tmp_path / "s.sqlite3"))
    assert code == 2
    assert "MFA_TEAMS_WEBHOOK_URL" in err
    assert problem in err
    assert "s3cr3tValue" not in err
    assert not (tmp_path / "s.sqlite3").exists()


def test_no_sink_then_a_sink_delivers_what_waited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = str(tmp_path / "s.sqlite3")
    code, out, err = call("run", "--no-console", "--state", state)
    assert code == 0, err
    assert "1 alert(s) wait in the outbox: no sink is configured" in out
    _, out, _ = call("status", "--state", state)
    assert "1 pending" in out
    assert "waiting for a sink to be configured" in out

    with Receiver() as receiver:
        monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
        monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
        code, out, err = call("run", "--no-console", "--state", state, "--now", "2026-11-28T11:05Z")
    assert code == 0, err
    ids = [json.loads(request.body)["id"] for request in receiver.requests]
    assert len(ids) == 1
    _, out, _ = call("status", "--state", state)
    assert "0 pending" in out


def test_requeue_sends_dead_alerts_again_once_the_receiver_is_fixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = str(tmp_path / "s.sqlite3")
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    monkeypatch.setenv("MFA_ALERT_GROUPING", "per-row")
    with Receiver(default=Reply(400, body=b"schema mismatch")) as broken:
        monkeypatch.setenv("MFA_WEBHOOK_URL", broken.url())
        call("run", "--no-console", "--state", state)
    _, out, _ = call("status", "--state", state, "--format", "json")
    dead = [item["alert_id"] for item in json.loads(out)["dead"]]
    assert len(dead) == 8
    _, text, _ = call("status", "--state", state)
    assert f"Dead: {dead[0]} -> webhook after 1 attempt(s): webhook (127.0.0.1" in text

    code, out, err = call("requeue", "--state", state, dead[0], "msg_0000000000000000000000000000dead")
    assert code == 2
    assert "msg_0000000000000000000000000000dead" in err  # nothing requeued when an id is wrong
    code, out, err = call("requeue", "--state", state, dead[0])
    assert (code, out) == (
        0,
        "Requeued 1 delivery(ies) of 1 alert(s), each with a fresh attempt count; the next run delivers them.\n",
    )
    code, out, _ = call("requeue", "--state", state, "--all-dead")
    assert "Requeued 7 delivery(ies) of 7 alert(s)" in out

    with Receiver() as fixed:
        monkeypatch.setenv("MFA_WEBHOOK_URL", fixed.url())
        code, out, err = call("run", "--no-console", "--state", state)  # at the sample's own clock again
    assert code == 0, err
    assert sorted(json.loads(r.body)["id"] for r in fixed.requests) == sorted(dead)
    _, out, _ = call("status", "--state", state, "--format", "json")
    assert json.loads(out)["outbox"] == {"delivered": 8}
    code, out, _ = call("requeue", "--state", state, "--all-dead")
    assert out == "No dead alert to requeue.\n"


# --- messages a newcomer meets; output ------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ("MFA_CONSOLE", "maybe", "MFA_CONSOLE: expected true or false, got 'maybe'"),
        ("MFA_SCHEDULE", "hourly", "MFA_SCHEDULE: expected an NCRONTAB expression of six fields"),
        ("MFA_LOOKBACK", "banana", "MFA_LOOKBACK: expected an ISO 8601 duration such as PT1H, got 'banana'"),
    ],
)
@pytest.mark.parametrize("command", ["run", "backfill"])
def test_the_cli_refuses_every_setting_the_function_would_refuse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, case: tuple[str, str, str]
) -> None:
    setting, value, problem = case
    monkeypatch.setenv(setting, value)
    state = tmp_path / "s.sqlite3"
    extra = ["--from", "2026-11-28T09:00Z", "--to", "2026-11-28T10:00Z"] if command == "backfill" else []
    code, out, err = call(command, "--state", str(state), *extra)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert problem in err
    assert not state.exists()


def test_a_webhook_url_that_is_not_a_url_is_one_line_that_does_not_echo_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFA_TEAMS_WEBHOOK_URL", "notaurl-s3cr3tValue")
    code, _, err = call("run", "--state", str(tmp_path / "s.sqlite3"))
    assert code == 2
    assert "MFA_TEAMS_WEBHOOK_URL: must be an absolute https URL" in err
    assert "s3cr3tValue" not in err
    assert "://None" not in err


def test_backfill_backwards_says_so_in_utc(tmp_path: Path) -> None:
    state = str(tmp_path / "s.sqlite3")
    code, out, err = call("backfill", "--from", "2026-11-28T12:00Z", "--to", "2026-11-28T09:00Z", "--state", state)
    assert (code, out) == (2, "")
    assert "--to is before --from (2026-11-28T09:00:00Z < 2026-11-28T12:00:00Z)" in err
    assert err.count("\n") == 1
    code, _, err = call("backfill", "--from", "2026-11-28T08:00Z", "--to", "2026-11-28T08:30+00:00", "--state", state)
    assert code == 2
    assert "windows (PT1H), got 2026-11-28T08:00:00Z .. 2026-11-28T08:30:00Z" in err
    assert "+00:00" not in err


def test_backfill_progress_is_plain_lines_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    state = str(tmp_path / "s.sqlite3")
    code, _, err = call("backfill", "--from", "2026-11-28T08:00Z", "--to", "2026-11-28T11:00Z", "--state", state)
    assert code == 0, err
    assert "\r" not in err
    assert err.splitlines() == [
        "1/3 window(s) evaluated, up to 2026-11-28 09:00Z",
        "2/3 window(s) evaluated, up to 2026-11-28 10:00Z",
        "3/3 window(s) evaluated, up to 2026-11-28 11:00Z",
    ]


def test_the_run_summary_counts_deliveries_by_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    with Receiver() as receiver:
        monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
        code, out, err = call("run", "--state", str(tmp_path / "s.sqlite3"))
    assert code == 0, err
    assert len(receiver.requests) == 1
    assert "Delivered 1 alert (console 1, webhook 1), retrying later 0, dead 0." in out  # not "Delivered 2"


def _azure_sdk_warnings(caplog: pytest.LogCaptureFixture, *argv: str) -> tuple[int, str, list[str]]:
    # Only the environment credential, unconfigured: it fails at once, with no network.
    caplog.set_level(logging.DEBUG)
    code, _, err = call(
        *argv,
        "detect",
        "--source",
        "loganalytics",
        "--workspace",
        "11111111-2222-3333-4444-555555555555",
        "--start",
        "2026-11-28T09:00Z",
        "--end",
        "2026-11-28T10:00Z",
    )
    return code, err, [r.name for r in caplog.records if r.name.startswith("azure") and r.levelno >= logging.WARNING]


@pytest.fixture
def no_azure_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "EnvironmentCredential")
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_azure_credential")
def test_a_missing_azure_credential_is_our_one_line_not_the_sdks_warnings(caplog: pytest.LogCaptureFixture) -> None:
    code, err, sdk = _azure_sdk_warnings(caplog)
    assert code == 1
    assert err.count("\n") == 1
    assert "could not get a token" in err
    assert sdk == []
    _, _, sdk = _azure_sdk_warnings(caplog, "--verbose")
    assert sdk  # --verbose shows what each credential said


def _row(**values: object) -> dict[str, object]:
    return dict.fromkeys(OUTPUT_COLUMNS) | {"UEBARiskScore": 5, "FailedIPAddress": "203.0.113.7"} | values


def test_the_table_shows_every_empty_value_as_a_dash() -> None:
    table = render_table([_row(UserPrincipalName="", AccountUPN=None, AssignedRoles=[], GroupMembership={})])
    [row] = table.splitlines()[2:3]
    assert row.split() == ["5", "-", "203.0.113.7", "-", "-", "-", "-", "-"]


def test_the_table_shows_user_names_whole_and_cuts_other_long_cells() -> None:
    guest = "alice.longname_contoso.onmicrosoft.com#EXT#@fabrikam.onmicrosoft.com"
    groups = [f"Group number {i}" for i in range(10)]
    table = render_table([_row(UserPrincipalName=guest, AccountUPN=guest, GroupMembership=groups)])
    assert table.count(guest) == 2
    assert "Group number 0, Group number 1, Group n…" in table  # 40 characters
