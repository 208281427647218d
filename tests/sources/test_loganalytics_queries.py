"""Every query the Log Analytics source can send parses and type-checks in Microsoft's Kusto language service.

The checker knows the three tables with their full workspace schemas (Azure Monitor table
reference). As a self-test of the checker, the rule's own query must parse with zero diagnostics
and yield the rule's 16 output columns.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.candidates import DECLINED_DETAILS, FRAUD_TERM, LOGON_ACTIVITY_TYPES, MFA_DENIED_RESULT_TYPE
from shared.models import OUTPUT_COLUMNS, SCHEMAS, Window
from shared.sources import la_queries
from shared.sources.la_queries import Batching
from tests.harness.kusto_check import KustoChecker
from tests.sources.test_kql_text import HOSTILE, UNWRITABLE

# The rule's ``query:`` block, verbatim (MFA Rejected by User, d99cf5c3-d660-436c-895b-8a8f8448da23, v2.0.4).
RULE_KQL = "\n".join(
    (
        "let riskScoreCutoff = 3; //Adjust this score threshold based on volume of results. "
        "Activities identified as the most abnormal receive the highest scores (on a scale of 0-10)",
        "SigninLogs",
        "| where ResultType == 500121",
        "| extend additionalDetails_ = tostring(Status.additionalDetails)",
        "| extend UserPrincipalName = tolower(UserPrincipalName)",
        '| where additionalDetails_ =~ "MFA denied; user declined the authentication" or '
        'additionalDetails_ has "fraud"',
        "| summarize StartTime = min(TimeGenerated), EndTIme = max(TimeGenerated) by "
        "UserPrincipalName, UserId, AADTenantId, FailedIPAddress = IPAddress",
        "| extend Name = tostring(split(UserPrincipalName,'@',0)[0]), UPNSuffix = "
        "tostring(split(UserPrincipalName,'@',1)[0])",
        "| join kind=leftouter (",
        "IdentityInfo",
        "| summarize LatestReportTime = arg_max(TimeGenerated, *) by AccountUPN",
        "| project AccountUPN, Tags, JobTitle, GroupMembership, AssignedRoles, UserType, IsAccountEnabled",
        "| summarize",
        "Tags = make_set(Tags, 1000),",
        "GroupMembership = make_set(GroupMembership, 1000),",
        "AssignedRoles = make_set(AssignedRoles, 1000),",
        "UserType = make_set(UserType, 1000),",
        "UserAccountControl = make_set(UserType, 1000)",
        "by AccountUPN",
        "| extend UserPrincipalName=tolower(AccountUPN)",
        ") on UserPrincipalName",
        "//Below it will be joined with BehaviorAnalytics table to the Failed IP Addresses",
        "| join kind=leftouter (",
        "BehaviorAnalytics",
        '| where ActivityType in ("FailedLogOn", "LogOn")',
        "| where isnotempty(SourceIPAddress)",
        "| project UsersInsights, DevicesInsights, ActivityInsights, InvestigationPriority, SourceIPAddress, UserName",
        "| project-rename FailedIPAddress = SourceIPAddress, Name = UserName",
        "| summarize",
        "MaxInvestigationScore = max(InvestigationPriority) // Only retrieve maximum Investigation "
        "Property score for both FailedIP and User",
        "by FailedIPAddress, Name)",
        "on FailedIPAddress, Name // Joining on both IP and User so as to only return context "
        "associated with same user",
        "| extend UEBARiskScore = MaxInvestigationScore",
        "| project-away *1 // removing duplicate columns post outer join from output",
        "| where UEBARiskScore > riskScoreCutoff",
        "| sort by UEBARiskScore desc",
    )
)
WINDOW = Window(datetime(2026, 11, 28, 9, 0, tzinfo=UTC), datetime(2026, 11, 28, 10, 0, tzinfo=UTC))
ODD_WINDOW = Window(
    datetime(2026, 11, 28, 9, 0, 0, 1, tzinfo=UTC), datetime(2026, 11, 28, 9, 1, 52, 500000, tzinfo=UTC)
)
KUSTO_TYPES = {
    "string": "string",
    "datetime": "datetime",
    "dynamic": "dynamic",
    "int": "int",
    "string_or_dynamic": "string",
}


@pytest.fixture(scope="module")
def checker(kusto_checker: KustoChecker) -> KustoChecker:
    return kusto_checker


def _expected_columns(table: str, columns: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(c, KUSTO_TYPES[SCHEMAS[table][c]]) for c in columns]


def every_query() -> list[tuple[str, str, tuple[str, ...]]]:
    """(table, query, projected columns) for every shape the builders produce."""
    pairs = [(ip, name) for ip in HOSTILE[:8] for name in HOSTILE[8:16]]
    queries = []
    for window in (WINDOW, ODD_WINDOW):
        queries.append(("SigninLogs", la_queries.signin_query(window), la_queries.SIGNIN_COLUMNS))
        for upns in (["john@contoso.com"], HOSTILE, [*HOSTILE, *UNWRITABLE], UNWRITABLE[:1], ["x" * 4000]):
            queries.append(("IdentityInfo", la_queries.identity_query(window, upns), la_queries.IDENTITY_COLUMNS))
        for batch in ([("203.0.113.7", "john")], pairs, [("1.2.3.4", UNWRITABLE[0]), (UNWRITABLE[1], "a")]):
            queries.append(("BehaviorAnalytics", la_queries.behavior_query(window, batch), la_queries.BEHAVIOR_COLUMNS))
    return queries


def test_the_rule_itself_parses_with_zero_diagnostics_and_sixteen_columns(checker: KustoChecker) -> None:
    [result] = checker.check([RULE_KQL])
    assert result.diagnostics == [], result.messages
    assert [name for name, _ in result.columns] == list(OUTPUT_COLUMNS)
    assert len(result.columns) == 16


def test_the_checker_reports_a_broken_query(checker: KustoChecker) -> None:
    [unknown, unclosed] = checker.check(["SigninLogs | where NoSuchColumn == 1", 'SigninLogs | where UserId == "x'])
    assert any("NoSuchColumn" in d["message"] for d in unknown.diagnostics)
    assert unclosed.diagnostics != []


def test_every_generated_query_parses_and_type_checks(checker: KustoChecker) -> None:
    queries = every_query()
    results = checker.check([query for _, query, _ in queries])
    for (table, _, columns), result in zip(queries, results, strict=True):
        assert result.diagnostics == [], (table, result.messages)
        assert result.columns == _expected_columns(table, columns)


def test_the_signin_query_holds_the_rule_constants(checker: KustoChecker) -> None:
    [result] = checker.check([la_queries.signin_query(WINDOW)])
    assert result.literals == [str(MFA_DENIED_RESULT_TYPE), DECLINED_DETAILS, FRAUD_TERM]


def test_values_reach_the_queries_unchanged(checker: KustoChecker) -> None:
    identity, behavior = checker.check(
        [la_queries.identity_query(WINDOW, HOSTILE), la_queries.behavior_query(WINDOW, [(HOSTILE[2], HOSTILE[8])])]
    )
    assert sorted(identity.literals) == sorted(HOSTILE)
    assert behavior.literals == [*LOGON_ACTIVITY_TYPES, HOSTILE[2], HOSTILE[8]]


def test_queries_filter_time_half_open() -> None:
    query = la_queries.identity_query(WINDOW, ["a"])
    assert (
        "| where TimeGenerated >= datetime(2026-11-28T09:00:00.000000Z)"
        " and TimeGenerated < datetime(2026-11-28T10:00:00.000000Z)"
    ) in query


def test_batches_partition_the_values_within_the_bounds() -> None:
    batching = Batching()
    upns = [f"user{i:05d}@contoso.com" for i in range(1234)]
    batches = batching.upn_batches(upns)
    assert [len(b) for b in batches] == [500, 500, 234]
    assert frozenset().union(*batches) == frozenset(upns)
    assert sum(len(b) for b in batches) == len(upns)


def test_long_values_are_batched_by_text_size() -> None:
    batching = Batching()
    upns = [f"{i:04d}" + "x" * 1000 + "@contoso.com" for i in range(200)]
    batches = batching.upn_batches(upns)
    assert len(batches) > 1
    fixed = len(la_queries.identity_query(WINDOW, []))
    for batch in batches:
        assert len(la_queries.identity_query(WINDOW, batch)) <= fixed + batching.max_literal_chars


def test_pair_batches_bound_ips_names_and_text() -> None:
    batching = Batching(max_values=7, max_literal_chars=5000, max_value_chars=100)
    pairs = [(f"10.0.{i // 50}.{i % 50}", f"user{i}" + "\\" * (i % 90)) for i in range(300)]
    batches = batching.pair_batches(pairs)
    assert frozenset().union(*batches) == frozenset(pairs)
    fixed = len(la_queries.behavior_query(WINDOW, []))
    for batch in batches:
        assert len(batch) <= 7
        assert len(la_queries.behavior_query(WINDOW, batch, max_value_chars=100)) <= fixed + 5000


def test_batching_refuses_bounds_that_cannot_hold_a_value() -> None:
    with pytest.raises(ValueError, match="max_literal_chars"):
        Batching(max_literal_chars=100, max_value_chars=1024)
    with pytest.raises(ValueError, match="at least 1"):
        Batching(max_values=0)


def test_the_window_reaches_the_query_to_the_microsecond() -> None:
    window = Window(WINDOW.start + timedelta(microseconds=1), WINDOW.end)
    assert "datetime(2026-11-28T09:00:00.000001Z)" in la_queries.signin_query(window)


@pytest.mark.parametrize("table", ["SigninLogs", "IdentityInfo", "BehaviorAnalytics"])
def test_the_health_measure_parses_and_yields_one_datetime_column(checker: KustoChecker, table: str) -> None:
    [result] = checker.check([la_queries.latest_query(table, WINDOW)])
    assert result.diagnostics == [], result.messages
    assert result.columns == [("Latest", "datetime")]
    # Of BehaviorAnalytics only the log-ons the rule reads show that UEBA is flowing.
    assert result.literals == (list(LOGON_ACTIVITY_TYPES) if table == "BehaviorAnalytics" else [])
