"""Runs over many workspaces (shared.fleet): the bound on concurrency, a workspace whose state cannot
be opened failing alone, and the one-workspace state's outbox delivered when the workspaces get names."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from shared.fleet import is_fleet, run_fleet
from shared.fleet_reports import fleet_snapshot
from shared.settings import load_settings
from tests.harness.azurite import Azurite
from tests.harness.la_farm import WorkspaceFarm
from tests.sinks.receiver import Receiver, Reply
from tests.test_cli import SECRET, call
from tests.test_workspaces_run import tables

A = "6c1b2f4e-1111-2222-3333-444455556666"
B = "7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff"
NOW = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)


def test_the_one_guid_form_is_no_fleet_and_any_named_form_is() -> None:
    assert not is_fleet(load_settings(MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID=A, MFA_CONSOLE=True))
    assert is_fleet(load_settings(MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID=f"a={A}", MFA_CONSOLE=True))
    assert not is_fleet(load_settings(LOG_ANALYTICS_WORKSPACE_ID=f"a={A}"))  # the fixture source reads files


def test_no_more_workspaces_run_at_once_than_the_bound(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workspaces = [f"{n:08x}-0000-4000-8000-000000000000" for n in range(1, 7)]
    running, most, lock = 0, 0, threading.Lock()

    class CountingFarm(WorkspaceFarm):
        def respond(self, path: str, headers: Any, body: bytes) -> tuple[int, dict[str, str], bytes]:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                threading.Event().wait(0.05)
                return super().respond(path, headers, body)
            finally:
                with lock:
                    running -= 1

    with CountingFarm({guid: {} for guid in workspaces}) as farm:
        settings = load_settings(
            MFA_SOURCE="loganalytics",
            LOG_ANALYTICS_WORKSPACE_ID=",".join(f"w{n}={guid}" for n, guid in enumerate(workspaces)),
            MFA_LA_ENDPOINT=farm.endpoint,
            MFA_STATE=str(tmp_path / "s.sqlite3"),
            MFA_WORKSPACE_CONCURRENCY="2",
            MFA_ALLOW_NO_SINK="true",
        )
        report = run_fleet(settings, now=NOW)
    assert [r.workspace for r in report.reports] == [f"w{n}" for n in range(6)]  # in the configured order
    assert not report.error
    assert most == 2


def test_a_workspace_whose_state_cannot_be_opened_fails_alone(tmp_path: Path) -> None:
    (tmp_path / f"s.{B}.sqlite3").write_bytes(b"not a database at all, but it is in the way" * 100)
    with WorkspaceFarm({A: tables(A), B: tables(B)}) as farm:
        settings = load_settings(
            MFA_SOURCE="loganalytics",
            LOG_ANALYTICS_WORKSPACE_ID=f"contoso={A},fabrikam={B}",
            MFA_LA_ENDPOINT=farm.endpoint,
            MFA_STATE=str(tmp_path / "s.sqlite3"),
            MFA_ALLOW_NO_SINK="true",
        )
        report = run_fleet(settings, now=NOW)
    contoso, fabrikam = report.reports
    assert (contoso.failed, len(contoso.windows_evaluated), contoso.unrouted) == (False, 1, 1)
    assert fabrikam.failed
    assert report.error is not None
    assert report.error.startswith("1 of 2 workspace(s) failed: fabrikam: state file ")


def test_the_one_workspace_states_outbox_is_delivered_once_the_workspaces_are_named(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite3")
    with WorkspaceFarm({A: tables(A), B: tables(B)}) as farm, Receiver(default=Reply(204)) as receiver:
        common = ["run", "--source", "loganalytics", "--endpoint", farm.endpoint, "--state", state, "--no-console"]
        # One GUID, nowhere to send: the alert waits in the one-workspace state's outbox.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MFA_ALLOW_NO_SINK", "true")
            assert call(*common, "--workspace", A, "--now", "2026-11-28T10:05Z")[0] == 0
        with pytest.MonkeyPatch.context() as env:
            env.setenv("MFA_WEBHOOK_URL", receiver.url())
            env.setenv("MFA_WEBHOOK_SECRET", SECRET)
            env.setenv("LOG_ANALYTICS_WORKSPACE_ID", f"contoso={A},fabrikam={B}")
            code, text, _ = call("status", "--state", state)
            assert code == 0
            assert "one-workspace state: checkpoint 2026-11-28T10:00:00Z; 1 pending, 0 dead" in text
            code, out, err = call(*common, "--now", "2026-11-28T11:05Z")
            assert code == 0, err
            assert "The one-workspace state (before the workspaces were named), its outbox only:" in out
            again = call("status", "--state", state, "--format", "json")[1]
    payloads = [json.loads(request.body) for request in receiver.requests]
    from_before = [p for p in payloads if "workspace" not in p]
    assert [p["window"]["start"] for p in from_before] == ["2026-11-28T09:00:00Z"]
    assert sorted(p["workspace"]["name"] for p in payloads if "workspace" in p) == ["contoso", "fabrikam"]
    assert "one-workspace state" not in again  # delivered: nothing left to show


def test_workspaces_share_one_azure_table_each_in_partitions_of_its_own(azurite: Azurite, tmp_path: Path) -> None:
    table = "Fleet" + uuid.uuid4().hex[:12]
    with WorkspaceFarm({A: tables(A), B: tables(B)}) as farm:
        settings = load_settings(
            MFA_SOURCE="loganalytics",
            LOG_ANALYTICS_WORKSPACE_ID=f"contoso={A},fabrikam={B}",
            MFA_LA_ENDPOINT=farm.endpoint,
            MFA_STATE="table",
            MFA_STATE_TABLE=table,
            AzureWebJobsStorage=azurite.connection_string,
            MFA_ALLOW_NO_SINK="true",
        )
        for hour in (10, 11):
            report = run_fleet(settings, now=NOW.replace(hour=hour))
            assert report.error is None
    snapshots = {entry["name"]: entry["state"] for entry in fleet_snapshot(settings, settings.workspaces)}
    assert {name: state["checkpoint"] for name, state in snapshots.items()} == {
        "contoso": "2026-11-28T11:00:00Z",
        "fabrikam": "2026-11-28T11:00:00Z",
    }
    assert {name: state["outbox"] for name, state in snapshots.items()} == {
        "contoso": {"pending": 2},  # two windows' alerts, unrouted, each in its own workspace's outbox
        "fabrikam": {"pending": 2},
    }
    with TableServiceClient.from_connection_string(azurite.connection_string) as service:
        partitions = {entity["PartitionKey"] for entity in service.get_table_client(table).list_entities()}
    assert {partition.split(".")[0] for partition in partitions} == {A, B}


def test_a_workspace_whose_own_destination_is_unusable_fails_alone_and_loses_nothing(tmp_path: Path) -> None:
    state = str(tmp_path / "state.sqlite3")
    with (
        WorkspaceFarm({A: tables(A), B: tables(B)}) as farm,
        Receiver(default=Reply(204)) as contoso_hook,
        Receiver(default=Reply(204)) as fabrikam_hook,
        pytest.MonkeyPatch.context() as env,
    ):
        entries = [
            {
                "name": name,
                "id": guid,
                "destinations": {"MFA_WEBHOOK_URL": hook.url(), "MFA_WEBHOOK_SECRET": {"setting": key}},
            }
            for name, guid, hook, key in (
                ("contoso", A, contoso_hook, "CONTOSO_KEY"),
                ("fabrikam", B, fabrikam_hook, "FABRIKAM_KEY"),
            )
        ]
        (tmp_path / "workspaces.json").write_text(json.dumps({"workspaces": entries}), encoding="utf-8")
        env.setenv("MFA_WORKSPACES_FILE", str(tmp_path / "workspaces.json"))
        env.setenv("CONTOSO_KEY", SECRET)
        # fabrikam's secret is an unresolved Key Vault reference (the platform could not read the vault).
        env.setenv("FABRIKAM_KEY", "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/fabrikam/)")
        run = ["run", "--source", "loganalytics", "--endpoint", farm.endpoint, "--state", state, "--no-console"]
        code, out, err = call(*run, "--now", "2026-11-28T10:05Z")
        assert code == 1
        assert "1 of 2 workspace(s) failed: fabrikam: workspace fabrikam (" in err
        assert "the app setting 'FABRIKAM_KEY' is an unresolved Key Vault reference" in err
        assert "its alerts wait in its outbox until its destinations are fixed" in err
        assert "kv.vault" not in err + out
        assert len(contoso_hook.requests) == 1  # the other workspace delivered
        assert fabrikam_hook.requests == []
        status = json.loads(call("status", "--state", state, "--format", "json")[1])
        fabrikam = {entry["name"]: entry["state"] for entry in status["workspaces"]}["fabrikam"]
        assert fabrikam["checkpoint"] == "2026-11-28T10:00:00Z"  # evaluated all the same
        assert [item["sink"] for item in fabrikam["pending"]] == ["unrouted"]  # its alert, kept for it
        assert "unresolved Key Vault reference" in fabrikam["last_run"]["error"]
        env.setenv("FABRIKAM_KEY", SECRET)  # fixed
        code, _, err = call(*run, "--now", "2026-11-28T11:05Z")
        assert code == 0, err
    windows = sorted(json.loads(request.body)["window"]["start"] for request in fabrikam_hook.requests)
    assert windows == ["2026-11-28T09:00:00Z", "2026-11-28T10:00:00Z"]  # the waiting one, then the new one
    assert all(json.loads(r.body)["workspace"]["name"] == "fabrikam" for r in fabrikam_hook.requests)
