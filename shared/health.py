"""Health alerts: the detection's own inputs gone quiet, raised once when it starts, once when it clears.

"No data" must not look like "no attack". After each run's windows, ``assess`` compares what the
stored health marks say (the newest row seen per table, the conditions raised and cleared) with the
checkpoint, and returns the changes as ``HealthAlert``s with stable ids, for the outbox and the same
sinks as rule alerts. Health alerts are never suppressed by MFA_SUPPRESSION.

Conditions (measured in sign-in time, from the checkpoint):
- ``signins-silent``: no SigninLogs row for MFA_NO_DATA_AFTER;
- ``ueba-silent``: no BehaviorAnalytics LogOn/FailedLogOn row for 24 h while SigninLogs had rows;
- ``identity-silent`` (info): no IdentityInfo row over MFA_IDENTITY_LOOKBACK for 24 h;
- ``skipped``: sign-in time left unevaluated beyond MFA_MAX_CATCHUP (cleared by the next run that
  needs to skip nothing);
- ``unevaluated``: a run failed while the windows due lag the checkpoint by MFA_NO_DATA_AFTER (a
  workspace refusing, unreachable, throttled); cleared by the run that catches up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from shared.alert_document import malformed, workspace_document, workspace_tag
from shared.candidates import LOGON_ACTIVITY_TYPES
from shared.errors import InputError
from shared.health_document import SCHEMA, Condition, HealthDocument, Level, State
from shared.instants import format_instant
from shared.models import BEHAVIOR_TABLE, Row, Window, WorkspaceTag
from shared.serialise import json_text


@dataclass(frozen=True, slots=True)
class HealthAlert:
    """One change of one condition: what the sinks deliver and the outbox stores."""

    id: str
    condition: Condition
    state: State
    level: Level
    summary: str
    detail: str
    since: datetime
    last_seen: datetime | None
    detected_at: datetime
    range: Window | None = None
    delay: timedelta | None = None
    workspace: WorkspaceTag | None = None  # set when the deployment names its workspaces: in the id too

    @property
    def title(self) -> str:
        verb = "cleared" if self.state == "cleared" else "raised"
        return f"mfa-rejected health: {self.condition} {verb}"

    @property
    def raise_id(self) -> str:
        """The id of the raise this change belongs to (its own when raised): a clear names the same
        condition and ``since`` as its raise, so a destination that tracks incidents (PagerDuty's
        ``dedup_key``, a ticket) resolves the very one the raise opened."""
        base = health_id(self.condition, "raised", self.since)
        return base if self.workspace is None else self.workspace.scoped_id(base)

    def in_workspace(self, workspace: WorkspaceTag) -> HealthAlert:
        """This alert, about ``workspace``: named in the document, its GUID part of the id."""
        return replace(self, workspace=workspace, id=workspace.scoped_id(self.id))

    def delayed(self, delay: timedelta) -> HealthAlert:
        """This alert, marked as delivered ``delay`` after its detection."""
        return replace(self, delay=delay)

    def document(self) -> HealthDocument:
        data: dict[str, Any] = {
            "schema": SCHEMA,
            "id": self.id,
            "condition": self.condition,
            "state": self.state,
            "level": self.level,
            "summary": self.summary,
            "detail": self.detail,
            "since": self.since,
            "lastSeen": self.last_seen,
            "detectedAt": self.detected_at,
        }
        if self.range is not None:
            data["range"] = {"start": self.range.start, "end": self.range.end}
        if self.delay is not None:
            data |= {"delayed": True, "delaySeconds": int(self.delay.total_seconds())}
        if self.workspace is not None:
            data["workspace"] = workspace_document(self.workspace)
        return HealthDocument.model_validate(data)

    def to_json(self) -> str:
        return json_text(self.document().dump(), separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> HealthAlert:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"health alert document: not JSON (line {error.lineno}: {error.msg})") from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: object) -> HealthAlert:
        """The health alert a parsed document holds; ``InputError`` naming what is malformed."""
        try:
            return cls._from_document(HealthDocument.model_validate(data))
        except ValueError as error:  # a ValidationError, or a range whose end is not after its start
            raise InputError(malformed("health alert", data, error)) from None

    @classmethod
    def _from_document(cls, document: HealthDocument) -> HealthAlert:
        return cls(
            id=document.id,
            condition=document.condition,
            state=document.state,
            level=document.level,
            summary=document.summary,
            detail=document.detail,
            since=document.since,
            last_seen=document.last_seen,
            detected_at=document.detected_at,
            range=None if document.range is None else Window(document.range.start, document.range.end),
            delay=timedelta(seconds=document.delay_seconds or 0) if document.delayed else None,
            workspace=workspace_tag(document.workspace),
        )


def counts_for_health(table: str, row: Row) -> bool:
    """Whether ``row`` shows that its table is flowing: any row with a time; of BehaviorAnalytics
    only the LogOn/FailedLogOn rows, the only ones this rule reads."""
    if row.get("TimeGenerated") is None:
        return False
    return table != BEHAVIOR_TABLE or row.get("ActivityType") in LOGON_ACTIVITY_TYPES


def health_id(condition: str, state: str, since: datetime) -> str:
    """Stable: the same condition, state and start give the same id, so a retried run sends nothing twice."""
    material = f"{condition}\x00{state}\x00{format_instant(since)}"
    return "hlt_" + hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
