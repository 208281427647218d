"""Every destination at once, as an operator runs it: `python -m shared run --now …` twice over fixture
files whose directory values and UPNs are Markdown, HTML, mrkdwn and control characters, with loopback
servers posing as Teams, Slack, PagerDuty, Jira Cloud and ServiceNow — each failing in its own way on
the first run. After both runs: one incident, issue and record per alert in each system, every
message valid by the vendor's own schema or library, and no value from the data a live link anywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.sinks.hostile_rows import EVIL, HOSTILE_VALUES
from tests.sinks.jira_server import JiraServer
from tests.sinks.pagerduty_server import PagerDutyServer
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.servicenow_server import Fault as ServiceNowFault
from tests.sinks.servicenow_server import ServiceNowServer
from tests.sinks.test_jira_adf import assert_valid_adf, hrefs
from tests.sinks.test_pagerduty import assert_valid as assert_valid_pagerduty_event
from tests.sinks.test_slack_blocks import assert_within_slack_limits, mrkdwn_texts, validate_with_slack_sdk
from tests.sinks.test_teams import markdown_texts, validate_with_adaptivecards
from tests.sources.test_fixtures import BEHAVIOR, IDENTITY, SIGNIN, write_tables
from tests.test_cli import call

ROUTING_KEY = "R0ut1ngKeyA1b2C3d4E5f6G7h8I9j0Kk"
HOSTILE = list(HOSTILE_VALUES.values())
# A user whose very name is a Markdown link, and one whose directory record is every hostile value.
LINK_NAME = "[reset](https://evil.example/m)"
USERS = (
    ("john.doe", "11111111-1111-1111-1111-111111111111", "203.0.113.7"),
    (LINK_NAME, "22222222-2222-2222-2222-222222222222", "198.51.100.9"),
)
RUNS = ("2026-11-28T10:05Z", "2026-11-28T11:05Z")
# Where the links we build go; a value from the data may be a parameter of one, percent-encoded.
OUR_SITES = (
    "https://entra.microsoft.com/",
    "https://security.microsoft.com/",
    "https://portal.azure.com/",
    "https://attack.mitre.org/",
)


@dataclass
class Destinations:
    teams: Receiver
    slack: Receiver
    pagerduty: PagerDutyServer
    jira: JiraServer
    servicenow: ServiceNowServer


@dataclass
class TwoRuns:
    destinations: Destinations
    outputs: list[str]
    scratch: Path


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoRuns]:
    """The scenario, run once for the module's tests (each asserts on its own part of it)."""
    scratch = tmp_path_factory.mktemp("destinations")
    with pytest.MonkeyPatch.context() as monkeypatch, _destinations(monkeypatch) as found:
        yield TwoRuns(found, run_twice(scratch, monkeypatch, found), scratch)


@contextmanager
def _destinations(monkeypatch: pytest.MonkeyPatch) -> Iterator[Destinations]:
    with ExitStack() as stack:
        found = Destinations(
            teams=stack.enter_context(Receiver(default=Reply(202))),
            slack=stack.enter_context(Receiver(default=Reply(200, body=b"ok"))),
            pagerduty=stack.enter_context(PagerDutyServer(routing_key=ROUTING_KEY)),
            jira=stack.enter_context(JiraServer()),
            servicenow=stack.enter_context(ServiceNowServer()),
        )
        settings = {
            "MFA_TEAMS_WEBHOOK_URL": found.teams.url(),
            "MFA_SLACK_WEBHOOK_URL": found.slack.url(),
            "MFA_PAGERDUTY_ROUTING_KEY": ROUTING_KEY,
            "MFA_PAGERDUTY_URL": found.pagerduty.url,
            "MFA_JIRA_URL": found.jira.url,
            "MFA_JIRA_PROJECT": found.jira.project,
            "MFA_JIRA_EMAIL": found.jira.email,
            "MFA_JIRA_API_TOKEN": found.jira.api_token,
            "MFA_SERVICENOW_URL": found.servicenow.url,
            "MFA_SERVICENOW_USER": str(found.servicenow.user),
            "MFA_SERVICENOW_PASSWORD": str(found.servicenow.password),
            "MFA_WORKSPACE_RESOURCE_ID": (
                "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-sec/providers/"
                "Microsoft.OperationalInsights/workspaces/sentinel"
            ),
            "MFA_ALERT_GROUPING": "per-row",
            "MFA_HTTP_TIMEOUT": "3",
        }
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        yield found


