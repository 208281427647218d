"""Deliver alerts to ServiceNow as records (incidents by default) through the Table API: one record
per alert, however often the alert is delivered.

Idempotency: every record carries the alert id in ``correlation_id`` (a field of ``task``, so of
``incident``). Delivery looks first (``GET /api/now/table/{table}?sysparm_query=correlation_id=<id>``)
and creates only when nothing is found; the create is sent once (``retry=False``), since a create that
timed out or answered 5xx may have happened, and the next run's look finds it. A health alert's raise
is a record like a rule alert's (``correlation_id`` = the raise id); its clear becomes a work note on
that record, in one PATCH with a marker in ``correlation_display``, so a redelivered clear finds the
marker and notes nothing twice; a clear whose raise has no record gets a record of its own.

Text is plain: the description's data values pass through ``shown.flat`` (control characters
escaped). Work notes are a journal field, where ServiceNow interprets ``[code]`` markup, so a note
holds our own words only, never a value from the data.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

from shared.alert_links import PortalLinks
from shared.display import printable
from shared.documents import Deliverable
from shared.errors import ConfigError, DeliveryError
from shared.health import HealthAlert
from shared.instants import format_instant
from shared.serialise import json_text
from shared.sinks.servicenow_auth import BasicAuth, ClientCredentials, Credentials
from shared.sinks.shown import flat
from shared.sinks.ticket_text import description, summary
from shared.sinks.transport import HttpTransport, check_webhook_url, url_host

logger = logging.getLogger(__name__)

SOURCE: Final = "mfa-rejected"  # correlation_display: which integration made the record
SHORT_DESCRIPTION_CHARS: Final = 160  # incident.short_description's length
DESCRIPTION_CHARS: Final = 4000  # task.description's length; ServiceNow cuts longer text silently
# Urgency and impact ("1" high, "2" medium, "3" low): the instance's priority lookup makes the priority.
URGENCY: Final = {"High": "1", "Medium": "2", "Low": "3", "Informational": "3"}
HEALTH_URGENCY: Final = {"warning": "2", "info": "3"}
# ``^`` joins encoded-query terms and ``,``/``=`` are operators: an id is letters, digits, ``_.:-``
# only (ours are ``msg_``/``hlt_`` + hex), and fits correlation_id's 100 characters.
_CORRELATION_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_TABLE: Final = re.compile(r"[a-z0-9_]{1,80}")
_SYS_ID: Final = re.compile(r"[A-Za-z0-9]{1,64}")
_LOOKED_UP: Final = "sys_id,number,correlation_id,correlation_display"


@dataclass(frozen=True, slots=True)
class Found:
    """A record the look-up found."""

    sys_id: str
    number: str
    display: str  # its correlation_display: the clear's marker once a clear was noted


class ServiceNowSink:
    """Creates one record per alert in ``table`` (a table extending ``task``, such as ``incident``)."""

    def __init__(
        self,
        *,
        url: str,
        table: str,
        transport: HttpTransport,
        user: str | None = None,
        password: str | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        links: PortalLinks = PortalLinks(),
        name: str = "servicenow",
    ) -> None:
        self.name = name
        self.host = url_host(url)
        self._url = check_webhook_url(url.rstrip("/"), setting="MFA_SERVICENOW_URL")
        if not _TABLE.fullmatch(table):
            raise ConfigError("MFA_SERVICENOW_TABLE: must be a ServiceNow table name such as incident")
        self._table = table
        self._table_url = f"{self._url}/api/now/table/{table}"
        self._transport = transport
        self._links = links
        self._label = f"{name} ({self.host})"
        self._auth = _credentials(self, user, password, client_id, client_secret)

    def __repr__(self) -> str:
        return f"ServiceNowSink(name={self.name!r}, host={self.host!r})"

    def deliver(self, alert: Deliverable) -> None:
        if isinstance(alert, HealthAlert) and alert.state == "cleared":
            self._deliver_clear(alert)
        else:
            self._ensure(alert, alert.raise_id if isinstance(alert, HealthAlert) else alert.id)

    def _ensure(self, alert: Deliverable, correlation: str) -> None:
        """The record for ``correlation``: found, or created."""
        found = self._find(correlation)
        if found is not None:
            logger.info("%s: %s already created as %s; nothing sent", self._label, alert.id, found.number)
            return
        self._create(alert, correlation)

    def _deliver_clear(self, alert: HealthAlert) -> None:
        raised = self._find(alert.raise_id)
        if raised is None:
            logger.info("%s: no record of the raise of %s; creating one for the clear", self._label, alert.id)
            self._ensure(alert, alert.id)
            return
        marker = clear_marker(alert)
        if raised.display == marker:
            logger.info("%s: %s already noted on %s; nothing sent", self._label, alert.id, raised.number)
            return
        fields = {"work_notes": clear_note(alert), "correlation_display": marker}
        # A PATCH adds a journal entry each time: sent once, like a create; a redelivery finds the marker.
        url = f"{self._table_url}/{raised.sys_id}?{urlencode({'sysparm_fields': _LOOKED_UP})}"
        self._call("PATCH", url, body=_json(fields), action="update", retry=False)
        logger.info("%s: noted %s on %s", self._label, alert.id, raised.number)

    def _find(self, correlation: str) -> Found | None:
        if not _CORRELATION_ID.fullmatch(correlation):
            raise DeliveryError(
                f"{self._label}: alert id {flat(correlation, 120)} cannot be searched for in ServiceNow "
                "(only letters, digits and _.:- are safe in an encoded query)",
                permanent=True,
            )
        query = {"sysparm_query": f"correlation_id={correlation}", "sysparm_fields": _LOOKED_UP, "sysparm_limit": "1"}
        answer = self._call("GET", f"{self._table_url}?{urlencode(query, quote_via=quote)}", action="read")
        result = answer.get("result") if isinstance(answer, dict) else None
        if not isinstance(result, list):
            raise DeliveryError(f"{self._label}: the search answer has no result list", permanent=False)
        if not result:
            return None
        record = result[0] if isinstance(result[0], dict) else {}
        if record.get("correlation_id") != correlation:
            # An encoded query naming a field the table lacks is dropped, not refused: every record matches.
            raise DeliveryError(
                f"{self._label}: searching {self._table} by correlation_id found another record: the table has "
                "no correlation_id field (or the user may not read it); set MFA_SERVICENOW_TABLE to a table "
                "extending task, such as incident",
                permanent=True,
            )
        return self._found(record)

    def _create(self, alert: Deliverable, correlation: str) -> None:
        url = f"{self._table_url}?{urlencode({'sysparm_fields': _LOOKED_UP})}"
        answer = self._call("POST", url, body=_json(self.fields(alert, correlation)), action="create", retry=False)
        result = answer.get("result") if isinstance(answer, dict) else None
        number = flat(result.get("number", "?"), 40) if isinstance(result, dict) else "?"
        logger.info("%s: created %s for %s", self._label, number, alert.id)

    def fields(self, alert: Deliverable, correlation: str) -> dict[str, str]:
        """The record's fields for ``alert`` (plain text; values from the data escaped)."""
        if isinstance(alert, HealthAlert):
            urgency = HEALTH_URGENCY.get(alert.level, "3")
        else:
            urgency = URGENCY.get(alert.rule.severity, "3")
        return {
            "short_description": summary(alert, limit=SHORT_DESCRIPTION_CHARS),
            "description": fit(description(alert, links=self._links), DESCRIPTION_CHARS),
            "urgency": urgency,
            "impact": urgency,
            "correlation_id": correlation,
            "correlation_display": SOURCE,
        }

    def _found(self, record: dict[str, Any]) -> Found:
        sys_id = record.get("sys_id")
        if not isinstance(sys_id, str) or not _SYS_ID.fullmatch(sys_id):
            raise DeliveryError(f"{self._label}: the search answer has no usable sys_id", permanent=False)
        display = record.get("correlation_display")
        return Found(sys_id, flat(record.get("number", "?"), 40), display if isinstance(display, str) else "")

    def _call(self, method: str, url: str, *, action: str, body: bytes | None = None, retry: bool = True) -> Any:
        """One Table API call, its JSON answer; a 401 to a cached token is retried once with a new one."""
        while True:
            authorization = self._auth.authorize()
            headers = {"accept": "application/json", **authorization.headers}
            if body is not None:
                headers["content-type"] = "application/json; charset=utf-8"
            try:
                answer = self._transport.request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    label=self._label,
                    secrets=authorization.secrets,
                    read=True,
                    retry=retry,
                )
            except DeliveryError as error:
                if error.status == 401 and authorization.cached:
                    logger.info("%s: the cached OAuth token was refused; getting a new one", self._label)
                    self._auth.forget()
                    continue
                raise self._explained(error, action=action) from None
            return answer.json(label=self._label)

    def _explained(self, error: DeliveryError, *, action: str) -> DeliveryError:
        """``error`` with what to check, ServiceNow's own message in place of its JSON, and any control
        character a server sent escaped."""
        status = error.status
        text = servicenow_message(str(error))
        if status == 401:
            text += f"; {self._auth.hint}"
        elif status == 403:
            text += (
                f"; {self._auth.user_setting} may not {action} {self._table} records: check its roles "
                f"(itil for incident) and the table's ACLs"
            )
        elif status == 404 and action == "update":
            text += "; the record was deleted, or an ACL hides it from the user"
        elif status == 404 or (status == 400 and "Invalid table" in text):
            text += f"; check MFA_SERVICENOW_TABLE: table {self._table} does not exist or the user may not see it"
        return DeliveryError(printable(text), permanent=error.permanent, status=error.status)


