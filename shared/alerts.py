"""Result rows of one evaluated window -> alerts: rule metadata, entities, custom details, a stable id.

An alert is what Sentinel would raise for the rule "MFA Rejected by User" (v2.0.4): the rule's
metadata, the window, the result rows as custom details, and the entities the rule's
``entityMappings`` produce. Its JSON text (``to_json``) is the versioned document the outbox stores and
the generic webhook sends (``shared.alert_document``, docs/webhook-payload.v1.schema.json), so a
redelivery from the outbox sends the very same body.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from shared.alert_document import RULE_ID, SCHEMA, AlertDocument, malformed, workspace_document, workspace_tag
from shared.errors import InputError
from shared.instants import format_instant
from shared.models import OUTPUT_COLUMNS, Row, Window, WorkspaceTag
from shared.serialise import json_text

Grouping = Literal["single", "per-row"]
GROUPINGS: Final[tuple[str, ...]] = ("single", "per-row")

# Datetime columns of the rule's output; every other column is a string, an int or a dynamic value.
TIME_COLUMNS: Final = ("StartTime", "EndTIme")
# What identifies one result row: the summarize keys (user, user id, tenant, IP) plus AccountUPN,
# because two IdentityInfo spellings of one UPN ("John@x.com", "john@x.com") emit the same sign-in row
# twice with different enrichment. Scores and enrichment are deliberately left out of the alert id:
# IdentityInfo or BehaviorAnalytics rows arriving late must not turn a re-run into a second alert.
ROW_KEY_COLUMNS: Final = ("UserPrincipalName", "UserId", "AADTenantId", "FailedIPAddress", "AccountUPN")


@dataclass(frozen=True, slots=True)
class Rule:
    """The analytics rule's metadata, as carried by each alert."""

    id: str
    name: str
    version: str
    description: str
    severity: str
    tactics: tuple[str, ...]
    techniques: tuple[str, ...]


# Verbatim from the rule (the YAML block wraps it in single quotes; they are not part of the text).
_DESCRIPTION = (
    "Identifies occurances where a user has rejected an MFA prompt. This could be an indicator that a threat"
    " actor has compromised the username and password of this user account and is using it to try and log"
    " into the account.\n"
    "Ref : https://docs.microsoft.com/azure/active-directory/fundamentals/"
    "security-operations-user-accounts#monitoring-for-failed-unusual-sign-ins\n"
    "This query has also been updated to include UEBA logs IdentityInfo and BehaviorAnalytics for contextual"
    " information around the results.\n"
    "Please note, MFA Failed logons from known IP ranges can be benign depending on the conditional access"
    " policies. In case of noisy behavior, consider tuning the source IP ranges or location filter after"
    " careful consideration"
)

RULE: Final = Rule(
    id=RULE_ID,
    name="MFA Rejected by User",
    version="2.0.4",
    description=_DESCRIPTION,
    severity="Medium",
    tactics=("InitialAccess",),
    techniques=("T1078.004",),
)

# Display names for what the rule references (MITRE ATT&CK v15 wording).
TACTIC_NAMES: Final = {"InitialAccess": "Initial Access"}
TECHNIQUE_NAMES: Final = {"T1078.004": "Valid Accounts: Cloud Accounts"}

# The rule's entityMappings: (entity type, ((identifier, column), ...)), in the rule's order.
ENTITY_MAPPINGS: Final[tuple[tuple[str, tuple[tuple[str, str], ...]], ...]] = (
    ("Account", (("FullName", "UserPrincipalName"), ("Name", "Name"), ("UPNSuffix", "UPNSuffix"))),
    ("Account", (("AadUserId", "UserId"),)),
    ("IP", (("Address", "FailedIPAddress"),)),
)


def technique_url(technique: str) -> str:
    """MITRE ATT&CK page of a technique id: T1078.004 -> https://attack.mitre.org/techniques/T1078/004/."""
    return "https://attack.mitre.org/techniques/" + technique.replace(".", "/") + "/"


@dataclass(frozen=True, slots=True)
class Entity:
    """One entity as Sentinel maps it: a type and its non-empty identifiers, in the mapping's order."""

    type: str
    identifiers: tuple[tuple[str, str], ...]

    def identifier(self, name: str) -> str | None:
        return dict(self.identifiers).get(name)

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "identifiers": dict(self.identifiers)}


