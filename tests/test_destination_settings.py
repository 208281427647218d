"""The native destinations' settings: each configured whole or not at all, secrets never echoed."""

from __future__ import annotations

import pytest

from shared.errors import ConfigError
from shared.settings import load_settings

KEY = "R0123456789abcdefABCDEF012345678"
TOKEN = "ATATT3xFfGF0-jira-api-token"
PASSWORD = "s3rvice-n0w-pa55"
JIRA = {
    "MFA_JIRA_URL": "https://acme.atlassian.net/",
    "MFA_JIRA_PROJECT": "SEC",
    "MFA_JIRA_EMAIL": "soc-bot@acme.example",
    "MFA_JIRA_API_TOKEN": TOKEN,
}
RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.OperationalInsights/workspaces/ws"
)


def error_of(**settings: object) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(**settings)
    return str(caught.value)


def test_each_destination_counts_as_a_sink() -> None:
    assert load_settings(MFA_PAGERDUTY_ROUTING_KEY=KEY).has_sink
    assert load_settings(MFA_SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T0/B0/x").has_sink
    assert load_settings(**JIRA).has_sink
    sn = load_settings(
        MFA_SERVICENOW_URL="https://acme.service-now.com", MFA_SERVICENOW_USER="u", MFA_SERVICENOW_PASSWORD=PASSWORD
    )
    assert sn.has_sink
    assert not load_settings().has_sink


def test_defaults_are_the_documented_ones() -> None:
    settings = load_settings(**JIRA)
    assert settings.pagerduty_url == "https://events.pagerduty.com/v2/enqueue"
    assert settings.jira_issue_type == "Task"
    assert settings.jira_url == "https://acme.atlassian.net"
    assert settings.servicenow_table == "incident"


def test_half_a_jira_names_every_missing_setting() -> None:
    message = error_of(MFA_JIRA_URL="https://acme.atlassian.net")
    for name in ("MFA_JIRA_PROJECT", "MFA_JIRA_EMAIL", "MFA_JIRA_API_TOKEN"):
        assert f"{name}: required" in message


def test_servicenow_needs_one_way_to_sign_in() -> None:
    url = {"MFA_SERVICENOW_URL": "https://acme.service-now.com"}
    assert "MFA_SERVICENOW_USER: required" in error_of(**url, MFA_SERVICENOW_USER="u")
    assert "not both" in error_of(
        **url,
        MFA_SERVICENOW_USER="u",
        MFA_SERVICENOW_PASSWORD=PASSWORD,
        MFA_SERVICENOW_CLIENT_ID="c",
        MFA_SERVICENOW_CLIENT_SECRET="s",
    )
    assert "MFA_SERVICENOW_URL: required" in error_of(MFA_SERVICENOW_USER="u", MFA_SERVICENOW_PASSWORD=PASSWORD)
    oauth = load_settings(**url, MFA_SERVICENOW_CLIENT_ID="c", MFA_SERVICENOW_CLIENT_SECRET="s")
    assert oauth.servicenow_client_id == "c"


@pytest.mark.parametrize(
    ("setting", "value", "says"),
    [
        ("MFA_PAGERDUTY_ROUTING_KEY", "short", "32 letters and digits"),
        ("MFA_JIRA_PROJECT", "sec team", "Jira project key"),
        ("MFA_JIRA_EMAIL", "not-an-email", "email address"),
        ("MFA_SERVICENOW_TABLE", "incident^ORDERBY", "table name"),
        ("MFA_JIRA_ISSUE_TYPE", "Task\n", "issue type"),
        ("MFA_WORKSPACE_RESOURCE_ID", "/subscriptions/x/workspaces/y", "resource id"),
        ("MFA_PAGERDUTY_URL", "http://events.example/v2/enqueue", "https"),
        ("MFA_JIRA_URL", "ftp://acme", "https"),
    ],
)
def test_a_bad_value_is_refused_by_name(setting: str, value: str, says: str) -> None:
    message = error_of(**{setting: value})
    assert f"{setting}: " in message
    assert says in message


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("MFA_PAGERDUTY_ROUTING_KEY", "x" * 31 + "!"),
        ("MFA_JIRA_API_TOKEN", TOKEN + " \n"),
        ("MFA_SERVICENOW_PASSWORD", PASSWORD + "\n"),
        ("MFA_SLACK_WEBHOOK_URL", "http://hooks.slack.example/services/T0/B0/sekrit-value"),
    ],
)
def test_a_bad_secret_is_refused_without_being_echoed(setting: str, value: str) -> None:
    message = error_of(**{setting: value})
    assert f"{setting}: " in message
    assert value.strip() not in message
    assert "sekrit" not in message


def test_an_unresolved_key_vault_reference_says_so() -> None:
    reference = "@Microsoft.KeyVault(SecretUri=https://kv.vault.azure.net/secrets/mfa-jira-api-token)"
    assert "unresolved Key Vault reference" in error_of(**{**JIRA, "MFA_JIRA_API_TOKEN": reference})


def test_blank_destination_settings_are_unset() -> None:
    settings = load_settings(MFA_JIRA_URL=" ", MFA_PAGERDUTY_ROUTING_KEY="", MFA_WORKSPACE_RESOURCE_ID="")
    assert settings.jira_url is None
    assert settings.pagerduty_routing_key is None
    assert settings.workspace_resource_id is None


def test_every_secret_is_handed_to_redaction() -> None:
    settings = load_settings(
        **JIRA,
        MFA_PAGERDUTY_ROUTING_KEY=KEY,
        MFA_SERVICENOW_URL="https://acme.service-now.com",
        MFA_SERVICENOW_USER="u",
        MFA_SERVICENOW_PASSWORD=PASSWORD,
        MFA_SLACK_WEBHOOK_URL="https://hooks.slack.com/services/T0/B0/slack-secret-part",
        MFA_WORKSPACE_RESOURCE_ID=RESOURCE,
    )
    urls, keys = settings.secrets()
    assert "https://hooks.slack.com/services/T0/B0/slack-secret-part" in urls
    assert {KEY, TOKEN, PASSWORD} <= set(keys)
    assert settings.workspace_resource_id == RESOURCE
