"""The Jira Cloud sink against a loopback fake of Jira's REST API v3 (``tests/sinks/jira_server.py``):
one issue per alert whatever fails, labels, the search it makes, health raise and clear, errors
classified, and the API token kept out of errors, logs and reprs."""

from __future__ import annotations

import base64
import logging
from typing import Any

import pytest

from shared.alert_links import PortalLinks
from shared.documents import Deliverable
from shared.errors import ConfigError, DeliveryError
from shared.sinks import ticket_text
from shared.sinks.jira import JiraSink, issue_label, jql_string
from shared.sinks.jira_adf import description
from shared.sinks.transport import HttpTransport
from tests.sinks.health_alerts import health_alert
from tests.sinks.hostile_rows import hostile_alert
from tests.sinks.jira_server import Fault, JiraServer
from tests.sinks.rows import alert_of, result_row
from tests.sinks.test_jira_adf import assert_valid_adf, shown_text

TOKEN = "ATATT3xFfGF0-test-token-0123456789"
EMAIL = "soc-bot@contoso.com"
CREDENTIAL = base64.b64encode(f"{EMAIL}:{TOKEN}".encode()).decode()


def sink(server: JiraServer, *, token: str = TOKEN, timeout: float = 2.0, **options: Any) -> JiraSink:
    transport = HttpTransport(timeout=timeout, max_attempts=3, sleep=options.pop("sleep", lambda _: None))
    settings = {"url": server.url, "project": "SEC", "issue_type": "Task", "email": EMAIL, "api_token": token}
    return JiraSink(**{**settings, **options}, transport=transport)  # type: ignore[arg-type]


def failure(target: JiraSink, alert: Deliverable) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        target.deliver(alert)
    return caught.value


def test_creates_one_issue_with_summary_adf_description_labels_and_basic_auth() -> None:
    alert = alert_of([result_row()])
    with JiraServer() as server:
        sink(server).deliver(alert)

    (issue,) = server.issues
    assert issue.key == "SEC-1"
    assert issue.fields["project"] == {"key": "SEC"}
    assert issue.fields["issuetype"] == {"name": "Task"}
    assert issue.fields["summary"] == ticket_text.summary(alert)
    assert issue.fields["labels"] == ["mfa-rejected", f"mfa-rejected-{alert.id}"]
    assert issue.fields["description"] == description(alert, links=PortalLinks())
    assert_valid_adf(issue.fields["description"])
    (create,) = server.requests_to("POST", "/rest/api/3/issue")
    assert create.headers["authorization"] == f"Basic {CREDENTIAL}"
    assert create.headers["content-type"] == "application/json; charset=utf-8"


def test_searches_by_label_with_the_current_jql_endpoint_first() -> None:
    alert = alert_of([result_row()])
    with JiraServer() as server:
        sink(server).deliver(alert)

    search, create = server.requests
    assert (search.method, search.path, create.method) == ("GET", "/rest/api/3/search/jql", "POST")
    assert search.query == {
        "jql": [f'project = "SEC" AND labels = "mfa-rejected-{alert.id}"'],
        "fields": ["key"],
        "maxResults": ["1"],
    }


def test_delivered_twice_creates_one_issue_and_logs_the_key(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="shared.sinks.jira")
    alert = alert_of([result_row()])
    with JiraServer() as server:
        sink(server).deliver(alert)
        sink(server).deliver(alert)

    assert len(server.issues) == 1
    assert len(server.requests_to("POST", "/rest/api/3/issue")) == 1
    assert f"alert {alert.id} already created as SEC-1" in caplog.text


def test_a_create_that_fails_after_creating_is_not_retried_and_not_duplicated() -> None:
    alert = alert_of([result_row()])
    with JiraServer() as server:
        server.fail_next(1, Fault(status=500, applied=True), method="POST", path="/rest/api/3/issue")
        error = failure(sink(server), alert)
        sink(server).deliver(alert)

    assert error.permanent is False
    assert "HTTP 500" in str(error)
    assert len(server.issues) == 1
    assert len(server.requests_to("POST", "/rest/api/3/issue")) == 1  # one attempt; the next run searched


