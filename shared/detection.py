"""The rule's detection logic, stage by stage, with Kusto's semantics. Pure: no I/O, no Azure.

Each stage names the KQL it implements (the rule's ``query:`` block, v2.0.4). The primitives
(``has``, ``=~``, ``tostring``, ``make_set``, the left-outer join ...) live in ``shared.kql``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared import kql
from shared.candidates import is_logon_with_source_ip, is_rejected_mfa, user_name
from shared.models import OUTPUT_COLUMNS, Row

# let riskScoreCutoff = 3;
DEFAULT_RISK_SCORE_CUTOFF = 3

_SUMMARY_COLUMNS = ("UserPrincipalName", "UserId", "AADTenantId", "FailedIPAddress", "StartTime", "EndTIme")
_LEFT_COLUMNS = (*_SUMMARY_COLUMNS, "Name", "UPNSuffix")

# The IdentityInfo subquery's output columns and their Kusto types (the join fills unmatched
# left rows from these).
_IDENTITY_COLUMNS = {
    "AccountUPN": "string",
    "Tags": "dynamic",
    "GroupMembership": "dynamic",
    "AssignedRoles": "dynamic",
    "UserType": "dynamic",
    "UserAccountControl": "dynamic",
    "UserPrincipalName": "string",
}
# The BehaviorAnalytics subquery's output columns and types.
_BEHAVIOR_COLUMNS = {"FailedIPAddress": "string", "Name": "string", "MaxInvestigationScore": "int"}


def detect(
    signins: Iterable[Mapping[str, Any]],
    identities: Iterable[Mapping[str, Any]],
    behaviors: Iterable[Mapping[str, Any]],
    *,
    risk_score_cutoff: int = DEFAULT_RISK_SCORE_CUTOFF,
) -> list[Row]:
    """The rows the rule's KQL returns for these tables, each with the 16 output columns in order.

    Rows are normalised to their Kusto types (``shared.sources.values``); a missing string cell
    counts as "" and any other missing cell as null.
    """
    summary = summarize_rejections(signins)
    if not summary:
        # An empty SigninLogs result gives zero rows, never a default row.
        return []
    with_names = [row | name_parts(row["UserPrincipalName"]) for row in summary]

    # | join kind=leftouter ( IdentityInfo | ... ) on UserPrincipalName
    enriched = kql.leftouter_join(
        with_names,
        identity_enrichment(identities),
        left_columns=_LEFT_COLUMNS,
        right_columns=_IDENTITY_COLUMNS,
        on=("UserPrincipalName",),
    )
    # | join kind=leftouter ( BehaviorAnalytics | ... ) on FailedIPAddress, Name
    left_columns = list(enriched[0])
    scored = kql.leftouter_join(
        enriched,
        behavior_scores(behaviors),
        left_columns=left_columns,
        right_columns=_BEHAVIOR_COLUMNS,
        on=("FailedIPAddress", "Name"),
    )
    # | extend UEBARiskScore = MaxInvestigationScore
    for row in scored:
        row["UEBARiskScore"] = row["MaxInvestigationScore"]
    # | project-away *1 // removing duplicate columns post outer join from output
    projected = kql.project_away_suffix(scored, "1")
    # | where UEBARiskScore > riskScoreCutoff
    alerting = [row for row in projected if kql.greater_than(row["UEBARiskScore"], risk_score_cutoff)]
    # | sort by UEBARiskScore desc
    ordered = kql.sort_desc_nulls_last(alerting, "UEBARiskScore")
    return [{column: row[column] for column in OUTPUT_COLUMNS} for row in ordered]


def summarize_rejections(signins: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Stages 1-6, SigninLogs up to the summarize.

    SigninLogs
    | where ResultType == 500121
    | extend additionalDetails_ = tostring(Status.additionalDetails)
    | extend UserPrincipalName = tolower(UserPrincipalName)
    | where additionalDetails_ =~ "MFA denied; user declined the authentication" or additionalDetails_ has "fraud"
    | summarize StartTime = min(TimeGenerated), EndTIme = max(TimeGenerated)
        by UserPrincipalName, UserId, AADTenantId, FailedIPAddress = IPAddress
    """
    groups: dict[tuple[str, str, str, str], list[Any]] = {}
    for row in signins:
        if not is_rejected_mfa(row):
            continue
        key = (
            kql.tolower(_text(row, "UserPrincipalName")),
            _text(row, "UserId"),
            _text(row, "AADTenantId"),
            _text(row, "IPAddress"),
        )
        groups.setdefault(key, []).append(row.get("TimeGenerated"))
    return [
        dict(
            zip(
                _SUMMARY_COLUMNS,
                (*key, kql.min_skip_null(times), kql.max_skip_null(times)),
                strict=True,
            )
        )
        for key, times in groups.items()
    ]