def hostile_tenant(directory: Path) -> None:
    """Two users rejecting MFA, UEBA scores above the cutoff, directory records full of markup."""
    signins, identities, behaviors = [], [], []
    for index, (name, user_id, ip) in enumerate(USERS):
        upn = f"{name}@contoso.com"
        signins.append(SIGNIN | {"UserPrincipalName": upn, "UserId": user_id, "IPAddress": ip})
        identities.append(
            IDENTITY
            | {
                "AccountUPN": upn,
                "Tags": ["VIP", *HOSTILE[index::2]],
                "GroupMembership": HOSTILE,
                "AssignedRoles": HOSTILE[:5],
                "UserType": HOSTILE[-1],
            }
        )
        behaviors.append(BEHAVIOR | {"UserName": name, "SourceIPAddress": ip})
    write_tables(directory, signins=signins, identities=identities, behaviors=behaviors)


def run_twice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, destinations: Destinations) -> list[str]:
    data = tmp_path / "data"
    data.mkdir()
    hostile_tenant(data)
    monkeypatch.setenv("MFA_FIXTURES_DIR", str(data))
    state = str(tmp_path / "state.sqlite3")
    # First run: every ticketing system fails in its own way, after doing the work where that can happen.
    destinations.jira.fail_next(2, method="POST", path="/rest/api/3/issue", applied=True, status=500)
    destinations.servicenow.fail(*[ServiceNowFault(status=500, method="POST", after=True)] * 2)
    destinations.pagerduty.hang_next(times=2, process=True)
    outputs = []
    for now in RUNS:
        code, out, err = call("run", "--no-console", "--state", state, "--now", now)
        assert code == 0, err
        assert "Traceback" not in err
        outputs.append(out + err)
    return outputs


def test_two_runs_give_one_ticket_per_alert_in_every_system(two_runs: TwoRuns) -> None:
    destinations = two_runs.destinations
    first, second = two_runs.outputs

    assert "retrying later 6 (jira 2, pagerduty 2, servicenow 2)" in first, "failed deliveries are not silent"
    assert "Delivered 2 alerts (jira 2, pagerduty 2, servicenow 2), retrying later 0, dead 0." in second
    teams = [json.loads(r.body) for r in destinations.teams.requests]
    alert_ids = {_alert_id(message) for message in teams}
    assert len(teams) == 2, "one card per alert (per-row grouping, two users)"
    assert len(alert_ids) == 2
    assert len(destinations.slack.requests) == 2
    assert destinations.pagerduty.opened == 2
    assert set(destinations.pagerduty.incidents) == alert_ids
    assert sorted(label for issue in destinations.jira.issues for label in issue.fields["labels"]) == sorted(
        ["mfa-rejected"] * 2 + [f"mfa-rejected-{alert_id}" for alert_id in alert_ids]
    )
    assert sorted(record["correlation_id"] for record in destinations.servicenow.records) == sorted(alert_ids)


def test_every_message_is_valid_by_the_vendors_schema_and_no_data_value_is_a_link(
    two_runs: TwoRuns, tmp_path: Path
) -> None:
    destinations = two_runs.destinations

    teams = {f"card{i}": json.loads(r.body) for i, r in enumerate(destinations.teams.requests)}
    for result in validate_with_adaptivecards(tmp_path, teams):
        assert result["events"] == [], result
    for message in teams.values():
        assert all(url.startswith(OUR_SITES) for url in _urls(message)), "a URL from the data in a Teams card"
        assert all(EVIL not in text for text in markdown_texts(message))

    for request in destinations.slack.requests:
        message = json.loads(request.body)
        validate_with_slack_sdk(message)
        assert_within_slack_limits(message)
        for text in mrkdwn_texts(message):
            targets = re.findall(r"<([^|>]*)\|", text)
            assert all(target.startswith(OUR_SITES) for target in targets), targets
            assert "evil.example" not in re.sub(r"<[^|>]*\|", "", text), "data shown as mrkdwn"

    for request in destinations.pagerduty.requests:
        event = request.json()
        assert_valid_pagerduty_event(event)
        assert all(link["href"].startswith(OUR_SITES) for link in event.get("links", []))

    for issue in destinations.jira.issues:
        assert_valid_adf(issue.fields["description"])
        assert all(href.startswith(OUR_SITES) for href in hrefs(issue.fields["description"]))
        assert "\n" not in issue.fields["summary"]

    descriptions = [record["description"] for record in destinations.servicenow.records]
    assert all("\x1b" not in text and "\u202e" not in text for text in descriptions)
    assert sum(f"- {LINK_NAME}@contoso.com from 198.51.100.9" in text for text in descriptions) == 1, "shown, as text"


def _alert_id(message: dict[str, Any]) -> str:
    text = json.dumps(message)
    start = text.index("msg_")
    return text[start : start + 36]


def _urls(node: Any) -> list[str]:
    """Every URL a card links to: OpenUrl actions and selectActions, images."""
    found: list[str] = []
    if isinstance(node, dict):
        found += [value for key, value in node.items() if key == "url" and isinstance(value, str)]
        for value in node.values():
            found += _urls(value)
    elif isinstance(node, list):
        for item in node:
            found += _urls(item)
    return found