def test_a_create_whose_answer_never_comes_is_found_by_the_next_delivery() -> None:
    alert = alert_of([result_row()])
    with JiraServer() as server:
        server.fail_next(1, Fault(hang=5.0, applied=True), method="POST", path="/rest/api/3/issue")
        timed_out = failure(sink(server, timeout=0.5), alert)
        sink(server).deliver(alert)

    assert "timed out" in str(timed_out)
    assert not timed_out.permanent
    assert len(server.issues) == 1
    assert len(server.requests_to("POST", "/rest/api/3/issue")) == 1


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_search_is_retried_on_429_and_5xx_honouring_retry_after(status: int) -> None:
    pauses: list[float] = []
    with JiraServer() as server:
        server.fail_next(1, status=status, retry_after="1")
        sink(server, sleep=pauses.append).deliver(alert_of([result_row()]))

    assert len(server.issues) == 1
    assert pauses == [1.0]
    assert len(server.requests_to("GET", "/rest/api/3/search/jql")) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_create_refused_with_429_or_5xx_is_transient_and_sent_once(status: int) -> None:
    alert = alert_of([result_row()])
    with JiraServer() as server:
        server.fail_next(1, status=status, retry_after="1", method="POST", path="/rest/api/3/issue")
        error = failure(sink(server), alert)

    assert error.permanent is False
    assert server.issues == []
    assert len(server.requests_to("POST", "/rest/api/3/issue")) == 1


def test_a_field_error_is_permanent_and_shows_jiras_errors() -> None:
    with JiraServer() as server:
        error = failure(sink(server, issue_type="Incident"), alert_of([result_row()]))

    assert error.permanent is True
    assert "HTTP 400" in str(error)
    assert '"errors": {"issuetype": "Specify a valid issue type"}' in str(error)
    assert "check MFA_JIRA_PROJECT, MFA_JIRA_ISSUE_TYPE" in str(error)


def test_an_unknown_project_is_a_permanent_400_from_the_search() -> None:
    with JiraServer(project="OPS") as server:
        error = failure(sink(server), alert_of([result_row()]))

    assert error.permanent is True
    assert "The value 'SEC' does not exist for the field 'project'" in str(error)
    assert server.issues == []


@pytest.mark.parametrize(
    ("status", "hint"),
    [
        (401, "check MFA_JIRA_EMAIL and MFA_JIRA_API_TOKEN"),
        (403, "may not browse, create or comment"),
        (404, "does not exist, or the account cannot see it"),
    ],
)
def test_401_403_404_are_permanent_with_what_to_check(status: int, hint: str) -> None:
    with JiraServer() as server:
        server.fail_next(1, status=status, body=b'{"errorMessages":["nope"],"errors":{}}')
        error = failure(sink(server), alert_of([result_row()]))

    assert error.permanent is True
    assert f"HTTP {status}" in str(error)
    assert hint in str(error)
    assert len(server.requests) == 1  # not retried


def test_a_wrong_token_is_refused_by_the_fake_as_by_jira() -> None:
    with JiraServer() as server:
        error = failure(sink(server, token="wrong-token-value"), alert_of([result_row()]))

    assert error.permanent is True
    assert "HTTP 401" in str(error)
    assert "wrong-token-value" not in str(error)


def test_health_raise_opens_an_issue_with_health_labels() -> None:
    raised = health_alert("signins-silent", "raised")
    with JiraServer() as server:
        sink(server).deliver(raised)
        sink(server).deliver(raised)

    (issue,) = server.issues
    assert issue.fields["labels"] == ["mfa-rejected", "mfa-rejected-health", f"mfa-rejected-{raised.id}"]
    assert issue.fields["summary"] == ticket_text.summary(raised)
    assert_valid_adf(issue.fields["description"])


