"""The settings of the native destinations (Slack, PagerDuty, Jira Cloud, ServiceNow) and of the
links alerts carry: fields and their checks, apart from ``shared.settings`` so each stays short.

``Settings`` inherits these; the names are app-setting names, as everywhere.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings

from shared.urls import check_http_url

PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
# The optional settings of the native destinations (blank is unset, as for every optional setting).
_DESTINATION_FIELDS = (
    "slack_webhook_url",
    "pagerduty_routing_key",
    "jira_url",
    "jira_project",
    "jira_email",
    "jira_api_token",
    "servicenow_url",
    "servicenow_user",
    "servicenow_password",
    "servicenow_client_id",
    "servicenow_client_secret",
)
_WORKSPACE_RESOURCE_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+",
    re.IGNORECASE,
)


class DestinationSettings(BaseSettings):
    """The native destinations' settings; ``destination_problems`` says what is missing or clashes."""

    slack_webhook_url: SecretStr | None = Field(None, alias="MFA_SLACK_WEBHOOK_URL")
    pagerduty_routing_key: SecretStr | None = Field(None, alias="MFA_PAGERDUTY_ROUTING_KEY")
    pagerduty_url: str = Field(PAGERDUTY_EVENTS_URL, alias="MFA_PAGERDUTY_URL")
    jira_url: str | None = Field(None, alias="MFA_JIRA_URL")
    jira_project: str | None = Field(None, alias="MFA_JIRA_PROJECT")
    jira_issue_type: str = Field("Task", alias="MFA_JIRA_ISSUE_TYPE")
    jira_email: str | None = Field(None, alias="MFA_JIRA_EMAIL")
    jira_api_token: SecretStr | None = Field(None, alias="MFA_JIRA_API_TOKEN")
    servicenow_url: str | None = Field(None, alias="MFA_SERVICENOW_URL")
    servicenow_table: str = Field("incident", alias="MFA_SERVICENOW_TABLE")
    servicenow_user: str | None = Field(None, alias="MFA_SERVICENOW_USER")
    servicenow_password: SecretStr | None = Field(None, alias="MFA_SERVICENOW_PASSWORD")
    servicenow_client_id: str | None = Field(None, alias="MFA_SERVICENOW_CLIENT_ID")
    servicenow_client_secret: SecretStr | None = Field(None, alias="MFA_SERVICENOW_CLIENT_SECRET")
    # The Sentinel workspace's ARM resource id: only for the "Open the query in Log Analytics" link.
    workspace_resource_id: str | None = Field(None, alias="MFA_WORKSPACE_RESOURCE_ID")

    @field_validator(*_DESTINATION_FIELDS, "workspace_resource_id", mode="before")
    @classmethod
    def _blank_destination_is_unset(cls, value: Any) -> Any:
        # Azure app settings cannot be deleted from a Bicep template, only emptied.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("slack_webhook_url")
    @classmethod
    def _slack_is_https(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_http_url(value.get_secret_value(), secret=True)
        return value

    @field_validator("pagerduty_url", "jira_url", "servicenow_url")
    @classmethod
    def _api_is_https(cls, value: str | None) -> str | None:
        if value is not None:
            check_http_url(value, secret=False)
            return value.rstrip("/")
        return value

    @field_validator("pagerduty_routing_key", "jira_api_token", "servicenow_password", "servicenow_client_secret")
    @classmethod
    def _secret_is_resolved(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().startswith("@Microsoft.KeyVault("):
            raise ValueError("is an unresolved Key Vault reference: set the secret in the vault")
        if value is not None and any(char.isspace() for char in value.get_secret_value()):
            raise ValueError("contains a space or line break; was it pasted with one?")
        return value

    @field_validator("pagerduty_routing_key")
    @classmethod
    def _routing_key_shape(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9]{32}", value.get_secret_value()):
            raise ValueError("must be a PagerDuty Events API v2 integration key: 32 letters and digits")
        return value

    @field_validator("jira_project")
    @classmethod
    def _jira_project_key(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z][A-Z0-9_]{0,254}", value):
            raise ValueError("must be a Jira project key such as SEC (capital letters, digits, underscores)")
        return value

    @field_validator("jira_email")
    @classmethod
    def _jira_email(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
            raise ValueError("must be the email address of the Atlassian account the API token belongs to")
        return value

    @field_validator("servicenow_table")
    @classmethod
    def _servicenow_table(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9_]{1,80}", value):
            raise ValueError("must be a ServiceNow table name such as incident (lower-case letters, digits, _)")
        return value

    @field_validator("jira_issue_type")
    @classmethod
    def _issue_type(cls, value: str) -> str:
        if not value.strip() or not value.isprintable():
            raise ValueError("must be the name of an issue type of the project, such as Task")
        return value.strip()

    @field_validator("workspace_resource_id")
    @classmethod
    def _resource_id(cls, value: str | None) -> str | None:
        if value is not None and not _WORKSPACE_RESOURCE_ID.fullmatch(value):
            raise ValueError(
                "must be a workspace's resource id: /subscriptions/<id>/resourceGroups/<group>/providers/"
                "Microsoft.OperationalInsights/workspaces/<name>"
            )
        return value

    def destination_problems(self) -> list[str]:
        """A destination is configured whole or not at all: half a Jira or ServiceNow is a typo."""
        problems = []
        jira = {
            "MFA_JIRA_URL": self.jira_url,
            "MFA_JIRA_PROJECT": self.jira_project,
            "MFA_JIRA_EMAIL": self.jira_email,
            "MFA_JIRA_API_TOKEN": self.jira_api_token,
        }
        if any(value is not None for value in jira.values()):
            problems += [f"{name}: required when any MFA_JIRA_ setting is set" for name, v in jira.items() if v is None]
        basic = (self.servicenow_user, self.servicenow_password)
        oauth = (self.servicenow_client_id, self.servicenow_client_secret)
        given = [v is not None for v in (*basic, *oauth)]
        if self.servicenow_url is None and any(given):
            problems.append("MFA_SERVICENOW_URL: required when any MFA_SERVICENOW_ credential is set")
        if self.servicenow_url is not None:
            if all(given):
                problems.append(
                    "MFA_SERVICENOW_CLIENT_ID: set either MFA_SERVICENOW_USER and _PASSWORD or "
                    "MFA_SERVICENOW_CLIENT_ID and _CLIENT_SECRET, not both"
                )
            elif not (all(v is not None for v in basic) or all(v is not None for v in oauth)):
                problems.append(
                    "MFA_SERVICENOW_USER: required with MFA_SERVICENOW_PASSWORD (basic authentication), or set "
                    "MFA_SERVICENOW_CLIENT_ID and MFA_SERVICENOW_CLIENT_SECRET (OAuth client credentials)"
                )
        return problems
