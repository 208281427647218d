"""The queue-triggered worker entry point, called as the Functions host calls it (a QueueMessage whose
body the host already base64-decoded), with settings from the environment: a loopback Log Analytics
workspace, a real SQLite state and a loopback webhook."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from azure.functions.queue import QueueMessage
from standardwebhooks import Webhook

import MfaRejectedWorker
from shared.errors import ConfigError, InputError
from shared.fanout import MAX_DEQUEUE_COUNT, run_for
from shared.settings import load_settings
from shared.workspaces import Workspace
from tests.harness.la_server import Fault, LogAnalyticsServer
from tests.sinks.receiver import Receiver
from tests.test_fanout import recent_tables

SECRET = "whsec_" + base64.b64encode(b"worker entry test signing key!!!").decode()
GUID = "11111111-2222-3333-4444-555555555555"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def workspace() -> Iterator[LogAnalyticsServer]:
    with LogAnalyticsServer(recent_tables("john.doe"), workspace_id=GUID) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture
def environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, workspace: LogAnalyticsServer, receiver: Receiver
) -> None:
    for name, value in {
        "MFA_SOURCE": "loganalytics",
        "LOG_ANALYTICS_WORKSPACE_ID": f"contoso={GUID}",
        "MFA_LA_ENDPOINT": workspace.endpoint,
        "MFA_STATE": str(tmp_path / "state.sqlite3"),
        "MFA_WEBHOOK_URL": receiver.url(),
        "MFA_WEBHOOK_SECRET": SECRET,
        "MFA_FANOUT": "queue",
    }.items():
        monkeypatch.setenv(name, value)


def delivery(text: str, *, dequeue_count: int = 1) -> QueueMessage:
    # The host's own message type (azure.functions.QueueMessage is its abstract base).
    return QueueMessage(id="m-1", body=text.encode("utf-8"), dequeue_count=dequeue_count)


def due_message(name: str = "contoso", guid: str = GUID) -> str:
    return run_for(Workspace(name=name, id=guid), load_settings(), now=datetime.now(UTC)).to_text()


def test_the_worker_evaluates_its_workspace_and_a_redelivery_sends_nothing_again(
    environment: None, receiver: Receiver
) -> None:
    text = due_message()
    MfaRejectedWorker.main(delivery(text))
    [request] = receiver.requests
    payload = Webhook(SECRET).verify(request.body, request.headers)
    assert payload["rows"][0]["UserPrincipalName"] == "john.doe@contoso.com"
    MfaRejectedWorker.main(delivery(text, dequeue_count=2))
    assert len(receiver.requests) == 1


def test_a_failing_workspace_fails_the_invocation_so_the_host_retries_the_message(
    environment: None, workspace: LogAnalyticsServer, receiver: Receiver
) -> None:
    workspace.fail(Fault(status=403, times=10))
    with pytest.raises(MfaRejectedWorker.RunFailedError, match="Log Analytics Reader"):
        MfaRejectedWorker.main(delivery(due_message()))
    assert receiver.requests == []
    workspace.reset()
    MfaRejectedWorker.main(delivery(due_message(), dequeue_count=2))  # access restored: the retry delivers
    assert len(receiver.requests) == 1


def test_a_message_for_an_unconfigured_workspace_fails_naming_it(environment: None, receiver: Receiver) -> None:
    text = due_message("gone", "99999999-8888-4777-8666-555555555555")
    with pytest.raises(ConfigError, match=r"workspace 99999999-8888-4777-8666-555555555555 \('gone'\)"):
        MfaRejectedWorker.main(delivery(text))
    assert receiver.requests == []


def test_a_message_that_is_not_a_workspace_run_fails(environment: None) -> None:
    with pytest.raises(InputError, match="not JSON"):
        MfaRejectedWorker.main(delivery("hello"))


def test_function_json_binds_the_queue_setting_and_the_host_storage_connection() -> None:
    binding = json.loads((REPO / "MfaRejectedWorker" / "function.json").read_text(encoding="utf-8"))
    [trigger] = binding["bindings"]
    assert trigger == {
        "name": "message",
        "type": "queueTrigger",
        "direction": "in",
        "queueName": "%MFA_FANOUT_QUEUE%",
        "connection": "AzureWebJobsStorage",
    }
    # No function-level retry: a queue trigger retries through the message's visibility and dequeue count.
    assert "retry" not in binding


def test_host_json_retries_a_message_as_drain_does_and_bounds_parallel_runs() -> None:
    queues = json.loads((REPO / "host.json").read_text(encoding="utf-8"))["extensions"]["queues"]
    assert queues["maxDequeueCount"] == MAX_DEQUEUE_COUNT
    assert queues["visibilityTimeout"] == "00:01:00"
    # At most batchSize + newBatchThreshold workspaces run at once on one instance.
    assert queues["batchSize"] + queues["newBatchThreshold"] == 12
    assert queues["maxPollingInterval"] == "00:00:10"
    assert "messageEncoding" not in queues  # base64, the default, which shared.queue_client sends
