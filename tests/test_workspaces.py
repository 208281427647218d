"""The workspaces a deployment watches: the list setting and the file, every problem naming its entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import load_settings
from shared.workspaces import (
    SettingRef,
    WorkspaceConfigError,
    load_workspaces_file,
    parse_workspace_list,
    resolved_destinations,
)

A = "6c1b2f4e-1111-2222-3333-444455556666"
B = "7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff"


def write(tmp_path: Path, document: object) -> Path:
    path = tmp_path / "workspaces.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document), encoding="utf-8")
    return path


def test_one_guid_is_the_original_single_workspace_form() -> None:
    [workspace] = parse_workspace_list(A.upper())
    assert (workspace.name, workspace.id, workspace.scoped) == (A, A, False)


def test_a_named_list_gives_streams_of_their_own_in_order() -> None:
    workspaces = parse_workspace_list(f" contoso={A} , {B}")
    assert [(w.name, w.id, w.scoped) for w in workspaces] == [("contoso", A, True), (B, B, True)]
    assert workspaces[0].label == f"contoso ({A})"
    assert workspaces[1].label == B


def test_one_named_guid_is_a_stream_of_its_own() -> None:
    [workspace] = parse_workspace_list(f"contoso={A}")
    assert workspace.scoped


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (f"contoso={A},fabrikam=nope", "entry 2 ('fabrikam=nope'): 'nope' is not a workspace GUID"),
        (f"contoso={A},", "entry 2 is empty"),
        (f"contoso={A},CONTOSO={B}", "entries 1 and 2 have the same name"),
        (f"contoso={A},fabrikam={A.upper()}", "entries 1 and 2 have the same GUID"),
        (f"con toso={A}", "entry 1 ('con toso="),
        (f"={A}", "name '' must be"),
    ],
)
def test_bad_list_entries_are_named(text: str, message: str) -> None:
    with pytest.raises(WorkspaceConfigError, match=r"^LOG_ANALYTICS_WORKSPACE_ID") as caught:
        parse_workspace_list(text)
    assert message in str(caught.value)


def test_bad_entries_stop_the_settings_with_the_entry_named() -> None:
    with pytest.raises(ConfigError, match=r"LOG_ANALYTICS_WORKSPACE_ID: entry 2 \('b=x'\)"):
        load_settings(MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID=f"a={A},b=x", MFA_ALLOW_NO_SINK=True)


def test_the_list_and_the_file_are_one_or_the_other(tmp_path: Path) -> None:
    path = write(tmp_path, {"workspaces": [{"id": A}]})
    with pytest.raises(ConfigError, match="set one or the other"):
        load_settings(LOG_ANALYTICS_WORKSPACE_ID=A, MFA_WORKSPACES_FILE=str(path))


def test_the_file_gives_endpoints_resource_ids_and_destinations(tmp_path: Path) -> None:
    resource = f"/subscriptions/{B}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law"
    path = write(
        tmp_path,
        {
            "$schema": "./workspaces.schema.json",
            "workspaces": [
                {
                    "name": "contoso",
                    "id": A,
                    "endpoint": "https://api.loganalytics.us/",
                    "resourceId": resource,
                    "destinations": {"MFA_TEAMS_WEBHOOK_URL": {"setting": "CONTOSO_TEAMS"}},
                },
                {"id": B},
            ],
        },
    )
    contoso, other = load_workspaces_file(path)
    assert (contoso.name, contoso.endpoint, contoso.resource_id) == ("contoso", "https://api.loganalytics.us", resource)
    # Read from its app setting when the workspace runs, not when the file is read.
    assert dict(contoso.destinations or {}) == {"MFA_TEAMS_WEBHOOK_URL": SettingRef("CONTOSO_TEAMS")}
    assert resolved_destinations(contoso, environ={"CONTOSO_TEAMS": "https://example.org/hook?sig=s3cret"}) == {
        "MFA_TEAMS_WEBHOOK_URL": "https://example.org/hook?sig=s3cret"
    }
    assert (other.name, other.destinations, other.scoped) == (B, None, True)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "not JSON: line 1, column 2"),
        ([], 'expected an object {"workspaces": [...]}'),
        ({"workspaces": []}, "lists no workspace"),
        ({"workspaces": [], "extra": 1}, "unknown key(s) 'extra'"),
        ({"workspaces": ["x"]}, "workspace 1: expected an object"),
        ({"workspaces": [{"name": "a"}]}, "workspace 1 ('a'): has no id"),
        ({"workspaces": [{"name": "a", "id": A, "colour": "red"}]}, "workspace 1 ('a'): unknown key(s) 'colour'"),
        ({"workspaces": [{"name": "a", "id": A}, {"name": "A", "id": B}]}, "entries 1 and 2 have the same name"),
        ({"workspaces": [{"id": A, "endpoint": "http://example.org"}]}, "endpoint: must use https"),
        ({"workspaces": [{"id": A, "resourceId": "/nope"}]}, "resourceId must be /subscriptions/"),
        ({"workspaces": [{"id": A, "destinations": {"MFA_STATE": "x"}}]}, "'MFA_STATE' is not a destination setting"),
        ({"workspaces": [{"id": A, "destinations": {"MFA_TEAMS_WEBHOOK_URL": 5}}]}, 'expected a string or {"setting"'),
        ({"workspaces": [{"id": A, "destinations": {"MFA_TEAMS_WEBHOOK_URL": {"setting": ""}}}]}, 'or {"setting"'),
    ],
)
def test_bad_files_are_refused_naming_the_file_and_the_entry(tmp_path: Path, document: object, message: str) -> None:
    path = write(tmp_path, document)
    with pytest.raises(WorkspaceConfigError) as caught:
        load_workspaces_file(path)
    assert str(caught.value).startswith(f"MFA_WORKSPACES_FILE {path}")
    assert message in str(caught.value)


def test_an_unset_app_setting_is_named_when_the_workspace_runs(tmp_path: Path) -> None:
    path = write(tmp_path, {"workspaces": [{"id": A, "destinations": {"MFA_SLACK_WEBHOOK_URL": {"setting": "S"}}}]})
    [workspace] = load_workspaces_file(path)  # reading the file does not need it
    with pytest.raises(WorkspaceConfigError) as caught:
        resolved_destinations(workspace, environ={"S": " "})
    assert (
        str(caught.value)
        == f"workspace {A}: destinations: MFA_SLACK_WEBHOOK_URL: the app setting 'S' it names is not set"
    )


def test_an_unresolved_key_vault_reference_is_named_not_shown(tmp_path: Path) -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/teams/)"
    path = write(tmp_path, {"workspaces": [{"id": A, "destinations": {"MFA_SLACK_WEBHOOK_URL": {"setting": "S"}}}]})
    [workspace] = load_workspaces_file(path)
    with pytest.raises(WorkspaceConfigError, match="unresolved Key Vault reference") as caught:
        resolved_destinations(workspace, environ={"S": reference})
    assert "kv.vault" not in str(caught.value)


def test_a_literal_destination_value_is_never_echoed_in_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, {"workspaces": [{"id": A, "destinations": {"MFA_TEAMS_WEBHOOK_URL": ["https://x/?sig=k"]}}]})
    with pytest.raises(WorkspaceConfigError) as caught:
        load_workspaces_file(path)
    assert "sig=k" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"MFA_WORKSPACES_FILE .*missing\.json: cannot be read"):
        load_settings(MFA_WORKSPACES_FILE=str(tmp_path / "missing.json"))
