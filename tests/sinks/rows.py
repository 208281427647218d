"""Result rows (the rule's 16 output columns) and alerts built from them, for alert and sink tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.alerts import Alert, build_alerts
from shared.models import Row, Window

WINDOW = Window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
DETECTED_AT = datetime(2026, 11, 28, 10, 5, 30, tzinfo=UTC)
TENANT = "22222222-2222-2222-2222-222222222222"


def result_row(
    upn: str = "john.doe@contoso.com",
    *,
    ip: str = "203.0.113.7",
    score: int = 5,
    first: float = 10,
    last: float = 12,
    user_id: str = "11111111-1111-1111-1111-111111111111",
    roles: tuple[str, ...] = ("Global Administrator",),
    groups: tuple[str, ...] = ("IT", "VPN Users"),
    matched: bool = True,
) -> Row:
    """One row as ``shared.detection.detect`` returns it; ``matched=False``: no IdentityInfo match."""
    name, _, suffix = upn.partition("@")
    return {
        "UserPrincipalName": upn,
        "UserId": user_id,
        "AADTenantId": TENANT,
        "FailedIPAddress": ip,
        "StartTime": WINDOW.start + timedelta(minutes=first),
        "EndTIme": WINDOW.start + timedelta(minutes=last),
        "Name": name,
        "UPNSuffix": suffix,
        "AccountUPN": upn if matched else "",
        "Tags": [] if matched else None,
        "GroupMembership": list(groups) if matched else None,
        "AssignedRoles": list(roles) if matched else None,
        "UserType": ["Member"] if matched else None,
        "UserAccountControl": ["Member"] if matched else None,
        "MaxInvestigationScore": score,
        "UEBARiskScore": score,
    }


def many_rows(count: int) -> list[Row]:
    return [
        result_row(
            f"user{i:03d}@contoso.com",
            ip=f"198.51.100.{i % 250}",
            score=4 + i % 7,
            first=i % 50,
            last=i % 50 + 5,
            user_id=f"00000000-0000-0000-0000-{i:012d}",
        )
        for i in range(count)
    ]


def alert_of(rows: list[Row]) -> Alert:
    (alert,) = build_alerts(rows, window=WINDOW, detected_at=DETECTED_AT)
    return alert
