"""The health alert document ``mfa-rejected.health/v1`` as a pydantic model: what the webhook sends
and the outbox stores when the detection's own inputs go quiet ("no data" is not "no match").

``docs/health-payload.v1.schema.json`` is generated from it (``python -m shared.health_document
--schema``, or ``make schema``), and a test fails when the two differ. Times are written with
``shared.instants.format_instant``.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from shared.alert_document import (
    Instant,
    NonEmpty,
    WorkspaceDocument,
    optional_field,
    print_schema,
    schema_of,
)

SCHEMA: Final = "mfa-rejected.health/v1"
SCHEMA_ID: Final = "urn:mfa-rejected:schema:health:v1"

Condition = Literal["signins-silent", "ueba-silent", "identity-silent", "skipped", "unevaluated"]
CONDITIONS: Final[tuple[str, ...]] = ("signins-silent", "ueba-silent", "identity-silent", "skipped", "unevaluated")
State = Literal["raised", "cleared"]
Level = Literal["warning", "info"]


class RangeDocument(BaseModel):
    """Sign-in time [start, end), UTC."""

    model_config = ConfigDict(strict=True, frozen=True)

    start: Instant
    end: Instant


class HealthDocument(BaseModel):
    """The webhook body of a health alert: a condition of the detection's inputs, raised or cleared."""

    model_config = ConfigDict(
        strict=True,
        frozen=True,
        title="mfa-rejected health alert, version 1",
        json_schema_extra={
            "description": (
                "Body of the signed JSON webhook (MFA_WEBHOOK_URL) when a condition of the detection's own inputs"
                " starts or clears: 'no data' is not 'no match'. Signed per the Standard Webhooks spec; the"
                " webhook-id header equals `id`. Never suppressed by MFA_SUPPRESSION."
            ),
            "additionalProperties": True,
            "dependentRequired": {"delayed": ["delaySeconds"]},
        },
    )

    schema_: Literal["mfa-rejected.health/v1"] = Field(alias="schema", description="Payload name and version.")
    id: str = Field(
        pattern=r"^hlt_[0-9a-f]{32}$",
        description="Stable id: the same condition, state and start always give the same id. Use it to drop"
        " at-least-once redeliveries.",
    )
    condition: Condition = Field(
        description="signins-silent: SigninLogs had no rows for MFA_NO_DATA_AFTER. ueba-silent: BehaviorAnalytics"
        " had no LogOn/FailedLogOn rows for 24 h while SigninLogs had rows. identity-silent: IdentityInfo had no"
        " rows over MFA_IDENTITY_LOOKBACK for 24 h. skipped: sign-in time was left unevaluated beyond MFA_MAX_CATCHUP."
        " unevaluated: every run for MFA_NO_DATA_AFTER failed to evaluate (the workspace refused, unreachable,"
        " throttled), so sign-in time waits unevaluated."
    )
    state: State = Field(description="raised: the condition started; cleared: it ended.")
    level: Level = Field(description="warning: the rule cannot alert as it should; info: alerts lack enrichment.")
    summary: NonEmpty = Field(description="One line for a person.")
    detail: str = Field(description="What it means and what to check.")
    since: Instant = Field(description="When the condition began (the last row seen, or the start of skipped time).")
    last_seen: Instant | None = Field(
        alias="lastSeen", description="TimeGenerated of the newest row of the table seen (null: none yet)."
    )
    detected_at: Instant = Field(alias="detectedAt", description="When the run that found the change ran.")
    range: RangeDocument | SkipJsonSchema[None] = optional_field("For skipped: the time not evaluated.")
    workspace: WorkspaceDocument | SkipJsonSchema[None] = optional_field(
        "Present when the deployment names its workspaces: the workspace this condition is about. Its GUID is"
        " then part of the id."
    )
    delayed: Literal[True] | SkipJsonSchema[None] = optional_field(
        "Present (true) only when delivered more than MFA_MAX_CATCHUP after detectedAt."
    )
    delay_seconds: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = optional_field(
        "With delayed: seconds between detectedAt and this delivery.", alias="delaySeconds"
    )

    @model_validator(mode="after")
    def _delay_has_seconds(self) -> HealthDocument:
        if self.delayed and self.delay_seconds is None:
            raise ValueError("delayed without delaySeconds")
        return self

    def dump(self) -> dict[str, Any]:
        """The document as plain data, ready for ``shared.serialise.json_text`` (absent fields left out)."""
        return self.model_dump(mode="python", by_alias=True)


def json_schema() -> dict[str, Any]:
    """The schema of the health alert document (``docs/health-payload.v1.schema.json``)."""
    return schema_of(HealthDocument, schema_id=SCHEMA_ID)


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.exit(print_schema(None, module="shared.health_document", schema=json_schema()))
