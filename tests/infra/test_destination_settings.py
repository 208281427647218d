"""The native destinations (Slack, PagerDuty, Jira Cloud, ServiceNow) in infra/main.bicep: every secret
is a Key Vault secret the app setting references, created only when given, from an @secure()
parameter; the other settings are plain parameters; one switch per destination turns its settings on
or empties them; and a deployment's app settings load as the code reads them."""

from __future__ import annotations

import re
import typing
from typing import Any

import pytest
from pydantic import SecretStr

from shared.destination_settings import DestinationSettings
from shared.errors import ConfigError
from shared.settings import Settings, load_settings, setting_names
from tests.infra.bicep_tree import Template, render
from tests.infra.delivery_secrets import (
    DEPLOY_TIME,
    DESTINATION_SWITCHES,
    KEY_VAULT_SECRET_TYPE,
    PLAIN_DESTINATION_SETTINGS,
    SECRET_SETTINGS,
    app_settings,
    deployed_settings,
)

# Read by the Functions host or the Application Insights agent, not by shared/settings.py.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsFeatureFlags",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}
# A connection string, which the template never sets (test_main_bicep.LEFT_TO_DEFAULT).
NOT_DEPLOYED_SECRETS = {"AzureWebJobsStorage"}
# Parameter names that look like secrets and are not: object ids of a principal and its type.
NOT_SECRETS = {"secretsOfficerPrincipalId", "secretsOfficerPrincipalType"}
SECRET_LOOKING = re.compile(r"secret|password|token|routingkey|webhookurl|apikey", re.IGNORECASE)

SLACK_URL = "https://hooks.slack.com/services/T0000000/B0000000/abcdefghijklmnopqrstuvwx"
ROUTING_KEY = "R0ut1ngKeyR0ut1ngKeyR0ut1ngKey12"
NO_TEAMS = {"deliverToTeams": False}  # its reference would stay unresolved: no Teams URL is given

# Parameters of one destination switched on with its secrets given -> the attributes it sets.
DESTINATIONS: dict[str, tuple[dict[str, Any], dict[str, str]]] = {
    "slack": (
        {"deliverToSlack": True, "slackWebhookUrl": SLACK_URL},
        {"slack_webhook_url": SLACK_URL},
    ),
    "pagerduty": (
        {"deliverToPagerDuty": True, "pagerDutyRoutingKey": ROUTING_KEY},
        {"pagerduty_routing_key": ROUTING_KEY, "pagerduty_url": "https://events.pagerduty.com/v2/enqueue"},
    ),
    "jira": (
        {
            "deliverToJira": True,
            "jiraUrl": "https://example.atlassian.net",
            "jiraProject": "SEC",
            "jiraEmail": "soc-bot@example.com",
            "jiraApiToken": "ATATT3xFfGF0-token",
        },
        {
            "jira_url": "https://example.atlassian.net",
            "jira_project": "SEC",
            "jira_issue_type": "Task",
            "jira_email": "soc-bot@example.com",
            "jira_api_token": "ATATT3xFfGF0-token",
        },
    ),
    "servicenow-basic": (
        {
            "deliverToServiceNow": True,
            "serviceNowUrl": "https://example.service-now.com",
            "serviceNowUser": "mfa.rejected",
            "serviceNowPassword": "pa55-word",
        },
        {
            "servicenow_url": "https://example.service-now.com",
            "servicenow_table": "incident",
            "servicenow_user": "mfa.rejected",
            "servicenow_password": "pa55-word",
        },
    ),
    "servicenow-oauth": (
        {
            "deliverToServiceNow": True,
            "serviceNowUrl": "https://example.service-now.com",
            "serviceNowClientId": "0123456789abcdef0123456789abcdef",
            "serviceNowClientSecret": "client-secret",
        },
        {
            "servicenow_url": "https://example.service-now.com",
            "servicenow_client_id": "0123456789abcdef0123456789abcdef",
            "servicenow_client_secret": "client-secret",
        },
    ),
}
# Each secret of a native destination -> the destination (above) that gives it.
NEW_SECRETS = {
    "MFA_SLACK_WEBHOOK_URL": "slack",
    "MFA_PAGERDUTY_ROUTING_KEY": "pagerduty",
    "MFA_JIRA_API_TOKEN": "jira",
    "MFA_SERVICENOW_PASSWORD": "servicenow-basic",
    "MFA_SERVICENOW_CLIENT_SECRET": "servicenow-oauth",
}
DESTINATION_SECRETS = [entry for entry in SECRET_SETTINGS if entry.setting in NEW_SECRETS]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)


