"""The timer entry point, called as the Functions host calls it, with settings from the environment.

The data source is a loopback Log Analytics workspace (the real LogsQueryClient), the state a real
SQLite file, and the sink a loopback webhook whose signature is checked with `standardwebhooks`.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueClient
from standardwebhooks import Webhook

import MfaRejectedTimer
from shared.errors import ConfigError
from shared.fanout import EnqueueError
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE
from shared.serialise import jsonable
from shared.state.sqlite import SqliteStateStore
from tests.builders import behavior, identity, signin
from tests.harness.azurite import ACCOUNT_KEY, Azurite
from tests.harness.la_server import Fault, LogAnalyticsServer
from tests.sinks.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"function entry test signing key!").decode()


def _recent_tables() -> dict[str, list[dict]]:
    """One MFA decline in the hour that the timer is about to evaluate."""
    now = datetime.now(UTC)
    end = (now - timedelta(minutes=5)).replace(second=0, microsecond=0)
    moment = end - timedelta(minutes=30)
    rows = {
        SIGNIN_TABLE: [signin("john.doe@contoso.com") | {"TimeGenerated": moment}],
        IDENTITY_TABLE: [identity("John.Doe@contoso.com") | {"TimeGenerated": moment}],
        BEHAVIOR_TABLE: [behavior("john.doe", score=8) | {"TimeGenerated": moment}],
    }
    return {table: [jsonable(row) for row in table_rows] for table, table_rows in rows.items()}


@pytest.fixture
def workspace() -> Iterator[LogAnalyticsServer]:
    with LogAnalyticsServer(_recent_tables()) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: LogAnalyticsServer, receiver: Receiver
) -> Path:
    state = tmp_path / "state.sqlite3"
    for name, value in {
        "MFA_SOURCE": "loganalytics",
        "LOG_ANALYTICS_WORKSPACE_ID": workspace.workspace_id,
        "MFA_LA_ENDPOINT": workspace.endpoint,
        "MFA_STATE": str(state),
        "MFA_WEBHOOK_URL": receiver.url(),
        "MFA_WEBHOOK_SECRET": SECRET,
    }.items():
        monkeypatch.setenv(name, value)
    return state


@pytest.mark.parametrize("past_due", [False, True])
def test_the_timer_evaluates_the_due_window_and_delivers_a_signed_alert(
    environment: Path, receiver: Receiver, caplog: pytest.LogCaptureFixture, past_due: bool
) -> None:
    caplog.set_level(logging.INFO)
    MfaRejectedTimer.main(TimerRequest(past_due=past_due))

    [request] = receiver.requests
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["rows"][0]["UserPrincipalName"] == "john.doe@contoso.com"
    assert payload["rows"][0]["AccountUPN"] == "John.Doe@contoso.com"
    store = SqliteStateStore(environment)
    try:
        assert store.checkpoint() is not None
        assert [item.status for item in store.items()] == ["delivered"]
    finally:
        store.close()
    assert ("timer is past due" in caplog.text) is past_due
    [record] = [r for r in caplog.records if r.getMessage().startswith("run finished")]
    assert record.alerts == 1
    assert record.delivered == 1
    assert "windows_evaluated=1" in record.getMessage()


def test_a_second_invocation_sends_nothing_again(environment: Path, receiver: Receiver) -> None:
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert len(receiver.requests) == 1


def test_a_workspace_that_refuses_access_fails_the_invocation_and_keeps_the_checkpoint(
    environment: Path, workspace: LogAnalyticsServer, receiver: Receiver
) -> None:
    workspace.fail(Fault(status=403, times=10))
    with pytest.raises(MfaRejectedTimer.RunFailedError, match="Log Analytics Reader"):
        MfaRejectedTimer.main(TimerRequest(past_due=False))
    store = SqliteStateStore(environment)
    try:
        assert store.checkpoint() is None
    finally:
        store.close()
    assert receiver.requests == []


def test_with_both_webhooks_emptied_the_invocation_fails_naming_the_settings_and_writes_nothing(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # App settings cannot be deleted from a template, only emptied: that must not mean "alert nowhere".
    monkeypatch.setenv("MFA_WEBHOOK_URL", "")
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", "")
    with pytest.raises(
        ConfigError, match=r"MFA_TEAMS_WEBHOOK_URL, MFA_WEBHOOK_URL .* MFA_SERVICENOW_URL .* MFA_ALLOW_NO_SINK=true"
    ):
        MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert not environment.exists()


def test_allowed_to_run_with_no_sink_the_alert_waits_in_the_outbox(
    environment: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    monkeypatch.setenv("MFA_WEBHOOK_URL", "")
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", "")
    monkeypatch.setenv("MFA_ALLOW_NO_SINK", "true")
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    store = SqliteStateStore(environment)
    try:
        assert [(item.sink, item.status) for item in store.items()] == [("unrouted", "pending")]
    finally:
        store.close()
    monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())  # a sink is configured later
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    [request] = receiver.requests
    assert (
        Webhook(SECRET).verify(request.body, request.headers)["rows"][0]["UserPrincipalName"] == "john.doe@contoso.com"
    )


def test_bad_settings_fail_with_every_problem_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MFA_SOURCE", "loganalytics")
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_ID", "not-a-guid")
    monkeypatch.setenv("MFA_LOOKBACK", "one hour")
    with pytest.raises(Exception, match="LOG_ANALYTICS_WORKSPACE_ID") as caught:
        MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert "MFA_LOOKBACK" in str(caught.value)


def test_function_json_binds_the_schedule_setting_and_a_retry_policy() -> None:
    binding = json.loads(Path(MfaRejectedTimer.__file__).with_name("function.json").read_text())
    [timer] = binding["bindings"]
    assert timer["type"] == "timerTrigger"
    assert timer["schedule"] == "%MFA_SCHEDULE%"
    assert timer["runOnStartup"] is False
    assert timer["useMonitor"] is True
    assert binding["retry"]["strategy"] == "exponentialBackoff"
    assert binding["retry"]["maxRetryCount"] >= 1


def test_host_json_keeps_requests_and_run_records_out_of_sampling_and_sets_a_timeout() -> None:
    host = json.loads((Path(MfaRejectedTimer.__file__).parents[1] / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["version"] == "[4.*, 5.0.0)"
    assert host["functionTimeout"]
    excluded = host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"].split(";")
    assert "Request" in excluded
    # The run records are traces; the "no run finished in 2 h" alert (infra/) must never see them sampled away.
    assert "Trace" in excluded


# --- local emulation: the example settings, as `func start` loads them ----------------------------

REPO = Path(__file__).resolve().parents[1]


def _example_environment(monkeypatch: pytest.MonkeyPatch, app_root: Path) -> dict[str, str]:
    """local.settings.json.example's values as the environment, run from an app root holding the
    sample, as `func start` runs (relative paths resolve there; the state is created there)."""
    values = json.loads((REPO / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    (app_root / "sample_data").symlink_to(REPO / "sample_data", target_is_directory=True)
    monkeypatch.chdir(app_root)
    return values


def test_the_example_settings_alert_at_the_real_clock(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: Receiver
) -> None:
    values = _example_environment(monkeypatch, tmp_path)
    assert values["MFA_FIXTURES_TIME_SHIFT"] == "latest"
    # The example's schedule fires at second 0 of every minute: the demo alerts within a minute.
    assert values["MFA_SCHEDULE"].split()[0] == "0"
    assert values["MFA_SCHEDULE"].split()[1] == "*"
    monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    before = datetime.now(UTC)
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert len(receiver.requests) >= 1
    payload = Webhook(SECRET).verify(receiver.requests[0].body, receiver.requests[0].headers)
    expected = json.loads((REPO / "sample_data" / "expected.json").read_text(encoding="utf-8"))
    assert {row["UserPrincipalName"] for row in payload["rows"]} == {row["UserPrincipalName"] for row in expected}
    # The recorded hour, moved to the window due now: it ended MFA_INGESTION_DELAY (5 min) ago.
    end = datetime.fromisoformat(payload["window"]["end"].replace("Z", "+00:00"))
    assert timedelta(minutes=5) <= before - end + timedelta(seconds=1) < timedelta(minutes=6, seconds=1)
    first = min(datetime.fromisoformat(row["StartTime"].replace("Z", "+00:00")) for row in payload["rows"])
    assert end - timedelta(hours=1) <= first < end
    assert (tmp_path / values["MFA_STATE"]).is_file()


def test_the_example_settings_alert_once_per_window(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, receiver: Receiver
) -> None:
    _example_environment(monkeypatch, tmp_path)
    monkeypatch.setenv("MFA_WEBHOOK_URL", receiver.url())
    monkeypatch.setenv("MFA_WEBHOOK_SECRET", SECRET)
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    MfaRejectedTimer.main(TimerRequest(past_due=False))  # a second run: no new window is due yet
    assert len(receiver.requests) == 1


def test_moving_fixture_times_is_refused_with_the_live_source(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MFA_FIXTURES_TIME_SHIFT", "latest")
    with pytest.raises(ConfigError, match="MFA_FIXTURES_TIME_SHIFT: only for MFA_SOURCE=fixtures"):
        MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert not environment.exists()


# --- MFA_FANOUT=queue: the timer only enqueues ----------------------------------------------------


FANOUT_IDS = ("0f0e0d0c-0b0a-4909-8807-060504030201", "a1b2c3d4-e5f6-4a0b-9c8d-7e6f5a4b3c2d")


@pytest.fixture
def fanout(environment: Path, monkeypatch: pytest.MonkeyPatch, azurite: Azurite) -> str:
    queue = "timer-" + uuid.uuid4().hex[:12]
    monkeypatch.setenv("LOG_ANALYTICS_WORKSPACE_ID", f"contoso={FANOUT_IDS[0]},fabrikam={FANOUT_IDS[1]}")
    monkeypatch.setenv("MFA_FANOUT", "queue")
    monkeypatch.setenv("MFA_FANOUT_QUEUE", queue)
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string)
    return queue


def test_in_queue_mode_the_timer_enqueues_one_base64_message_per_workspace_and_evaluates_nothing(
    fanout: str, azurite: Azurite, environment: Path, workspace: LogAnalyticsServer, receiver: Receiver
) -> None:
    MfaRejectedTimer.main(TimerRequest(past_due=False))
    with QueueClient.from_connection_string(azurite.connection_string, fanout) as queue:  # no decode policy
        texts = [base64.b64decode(m.content, validate=True).decode() for m in queue.receive_messages(max_messages=32)]
    assert sorted(json.loads(text)["workspace"] for text in texts) == sorted(FANOUT_IDS)
    assert workspace.received == []
    assert receiver.requests == []
    assert not environment.exists()


def test_in_queue_mode_a_refused_send_fails_the_timer_without_showing_the_key(
    fanout: str, azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = base64.b64encode(bytes(64)).decode()
    monkeypatch.setenv("AzureWebJobsStorage", azurite.connection_string.replace(ACCOUNT_KEY, wrong))
    with pytest.raises(EnqueueError, match=r"2 of 2 workspace-run message\(s\) could not be sent") as caught:
        MfaRejectedTimer.main(TimerRequest(past_due=False))
    assert wrong not in str(caught.value)
