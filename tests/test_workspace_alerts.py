"""An alert from a named workspace: its id carries the GUID, its payload and every destination name it."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from shared.alert_links import PortalLinks
from shared.alerts import Alert
from shared.health import HealthAlert, health_id
from shared.models import WorkspaceTag
from shared.sinks.console import render_health_text, render_text
from shared.sinks.jira_adf import health_document, rule_document
from shared.sinks.pagerduty_event import event_for
from shared.sinks.slack_blocks import health_message, slack_message
from shared.sinks.teams_card import adaptive_card
from shared.sinks.ticket_text import description, summary
from tests.sinks.rows import alert_of, result_row

CONTOSO = WorkspaceTag(name="contoso", id="6c1b2f4e-1111-2222-3333-444455556666")
FABRIKAM = WorkspaceTag(
    name="fabrikam",
    id="7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff",
    resource_id="/subscriptions/7d2c3e5f-aaaa-bbbb-cccc-ddddeeeeffff/resourceGroups/rg/providers/"
    "Microsoft.OperationalInsights/workspaces/law",
)
SINCE = datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 28, 10, 5, tzinfo=UTC)
ROUTING_KEY = "R0ut1ngKeyA1b2C3d4E5f6G7h8I9j0Kk"


def alert() -> Alert:
    return alert_of([result_row("a@contoso.com", ip="203.0.113.1")])


def health(state: str = "raised") -> HealthAlert:
    return HealthAlert(
        id=health_id("signins-silent", state, SINCE),
        condition="signins-silent",
        state=state,  # type: ignore[arg-type]
        level="warning",
        summary="SigninLogs has had no rows",
        detail="Check the connector.",
        since=SINCE,
        last_seen=None,
        detected_at=NOW,
    )


def test_the_same_rows_in_two_workspaces_are_two_alerts_in_the_same_id_form() -> None:
    base = alert()
    ids = {base.id, base.in_workspace(CONTOSO).id, base.in_workspace(FABRIKAM).id}
    assert len(ids) == 3
    assert all(len(i) == 36 and i.startswith("msg_") for i in ids)
    assert base.in_workspace(CONTOSO).id == alert().in_workspace(CONTOSO).id  # stable


def test_the_payload_names_the_workspace_and_reads_back_exactly() -> None:
    named = alert().in_workspace(FABRIKAM)
    payload = json.loads(named.to_json())
    assert payload["workspace"] == {"name": "fabrikam", "id": FABRIKAM.id, "resourceId": FABRIKAM.resource_id}
    again = Alert.from_json(named.to_json())
    assert (again.id, again.workspace) == (named.id, FABRIKAM)
    assert again.to_json() == named.to_json()


def test_the_one_workspace_form_sends_no_workspace_and_keeps_its_id() -> None:
    payload = json.loads(alert().to_json())
    assert "workspace" not in payload
    assert payload["id"] == alert().id


def test_a_health_clear_resolves_its_own_workspaces_raise() -> None:
    raised = health().in_workspace(CONTOSO)
    cleared = health("cleared").in_workspace(CONTOSO)
    other = health().in_workspace(FABRIKAM)
    assert cleared.raise_id == raised.id == raised.raise_id
    assert other.id != raised.id
    assert health().raise_id == health().id  # the one-workspace form as before
    back = HealthAlert.from_json(cleared.to_json())
    assert (back.workspace, back.raise_id) == (CONTOSO, raised.id)


def test_every_destination_names_the_workspace() -> None:
    named = alert().in_workspace(CONTOSO)
    shown = f"contoso ({CONTOSO.id})"
    facts = [fact for block in adaptive_card(named)["body"] if block["type"] == "FactSet" for fact in block["facts"]]
    assert facts[0] == {"title": "Workspace", "value": shown}
    assert shown in json.dumps(slack_message(named))
    assert summary(named).startswith("[contoso] MFA Rejected by User: 1 user")
    assert f"Workspace: {shown}" in description(named, links=PortalLinks())
    details = event_for(named, routing_key=ROUTING_KEY, links=PortalLinks())["payload"]["custom_details"]
    assert (details["workspace"], details["workspace_id"]) == ("contoso", CONTOSO.id)
    assert shown in json.dumps(rule_document(named, links=PortalLinks()))
    assert f"workspace {shown}" in render_text(named)


def test_every_destination_names_the_workspace_of_a_health_alert() -> None:
    named = health().in_workspace(FABRIKAM)
    shown = f"fabrikam ({FABRIKAM.id})"
    assert summary(named).startswith("[fabrikam] mfa-rejected health")
    assert shown in json.dumps(health_message(named))
    assert shown in json.dumps(health_document(named))
    assert f"workspace {shown}" in render_health_text(named)
