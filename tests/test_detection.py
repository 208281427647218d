"""The rule's named cases: each stage, and every "consequence" in docs/rule-semantics.md, as one table run
against every implementation of the rule (the ``rule`` fixture, tests/conftest.py): the product
(``shared.detection``), the hand-written SQL port (tests/oracle/rule.sql) and the rule's verbatim
KQL run by duckdb-kql (tests/oracle/verbatim_kql.py). Each case writes its tables as jsonl fixture
files, which every implementation reads."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest

from shared.detection import detect, name_parts
from shared.models import OUTPUT_COLUMNS
from tests.builders import DECLINED, T0, at, behavior, identity, signin

NAME_PARTS = [
    ("john@contoso.com", "john", "contoso.com"),
    ("john", "john", ""),
    ("", "", ""),
    ("@x.com", "", "x.com"),
    ("a@b@c", "a", "b"),
]


# --- the whole pipeline ---------------------------------------------------------------------------


def test_a_declined_prompt_with_a_high_score_gives_one_row_with_the_16_columns_in_order(rule) -> None:
    rows = rule([signin()], [identity()], [behavior(score=7)])
    assert len(rows) == 1
    row = rows[0]
    assert tuple(row) == OUTPUT_COLUMNS
    assert row["UserPrincipalName"] == "john.doe@contoso.com"
    assert row["FailedIPAddress"] == "203.0.113.7"
    assert row["StartTime"] == row["EndTIme"] == at(10)
    assert (row["Name"], row["UPNSuffix"]) == ("john.doe", "contoso.com")
    assert row["AccountUPN"] == "john.doe@contoso.com"
    assert row["Tags"] == ["VIP"]
    assert row["GroupMembership"] == ["IT"]
    assert row["AssignedRoles"] == ["Global Administrator"]
    assert row["UserType"] == row["UserAccountControl"] == ["Member"]
    assert row["MaxInvestigationScore"] == row["UEBARiskScore"] == 7


# --- stage by stage -------------------------------------------------------------------------------


# A documented duckdb-kql limitation (the "kql" column below says what it does instead, and that is
# asserted): it runs `ResultType == 500121` on the string column as a cast of the column to BIGINT,
# so text that is not a whole number fails the whole query, and non-canonical text ("0500121")
# matches by value (docs/rule-semantics.md: Kusto compares as text; "0500121" is OPEN, taken as no match).
KQL_FAILS = "the query fails (ConversionException)"


@pytest.mark.parametrize(
    ("result_type", "alerts", "kql"),
    [
        ("500121", True, None),
        (500121, True, None),
        ("50012", False, None),
        ("0", False, None),
        ("", False, KQL_FAILS),
        ("0500121", False, True),
    ],
)
def test_result_type_is_compared_as_text_or_by_number(rule, result_type: object, alerts: bool, kql: object) -> None:
    signins = [signin(result_type=result_type)]
    if rule.name == "kql" and kql == KQL_FAILS:
        with pytest.raises(duckdb.ConversionException):
            rule(signins)
    elif rule.name == "kql" and kql is not None:
        assert bool(rule(signins)) is kql
    else:
        assert bool(rule(signins)) is alerts


@pytest.mark.parametrize(
    ("details", "alerts"),
    [
        (DECLINED, True),
        (DECLINED.upper(), True),
        ("mfa denied; User Declined The Authentication", True),
        (DECLINED + ".", False),
        (DECLINED + " ", False),
        (DECLINED.replace("; ", ";  "), False),
        ("MFA denied; user did not respond to mobile app notification", False),
    ],
)
def test_declined_is_whole_string_equality_ignoring_case(rule, details: str, alerts: bool) -> None:
    assert bool(rule([signin(details=details)])) is alerts


@pytest.mark.parametrize(
    "details",
    [
        "fraud",
        "Fraud",
        "MFA denied; Fraud Code entered",
        "MFA denied; user reported fraud",
        "fraud_code",
        "user-reported-fraud",
        "fraud.",
        "fraud-123",
        "MFA denied; Phone App Reported Fraud",
    ],
)
def test_has_fraud_matches_the_whole_term(rule, details: str) -> None:
    assert len(rule([signin(details=details)])) == 1


@pytest.mark.parametrize(
    "details", ["fraudulent", "antifraud", "fraud123", "123fraud", "fr aud", "", "éfraud", "fraud²"]
)
def test_has_fraud_needs_letter_and_digit_boundaries(rule, details: str) -> None:
    assert rule([signin(details=details)]) == []


@pytest.mark.parametrize(
    "status",
    [
        {"errorCode": 500121, "failureReason": "Authentication failed during strong authentication request."},
        None,
        DECLINED,
        [DECLINED],
        {"errorCode": 500121, "AdditionalDetails": DECLINED},
        {"errorCode": 500121},
    ],
    ids=["no-additionalDetails", "null", "a-string", "an-array", "key-in-other-case", "error-code-only"],
)
def test_status_without_additional_details_drops_the_signin(rule, status: object) -> None:
    assert rule([signin(status=status)]) == []


def test_status_given_as_json_text_is_parsed(rule) -> None:
    text = json.dumps({"errorCode": 500121, "additionalDetails": DECLINED})
    assert len(rule([signin(status=text)])) == 1


def test_upn_case_variants_merge_into_one_row_spanning_both_times(rule) -> None:
    rows = rule(
        [signin("John.Doe@Contoso.com", minute=5), signin("john.doe@contoso.com", minute=25)],
        behaviors=[behavior(score=6)],
    )
    assert len(rows) == 1
    assert rows[0]["UserPrincipalName"] == "john.doe@contoso.com"
    assert (rows[0]["StartTime"], rows[0]["EndTIme"]) == (at(5), at(25))


def test_upn_case_variants_merge_but_user_tenant_or_ip_split(rule) -> None:
    rows = rule(
        [
            signin("John.Doe@Contoso.com", minute=5),
            signin("john.doe@contoso.com", minute=25),
            signin("JOHN.DOE@CONTOSO.COM", minute=15),
            signin(user_id="other-id", minute=1),
            signin(tenant="other-tenant", minute=2),
            signin(ip="203.0.113.8", minute=3),
        ],
        behaviors=[behavior(score=5), behavior(ip="203.0.113.8", score=5)],
    )
    assert len(rows) == 4
    merged = next(
        r
        for r in rows
        if r["UserId"].startswith("1111")
        and r["AADTenantId"].startswith("2222")
        and r["FailedIPAddress"] == "203.0.113.7"
    )
    assert (merged["StartTime"], merged["EndTIme"]) == (at(5), at(25))


def test_null_times_are_skipped_by_min_and_max(rule) -> None:
    rows = rule([signin(minute=5), {**signin(), "TimeGenerated": None}])
    assert (rows[0]["StartTime"], rows[0]["EndTIme"]) == (at(5), at(5))


def test_a_different_user_id_tenant_or_ip_stays_a_separate_row(rule) -> None:
    rows = rule(
        [
            signin(),
            signin(user_id="33333333-3333-3333-3333-333333333333"),
            signin(tenant="44444444-4444-4444-4444-444444444444"),
            signin(ip="203.0.113.8"),
        ],
        behaviors=[behavior(score=6), behavior(ip="203.0.113.8", score=5)],
    )
    assert len(rows) == 4
    assert [r["UEBARiskScore"] for r in rows] == [6, 6, 6, 5]


@pytest.mark.parametrize(("upn", "name", "suffix"), NAME_PARTS)
def test_name_and_upn_suffix_split_on_the_first_two_at_signs(rule, upn: str, name: str, suffix: str) -> None:
    rows = rule([signin(upn)], behaviors=[behavior(name=name, score=9)])
    assert [(r["Name"], r["UPNSuffix"]) for r in rows] == [(name, suffix)]


@pytest.mark.parametrize(("upn", "name", "suffix"), NAME_PARTS)
def test_the_products_name_parts_function_gives_the_same_split(upn: str, name: str, suffix: str) -> None:
    assert name_parts(upn) == {"Name": name, "UPNSuffix": suffix}


def test_null_string_cells_count_as_empty(rule) -> None:
    sparse = {"TimeGenerated": at(1), "ResultType": "500121", "Status": {"additionalDetails": DECLINED}}
    sparse |= dict.fromkeys(("UserPrincipalName", "UserId", "AADTenantId", "IPAddress"))
    rows = rule([sparse], [], [behavior("", ip="x", score=5)])
    assert rows == []  # no IP in the sign-in: "" never joins a UEBA row (its IP must be non-empty)
    rows = rule([sparse | {"IPAddress": "x"}], [], [behavior("", ip="x", score=5)])
    assert [(r["UserPrincipalName"], r["Name"], r["UserId"]) for r in rows] == [("", "", "")]


def test_missing_string_cells_count_as_empty_in_rows_given_to_detect() -> None:
    # The product's own contract for rows without the keys (a fixture file lacking the columns is
    # refused before detect: shared/sources/fixtures.py).
    sparse = {"TimeGenerated": at(1), "ResultType": "500121", "Status": {"additionalDetails": DECLINED}}
    assert detect([sparse], [], [behavior("", ip="x", score=5)]) == []
    rows = detect([sparse | {"IPAddress": "x"}], [], [behavior("", ip="x", score=5)])
    assert [(r["UserPrincipalName"], r["Name"], r["UserId"]) for r in rows] == [("", "", "")]


def test_identity_takes_the_latest_snapshot_per_account(rule) -> None:
    rows = rule(
        [signin()],
        [
            identity(minute=1, tags=("Old",), job="Intern"),
            identity(minute=30, tags=("New",)),
            identity(minute=None, tags=("Null time loses",)),
        ],
        [behavior(score=5)],
    )
    assert [r["Tags"] for r in rows] == [["New"]]
    rows = rule(
        [signin()],
        [identity(minute=0, roles=("Old",)), identity(minute=30, roles=("New",)), identity(minute=None, roles=("X",))],
    )
    assert [r["AssignedRoles"] for r in rows] == [["New"]]


def test_make_set_flattens_arrays_drops_duplicates_and_nulls(rule) -> None:
    rows = rule(
        [signin()],
        [identity(tags="VIP", groups=["IT", "Contractors", "IT", None], roles=None)],
        [behavior(score=5)],
    )
    row = rows[0]
    assert row["Tags"] == ["VIP"]
    assert sorted(row["GroupMembership"]) == ["Contractors", "IT"]
    assert row["AssignedRoles"] == []


# The verbatim-KQL oracle loads IdentityInfo.Tags as dynamic (tests/oracle/verbatim_kql.py, SCHEMAS),
# so a null Tags cell stays null there and make_set skips it; the product and the SQL port read Tags
# as the string column it is ("" for null), which make_set keeps.
NULL_TAGS_SET = {"product": [""], "sql": [""], "kql": []}


def test_matched_identity_with_no_tags_gives_an_empty_set_not_null(rule) -> None:
    row = rule([signin()], [identity(tags=None, groups=None, roles=())])[0]
    assert row["Tags"] == NULL_TAGS_SET[rule.name]
    assert row["GroupMembership"] == []
    assert row["AssignedRoles"] == []
    # Rows handed to detect directly (no file): a missing Tags value gives the empty set.
    (row,) = detect([signin()], [identity(tags=None, groups=None, roles=())], [behavior()])
    assert (row["Tags"], row["GroupMembership"], row["AssignedRoles"]) == ([], [], [])


def test_identity_tags_array_is_flattened_by_make_set(rule) -> None:
    row = rule([signin()], [identity(tags=["VIP", "Finance", "VIP"])])[0]
    assert sorted(row["Tags"]) == ["Finance", "VIP"]


def test_tags_given_as_array_json_text_is_an_array(rule) -> None:
    rows = rule([signin()], [identity(tags='["VIP", "Finance"]')], [behavior(score=5)])
    assert sorted(rows[0]["Tags"]) == ["Finance", "VIP"]


def test_user_account_control_is_a_copy_of_the_user_type_set(rule) -> None:
    rows = rule([signin()], [identity(user_type="Guest")], [behavior(score=5)])
    assert rows[0]["UserType"] == rows[0]["UserAccountControl"] == ["Guest"]


def test_no_identity_match_gives_an_empty_account_and_null_sets(rule) -> None:
    rows = rule([signin()], [identity("someone.else@contoso.com")], [behavior(score=5)])
    row = rows[0]
    assert row["AccountUPN"] == ""
    assert [row[c] for c in ("Tags", "GroupMembership", "AssignedRoles", "UserType", "UserAccountControl")] == [
        None
    ] * 5


# --- the consequences that surprise people (docs/rule-semantics.md) -----------------------------------


def test_1_no_ueba_match_means_no_alert_however_many_rejections(rule) -> None:
    signins = [signin(minute=m) for m in range(10, 20)]
    assert rule(signins, [identity()], []) == []
    assert rule(signins, [identity()], [behavior(ip="203.0.113.99", score=10)]) == []
    many = [signin(minute=m) for m in range(30)]
    assert rule(many, [identity()], behaviors=[]) == []
    assert rule(many, [identity()], behaviors=[behavior(ip="198.51.100.1")]) == []


def test_2_score_3_never_alerts_and_4_does(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=3)]) == []
    assert [r["UEBARiskScore"] for r in rule([signin()], behaviors=[behavior(score=4)])] == [4]


def test_2_the_cutoff_is_a_parameter(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=4)], cutoff=4) == []
    assert len(rule([signin()], behaviors=[behavior(score=1)], cutoff=0)) == 1
    assert rule([signin()], behaviors=[behavior(score=5)], cutoff=5) == []
    assert rule([signin()], behaviors=[behavior(score=5)], cutoff=4) != []


def test_3_ueba_user_name_in_original_case_never_matches(rule) -> None:
    assert rule([signin("John.Doe@contoso.com")], behaviors=[behavior(name="John.Doe", score=9)]) == []
    assert rule([signin("John.Doe@contoso.com")], behaviors=[behavior(name="john.doe", score=9)]) != []


def test_3_ips_must_match_byte_for_byte(rule) -> None:
    assert rule([signin(ip="2001:db8::5")], behaviors=[behavior(ip="2001:DB8::5", score=9)]) == []
    assert rule([signin(ip="203.0.113.7")], behaviors=[behavior(ip="203.0.113.7 ", score=9)]) == []
    assert rule([signin(ip="203.0.113.7")], behaviors=[behavior(ip="203.0.113.07", score=9)]) == []


def test_4_the_upn_prefix_shares_scores_across_domains(rule) -> None:
    rows = rule(
        [signin("john@contoso.com"), signin("john@fabrikam.com", user_id="55555555-5555-5555-5555-555555555555")],
        behaviors=[behavior(name="john", score=7)],
    )
    assert sorted(r["UserPrincipalName"] for r in rows) == ["john@contoso.com", "john@fabrikam.com"]
    assert {r["UEBARiskScore"] for r in rows} == {7}


def test_5_identity_groups_differing_in_case_give_one_row_each(rule) -> None:
    rows = rule(
        [signin()],
        [identity("John.Doe@contoso.com", tags=("VIP",)), identity("john.doe@contoso.com", tags=("Other",))],
        [behavior(score=5)],
    )
    assert sorted((r["AccountUPN"], tuple(r["Tags"])) for r in rows) == [
        ("John.Doe@contoso.com", ("VIP",)),
        ("john.doe@contoso.com", ("Other",)),
    ]
    rows = rule(
        [signin("john@x.com")],
        [identity("John@x.com", roles=("Admin",)), identity("john@x.com", roles=("Reader",))],
        [behavior("john", score=5)],
    )
    assert sorted((r["AccountUPN"], tuple(r["AssignedRoles"])) for r in rows) == [
        ("John@x.com", ("Admin",)),
        ("john@x.com", ("Reader",)),
    ]


def test_7_the_score_is_the_maximum_over_the_window_whenever_it_was_logged(rule) -> None:
    rows = rule(
        [signin(minute=10)],
        behaviors=[behavior(score=2, minute=1), behavior(score=8, minute=55), behavior(score=5, minute=10)],
    )
    assert [r["UEBARiskScore"] for r in rows] == [8]
    rows = rule(
        [signin(minute=50)],
        behaviors=[behavior(score=9, minute=1), behavior(score=2, minute=50), behavior(score=None, minute=51)],
    )
    assert [r["UEBARiskScore"] for r in rows] == [9]


def test_9_empty_signins_give_no_rows(rule) -> None:
    assert rule([], [identity()], [behavior(score=10)]) == []


@pytest.mark.parametrize(
    ("activity", "alerts"),
    [
        ("LogOn", True),
        ("FailedLogOn", True),
        ("logon", False),
        ("FailedLogon", False),
        ("ProcessTracking", False),
        ("ResourceAccess", False),
    ],
)
def test_activity_type_is_case_sensitive(rule, activity: str, alerts: bool) -> None:
    assert bool(rule([signin()], behaviors=[behavior(activity=activity, score=9)])) is alerts


def test_only_an_empty_source_ip_is_dropped(rule) -> None:
    signins = [signin(ip=ip) for ip in ("", " ", "-")]
    behaviors = [behavior(ip=ip, score=9) for ip in ("", " ", "-")]
    assert sorted(r["FailedIPAddress"] for r in rule(signins, behaviors=behaviors)) == [" ", "-"]
    assert rule([signin(ip="")], behaviors=[behavior(ip="", score=8)]) == []
    assert rule([signin(ip=" ")], behaviors=[behavior(ip=" ", score=8)]) != []
    assert rule([signin(ip="-")], behaviors=[behavior(ip="-", score=8)]) != []


def test_a_null_score_never_passes_the_cutoff(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=None)], cutoff=-1) == []
    assert rule([signin()], behaviors=[behavior(score=None)]) == []


def test_rows_are_sorted_by_score_descending(rule) -> None:
    rows = rule(
        [signin(f"user{i}@contoso.com", user_id=str(i)) for i in range(4)],
        behaviors=[behavior(name=f"user{i}", score=s) for i, s in enumerate((5, 9, 4, 7))],
    )
    assert [r["UEBARiskScore"] for r in rows] == [9, 7, 5, 4]


def test_the_window_bounds_every_table_half_open(rule) -> None:
    signins = [signin(minute=0), signin(minute=60)]
    rows = rule(signins, [identity(minute=0)], [behavior(minute=0, score=6)], start=T0, end=T0 + timedelta(hours=1))
    assert [(r["StartTime"], r["AccountUPN"]) for r in rows] == [(T0, "john.doe@contoso.com")]
    assert rule(signins, [], [behavior(minute=30, score=6)], start=at(1), end=at(60)) == []
