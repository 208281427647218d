"""One workspace's settings: its own destinations replace the global ones; without, the global ones apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from shared.workspace_settings import settings_for

A = "6c1b2f4e-1111-2222-3333-444455556666"
B = "7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff"
RESOURCE = f"/subscriptions/{B}/resourceGroups/rg/providers/Microsoft.OperationalInsights/workspaces/law"
GLOBAL_SLACK = "https://hooks.slack.com/services/T0/B0/global"


def deployment(tmp_path: Path, entries: list[dict[str, object]], **overrides: object) -> Settings:
    path = tmp_path / "workspaces.json"
    path.write_text(json.dumps({"workspaces": entries}), encoding="utf-8")
    return load_settings(
        MFA_SOURCE="loganalytics", MFA_WORKSPACES_FILE=str(path), MFA_SLACK_WEBHOOK_URL=GLOBAL_SLACK, **overrides
    )


def test_own_destinations_replace_every_global_one(tmp_path: Path) -> None:
    settings = deployment(
        tmp_path,
        [{"name": "contoso", "id": A, "destinations": {"MFA_TEAMS_WEBHOOK_URL": "https://example.org/contoso"}}],
    )
    own = settings_for(settings, settings.workspaces[0])
    assert own.teams_webhook_url is not None
    assert own.teams_webhook_url.get_secret_value() == "https://example.org/contoso"
    assert own.slack_webhook_url is None
    assert (own.workspace_id, own.workspaces[0].id) == (A, A)


def test_without_destinations_the_global_ones_apply(tmp_path: Path) -> None:
    settings = deployment(tmp_path, [{"name": "contoso", "id": A}, {"name": "fabrikam", "id": B}])
    own = settings_for(settings, settings.workspaces[1])
    assert own.slack_webhook_url is not None
    assert own.slack_webhook_url.get_secret_value() == GLOBAL_SLACK
    assert own.workspace_id == B


def test_endpoint_and_resource_id_are_the_workspaces_own(tmp_path: Path) -> None:
    settings = deployment(
        tmp_path,
        [{"name": "gov", "id": A, "endpoint": "https://api.loganalytics.us", "resourceId": RESOURCE}, {"id": B}],
        MFA_WORKSPACE_RESOURCE_ID=RESOURCE.replace("law", "other"),
    )
    gov, other = (settings_for(settings, workspace) for workspace in settings.workspaces)
    assert (gov.la_endpoint, gov.workspace_resource_id) == ("https://api.loganalytics.us", RESOURCE)
    # The global resource id names one workspace: never another's link target.
    assert (other.la_endpoint, other.workspace_resource_id) == ("https://api.loganalytics.io", None)


def test_a_bad_destination_names_the_workspace_and_the_setting(tmp_path: Path) -> None:
    settings = deployment(
        tmp_path, [{"name": "fabrikam", "id": B, "destinations": {"MFA_WEBHOOK_URL": "https://example.org/x"}}]
    )
    with pytest.raises(ConfigError, match=rf"workspace fabrikam \({B}\): .*MFA_WEBHOOK_SECRET: required"):
        settings_for(settings, settings.workspaces[0])


def test_secrets_of_a_workspace_are_redacted_by_its_settings(tmp_path: Path) -> None:
    hook = "https://example.org/hook?sig=workspace-secret"
    settings = deployment(tmp_path, [{"name": "c", "id": A, "destinations": {"MFA_TEAMS_WEBHOOK_URL": hook}}])
    urls, _ = settings_for(settings, settings.workspaces[0]).secrets()
    assert urls == [hook]
