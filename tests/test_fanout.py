"""The queue fan-out (shared.fanout) against a real Azurite queue and loopback Log Analytics workspaces.

Two workspaces, each its own loopback server (its own endpoint, its own GUID) and its own webhook path
on one receiver, from an MFA_WORKSPACES_FILE; the state is SQLite, one file per workspace.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient
from standardwebhooks import Webhook

from shared.errors import ConfigError, InputError
from shared.fanout import SCHEMA, EnqueueError, WorkspaceRun, enqueue_runs, parse_run, run_for, run_message
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE, Window
from shared.serialise import jsonable
from shared.settings import Settings, load_settings
from shared.window_plan import window_end
from shared.workspaces import Workspace
from tests.builders import behavior, identity, signin
from tests.harness.azurite import ACCOUNT_KEY, Azurite
from tests.harness.la_server import LogAnalyticsServer
from tests.sinks.receiver import Receiver

SECRET = "whsec_" + base64.b64encode(b"fan-out test signing key, 32 b!!").decode()
CONTOSO = "0f0e0d0c-0b0a-4909-8807-060504030201"
FABRIKAM = "a1b2c3d4-e5f6-4a0b-9c8d-7e6f5a4b3c2d"


def recent_tables(user: str) -> dict[str, list[dict]]:
    """One MFA decline by ``user`` in the window due now."""
    end = window_end(datetime.now(UTC), ingestion_delay=timedelta(minutes=5))
    moment = end - timedelta(minutes=30)
    rows = {
        SIGNIN_TABLE: [signin(f"{user}@contoso.com") | {"TimeGenerated": moment}],
        IDENTITY_TABLE: [identity(f"{user}@contoso.com") | {"TimeGenerated": moment}],
        BEHAVIOR_TABLE: [behavior(user, score=8) | {"TimeGenerated": moment}],
    }
    return {table: [jsonable(row) for row in table_rows] for table, table_rows in rows.items()}


@dataclass
class Fleet:
    settings: Settings
    servers: dict[str, LogAnalyticsServer]
    receiver: Receiver
    values: dict[str, str]

    def delivered(self, name: str) -> list[str]:
        """The users alerted to workspace ``name``'s webhook (signature verified)."""
        return [
            Webhook(SECRET).verify(request.body, request.headers)["rows"][0]["UserPrincipalName"]
            for request in self.receiver.requests
            if request.path == f"/{name}"
        ]

    def reload(self, **overrides: str) -> Settings:
        self.settings = load_settings(**(self.values | overrides))
        return self.settings


@pytest.fixture
def fleet(azurite: Azurite, tmp_path: Path) -> Iterator[Fleet]:
    with (
        LogAnalyticsServer(recent_tables("alice"), workspace_id=CONTOSO) as contoso,
        LogAnalyticsServer(recent_tables("bob"), workspace_id=FABRIKAM) as fabrikam,
        Receiver() as receiver,
    ):
        servers = {"contoso": contoso, "fabrikam": fabrikam}
        entries = [
            {
                "name": name,
                "id": server.workspace_id,
                "endpoint": server.endpoint,
                "destinations": {"MFA_WEBHOOK_URL": receiver.url(f"/{name}"), "MFA_WEBHOOK_SECRET": SECRET},
            }
            for name, server in servers.items()
        ]
        file = tmp_path / "workspaces.json"
        file.write_text(json.dumps({"workspaces": entries}), encoding="utf-8")
        values = {
            "MFA_SOURCE": "loganalytics",
            "MFA_WORKSPACES_FILE": str(file),
            "MFA_STATE": str(tmp_path / "state" / "mfa.sqlite3"),
            "MFA_FANOUT": "queue",
            "MFA_FANOUT_QUEUE": "fanout-" + uuid.uuid4().hex[:12],
            "AzureWebJobsStorage": azurite.connection_string,
        }
        yield Fleet(load_settings(**values), servers, receiver, values)


def plain_queue(azurite: Azurite, name: str) -> QueueClient:
    """A client without the product's encode policy: it sees the messages as they are on the wire."""
    return QueueClient.from_connection_string(azurite.connection_string, name)


def message_count(azurite: Azurite, name: str) -> int:
    with plain_queue(azurite, name) as queue:
        return queue.get_queue_properties().approximate_message_count


# --- the message ---------------------------------------------------------------------------------

END = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
GOOD = {
    "schema": SCHEMA,
    "workspace": CONTOSO,
    "name": "contoso",
    "window": {"start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:00Z"},
}


def test_a_message_names_the_workspace_and_the_latest_due_window_and_reads_back_the_same(fleet: Fleet) -> None:
    workspace = Workspace(name="contoso", id=CONTOSO)
    run = run_for(workspace, fleet.settings, now=END + timedelta(minutes=5, seconds=42))
    assert run == WorkspaceRun(workspace=CONTOSO, name="contoso", window=Window(END - timedelta(hours=1), END))
    assert json.loads(run.to_text()) == GOOD
    assert parse_run(run.to_text()) == run
    assert run.clock(fleet.settings) == END + timedelta(minutes=5)


