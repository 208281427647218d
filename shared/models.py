"""Plain data shared by every layer: table schemas, windows, what a source returns, output columns."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final

from shared.instants import format_instant

# A row is a plain dict, column name -> value, normalised to the Kusto column type:
#   string -> str (never None: Kusto strings are never null), datetime -> aware UTC datetime or None,
#   int -> int or None, bool -> bool or None, dynamic -> parsed JSON (dict/list/str/int/float/bool) or None.
Row = dict[str, Any]

SIGNIN_TABLE: Final = "SigninLogs"
IDENTITY_TABLE: Final = "IdentityInfo"
BEHAVIOR_TABLE: Final = "BehaviorAnalytics"

# The columns the rule reads, with their Kusto types (docs/rule-semantics.md, "Input columns and types").
# "string_or_dynamic" is IdentityInfo.Tags: a string in the reference schema, but some workspaces
# hold a JSON array there, which is then treated as dynamic.
SCHEMAS: Final[dict[str, dict[str, str]]] = {
    SIGNIN_TABLE: {
        "TimeGenerated": "datetime",
        "ResultType": "string",
        "Status": "dynamic",
        "UserPrincipalName": "string",
        "UserId": "string",
        "AADTenantId": "string",
        "IPAddress": "string",
    },
    IDENTITY_TABLE: {
        "TimeGenerated": "datetime",
        "AccountUPN": "string",
        "Tags": "string_or_dynamic",
        "JobTitle": "string",
        "GroupMembership": "dynamic",
        "AssignedRoles": "dynamic",
        "UserType": "string",
        "IsAccountEnabled": "bool",
    },
    BEHAVIOR_TABLE: {
        "TimeGenerated": "datetime",
        "ActivityType": "string",
        "SourceIPAddress": "string",
        "UserName": "string",
        "InvestigationPriority": "int",
        "UsersInsights": "dynamic",
        "DevicesInsights": "dynamic",
        "ActivityInsights": "dynamic",
    },
}

# Columns a table must have. The others may be absent from a file (they are then null / "").
REQUIRED_COLUMNS: Final[dict[str, tuple[str, ...]]] = {
    SIGNIN_TABLE: ("TimeGenerated", "ResultType", "Status", "UserPrincipalName", "IPAddress"),
    IDENTITY_TABLE: ("TimeGenerated", "AccountUPN"),
    BEHAVIOR_TABLE: ("TimeGenerated", "ActivityType", "SourceIPAddress", "UserName", "InvestigationPriority"),
}

# The rule's 16 output columns, in the order Kusto returns them (docs/rule-semantics.md, "Output").
OUTPUT_COLUMNS: Final[tuple[str, ...]] = (
    "UserPrincipalName",
    "UserId",
    "AADTenantId",
    "FailedIPAddress",
    "StartTime",
    "EndTIme",  # sic: the rule spells it with a capital I
    "Name",
    "UPNSuffix",
    "AccountUPN",
    "Tags",
    "GroupMembership",
    "AssignedRoles",
    "UserType",
    "UserAccountControl",
    "MaxInvestigationScore",
    "UEBARiskScore",
)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [start, end) on TimeGenerated; both ends timezone-aware UTC."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"window end {self.end.isoformat()} is not after its start {self.start.isoformat()}")

    def contains(self, moment: datetime | None) -> bool:
        return moment is not None and self.start <= moment < self.end

    def __str__(self) -> str:
        """``[2026-03-01T09:00:00Z, 2026-03-01T10:00:00Z)``: how messages and logs show a window."""
        return f"[{format_instant(self.start)}, {format_instant(self.end)})"


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """What to read: one window per table (None = no time limit, fixtures only).

    The rule reads every table over the same period; IdentityInfo may be given a longer window
    (MFA_IDENTITY_LOOKBACK) for richer enrichment.
    """

    signins: Window | None
    identities: Window | None
    behaviors: Window | None
    # The clock of the read: a row that arrived in the workspace after it is not there yet. Only
    # fixtures can say when a row arrived (an ``_ingested`` column); the live workspace is read as it is.
    as_of: datetime | None = None
    # Also measure each table's newest row in its window (``Tables.latest``), for health alerts.
    measure: bool = False

    @classmethod
    def same(cls, window: Window | None) -> ReadRequest:
        return cls(signins=window, identities=window, behaviors=window)

    @classmethod
    def evaluating(
        cls, window: Window, *, identity_lookback: timedelta, as_of: datetime | None = None, measure: bool = False
    ) -> ReadRequest:
        """What evaluating ``window`` reads, in ``run``, ``backfill`` and ``detect`` alike: the window
        for SigninLogs and BehaviorAnalytics; IdentityInfo over ``identity_lookback`` ending with it
        (MFA_IDENTITY_LOOKBACK), or the window itself if that is longer; rows arrived by ``as_of``."""
        identities = Window(min(window.start, window.end - identity_lookback), window.end)
        return cls(signins=window, identities=identities, behaviors=window, as_of=as_of, measure=measure)


@dataclass(slots=True)
class Tables:
    """What a source returns for a request.

    A source may leave out rows that provably cannot change the rule's result (see
    ``shared.candidates``); ``scanned`` counts the rows it looked at per table, before that.
    """

    signins: list[Row] = field(default_factory=list)
    identities: list[Row] = field(default_factory=list)
    behaviors: list[Row] = field(default_factory=list)
    scanned: dict[str, int] = field(default_factory=dict)
    # With ``ReadRequest.measure``: per table, the newest TimeGenerated of any row in its window
    # (BehaviorAnalytics: LogOn/FailedLogOn rows only, the ones the rule reads), None for none. A
    # table the source could not measure is absent (it says nothing about silence).
    latest: dict[str, datetime | None] = field(default_factory=dict)

    def within(self, request: ReadRequest) -> Tables:
        """The rows a read of ``request`` (windows within this read's) would have returned: one read
        over several windows serves each of them. ``scanned`` stays with the read that did it."""

        def kept(rows: list[Row], window: Window | None) -> list[Row]:
            return rows if window is None else [row for row in rows if window.contains(row["TimeGenerated"])]

        return Tables(
            signins=kept(self.signins, request.signins),
            identities=kept(self.identities, request.identities),
            behaviors=kept(self.behaviors, request.behaviors),
        )


@dataclass(frozen=True, slots=True)
class WorkspaceTag:
    """The workspace an alert came from, as alerts name it (``shared.workspaces`` configures them)."""

    name: str
    id: str  # the workspace's GUID
    resource_id: str | None = None  # the Sentinel workspace's ARM resource id, for links

    def scoped_id(self, base_id: str) -> str:
        """``msg_…`` / ``hlt_…`` made from ``base_id`` and this workspace's GUID, in the same form: the
        same rows in two workspaces (a tenant sent to two regional workspaces) are two alerts, and a
        destination that keys on the id (PagerDuty's dedup_key, a ticket label) never merges them."""
        prefix, _, _ = base_id.partition("_")
        digest = hashlib.sha256(f"{base_id}\x00{self.id}".encode()).hexdigest()[:32]
        return f"{prefix}_{digest}"
