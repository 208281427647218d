"""Hypothesis strategies for adversarial tables: few distinct values, so that joins and groups collide."""

from __future__ import annotations

from hypothesis import strategies as st

from shared.candidates import is_rejected_mfa
from tests.builders import DECLINED, at

UPNS = ["john@x.com", "John@x.com", "JOHN@X.COM", "john@y.com", "ann@x.com", "", "a@b@c", "\u0130lk@x.com", "ilk@x.com"]
NAMES = ["john", "john", "John", "ann", "", "a", "ilk", "i\u0307lk"]
IPS = ["203.0.113.7", "203.0.113.7", "203.0.113.8", "", " ", "-"]
DETAILS = [
    DECLINED,
    DECLINED.upper(),
    DECLINED + ".",
    "MFA denied; Fraud Code entered",
    "fraudulent",
    "",
    None,
    "user-reported-fraud",
    42,
]
RESULT_TYPES = ["500121", "500121", "500121", 500121, "0", "50012", "0500121", ""]

times = st.one_of(st.none(), st.integers(0, 59).map(at))


@st.composite
def signins(draw: st.DrawFn) -> dict:
    status = draw(
        st.one_of(
            st.sampled_from(DETAILS).map(lambda d: {"errorCode": 500121, "additionalDetails": d}),
            st.sampled_from(DETAILS).map(lambda d: {"errorCode": 500121, "additionalDetails": d}),
            st.sampled_from([None, "text", {"errorCode": 1}]),
        )
    )
    return {
        "TimeGenerated": draw(times),
        "ResultType": draw(st.sampled_from(RESULT_TYPES)),
        "Status": status,
        "UserPrincipalName": draw(st.sampled_from(UPNS)),
        "UserId": draw(st.sampled_from(["u1", "u2"])),
        "AADTenantId": draw(st.sampled_from(["t1", "t2"])),
        "IPAddress": draw(st.sampled_from(IPS)),
    }


@st.composite
def identities(draw: st.DrawFn) -> dict:
    return {
        "TimeGenerated": draw(times),
        "AccountUPN": draw(st.sampled_from(UPNS)),
        "Tags": draw(st.sampled_from(["VIP", "", ["VIP", "X"], [], None])),
        "JobTitle": "",
        "GroupMembership": draw(st.sampled_from([["IT"], ["IT", "HR"], None, []])),
        "AssignedRoles": draw(st.sampled_from([["Admin"], None, ["Reader", "Admin"]])),
        "UserType": draw(st.sampled_from(["Member", "Guest", ""])),
        "IsAccountEnabled": draw(st.sampled_from([True, False, None])),
    }


@st.composite
def behaviors(draw: st.DrawFn) -> dict:
    return {
        "TimeGenerated": draw(times),
        "ActivityType": draw(st.sampled_from(["LogOn", "LogOn", "FailedLogOn", "logon", "ResourceAccess", ""])),
        "SourceIPAddress": draw(st.sampled_from(IPS)),
        "UserName": draw(st.sampled_from(NAMES)),
        "InvestigationPriority": draw(st.one_of(st.integers(0, 10), st.none())),
        "UsersInsights": None,
        "DevicesInsights": None,
        "ActivityInsights": None,
    }


@st.composite
def _tables(draw: st.DrawFn) -> tuple[list[dict], list[dict], list[dict]]:
    # Random rows rarely join. Some UEBA and identity rows are aimed at a drawn rejected sign-in
    # (its IP and user, in some case variant) so that joins, groups and cutoffs are exercised.
    signin_rows = draw(st.lists(signins(), max_size=20))
    identity_rows = draw(st.lists(identities(), max_size=10))
    behavior_rows = draw(st.lists(behaviors(), max_size=20))
    rejected = [row for row in signin_rows if is_rejected_mfa(row)]
    if rejected:
        for row in draw(st.lists(st.sampled_from(rejected), min_size=1, max_size=10)):
            upn = row["UserPrincipalName"]
            upn = draw(st.sampled_from([upn, upn.lower(), upn.upper()]))
            behavior_rows.append(
                draw(behaviors()) | {"SourceIPAddress": row["IPAddress"], "UserName": upn.split("@")[0]}
            )
            identity_rows.append(draw(identities()) | {"AccountUPN": upn})
    return signin_rows, identity_rows, behavior_rows


tables = _tables()