def load_deployed(template: Template, given: dict[str, Any]) -> Settings:
    """The settings the app reads after a deployment with ``given`` parameters."""
    values = deployed_settings(template, given)
    return load_settings(**{name: value for name, value in values.items() if name not in PLATFORM_SETTINGS})


def secure_parameters(template: Template) -> set[str]:
    return {name for name in template.parameters if template.decorators(name).get("secure")}


def destination_values(settings: Settings) -> dict[str, Any]:
    """Attribute -> plain value of each destination field that is set (``None`` ones left out)."""
    values = {}
    for attribute in DestinationSettings.model_fields:
        value = getattr(settings, attribute)
        if value is not None and attribute != "workspace_resource_id":
            values[attribute] = value.get_secret_value() if isinstance(value, SecretStr) else value
    return values


# --- the tables agree with the code and the template ------------------------------------------


def test_every_secret_setting_of_the_code_is_deployed_as_a_key_vault_secret() -> None:
    secret_fields = {
        field.alias or name
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *typing.get_args(field.annotation))
    }
    assert secret_fields - NOT_DEPLOYED_SECRETS == {entry.setting for entry in SECRET_SETTINGS}


def test_every_key_vault_secret_of_the_template_backs_a_secret_setting(main_template: Template) -> None:
    assert set(main_template.of_type(KEY_VAULT_SECRET_TYPE)) == {entry.resource for entry in SECRET_SETTINGS}


def test_every_destination_setting_is_either_secret_or_plain() -> None:
    destination = {field.alias for field in DestinationSettings.model_fields.values()}
    secret = {entry.setting for entry in SECRET_SETTINGS} & destination
    assert secret == set(NEW_SECRETS)
    assert destination == secret | PLAIN_DESTINATION_SETTINGS.keys() | {"MFA_WORKSPACE_RESOURCE_ID"}


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_parameter_lacks_secure(main_template: Template) -> None:
    secure = secure_parameters(main_template)
    feeding_the_vault = {body["properties"]["value"] for body in main_template.of_type(KEY_VAULT_SECRET_TYPE).values()}
    assert feeding_the_vault <= secure
    looks_secret = {name for name in main_template.parameters if SECRET_LOOKING.search(name)} - NOT_SECRETS
    assert looks_secret <= secure, looks_secret - secure
    # runHealthWebhookUrl goes to the run-health action group only (test_run_health_alerts.py).
    assert secure == {entry.parameter for entry in SECRET_SETTINGS} | {"runHealthWebhookUrl"}
    for name in secure:
        assert main_template.parameters[name]["type"] == "string", name
        assert main_template.resolve(name) == "", f"{name}: a secret's default would sit in the template"


def test_no_secret_reaches_an_output(main_template: Template, reader_template: Template) -> None:
    secret_symbols = (
        secure_parameters(main_template)
        | {entry.resource for entry in SECRET_SETTINGS}
        | {name for name, body in main_template.variables.items() if "@Microsoft.KeyVault(" in render(body["value"])}
    )
    for template in (main_template, reader_template):
        for name, output in template.outputs.items():
            text = render(output["value"])
            assert not any(re.search(rf"\b{symbol}\b", text) for symbol in secret_symbols), name
            assert "secret" not in text.lower(), name


@pytest.mark.parametrize("entry", DESTINATION_SECRETS, ids=lambda entry: entry.setting)
def test_a_secret_is_stored_only_when_given(main_template: Template, entry: Any, clean_environment: None) -> None:
    given, _ = DESTINATIONS[NEW_SECRETS[entry.setting]]
    stored = {**NO_TEAMS, **given}
    assert deployed_settings(main_template, stored)[entry.setting] == given[entry.parameter]
    # Not given: no vault secret, so the reference stays unresolved and the app names the setting.
    unset = {**NO_TEAMS, **{key: value for key, value in given.items() if key != entry.parameter}}
    value = deployed_settings(main_template, unset)[entry.setting]
    assert value.startswith("@Microsoft.KeyVault(SecretUri=https://")
    assert value.endswith(f"/secrets/{entry.secret_name})")
    with pytest.raises(ConfigError, match=rf"{entry.setting}: is an unresolved Key Vault reference"):
        load_deployed(main_template, unset)


