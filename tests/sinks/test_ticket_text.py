"""Plain text of an alert, for ticket fields: one summary line, a description whose every data value
stays on its own line."""

from __future__ import annotations

from datetime import timedelta

import pytest

from shared.alert_links import PortalLinks
from shared.sinks.ticket_text import description, summary
from tests.sinks.health_alerts import every_health_alert
from tests.sinks.hostile_rows import HOSTILE_VALUES, hostile_alert
from tests.sinks.rows import alert_of, many_rows, result_row

RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg/providers/"
    "Microsoft.OperationalInsights/workspaces/ws"
)


def test_the_summary_is_one_line_within_the_limit() -> None:
    expected = "MFA Rejected by User: 1 user from 1 IP address, 2026-11-28 09:00–10:00 UTC"
    assert summary(alert_of([result_row()])) == expected
    assert summary(alert_of(many_rows(30))).startswith("MFA Rejected by User: 30 users from 30 IP addresses")
    text = summary(hostile_alert(), limit=160)
    assert len(text) <= 160
    assert "\n" not in text


def test_a_late_alert_says_so_in_its_summary_and_description() -> None:
    alert = alert_of([result_row()]).found_late(timedelta(hours=2))
    assert "(late data)" in summary(alert)
    assert "Late: UEBA/sign-in data arrived" in description(alert, links=PortalLinks())


def test_a_delayed_alert_says_so() -> None:
    alert = alert_of([result_row()]).delayed(timedelta(hours=5))
    assert "Delayed: delivered 5 h" in description(alert, links=PortalLinks())


def test_the_description_has_each_user_with_marks_directory_and_links() -> None:
    rows = [result_row(), {**result_row(roles=()), "AccountUPN": "John.Doe@contoso.com", "Tags": ["VIP"]}]
    text = description(alert_of(rows), links=PortalLinks(workspace_resource_id=RESOURCE))

    assert "- john.doe@contoso.com from 203.0.113.7 [VIP, Privileged role]: UEBA score 5" in text
    assert "directory (John.Doe@contoso.com): Groups: IT, VPN Users; User type: Member; Tags: VIP" in text
    assert "directory (john.doe@contoso.com): Roles: Global Administrator" in text
    assert "Sign-in logs (Entra): https://entra.microsoft.com/" in text
    assert "Open the query in Log Analytics: https://portal.azure.com/" in text


def test_no_data_value_can_start_a_line_of_its_own() -> None:
    text = description(hostile_alert(), links=PortalLinks())
    our_starts = ("- ", "    ", "Severity:", "Window:", "Detected:", "Tactics:", "Techniques:", "Rule:", "Alert id:")
    for line in text.splitlines()[2:]:
        assert line == "" or line.startswith(our_starts), line
    assert "\x1b" not in text
    assert "\u202e" not in text
    assert "\\x1b" in text
    assert HOSTILE_VALUES["markdown link"] in text, "values are shown, as plain text"


@pytest.mark.parametrize("name", sorted(every_health_alert()))
def test_a_health_alert_is_described_by_its_own_text(name: str) -> None:
    alert = every_health_alert()[name]
    text = description(alert, links=PortalLinks())
    assert text.startswith(alert.summary)
    assert f"Health id: {alert.id}" in text
    assert summary(alert).startswith(alert.title)