def _credentials(
    sink: ServiceNowSink, user: str | None, password: str | None, client_id: str | None, client_secret: str | None
) -> Credentials:
    basic = user is not None or password is not None
    oauth = client_id is not None or client_secret is not None
    if basic == oauth:
        raise ConfigError(
            "MFA_SERVICENOW_USER: set either MFA_SERVICENOW_USER and _PASSWORD (basic authentication) or "
            "MFA_SERVICENOW_CLIENT_ID and _CLIENT_SECRET (OAuth client credentials), exactly one of them"
        )
    if basic:
        return BasicAuth(user or "", password or "")
    return ClientCredentials(
        url=sink._url,
        client_id=client_id or "",
        client_secret=client_secret or "",
        transport=sink._transport,
        label=sink._label,
    )


def clear_marker(alert: HealthAlert) -> str:
    """What ``correlation_display`` says once the clear is noted (57 characters of its 100)."""
    return f"{SOURCE} cleared {alert.id}"


def clear_note(alert: HealthAlert) -> str:
    """The work note for a clear: our own words (the condition's summary is ours, not the data's), with
    brackets made round so that nothing can open journal markup."""
    text = (
        f"{SOURCE}: health condition {alert.condition} cleared. {alert.summary}. "
        f"Detected {format_instant(alert.detected_at)}; clear id {alert.id}."
    )
    return printable(text).replace("[", "(").replace("]", ")")


def fit(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, cut at a line end with a note saying so (ServiceNow
    would cut it silently, maybe mid-line)."""
    if len(text) <= limit:
        return text
    note = "\n… (cut: a ServiceNow description holds at most 4000 characters)"
    head = text[: limit - len(note)]
    return head[: head.rfind("\n")] + note if "\n" in head else head + note


def servicenow_message(text: str) -> str:
    """A transport error with ServiceNow's JSON error (``{"error": {"message", "detail"}}``) shown as
    its message and detail; unchanged when the body was not that JSON or was cut."""
    head, sep, said = text.partition(", not retried: ")
    try:
        data = json.loads(said) if sep else None
    except ValueError:
        return text
    error = data.get("error") if isinstance(data, dict) else None
    if not isinstance(error, dict) or not isinstance(error.get("message"), str):
        return text
    detail = error.get("detail")
    shown = f"{error['message']} ({detail})" if isinstance(detail, str) and detail else error["message"]
    return f"{head}, not retried: ServiceNow says: {flat(shown, 300)}"


def _json(fields: dict[str, str]) -> bytes:
    return json_text(fields).encode("utf-8")