def test_servicenow_references_only_the_secret_of_the_credential_given(main_template: Template) -> None:
    assert render(main_template.variable("serviceNowBasicAuth")) == "and(deliverToServiceNow, !empty(serviceNowUser))"
    assert render(main_template.variable("serviceNowOAuth")) == "and(deliverToServiceNow, !empty(serviceNowClientId))"


# --- plain settings and switches --------------------------------------------------------------


@pytest.mark.parametrize("setting", sorted(PLAIN_DESTINATION_SETTINGS))
def test_non_secret_settings_are_plain_parameters(main_template: Template, setting: str) -> None:
    parameter, switch = PLAIN_DESTINATION_SETTINGS[setting]
    value = app_settings(main_template)[setting]
    expected = parameter if switch is None else f"{switch} ? {parameter} : "
    assert render(value) == expected
    assert "KeyVault" not in render(value)
    assert main_template.parameters[parameter]["type"] == "string"
    decorators = main_template.decorators(parameter)
    assert "secure" not in decorators
    assert decorators["description"].startswith(f"{setting}: ")


@pytest.mark.parametrize("switch", DESTINATION_SWITCHES)
def test_each_destination_has_one_switch_off_by_default(main_template: Template, switch: str) -> None:
    body = main_template.parameters[switch]
    assert body["type"] == "bool"
    assert body["default"] is False
    description = main_template.decorators(switch)["description"]
    conditions = {switch} | {
        name for name in ("serviceNowBasicAuth", "serviceNowOAuth") if switch in render(main_template.variable(name))
    }
    for entry in SECRET_SETTINGS:
        if entry.condition in conditions:
            assert f'"{entry.secret_name}"' in description, entry.secret_name


def test_defaults_configure_no_native_destination(main_template: Template, clean_environment: None) -> None:
    settings = load_deployed(main_template, {**NO_TEAMS, "allowNoSink": True})
    assert destination_values(settings) == {
        "pagerduty_url": "https://events.pagerduty.com/v2/enqueue",
        "jira_issue_type": "Task",
        "servicenow_table": "incident",
    }


@pytest.mark.parametrize("destination", sorted(DESTINATIONS))
def test_a_destination_switched_on_with_its_secrets_loads(
    main_template: Template, destination: str, clean_environment: None
) -> None:
    given, expected = DESTINATIONS[destination]
    settings = load_deployed(main_template, {**NO_TEAMS, **given})
    defaults = {"pagerduty_url": "https://events.pagerduty.com/v2/enqueue", "jira_issue_type": "Task"}
    assert destination_values(settings) == {**defaults, "servicenow_table": "incident", **expected}
    assert settings.has_sink


def test_a_switch_off_empties_its_destination_whatever_is_given(
    main_template: Template, clean_environment: None
) -> None:
    given = {key: value for parameters, _ in DESTINATIONS.values() for key, value in parameters.items()}
    switched_off = {**given, **dict.fromkeys(DESTINATION_SWITCHES, False), **NO_TEAMS, "allowNoSink": True}
    settings = load_deployed(main_template, switched_off)
    assert set(destination_values(settings)) == {"pagerduty_url", "jira_issue_type", "servicenow_table"}


def test_servicenow_with_both_credentials_is_refused_not_guessed(
    main_template: Template, clean_environment: None
) -> None:
    basic, _ = DESTINATIONS["servicenow-basic"]
    oauth, _ = DESTINATIONS["servicenow-oauth"]
    with pytest.raises(ConfigError, match="not both"):
        load_deployed(main_template, {**NO_TEAMS, **basic, **oauth})


def test_workspace_resource_id_is_the_target_workspaces(main_template: Template, clean_environment: None) -> None:
    setting = app_settings(main_template)["MFA_WORKSPACE_RESOURCE_ID"]
    # Empty with additionalWorkspaces: each workspace's resource id goes in a workspaces file.
    assert render(setting) == "manyWorkspaces ?  : workspaceReader.outputs.workspaceResourceId"
    settings = load_deployed(main_template, {**NO_TEAMS, **DESTINATIONS["slack"][0]})
    assert settings.workspace_resource_id == DEPLOY_TIME["workspaceReader.outputs.workspaceResourceId"]


def test_module_output_is_the_existing_target_workspaces_id(reader_template: Template) -> None:
    assert render(reader_template.outputs["workspaceResourceId"]["value"]) == "workspace.id"
    workspace = reader_template.resources["workspace"]
    assert workspace["type"] == "Microsoft.OperationalInsights/workspaces"
    assert workspace["existing"] is True
    assert workspace["config"]["name"] == "workspaceName"