def _with(**changes: object) -> str:
    return json.dumps(GOOD | changes)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json at all", r"not JSON .*'not json at all'"),
        ("[1, 2]", "expected a JSON object, got list"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "window"}), "missing window"),
        (_with(extra=1), r"unknown key\(s\) 'extra'"),
        (_with(schema="mfa-rejected.workspace-run/v2"), r"schema .*v2.* is not"),
        (_with(workspace="contoso"), "workspace 'contoso' is not a workspace GUID"),
        (_with(workspace=CONTOSO.replace("-", "")), "is not a workspace GUID"),
        (_with(name="../etc"), "name '../etc' is not a workspace name"),
        (_with(name=7), "name 7 is not a workspace name"),
        (_with(window="2026-03-01"), "window must be an object"),
        (_with(window={"start": "2026-03-01T09:00:00Z"}), "window: missing end"),
        (_with(window={"start": "yesterday", "end": "2026-03-01T10:00:00Z"}), "window start 'yesterday' is not"),
        (_with(window={"start": "2026-03-01T09:00:00", "end": "2026-03-01T10:00:00Z"}), "with a timezone"),
        (_with(window={"start": "2026-03-01T10:00:00Z", "end": "2026-03-01T10:00:00Z"}), "is not after its start"),
        (_with(window={"start": "2026-03-01T09:00:00Z", "end": "2026-03-01T10:00:30Z"}), "not a whole minute"),
        ("x" * 5000, "5000 characters"),
    ],
)
def test_a_message_that_is_not_a_workspace_run_is_refused_naming_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        parse_run(text)


def test_a_refused_message_is_shown_by_a_short_prefix_only() -> None:
    text = "{not json " + "https://hooks.example/secret-signature-" * 20
    with pytest.raises(InputError) as caught:
        parse_run(text)
    assert "secret-signature" not in str(caught.value)
    assert str(caught.value).endswith(repr(text[:40]))


# --- the timer: one message per workspace ----------------------------------------------------------


def test_the_timer_enqueues_one_base64_message_per_workspace_for_the_latest_due_window(
    fleet: Fleet, azurite: Azurite
) -> None:
    now = datetime(2026, 3, 1, 10, 7, 13, tzinfo=UTC)
    report = enqueue_runs(fleet.settings, now=now)
    assert report.enqueued == 2
    with plain_queue(azurite, fleet.settings.fanout_queue) as queue:
        wire = [message.content for message in queue.receive_messages(messages_per_page=32)]
    runs = sorted((parse_run(base64.b64decode(text, validate=True).decode("utf-8")) for text in wire), key=str)
    assert [(run.workspace, run.name) for run in runs] == [(CONTOSO, "contoso"), (FABRIKAM, "fabrikam")]
    assert {run.window for run in runs} == {
        Window(datetime(2026, 3, 1, 9, 2, tzinfo=UTC), window_end(now, ingestion_delay=timedelta(minutes=5)))
    }
    assert fleet.receiver.requests == []  # the timer evaluates nothing itself
    assert all(server.received == [] for server in fleet.servers.values())


def test_sends_that_fail_are_all_tried_then_counted_and_named_without_the_key(fleet: Fleet, azurite: Azurite) -> None:
    wrong_key = base64.b64encode(b"not the account key of devstoreaccount1, 64 bytes long!!!!!!!!!").decode()
    refused = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    settings = fleet.reload(AzureWebJobsStorage=refused)
    with pytest.raises(
        EnqueueError, match=r"^2 of 2 workspace-run message\(s\) could not be sent .*HTTP 403"
    ) as caught:
        enqueue_runs(settings, now=datetime.now(UTC))
    assert wrong_key not in str(caught.value)
    assert "AccountKey" not in str(caught.value)


def test_queue_mode_without_workspaces_is_refused(fleet: Fleet, azurite: Azurite) -> None:
    settings = load_settings(MFA_SOURCE="fixtures", MFA_FANOUT="queue", AzureWebJobsStorage=azurite.connection_string)
    with pytest.raises(ConfigError, match="MFA_FANOUT=queue: needs MFA_SOURCE=loganalytics"):
        enqueue_runs(settings, now=datetime.now(UTC))


# --- the worker: one workspace per message ---------------------------------------------------------


def test_the_worker_evaluates_only_its_workspace_and_a_redelivery_sends_nothing_new(fleet: Fleet) -> None:
    [contoso, _] = fleet.settings.workspaces
    text = run_for(contoso, fleet.settings, now=datetime.now(UTC)).to_text()

    first = run_message(fleet.settings, text)
    assert (first.failed, first.alerts, first.delivered) == (False, 1, 1)
    assert first.workspace_id == CONTOSO
    assert fleet.delivered("contoso") == ["alice@contoso.com"]
    assert fleet.servers["fabrikam"].received == []

    again = run_message(fleet.settings, text)  # the same message, delivered a second time
    assert (again.failed, again.alerts, again.delivered, len(again.windows_evaluated)) == (False, 0, 0, 0)
    assert len(fleet.receiver.requests) == 1


def test_a_message_for_a_workspace_no_longer_configured_raises_naming_it(fleet: Fleet) -> None:
    gone = Workspace(name="gone", id="99999999-8888-4777-8666-555555555555")
    text = run_for(gone, fleet.settings, now=datetime.now(UTC)).to_text()
    with pytest.raises(ConfigError, match=r"workspace 99999999-8888-4777-8666-555555555555 .* is not configured"):
        run_message(fleet.settings, text)
    assert fleet.receiver.requests == []


def test_a_message_from_a_clock_ahead_never_evaluates_a_window_not_due_yet(fleet: Fleet) -> None:
    [contoso, _] = fleet.settings.workspaces
    text = run_for(contoso, fleet.settings, now=datetime.now(UTC) + timedelta(hours=3)).to_text()
    report = run_message(fleet.settings, text)
    due = window_end(datetime.now(UTC), ingestion_delay=fleet.settings.ingestion_delay)
    assert report.windows_evaluated
    assert report.windows_evaluated[-1].end <= due
