"""The generated tables' columns, grouped into segments that vary together.

A row is the concatenation of its segments, in the order below. Columns in one segment change
together (an outcome fixes ResultType, Status, ...; a user fixes UPN, UserId, ...), so a segment's
encoding is computed once per format and reused across rows: that is what makes generation fast.
Column kinds are the Log Analytics column types: string, datetime, int, long, bool, dynamic,
guid, real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SIGNIN: Final = "SigninLogs"
IDENTITY: Final = "IdentityInfo"
BEHAVIOR: Final = "BehaviorAnalytics"
TABLES: Final = (SIGNIN, IDENTITY, BEHAVIOR)

KINDS: Final = frozenset({"string", "datetime", "int", "long", "bool", "dynamic", "guid", "real"})


@dataclass(frozen=True, slots=True, eq=False)
class Columns:
    """The columns of one segment: names and Log Analytics types, in order.

    Compared and hashed by identity (``eq=False``): each segment's columns are one module-level
    constant, and formats look their compiled encoders up by it on every row.
    """

    names: tuple[str, ...]
    kinds: tuple[str, ...]

    @classmethod
    def of(cls, *pairs: str) -> Columns:
        """``Columns.of("TimeGenerated:datetime", "UserName", ...)``; the kind defaults to string."""
        names: list[str] = []
        kinds: list[str] = []
        for pair in pairs:
            name, _, kind = pair.partition(":")
            kind = kind or "string"
            if kind not in KINDS:
                raise ValueError(f"unknown column kind {kind!r} for {name}")
            names.append(name)
            kinds.append(kind)
        return cls(tuple(names), tuple(kinds))


# --- SigninLogs -------------------------------------------------------------------------------
SIGNIN_HEAD: Final = Columns.of("TenantId", "SourceSystem")
SIGNIN_EVENT: Final = Columns.of(
    "TimeGenerated:datetime",
    "CreatedDateTime:datetime",
    "CorrelationId",
    "Id",
    "UniqueTokenIdentifier",
    "DurationMs:long",
    "ProcessingTimeInMilliseconds:int",
)
SIGNIN_OUTCOME: Final = Columns.of(
    "ResultType",
    "ResultSignature",
    "ResultDescription",
    "Status:dynamic",
    "ConditionalAccessStatus",
    "AuthenticationRequirement",
    "AuthenticationDetails:dynamic",
    "MfaDetail:dynamic",
)
SIGNIN_USER: Final = Columns.of(
    "UserPrincipalName",
    "UserDisplayName",
    "UserId",
    "AADTenantId",
    "UserType",
    "HomeTenantId",
    "ResourceId",
    "SignInIdentifier",
    "CrossTenantAccessType",
)
SIGNIN_APP: Final = Columns.of(
    "AppDisplayName",
    "AppId",
    "ResourceDisplayName",
    "ResourceIdentity",
    "IsInteractive:bool",
    "AuthenticationProtocol",
)
SIGNIN_DEVICE: Final = Columns.of("ClientAppUsed", "DeviceDetail:dynamic", "UserAgent")
SIGNIN_NETWORK: Final = Columns.of(
    "IPAddress",
    "Location",
    "LocationDetails:dynamic",
    "AutonomousSystemNumber:int",
)
SIGNIN_RISK: Final = Columns.of(
    "RiskDetail",
    "RiskLevelAggregated",
    "RiskLevelDuringSignIn",
    "RiskState",
    "RiskEventTypes:dynamic",
    "IsRisky:bool",
)
SIGNIN_TAIL: Final = Columns.of(
    "OperationName",
    "Category",
    "Resource",
    "ResourceProvider",
    "Level",
    "TokenIssuerType",
    "ConditionalAccessPolicies:dynamic",
    "Type",
)
SIGNIN_SEGMENTS: Final = (
    SIGNIN_HEAD,
    SIGNIN_EVENT,
    SIGNIN_OUTCOME,
    SIGNIN_USER,
    SIGNIN_APP,
    SIGNIN_DEVICE,
    SIGNIN_NETWORK,
    SIGNIN_RISK,
    SIGNIN_TAIL,
)

# --wide (tools/tenant/wide.py): the bulky columns real sign-ins carry. ConditionalAccessPolicies
# moves from the tail into them (filled instead of empty), so the tail of a wide row goes without it.
SIGNIN_WIDE_REQUEST: Final = Columns.of("OriginalRequestId")
SIGNIN_WIDE: Final = Columns.of(
    "ConditionalAccessPolicies:dynamic",
    "AuthenticationContextClassReferences:dynamic",
    "AuthenticationProcessingDetails:dynamic",
    "AuthenticationRequirementPolicies:dynamic",
    "NetworkLocationDetails:dynamic",
    "SessionLifetimePolicies:dynamic",
    "RiskEventTypes_V2:dynamic",
    "ResourceServicePrincipalId",
    "ResourceTenantId",
    "OperationVersion",
    "ResourceGroup",
)
SIGNIN_WIDE_TAIL: Final = Columns.of(
    "OperationName",
    "Category",
    "Resource",
    "ResourceProvider",
    "Level",
    "TokenIssuerType",
    "Type",
)
SIGNIN_WIDE_SEGMENTS: Final = (
    *SIGNIN_SEGMENTS[:-1],
    SIGNIN_WIDE_REQUEST,
    SIGNIN_WIDE,
    SIGNIN_WIDE_TAIL,
)

# --- IdentityInfo -----------------------------------------------------------------------------
IDENTITY_HEAD: Final = Columns.of("TenantId", "SourceSystem")
IDENTITY_EVENT: Final = Columns.of("TimeGenerated:datetime")
IDENTITY_ACCOUNT: Final = Columns.of(
    "AccountObjectId",
    "AccountUPN",
    "AccountName",
    "AccountDomain",
    "AccountDisplayName",
    "AccountTenantId",
    "AccountCreationTime:datetime",
    "GivenName",
    "Surname",
    "JobTitle",
    "Department",
    "Manager",
    "City",
    "State",
    "Country",
    "CompanyName",
    "Tags",  # a string in the reference schema; many workspaces hold a JSON array (see docs/data.md)
    "GroupMembership:dynamic",
    "AssignedRoles:dynamic",
    "UserType",
    "IsAccountEnabled:bool",
    "UserAccountControl:dynamic",
    "RiskLevel",
    "RiskState",
    "BlastRadius",
    "ChangeSource",
    "Type",
)
IDENTITY_SEGMENTS: Final = (IDENTITY_HEAD, IDENTITY_EVENT, IDENTITY_ACCOUNT)

# --- BehaviorAnalytics ------------------------------------------------------------------------
BEHAVIOR_HEAD: Final = Columns.of("TenantId")
BEHAVIOR_EVENT: Final = Columns.of(
    "SourceRecordId",
    "TimeGenerated:datetime",
    "TimeProcessed:datetime",
    "InvestigationPriority:int",
)
BEHAVIOR_ACTIVITY: Final = Columns.of(
    "ActivityType",
    "ActionType",
    "EventSource",
    "EventVendor",
    "NativeTableName",
    "ActivityInsights:dynamic",
)
BEHAVIOR_USER: Final = Columns.of("UserName", "UserPrincipalName", "UsersInsights:dynamic")
BEHAVIOR_SOURCE: Final = Columns.of("SourceIPAddress", "SourceIPLocation", "SourceDevice", "DevicesInsights:dynamic")
BEHAVIOR_DESTINATION: Final = Columns.of("DestinationIPAddress", "DestinationIPLocation", "DestinationDevice")
BEHAVIOR_TAIL: Final = Columns.of("SourceSystem", "Type", "_ResourceId")
BEHAVIOR_SEGMENTS: Final = (
    BEHAVIOR_HEAD,
    BEHAVIOR_EVENT,
    BEHAVIOR_ACTIVITY,
    BEHAVIOR_USER,
    BEHAVIOR_SOURCE,
    BEHAVIOR_DESTINATION,
    BEHAVIOR_TAIL,
)

SEGMENTS: Final = {SIGNIN: SIGNIN_SEGMENTS, IDENTITY: IDENTITY_SEGMENTS, BEHAVIOR: BEHAVIOR_SEGMENTS}


def table_columns(table: str, *, wide: bool = False) -> Columns:
    """Every column of a table, in file order (``wide``: a ``--wide`` tenant's)."""
    names: list[str] = []
    kinds: list[str] = []
    for segment in SIGNIN_WIDE_SEGMENTS if wide and table == SIGNIN else SEGMENTS[table]:
        names.extend(segment.names)
        kinds.extend(segment.kinds)
    return Columns(tuple(names), tuple(kinds))
