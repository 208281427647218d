"""The alert document ``mfa-rejected.alert/v1`` as a pydantic model: what the webhook sends, the outbox
stores and ``Alert.to_json``/``Alert.from_json`` write and read.

The model is the one definition of the payload: ``docs/webhook-payload.v1.schema.json`` is generated
from it (``python -m shared.alert_document --schema > docs/webhook-payload.v1.schema.json``, or
``make schema``), and a test fails when the two differ. Times are written with
``shared.instants.format_instant``; reading accepts any ISO 8601 time with a timezone.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema, SkipJsonSchema

from shared.instants import format_instant, parse_instant
from shared.models import WorkspaceTag

SCHEMA: Final = "mfa-rejected.alert/v1"
RULE_ID: Final = "d99cf5c3-d660-436c-895b-8a8f8448da23"

SCHEMA_ID: Final = "urn:mfa-rejected:schema:alert:v1"
_TITLE: Final = "mfa-rejected alert, version 1"
_DESCRIPTION: Final = (
    "Body of the signed JSON webhook (MFA_WEBHOOK_URL): one alert of the Microsoft Sentinel rule 'MFA Rejected by"
    " User' (v2.0.4) as re-implemented by mfa-rejected. Signed per the Standard Webhooks spec; the webhook-id header"
    " equals `id`. New optional fields may be added within v1; anything incompatible gets a new `schema` value."
)
TIME_PATTERN: Final = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?Z$"


def _parsed(value: Any) -> Any:
    return parse_instant(value) if isinstance(value, str) else value


def _non_empty(text: str) -> str:
    if not text:
        raise ValueError("empty string")
    return text


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: expected a timezone-aware UTC time")
    return moment.astimezone(UTC)


# A time: a timezone-aware datetime in the model, format_instant text in the document.
Instant = Annotated[
    datetime,
    BeforeValidator(_parsed),
    AfterValidator(_utc),
    PlainSerializer(format_instant, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": TIME_PATTERN}),
]
# A non-empty string. Checked here rather than by pydantic's min_length, which refuses a string holding
# a lone surrogate (data may: shared.serialise.json_text writes it as an escape).
NonEmpty = Annotated[str, AfterValidator(_non_empty), WithJsonSchema({"type": "string", "minLength": 1})]
# A make_set() result from IdentityInfo: an array, or null when the user had no IdentityInfo match.
StringSet = Annotated[
    list[Any] | None,
    WithJsonSchema(
        {
            "type": ["array", "null"],
            "description": "A make_set() result from IdentityInfo; null when the user had no IdentityInfo match.",
        }
    ),
]


def without_default(schema: dict[str, Any]) -> None:
    # An optional field is absent from the document, never null: the schema shows no default.
    schema.pop("default", None)


def is_absent(value: object) -> bool:
    return value is None


def optional_field(description: str, *, alias: str | None = None) -> Any:
    """A field absent from the document unless set (no default in the schema)."""
    return Field(None, alias=alias, exclude_if=is_absent, json_schema_extra=without_default, description=description)


class _Model(BaseModel):
    # Strict: a value is taken as it is or refused, never converted (5.0 stays no int, "5" no number),
    # so that a stored document reads back to the very same text.
    model_config = ConfigDict(strict=True, frozen=True)


class RuleDocument(_Model):
    id: Literal["d99cf5c3-d660-436c-895b-8a8f8448da23"]
    name: NonEmpty
    version: Annotated[str, Field(pattern=r"^[0-9]+\.[0-9]+\.[0-9]+$")]
    description: str
    severity: Literal["Informational", "Low", "Medium", "High"]
    tactics: Annotated[list[str], Field(min_length=1)]
    techniques: Annotated[list[Annotated[str, Field(pattern=r"^T[0-9]{4}(\.[0-9]{3})?$")]], Field(min_length=1)]


class WindowDocument(_Model):
    """The evaluated window of TimeGenerated, half-open [start, end), UTC."""

    start: Instant
    end: Instant


class WorkspaceDocument(_Model):
    """The Log Analytics workspace the alert's data came from (when the deployment names its workspaces)."""

    model_config = ConfigDict(extra="forbid")

    name: NonEmpty = Field(description="The workspace's name in this deployment (LOG_ANALYTICS_WORKSPACE_ID).")
    id: Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")] = Field(
        description="The workspace's GUID (its Workspace ID)."
    )
    resource_id: NonEmpty | SkipJsonSchema[None] = optional_field(
        "The workspace's Azure resource id, when configured.", alias="resourceId"
    )


class AccountEntity(_Model):
    model_config = ConfigDict(extra="forbid")

    type: Literal["Account"]
    identifiers: Annotated[dict[Literal["FullName", "Name", "UPNSuffix", "AadUserId"], NonEmpty], Field(min_length=1)]


class IpEntity(_Model):
    model_config = ConfigDict(extra="forbid")

    type: Literal["IP"]
    identifiers: Annotated[dict[Literal["Address"], NonEmpty], Field(min_length=1)]


EntityDocument = Annotated[AccountEntity | IpEntity, Field(discriminator="type")]


class RowDocument(_Model):
    """One result row: the rule's 16 output columns, in the query's order."""

    model_config = ConfigDict(extra="forbid")

    UserPrincipalName: str = Field(description="Lower-cased UPN from SigninLogs.")
    UserId: str
    AADTenantId: str
    FailedIPAddress: str
    StartTime: Instant = Field(description="First MFA rejection in the window.")
    EndTIme: Instant = Field(description="Last MFA rejection in the window (the rule spells it EndTIme).")
    Name: str = Field(description="UPN part before '@'.")
    UPNSuffix: str = Field(description="UPN part after '@'.")
    AccountUPN: str = Field(description="IdentityInfo's AccountUPN; empty when no match.")
    Tags: StringSet
    GroupMembership: StringSet
    AssignedRoles: StringSet
    UserType: StringSet
    UserAccountControl: StringSet = Field(description="As in the rule: make_set(UserType).")
    MaxInvestigationScore: int | None = Field(
        description="Highest BehaviorAnalytics InvestigationPriority for this user and IP in the window."
    )
    UEBARiskScore: int = Field(description="Equal to MaxInvestigationScore; above the cutoff (3 by default).")


