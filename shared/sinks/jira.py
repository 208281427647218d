"""Deliver alerts to Jira Cloud as issues (REST API v3): one issue per alert, never two.

The outbox delivers an alert again after any failure, and a create that timed out or answered 5xx
may well have created the issue. So the issue carries a label made of the alert's id, and delivery
searches for that label first (``GET /rest/api/3/search/jql``, the search that replaced
``/rest/api/3/search`` in 2025); only when none is found does it create one
(``POST /rest/api/3/issue``), once, without a blind retry: the next run searches first.

A health alert that is raised opens an issue the same way. Its clear comments on that issue
(``POST /rest/api/3/issue/{key}/comment``) and then labels it with the clear's id: a clear delivered
again finds that label and stops, and one whose comment was written but whose label was not finds
its id in the issue's newest comments and does not comment twice. A clear whose raise has no issue
(the destination was added later) opens an issue of its own.

Authentication is HTTP Basic with the Atlassian account's email and API token; the token and the
header made from it are secrets, passed to the transport to be redacted from every message.
"""

from __future__ import annotations

import base64
import json
import logging
import re
from typing import Any, Final
from urllib.parse import quote, urlencode

from shared.alert_links import PortalLinks
from shared.documents import Deliverable
from shared.errors import ConfigError, DeliveryError
from shared.health import HealthAlert
from shared.serialise import json_text
from shared.sinks import ticket_text
from shared.sinks.jira_adf import description, health_document
from shared.sinks.shown import flat
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host

logger = logging.getLogger(__name__)

LABEL: Final = "mfa-rejected"
HEALTH_LABEL: Final = "mfa-rejected-health"
PROJECT_KEY: Final = re.compile(r"[A-Z][A-Z0-9_]{0,254}")
_ALERT_ID: Final = re.compile(r"(msg|hlt)_[0-9a-f]{16,64}")
_ISSUE_KEY: Final = re.compile(r"[A-Z][A-Z0-9_]{0,254}-[1-9][0-9]{0,17}")
# Of an issue's comments, the newest this many are read to find a clear's comment (an answer is
# read up to 256 KB, and analysts rarely add this many between a raise and its clear).
COMMENTS_READ: Final = 20
_HINTS: Final = {
    400: "Jira refused the request: check MFA_JIRA_PROJECT, MFA_JIRA_ISSUE_TYPE and the fields the project requires",
    401: "check MFA_JIRA_EMAIL and MFA_JIRA_API_TOKEN (an API token of that Atlassian account)",
    403: "the account may not browse, create or comment on issues in the project",
    404: "the project, issue type or issue does not exist, or the account cannot see it",
}


def issue_label(alert_id: str) -> str:
    """The label that names the issue of ``alert_id`` (``mfa-rejected-msg_…``); ``ValueError`` unless
    the id is one this product makes (a label cannot hold a space, and it is quoted into JQL)."""
    if not _ALERT_ID.fullmatch(alert_id):
        raise ValueError(f"not an alert id: {alert_id[:80]!r}")
    return f"{LABEL}-{alert_id}"


