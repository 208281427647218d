"""Small builders for normalised table rows, so tests read as the cases they are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.models import Row

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
DECLINED = "MFA denied; user declined the authentication"


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def signin(
    upn: str = "john.doe@contoso.com",
    *,
    ip: str = "203.0.113.7",
    details: Any = DECLINED,
    result_type: Any = "500121",
    minute: float = 10,
    user_id: str = "11111111-1111-1111-1111-111111111111",
    tenant: str = "22222222-2222-2222-2222-222222222222",
    status: Any = ...,
) -> Row:
    if status is ...:
        status = {"errorCode": 500121, "additionalDetails": details}
    return {
        "TimeGenerated": at(minute),
        "ResultType": result_type,
        "Status": status,
        "UserPrincipalName": upn,
        "UserId": user_id,
        "AADTenantId": tenant,
        "IPAddress": ip,
    }


def identity(
    upn: str = "john.doe@contoso.com",
    *,
    minute: float | None = 0,
    tags: Any = "VIP",
    groups: Any = ("IT",),
    roles: Any = ("Global Administrator",),
    user_type: str = "Member",
    job: str = "Engineer",
) -> Row:
    return {
        "TimeGenerated": None if minute is None else at(minute),
        "AccountUPN": upn,
        "Tags": list(tags) if isinstance(tags, tuple) else tags,
        "JobTitle": job,
        "GroupMembership": list(groups) if isinstance(groups, tuple) else groups,
        "AssignedRoles": list(roles) if isinstance(roles, tuple) else roles,
        "UserType": user_type,
        "IsAccountEnabled": True,
    }


def behavior(
    name: str = "john.doe",
    *,
    ip: str = "203.0.113.7",
    score: int | None = 5,
    activity: str = "LogOn",
    minute: float = 5,
) -> Row:
    return {
        "TimeGenerated": at(minute),
        "ActivityType": activity,
        "SourceIPAddress": ip,
        "UserName": name,
        "InvestigationPriority": score,
        "UsersInsights": {},
        "DevicesInsights": {},
        "ActivityInsights": {},
    }