class AlertDocument(_Model):
    """The webhook body: one alert (``Alert.to_dict`` is its ``dump``)."""

    model_config = ConfigDict(
        title=_TITLE,
        json_schema_extra={
            "description": _DESCRIPTION,
            "additionalProperties": True,  # new optional fields may be added within v1
            "dependentRequired": {"delayed": ["delaySeconds"], "late": ["lateSeconds"]},
        },
    )

    schema_: Literal["mfa-rejected.alert/v1"] = Field(alias="schema", description="Payload name and version.")
    id: str = Field(
        pattern=r"^msg_[0-9a-f]{32}$",
        description="Stable alert id: the same rule version, window and result-row keys (user, user id, tenant, IP,"
        " AccountUPN) always give the same id. Use it to drop at-least-once redeliveries.",
    )
    rule: RuleDocument
    window: WindowDocument
    detected_at: Instant = Field(
        alias="detectedAt", description="When the window was evaluated (UTC). Not part of the id."
    )
    workspace: WorkspaceDocument | SkipJsonSchema[None] = optional_field(
        "Present when the deployment names its workspaces (one of several, or a named one): the workspace whose"
        " data this is. Its GUID is then part of the id."
    )
    entities: list[EntityDocument] = Field(
        description="The rule's entity mappings over all rows, de-duplicated. Empty identifiers are left out; an"
        " entity without identifiers is not listed."
    )
    rows: list[RowDocument] = Field(
        min_length=1,
        description="The rule's result rows (custom details): the 16 output columns, in the query's order, sorted"
        " by UEBARiskScore descending.",
    )
    delayed: Literal[True] | SkipJsonSchema[None] = optional_field(
        "Present (true) only when the alert is delivered more than MFA_MAX_CATCHUP after detectedAt: it"
        " waited in the outbox because no sink was configured or the receiver kept failing."
    )
    delay_seconds: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = optional_field(
        "With delayed: seconds between detectedAt and this delivery.", alias="delaySeconds"
    )

    late: Literal[True] | SkipJsonSchema[None] = optional_field(
        "Present (true) only when the rows were found by a re-evaluation of the window (MFA_LATE_DATA):"
        " their sign-in or UEBA data arrived after the window's first evaluation. Rows alerted before are never"
        " sent again."
    )
    late_seconds: Annotated[int, Field(ge=0)] | SkipJsonSchema[None] = optional_field(
        "With late: seconds between the window's end and the re-evaluation that found these rows.", alias="lateSeconds"
    )

    @model_validator(mode="after")
    def _delay_has_seconds(self) -> AlertDocument:
        if self.delayed and self.delay_seconds is None:
            raise ValueError("delayed without delaySeconds")
        if self.late and self.late_seconds is None:
            raise ValueError("late without lateSeconds")
        return self

    def dump(self) -> dict[str, Any]:
        """The document as plain data, ready for ``shared.serialise.json_text`` (absent fields left out)."""
        return self.model_dump(mode="python", by_alias=True)


def workspace_document(tag: WorkspaceTag) -> dict[str, Any]:
    """A workspace as its document holds it (``resourceId`` only when known)."""
    data = {"name": tag.name, "id": tag.id}
    return data if tag.resource_id is None else data | {"resourceId": tag.resource_id}


def workspace_tag(document: WorkspaceDocument | None) -> WorkspaceTag | None:
    if document is None:
        return None
    return WorkspaceTag(name=document.name, id=document.id, resource_id=document.resource_id)


def malformed(kind: str, data: object, error: ValidationError | ValueError) -> str:
    """``<kind> document '<id>': malformed (<field>: <problem>; …)``, naming at most three problems."""
    name = data.get("id") if isinstance(data, dict) else None
    if not isinstance(error, ValidationError):  # e.g. a window whose end is not after its start
        return f"{kind} document {name!r}: malformed ({error})"
    problems = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'document'}: {problem['msg']}"
        for problem in error.errors(include_url=False)[:3]
    )
    more = f" (and {error.error_count() - 3} more)" if error.error_count() > 3 else ""
    return f"{kind} document {name!r}: malformed ({problems}{more})"


class UntitledSchema(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: Any) -> bool:
        return False  # "title": "Userprincipalname" and the like say nothing the property name does not


def schema_of(model: type[BaseModel], *, schema_id: str) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``model``'s documents as written, under ``schema_id``."""
    generated = model.model_json_schema(mode="serialization", schema_generator=UntitledSchema)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": schema_id, **generated}


def print_schema(argv: Sequence[str] | None, *, module: str, schema: dict[str, Any]) -> int:
    """``python -m <module> --schema``: the schema as the docs/ file holds it."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=f"the JSON Schema of {schema['title']}")
    parser.add_argument("--schema", action="store_true", help="print the JSON Schema of the document")
    if not parser.parse_args(argv).schema:
        parser.error("nothing to do (give --schema)")
    sys.stdout.write(json.dumps(schema, indent=2, ensure_ascii=False) + "\n")
    return 0


def json_schema() -> dict[str, Any]:
    """The schema of the alert document (``docs/webhook-payload.v1.schema.json``)."""
    return schema_of(AlertDocument, schema_id=SCHEMA_ID)


def json_schema_text() -> str:
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.exit(print_schema(None, module="shared.alert_document", schema=json_schema()))
