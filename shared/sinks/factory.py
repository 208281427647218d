"""The sinks the settings ask for."""

from __future__ import annotations

from typing import TextIO

from pydantic import SecretStr

from shared.alert_links import PortalLinks
from shared.settings import Settings
from shared.sinks.base import Sink
from shared.sinks.console import ConsoleSink
from shared.sinks.jira import JiraSink
from shared.sinks.pagerduty import PagerDutySink
from shared.sinks.servicenow import ServiceNowSink
from shared.sinks.slack import SlackSink
from shared.sinks.teams import TeamsSink
from shared.sinks.transport import HttpTransport
from shared.sinks.webhook import WebhookSink


def build_sinks(
    settings: Settings, *, stream: TextIO | None = None, transport: HttpTransport | None = None
) -> list[Sink]:
    """Console (MFA_CONSOLE), Teams (MFA_TEAMS_WEBHOOK_URL), the signed webhook (MFA_WEBHOOK_URL +
    MFA_WEBHOOK_SECRET), Slack, PagerDuty, Jira Cloud and ServiceNow, each only when configured; an
    empty list when none is."""
    transport = transport or HttpTransport(timeout=settings.http_timeout)
    links = PortalLinks(
        workspace_resource_id=settings.workspace_resource_id, risk_score_cutoff=settings.risk_score_cutoff
    )
    sinks: list[Sink] = []
    if settings.console:
        sinks.append(ConsoleSink(stream=stream))
    if settings.teams_webhook_url is not None:
        sinks.append(TeamsSink(settings.teams_webhook_url.get_secret_value(), transport=transport, links=links))
    if settings.webhook_url is not None:
        if settings.webhook_secret is None:  # Settings already refuses this; keep the invariant local too
            raise ValueError("MFA_WEBHOOK_SECRET: required when MFA_WEBHOOK_URL is set")
        sinks.append(
            WebhookSink(
                settings.webhook_url.get_secret_value(),
                settings.webhook_secret.get_secret_value(),
                transport=transport,
            )
        )
    return sinks + _native_sinks(settings, transport=transport, links=links)


def _native_sinks(settings: Settings, *, transport: HttpTransport, links: PortalLinks) -> list[Sink]:
    sinks: list[Sink] = []
    if settings.slack_webhook_url is not None:
        sinks.append(SlackSink(settings.slack_webhook_url.get_secret_value(), transport=transport, links=links))
    if settings.pagerduty_routing_key is not None:
        sinks.append(
            PagerDutySink(
                settings.pagerduty_routing_key.get_secret_value(),
                transport=transport,
                url=settings.pagerduty_url,
                links=links,
            )
        )
    if settings.jira_url is not None:
        if settings.jira_project is None or settings.jira_email is None or settings.jira_api_token is None:
            raise ValueError("MFA_JIRA_PROJECT, MFA_JIRA_EMAIL, MFA_JIRA_API_TOKEN: required with MFA_JIRA_URL")
        sinks.append(
            JiraSink(
                url=settings.jira_url,
                project=settings.jira_project,
                issue_type=settings.jira_issue_type,
                email=settings.jira_email,
                api_token=settings.jira_api_token.get_secret_value(),
                transport=transport,
                links=links,
            )
        )
    if settings.servicenow_url is not None:
        sinks.append(
            ServiceNowSink(
                url=settings.servicenow_url,
                table=settings.servicenow_table,
                transport=transport,
                user=settings.servicenow_user,
                password=_secret(settings.servicenow_password),
                client_id=settings.servicenow_client_id,
                client_secret=_secret(settings.servicenow_client_secret),
                links=links,
            )
        )
    return sinks


def _secret(value: SecretStr | None) -> str | None:
    return None if value is None else value.get_secret_value()