def jql_string(text: str) -> str:
    """``text`` as a quoted JQL string: backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


class JiraSink:
    """Creates one Jira issue per alert in ``project``; a health alert's clear comments on its raise's
    issue. The API token is never shown: ``repr`` and errors name the sink and the host."""

    def __init__(
        self,
        *,
        url: str,
        project: str,
        issue_type: str,
        email: str,
        api_token: str,
        transport: HttpTransport,
        links: PortalLinks = PortalLinks(),
        name: str = "jira",
    ) -> None:
        self.name = name
        self._base = check_webhook_url(url, setting="MFA_JIRA_URL").rstrip("/")
        self.host = url_host(url)
        if not PROJECT_KEY.fullmatch(project):
            raise ConfigError("MFA_JIRA_PROJECT: must be a Jira project key such as SEC")
        if not issue_type.strip() or not issue_type.isprintable():
            raise ConfigError("MFA_JIRA_ISSUE_TYPE: must be the name of an issue type, such as Task")
        if not email or not api_token:
            raise ConfigError("MFA_JIRA_EMAIL and MFA_JIRA_API_TOKEN: both are required")
        self.project = project
        self.issue_type = issue_type
        self._links = links
        self._transport = transport
        credential = base64.b64encode(f"{email}:{api_token}".encode()).decode("ascii")
        self._secrets = (api_token, credential)
        self._headers = {
            "authorization": f"Basic {credential}",
            "accept": "application/json",
            "content-type": "application/json; charset=utf-8",
        }

    def __repr__(self) -> str:
        return f"JiraSink(name={self.name!r}, host={self.host!r})"

    @property
    def _label(self) -> str:
        return f"{self.name} ({self.host})"

    def deliver(self, alert: Deliverable) -> None:
        try:
            if isinstance(alert, HealthAlert) and alert.state == "cleared":
                self._clear(alert)
            elif isinstance(alert, HealthAlert):
                self._ensure_issue(alert, labels=(LABEL, HEALTH_LABEL, issue_label(alert.raise_id)))
            else:
                self._ensure_issue(alert, labels=(LABEL, issue_label(alert.id)))
        except ValueError as error:  # an id this product did not make: sending it again cannot help
            raise DeliveryError(f"{self._label}: {error}", permanent=True) from None
        except DeliveryError as error:
            raise _explained(error) from None

    def _ensure_issue(self, alert: Deliverable, *, labels: tuple[str, ...]) -> str | None:
        """The key of the issue labelled ``labels[-1]``, created if none is found."""
        found = self.find_issue(labels[-1])
        if found is not None:
            logger.info("%s: alert %s already created as %s", self._label, alert.id, found)
            return found
        return self._create(alert, labels=labels)

    def _clear(self, alert: HealthAlert) -> None:
        own = issue_label(alert.id)
        if (done := self.find_issue(own)) is not None:
            logger.info("%s: clear %s already commented on %s", self._label, alert.id, done)
            return
        raised = self.find_issue(issue_label(alert.raise_id))
        if raised is None:  # the raise was never delivered here: the clear gets an issue of its own
            self._create(alert, labels=(LABEL, HEALTH_LABEL, own))  # its own label was searched just above
            return
        if self._has_comment(raised, alert.id):
            logger.info("%s: clear %s already commented on %s; labelling it", self._label, alert.id, raised)
        else:
            self._request("POST", f"/issue/{raised}/comment", {"body": health_document(alert)}, retry=False)
            logger.info("%s: clear %s commented on %s", self._label, alert.id, raised)
        # Adding a label twice is harmless, so this may be retried.
        self._request("PUT", f"/issue/{raised}", {"update": {"labels": [{"add": own}]}})

    def find_issue(self, label: str) -> str | None:
        """The key of an issue of the project labelled ``label``, or None."""
        jql = f"project = {jql_string(self.project)} AND labels = {jql_string(label)}"
        query = urlencode({"jql": jql, "fields": "key", "maxResults": "1"}, quote_via=quote)
        answer = self._request("GET", f"/search/jql?{query}", None, read=True)
        issues = answer.get("issues") if isinstance(answer, dict) else None
        if not isinstance(issues, list):
            raise DeliveryError(f"{self._label}: the search answer has no issues list", permanent=False)
        return _issue_key(issues[0], label=self._label) if issues else None

    def _has_comment(self, key: str, alert_id: str) -> bool:
        """Whether one of the issue's newest comments names ``alert_id`` (a clear commented before)."""
        query = urlencode({"orderBy": "-created", "maxResults": str(COMMENTS_READ)})
        answer = self._request("GET", f"/issue/{key}/comment?{query}", None, read=True)
        comments = answer.get("comments") if isinstance(answer, dict) else None
        if not isinstance(comments, list):
            raise DeliveryError(f"{self._label}: the comments answer has no comments list", permanent=False)
        return any(isinstance(c, dict) and alert_id in json.dumps(c.get("body")) for c in comments)

    def _create(self, alert: Deliverable, *, labels: tuple[str, ...]) -> str | None:
        fields = {
            "project": {"key": self.project},
            "issuetype": {"name": self.issue_type},
            "summary": flat(ticket_text.summary(alert, limit=255), 255),
            "description": description(alert, links=self._links),
            "labels": list(labels),
        }
        # One attempt: a retry after a timeout or a 5xx could create a second issue. The next run
        # searches for the label first.
        answer = self._request("POST", "/issue", {"fields": fields}, read=True, retry=False)
        key = answer.get("key") if isinstance(answer, dict) else None
        created = key if isinstance(key, str) and _ISSUE_KEY.fullmatch(key) else "(key not readable)"
        logger.info("%s: alert %s created as %s", self._label, alert.id, created)
        return key if created == key else None

    def _request(
        self, method: str, path: str, body: dict[str, Any] | None, *, read: bool = False, retry: bool = True
    ) -> Any:
        answer = self._transport.request(
            method,
            f"{self._base}/rest/api/3{path}",
            body=None if body is None else json_text(body).encode("utf-8"),
            headers=self._headers,
            label=self._label,
            secrets=self._secrets,
            read=read,
            retry=retry,
        )
        return answer.json(label=self._label) if read and answer.body else None


def _issue_key(issue: Any, *, label: str) -> str:
    key = issue.get("key") if isinstance(issue, dict) else None
    if not isinstance(key, str) or not _ISSUE_KEY.fullmatch(key):
        raise DeliveryError(f"{label}: the search answer has an issue without a readable key", permanent=False)
    return key


def _explained(error: DeliveryError) -> DeliveryError:
    """``error`` with what to check for a status Jira answers when a setting is wrong."""
    hint = _HINTS.get(error.status) if error.status is not None else None
    if hint is None:
        return error
    return DeliveryError(f"{error} ({hint})", permanent=error.permanent, status=error.status)
