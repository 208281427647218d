"""The delivery settings of infra/main.bicep as tables, and what a deployment's app settings would be.

``SECRET_SETTINGS`` lists every secret setting with the Key Vault secret behind it; the tests compare
it with the code (the ``SecretStr`` fields of ``shared.settings.Settings``) and with the template, so
a secret added on either side without the other fails.

``deployed_settings`` evaluates the function app's ``appSettings`` for given parameters the way
Azure would: the secrets the template creates (those given) are in the vault, a Key Vault reference
to one of them resolves to its value, and a reference to a secret that does not exist stays the
literal ``@Microsoft.KeyVault(...)`` text (what App Service does with an unresolved reference).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.infra.bicep_tree import Template, UnresolvedError, render

KEY_VAULT_SECRET_TYPE = "Microsoft.KeyVault/vaults/secrets"
REFERENCE = re.compile(r"@Microsoft\.KeyVault\(SecretUri=\$\{secretUriPrefix\}\$\{(\w+)\}\)")
VAULT_URI = "https://kvmfarejected0000000000000.vault.azure.net/"


@dataclass(frozen=True)
class SecretSetting:
    """A secret app setting: ``condition ? <Key Vault reference> : ''``, the vault secret created from
    ``parameter`` by resource ``resource`` only when the parameter is not empty."""

    setting: str
    condition: str
    secret_name: str
    parameter: str
    resource: str


SECRET_SETTINGS = (
    SecretSetting(
        "MFA_TEAMS_WEBHOOK_URL", "deliverToTeams", "mfa-teams-webhook-url", "teamsWebhookUrl", "teamsWebhookSecret"
    ),
    SecretSetting("MFA_WEBHOOK_URL", "deliverToWebhook", "mfa-webhook-url", "webhookUrl", "webhookUrlSecret"),
    SecretSetting(
        "MFA_WEBHOOK_SECRET", "deliverToWebhook", "mfa-webhook-secret", "webhookSecret", "webhookSigningSecret"
    ),
    SecretSetting(
        "MFA_SLACK_WEBHOOK_URL", "deliverToSlack", "mfa-slack-webhook-url", "slackWebhookUrl", "slackWebhookSecret"
    ),
    SecretSetting(
        "MFA_PAGERDUTY_ROUTING_KEY",
        "deliverToPagerDuty",
        "mfa-pagerduty-routing-key",
        "pagerDutyRoutingKey",
        "pagerDutyRoutingKeySecret",
    ),
    SecretSetting("MFA_JIRA_API_TOKEN", "deliverToJira", "mfa-jira-api-token", "jiraApiToken", "jiraApiTokenSecret"),
    SecretSetting(
        "MFA_SERVICENOW_PASSWORD",
        "serviceNowBasicAuth",
        "mfa-servicenow-password",
        "serviceNowPassword",
        "serviceNowPasswordSecret",
    ),
    SecretSetting(
        "MFA_SERVICENOW_CLIENT_SECRET",
        "serviceNowOAuth",
        "mfa-servicenow-client-secret",
        "serviceNowClientSecret",
        "serviceNowClientSecretSecret",
    ),
)

# The native destinations' non-secret settings: setting -> (parameter, the destination's switch, or
# None when the code has a default and a blank value would be refused rather than read as unset).
PLAIN_DESTINATION_SETTINGS: dict[str, tuple[str, str | None]] = {
    "MFA_PAGERDUTY_URL": ("pagerDutyUrl", None),
    "MFA_JIRA_URL": ("jiraUrl", "deliverToJira"),
    "MFA_JIRA_PROJECT": ("jiraProject", "deliverToJira"),
    "MFA_JIRA_ISSUE_TYPE": ("jiraIssueType", None),
    "MFA_JIRA_EMAIL": ("jiraEmail", "deliverToJira"),
    "MFA_SERVICENOW_URL": ("serviceNowUrl", "deliverToServiceNow"),
    "MFA_SERVICENOW_TABLE": ("serviceNowTable", None),
    "MFA_SERVICENOW_USER": ("serviceNowUser", "deliverToServiceNow"),
    "MFA_SERVICENOW_CLIENT_ID": ("serviceNowClientId", "deliverToServiceNow"),
}

DESTINATION_SWITCHES = ("deliverToSlack", "deliverToPagerDuty", "deliverToJira", "deliverToServiceNow")

# Values only Azure knows, by the expression the template reads them from.
DEPLOY_TIME = {
    "identity.properties.clientId": "5b0f1c33-8a7e-4c41-9d55-0c1f7e9a2b10",
    "workspaceReader.outputs.customerId": "0f8e6a52-3c1d-4b7a-9e21-6d5c4b3a2f10",
    "workspaceReader.outputs.workspaceResourceId": (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel"
        "/providers/Microsoft.OperationalInsights/workspaces/law-sentinel"
    ),
    "storage.name": "stmfarejected0000000000000",
    "stateTable.name": "MfaRejectedState",
    "environment().suffixes.storage": "core.windows.net",
    "appInsights.properties.ConnectionString": "InstrumentationKey=placeholder",
}


def app_settings(template: Template) -> dict[str, Any]:
    """Setting name -> value node, from the function app's siteConfig.appSettings."""
    entries = template.resource("functionApp")["properties"]["siteConfig"]["appSettings"]
    return {entry["name"]: entry["value"] for entry in entries}