def row_entities(row: Row) -> list[Entity]:
    """The entities one result row maps to. As in Sentinel, an empty identifier is left out, and an
    entity left with no identifiers is not emitted at all."""
    entities: list[Entity] = []
    for entity_type, fields in ENTITY_MAPPINGS:
        identifiers = tuple(
            (identifier, str(row[column])) for identifier, column in fields if row.get(column) not in (None, "")
        )
        if identifiers:
            entities.append(Entity(entity_type, identifiers))
    return entities


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert: what a sink delivers and the outbox stores.

    ``rows`` are the result rows (all 16 output columns, in the rule's column order) — the alert's
    custom details; ``entities`` are de-duplicated over those rows.
    """

    id: str
    rule: Rule
    window: Window
    detected_at: datetime
    rows: tuple[Row, ...]
    entities: tuple[Entity, ...]
    # Set when the alert goes out long after it was detected (it waited in the outbox: no sink was
    # configured, or the receiver was failing); the payload and the card then say so.
    delay: timedelta | None = None
    # Set when the rows were found by a re-evaluation (MFA_LATE_DATA): their sign-in or UEBA data
    # arrived after the window's first evaluation; how long after the window's end they were found.
    late: timedelta | None = None
    # Set when the deployment names its workspaces: the workspace the rows came from, also in the id.
    workspace: WorkspaceTag | None = None

    @property
    def title(self) -> str:
        return self.rule.name

    def in_workspace(self, workspace: WorkspaceTag) -> Alert:
        """This alert, from ``workspace``: named in the payload, its GUID part of the id."""
        return replace(self, workspace=workspace, id=workspace.scoped_id(self.id))

    def delayed(self, delay: timedelta) -> Alert:
        """This alert, marked as delivered ``delay`` after its detection."""
        return replace(self, delay=delay)

    def found_late(self, late: timedelta) -> Alert:
        """This alert, marked as found by a re-evaluation ``late`` after its window's end."""
        return replace(self, late=late)

    def document(self) -> AlertDocument:
        """The alert as the versioned document (``mfa-rejected.alert/v1``)."""
        delay = {} if self.delay is None else {"delayed": True, "delaySeconds": int(self.delay.total_seconds())}
        late = {} if self.late is None else {"late": True, "lateSeconds": int(self.late.total_seconds())}
        workspace = {} if self.workspace is None else {"workspace": workspace_document(self.workspace)}
        rule = self.rule
        return AlertDocument.model_validate(
            {
                "schema": SCHEMA,
                "id": self.id,
                "rule": {
                    "id": rule.id,
                    "name": rule.name,
                    "version": rule.version,
                    "description": rule.description,
                    "severity": rule.severity,
                    "tactics": list(rule.tactics),
                    "techniques": list(rule.techniques),
                },
                "window": {"start": self.window.start, "end": self.window.end},
                "detectedAt": self.detected_at,
                "entities": [entity.to_dict() for entity in self.entities],
                "rows": list(self.rows),
            }
            | delay
            | late
            | workspace
        )

    def to_dict(self) -> dict[str, Any]:
        return self.document().dump()

    def to_json(self) -> str:
        """Compact UTF-8-ready JSON text; ``Alert.from_json(a.to_json()).to_json() == a.to_json()``."""
        return json_text(self.to_dict(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        if data.get("schema") != SCHEMA:
            raise InputError(f"alert document: schema is {data.get('schema')!r}, expected {SCHEMA!r}")
        try:
            return cls.from_document(AlertDocument.model_validate(data))
        except ValueError as error:  # a ValidationError, or a window whose end is not after its start
            raise InputError(malformed("alert", data, error)) from None

    @classmethod
    def from_document(cls, document: AlertDocument) -> Alert:
        rule = document.rule
        return cls(
            id=document.id,
            rule=Rule(
                id=rule.id,
                name=rule.name,
                version=rule.version,
                description=rule.description,
                severity=rule.severity,
                tactics=tuple(rule.tactics),
                techniques=tuple(rule.techniques),
            ),
            window=Window(document.window.start, document.window.end),
            detected_at=document.detected_at,
            rows=tuple({column: getattr(row, column) for column in OUTPUT_COLUMNS} for row in document.rows),
            entities=tuple(Entity(entity.type, tuple(entity.identifiers.items())) for entity in document.entities),
            delay=timedelta(seconds=document.delay_seconds or 0) if document.delayed else None,
            late=timedelta(seconds=document.late_seconds or 0) if document.late else None,
            workspace=workspace_tag(document.workspace),
        )

    @classmethod
    def from_json(cls, text: str) -> Alert:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(
                f"alert document: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
            ) from None
        if not isinstance(data, dict):
            raise InputError(f"alert document: expected a JSON object, got {type(data).__name__}")
        return cls.from_dict(data)


def build_alerts(
    rows: Iterable[Row], *, window: Window, detected_at: datetime, grouping: Grouping = "single"
) -> list[Alert]:
    """Turn one window's result rows into alerts.

    ``single`` (Sentinel's default for this rule) gives one alert holding every row, or none for no
    rows; ``per-row`` gives one alert per distinct result row (user, IP, ...). Rows are ordered as the
    rule sorts them (UEBARiskScore descending), ties broken by user and IP so the order is stable.
    """
    if grouping not in GROUPINGS:
        raise InputError(f"alert grouping must be one of {', '.join(GROUPINGS)}, got {grouping!r}")
    if detected_at.tzinfo is None:
        raise InputError("detected_at must be timezone-aware")
    checked = sorted((_checked_row(row, index) for index, row in enumerate(rows)), key=_display_order)
    if not checked:
        return []
    if grouping == "single":
        groups = [checked]
    else:
        by_key: dict[str, list[Row]] = {}
        for row in checked:
            by_key.setdefault(row_key(row), []).append(row)
        groups = list(by_key.values())
    return [_alert(group, window=window, detected_at=detected_at) for group in groups]


def alert_id(rows: Iterable[Row], *, window: Window, rule: Rule = RULE) -> str:
    """The stable id: the same rule version, window and row keys give the same id, whatever the row
    order or detection time. It is the Standard Webhooks ``webhook-id`` and the outbox key."""
    keys = sorted({row_key(row) for row in rows})
    material = json.dumps(
        {
            "rule": rule.id,
            "version": rule.version,
            "window": [format_instant(window.start), format_instant(window.end)],
            "rows": keys,
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    return "msg_" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def describe_delay(delay: timedelta) -> str:
    """``3 h 20 min``, ``2 d 4 h``: the delay as a person reads it."""
    minutes = int(delay.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" * bool(days), f"{hours} h" * bool(hours), f"{minutes} min" * bool(minutes and not days)]
    return " ".join(part for part in parts if part) or "under a minute"


def _alert(rows: list[Row], *, window: Window, detected_at: datetime) -> Alert:
    entities: dict[Entity, None] = {}  # an ordered set: first appearance wins
    for row in rows:
        entities.update(dict.fromkeys(row_entities(row)))
    return Alert(
        id=alert_id(rows, window=window),
        rule=RULE,
        window=window,
        detected_at=detected_at.astimezone(UTC),
        rows=tuple(rows),
        entities=tuple(entities),
    )


def _checked_row(row: Mapping[str, Any], index: int) -> Row:
    if set(row) != set(OUTPUT_COLUMNS):
        missing = [c for c in OUTPUT_COLUMNS if c not in row]
        extra = [c for c in row if c not in OUTPUT_COLUMNS]
        raise InputError(
            f"result row {index}: columns differ from the rule's output (missing {missing}, extra {extra})"
        )
    checked: Row = {}
    for column in OUTPUT_COLUMNS:
        value = row[column]
        if column in TIME_COLUMNS:
            if not isinstance(value, datetime) or value.tzinfo is None:
                raise InputError(f"result row {index}: {column} must be a timezone-aware datetime, got {value!r}")
            value = value.astimezone(UTC)
        else:
            try:
                # Copy through JSON: the alert must not share lists with the caller, and every value
                # must survive the JSON round trip the outbox relies on.
                value = json.loads(json.dumps(value, allow_nan=False))
            except (TypeError, ValueError) as error:
                raise InputError(f"result row {index}: {column} is not JSON-serialisable ({error})") from None
        checked[column] = value
    return checked


def _display_order(row: Row) -> tuple[Any, ...]:
    score = row["UEBARiskScore"]
    # `sort by UEBARiskScore desc` puts nulls last; the rest only makes ties stable.
    return (-score if isinstance(score, int | float) else math.inf, row_key(row), row["StartTime"])


def row_key(row: Row) -> str:
    """What identifies one result row within a window (``ROW_KEY_COLUMNS``), as text."""
    return json.dumps([row.get(column) for column in ROW_KEY_COLUMNS], ensure_ascii=True)