def test_health_clear_comments_once_on_the_raise_issue_and_labels_it() -> None:
    raised, cleared = health_alert("signins-silent", "raised"), health_alert("signins-silent", "cleared")
    with JiraServer() as server:
        sink(server).deliver(raised)
        sink(server).deliver(cleared)
        sink(server).deliver(cleared)

    (issue,) = server.issues
    (comment,) = issue.comments
    assert_valid_adf(comment["body"])
    assert f"Health id: {cleared.id}" in shown_text(comment["body"])
    assert f"mfa-rejected-{cleared.id}" in issue.fields["labels"]


def test_a_clear_whose_comment_was_written_but_answered_500_is_not_commented_twice() -> None:
    raised, cleared = health_alert("ueba-silent", "raised"), health_alert("ueba-silent", "cleared")
    with JiraServer() as server:
        sink(server).deliver(raised)
        comment = f"/rest/api/3/issue/{server.issues[0].key}/comment"
        server.fail_next(1, Fault(status=500, applied=True), method="POST", path=comment)
        error = failure(sink(server), cleared)
        sink(server).deliver(cleared)

    assert error.permanent is False
    (issue,) = server.issues
    assert len(issue.comments) == 1
    assert f"mfa-rejected-{cleared.id}" in issue.fields["labels"]


def test_a_clear_without_its_raise_issue_opens_one_issue_of_its_own() -> None:
    cleared = health_alert("skipped", "cleared")
    with JiraServer() as server:
        sink(server).deliver(cleared)
        sink(server).deliver(cleared)

    (issue,) = server.issues
    assert issue.fields["labels"] == ["mfa-rejected", "mfa-rejected-health", f"mfa-rejected-{cleared.id}"]
    assert issue.comments == []


def test_labels_and_jql_strings_are_checked_and_escaped() -> None:
    assert issue_label("msg_" + "0a" * 16) == "mfa-rejected-msg_" + "0a" * 16
    with pytest.raises(ValueError, match="not an alert id"):
        issue_label('msg_00" OR project = "OPS')
    assert jql_string('a"b\\c') == '"a\\"b\\\\c"'


def test_settings_are_checked_when_the_sink_is_built() -> None:
    with JiraServer() as server:
        with pytest.raises(ConfigError, match="MFA_JIRA_PROJECT"):
            sink(server, project='SEC" OR 1=1')
        with pytest.raises(ConfigError, match="MFA_JIRA_URL"):
            sink(server, url="http://jira.example.com")
        with pytest.raises(ConfigError, match="MFA_JIRA_ISSUE_TYPE"):
            sink(server, issue_type="Task\n")


@pytest.mark.parametrize(
    "fault",
    [
        None,
        Fault(status=400, body=f'{{"errorMessages":["bad header Basic {CREDENTIAL} token {TOKEN}"]}}'.encode()),
        Fault(status=503, body=f"echo {TOKEN}".encode()),
        Fault(status=401, body=f"Basic {CREDENTIAL}".encode()),
        Fault(hang=5.0),
    ],
    ids=["delivered", "400-echo", "503-echo", "401-echo", "timeout"],
)
def test_token_and_credential_stay_out_of_errors_logs_and_repr(
    caplog: pytest.LogCaptureFixture, fault: Fault | None
) -> None:
    caplog.set_level(logging.DEBUG)
    with JiraServer() as server:
        if fault is not None:
            server.fail_next(3, fault)
        target = sink(server, timeout=0.5)
        try:
            target.deliver(alert_of([result_row()]))
            shown = ""
        except DeliveryError as error:
            shown = str(error)

    assert repr(target) == f"JiraSink(name='jira', host='127.0.0.1:{server.url.rsplit(':', 1)[1]}')"
    for text in (shown, caplog.text, repr(target)):
        assert TOKEN not in text
        assert CREDENTIAL not in text


def test_a_hostile_alert_is_accepted_with_a_one_line_summary_and_valid_adf() -> None:
    alert = hostile_alert()
    with JiraServer() as server:
        sink(server).deliver(alert)

    (issue,) = server.issues
    assert issue.fields["summary"].isprintable()
    assert len(issue.fields["summary"]) <= 255
    assert_valid_adf(issue.fields["description"])
    assert all(" " not in label for label in issue.fields["labels"])