def name_parts(upn: str) -> dict[str, str]:
    """Stage 7.

    | extend Name = tostring(split(UserPrincipalName,'@',0)[0]), UPNSuffix = tostring(split(UserPrincipalName,'@',1)[0])
    """
    return {"Name": user_name(upn), "UPNSuffix": kql.split_part(upn, "@", 1)}


def identity_enrichment(identities: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Stage 8, the IdentityInfo side of the first join.

    IdentityInfo
    | summarize LatestReportTime = arg_max(TimeGenerated, *) by AccountUPN
    | project AccountUPN, Tags, JobTitle, GroupMembership, AssignedRoles, UserType, IsAccountEnabled
    | summarize Tags = make_set(Tags, 1000), GroupMembership = make_set(GroupMembership, 1000),
        AssignedRoles = make_set(AssignedRoles, 1000), UserType = make_set(UserType, 1000),
        UserAccountControl = make_set(UserType, 1000) by AccountUPN
    | extend UserPrincipalName=tolower(AccountUPN)
    """
    rows = ({**row, "AccountUPN": _text(row, "AccountUPN")} for row in identities)
    latest = kql.arg_max(rows, by="AccountUPN", of="TimeGenerated")
    # After arg_max each AccountUPN has exactly one row, so each make_set sees one value.
    enrichment = []
    for account_upn, row in latest.items():
        user_type = [_text(row, "UserType")]
        enrichment.append(
            {
                "AccountUPN": account_upn,
                "Tags": kql.make_set([row.get("Tags")], 1000),
                "GroupMembership": kql.make_set([row.get("GroupMembership")], 1000),
                "AssignedRoles": kql.make_set([row.get("AssignedRoles")], 1000),
                "UserType": kql.make_set(user_type, 1000),
                # A quirk of the rule: UserAccountControl aggregates UserType. Kept as written.
                "UserAccountControl": kql.make_set(user_type, 1000),
                "UserPrincipalName": kql.tolower(account_upn),
            }
        )
    return enrichment


def behavior_scores(behaviors: Iterable[Mapping[str, Any]]) -> list[Row]:
    """Stage 9, the BehaviorAnalytics side of the second join.

    BehaviorAnalytics
    | where ActivityType in ("FailedLogOn", "LogOn")
    | where isnotempty(SourceIPAddress)
    | project UsersInsights, DevicesInsights, ActivityInsights, InvestigationPriority, SourceIPAddress, UserName
    | project-rename FailedIPAddress = SourceIPAddress, Name = UserName
    | summarize MaxInvestigationScore = max(InvestigationPriority) by FailedIPAddress, Name
    """
    groups: dict[tuple[str, str], list[Any]] = {}
    for raw in behaviors:
        row = {**raw, "ActivityType": _text(raw, "ActivityType"), "SourceIPAddress": _text(raw, "SourceIPAddress")}
        if not is_logon_with_source_ip(row):
            continue
        key = (row["SourceIPAddress"], _text(row, "UserName"))
        groups.setdefault(key, []).append(row.get("InvestigationPriority"))
    return [
        {"FailedIPAddress": ip, "Name": name, "MaxInvestigationScore": kql.max_skip_null(scores)}
        for (ip, name), scores in groups.items()
    ]


def _text(row: Mapping[str, Any], column: str) -> str:
    # Strings are never null in Kusto: a missing or null string cell is "".
    value = row.get(column)
    return value if isinstance(value, str) else kql.tostring(value)