def deployed_settings(template: Template, given: dict[str, Any]) -> dict[str, str]:
    """Every app setting's value after deploying with ``given`` parameters (the others default)."""
    vault = _vault(template, given)
    values: dict[str, str] = {}
    for name, node in app_settings(template).items():
        value = _evaluate(template, node, given, vault)
        values[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return values


def _vault(template: Template, given: dict[str, Any]) -> dict[str, str]:
    """Secret name -> value, for each Key Vault secret the deployment creates."""
    vault: dict[str, str] = {}
    for symbol, body in template.of_type(KEY_VAULT_SECRET_TYPE).items():
        condition = template.resources[symbol]["config"].get("condition")
        if condition is None or _evaluate(template, condition, given, {}):
            vault[template.resolve(body["name"])] = _evaluate(template, body["properties"]["value"], given, {})
    return vault


def _evaluate(template: Template, node: Any, given: dict[str, Any], vault: dict[str, str]) -> Any:
    if isinstance(node, bool | int | float) or node is None:
        return node
    if isinstance(node, str):
        return _evaluate_name(template, node, given, vault)
    if "operator" in node:
        return _evaluate_operator(template, node["operator"], given, vault)
    function = node["function"]
    arguments = [_evaluate(template, value, given, vault) for value in function["parameters"].values()]
    if function["type"] == "empty":
        return not arguments[0]
    if function["type"] == "string":
        return str(arguments[0]).lower() if isinstance(arguments[0], bool) else str(arguments[0])
    return _deploy_time(render(node))


def _evaluate_name(template: Template, text: str, given: dict[str, Any], vault: dict[str, str]) -> Any:
    if text in given:
        return given[text]
    if text in template.parameters:
        return template.resolve(text)
    if text in template.variables:
        value = template.variable(text)
        reference = REFERENCE.fullmatch(value) if isinstance(value, str) else None
        if reference:
            secret = template.resolve(reference.group(1))
            # App Service keeps an unresolvable reference's text as the setting's value.
            return vault.get(secret, f"@Microsoft.KeyVault(SecretUri={VAULT_URI}secrets/{secret})")
        return _evaluate(template, value, given, vault)
    return re.sub(r"\$\{([^}]+)\}", lambda match: str(_deploy_time(match.group(1))), text)


def _evaluate_operator(
    template: Template, operator: dict[str, Any], given: dict[str, Any], vault: dict[str, str]
) -> Any:
    kind, operands = operator["type"], operator["operands"]
    if kind == "conditional":
        branch = "true_value" if _evaluate(template, operands["condition"], given, vault) else "false_value"
        return _evaluate(template, operands[branch], given, vault)
    if kind == "not":
        return not _evaluate(template, operands["bool_value"], given, vault)
    if kind in ("and", "or"):
        values = [bool(_evaluate(template, value, given, vault)) for value in operands.values()]
        return all(values) if kind == "and" else any(values)
    return _deploy_time(render({"operator": operator}))


def _deploy_time(expression: str) -> str:
    if expression not in DEPLOY_TIME:
        raise UnresolvedError(f"no deploy-time value for {expression}")
    return DEPLOY_TIME[expression]
