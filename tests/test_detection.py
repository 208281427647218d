"""The rule's detection, stage by stage, and every "consequence" in kql-semantics.md as a named case."""

from __future__ import annotations

import pytest

from shared.detection import detect, name_parts
from shared.models import OUTPUT_COLUMNS
from tests.builders import DECLINED, at, behavior, identity, signin


def run(signins, identities=(), behaviors=None, cutoff: int = 3):
    behaviors = [behavior()] if behaviors is None else list(behaviors)
    return detect(list(signins), list(identities), behaviors, risk_score_cutoff=cutoff)


def test_a_declined_prompt_with_a_high_ueba_score_gives_one_row_with_the_16_columns_in_order() -> None:
    rows = run([signin()], [identity()], [behavior(score=7)])
    assert len(rows) == 1
    assert tuple(rows[0]) == OUTPUT_COLUMNS
    row = rows[0]
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


@pytest.mark.parametrize(
    ("details", "alerts"),
    [
        (DECLINED, True),
        (DECLINED.upper(), True),
        ("MFA denied; Fraud Code entered", True),
        ("MFA denied; user reported fraud", True),
        ("fraud_code", True),
        (DECLINED + ".", False),
        (DECLINED + " ", False),
        ("MFA denied; user did not respond to mobile app notification", False),
        ("fraudulent", False),
        ("", False),
    ],
)
def test_stage5_details_filter(details: str, alerts: bool) -> None:
    assert bool(run([signin(details=details)])) is alerts


@pytest.mark.parametrize(
    ("result_type", "alerts"),
    [("500121", True), (500121, True), ("50012", False), ("0", False), ("", False), ("0500121", False)],
)
def test_stage2_result_type_is_compared_as_text(result_type: object, alerts: bool) -> None:
    assert bool(run([signin(result_type=result_type)])) is alerts


def test_consequence_1_no_ueba_match_means_no_alert_however_many_rejections() -> None:
    many = [signin(minute=m) for m in range(30)]
    assert run(many, [identity()], behaviors=[]) == []
    assert run(many, [identity()], behaviors=[behavior(ip="198.51.100.1")]) == []


def test_consequence_2_score_3_never_alerts_and_4_does() -> None:
    assert run([signin()], behaviors=[behavior(score=3)]) == []
    assert [r["UEBARiskScore"] for r in run([signin()], behaviors=[behavior(score=4)])] == [4]


def test_consequence_3_ueba_join_is_case_sensitive_on_name_and_exact_on_ip() -> None:
    assert run([signin("John.Doe@contoso.com")], behaviors=[behavior("John.Doe", score=9)]) == []
    assert run([signin(ip="203.0.113.7")], behaviors=[behavior(ip="203.0.113.07", score=9)]) == []
    assert run([signin("John.Doe@contoso.com")], behaviors=[behavior("john.doe", score=9)]) != []


def test_consequence_4_name_is_only_the_upn_prefix_so_two_domains_share_a_score() -> None:
    rows = run(
        [signin("john@contoso.com", user_id="a"), signin("john@fabrikam.com", user_id="b")],
        behaviors=[behavior("john", score=6)],
    )
    assert sorted((r["UserPrincipalName"], r["UEBARiskScore"]) for r in rows) == [
        ("john@contoso.com", 6),
        ("john@fabrikam.com", 6),
    ]


def test_consequence_5_two_identity_groups_with_one_join_key_emit_the_row_twice() -> None:
    rows = run(
        [signin("john@x.com")],
        [identity("John@x.com", roles=("Admin",)), identity("john@x.com", roles=("Reader",))],
        [behavior("john", score=5)],
    )
    assert sorted((r["AccountUPN"], tuple(r["AssignedRoles"])) for r in rows) == [
        ("John@x.com", ("Admin",)),
        ("john@x.com", ("Reader",)),
    ]


def test_consequence_6_upn_case_variants_merge_but_user_tenant_or_ip_split() -> None:
    rows = run(
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


def test_consequence_7_ueba_score_is_the_window_maximum_not_tied_to_the_denial_time() -> None:
    rows = run(
        [signin(minute=50)],
        behaviors=[behavior(score=9, minute=1), behavior(score=2, minute=50), behavior(score=None, minute=51)],
    )
    assert rows[0]["UEBARiskScore"] == 9


@pytest.mark.parametrize(
    "status",
    [{"errorCode": 500121}, None, "MFA denied; user declined the authentication", [DECLINED]],
    ids=["no-additionalDetails", "null", "string", "array"],
)
def test_consequence_8_status_without_details_is_dropped(status: object) -> None:
    assert run([signin(status=status)]) == []


def test_consequence_9_empty_signins_give_zero_rows_never_a_default_row() -> None:
    assert run([], [identity()], [behavior(score=10)]) == []


def test_unmatched_identity_gives_empty_account_upn_and_null_sets() -> None:
    row = run([signin()], identities=[identity("someone.else@contoso.com")])[0]
    assert row["AccountUPN"] == ""
    for column in ("Tags", "GroupMembership", "AssignedRoles", "UserType", "UserAccountControl"):
        assert row[column] is None


def test_matched_identity_with_no_tags_gives_an_empty_set_not_null() -> None:
    row = run([signin()], identities=[identity(tags=None, groups=None, roles=())])[0]
    assert row["Tags"] == []
    assert row["GroupMembership"] == []
    assert row["AssignedRoles"] == []


def test_identity_uses_the_latest_snapshot_per_exact_account_upn() -> None:
    row = run(
        [signin()],
        [identity(minute=0, roles=("Old",)), identity(minute=30, roles=("New",)), identity(minute=None, roles=("X",))],
    )[0]
    assert row["AssignedRoles"] == ["New"]


def test_identity_tags_array_is_flattened_by_make_set() -> None:
    row = run([signin()], [identity(tags=["VIP", "Finance", "VIP"])])[0]
    assert sorted(row["Tags"]) == ["Finance", "VIP"]


def test_user_account_control_is_a_copy_of_the_user_type_set() -> None:
    row = run([signin()], [identity(user_type="Guest")])[0]
    assert row["UserAccountControl"] == row["UserType"] == ["Guest"]


@pytest.mark.parametrize(
    ("activity", "ip", "alerts"),
    [
        ("LogOn", "203.0.113.7", True),
        ("FailedLogOn", "203.0.113.7", True),
        ("logon", "203.0.113.7", False),  # `in` is case-sensitive
        ("ResourceAccess", "203.0.113.7", False),
    ],
)
def test_stage9_only_logons_count(activity: str, ip: str, alerts: bool) -> None:
    assert bool(run([signin()], behaviors=[behavior(activity=activity, ip=ip, score=8)])) is alerts


def test_stage9_empty_source_ip_is_dropped_but_blank_and_dash_are_kept() -> None:
    assert run([signin(ip="")], behaviors=[behavior(ip="", score=8)]) == []
    assert run([signin(ip=" ")], behaviors=[behavior(ip=" ", score=8)]) != []
    assert run([signin(ip="-")], behaviors=[behavior(ip="-", score=8)]) != []


def test_null_scores_are_dropped_by_the_cutoff() -> None:
    assert run([signin()], behaviors=[behavior(score=None)]) == []


def test_rows_are_sorted_by_score_descending() -> None:
    rows = run(
        [signin("a@x.com"), signin("b@x.com"), signin("c@x.com")],
        behaviors=[behavior("a", score=5), behavior("b", score=9), behavior("c", score=7)],
    )
    assert [r["UEBARiskScore"] for r in rows] == [9, 7, 5]


def test_the_cutoff_is_a_parameter() -> None:
    assert run([signin()], behaviors=[behavior(score=5)], cutoff=5) == []
    assert run([signin()], behaviors=[behavior(score=5)], cutoff=4) != []


def test_missing_string_cells_count_as_empty() -> None:
    sparse = {"TimeGenerated": at(1), "ResultType": "500121", "Status": {"additionalDetails": DECLINED}}
    rows = detect([sparse], [], [behavior("", ip="x", score=5)])
    assert rows == []  # no IP in the sign-in: "" never joins a UEBA row (its IP must be non-empty)
    rows = detect([sparse | {"IPAddress": "x"}], [], [behavior("", ip="x", score=5)])
    assert [(r["UserPrincipalName"], r["Name"], r["UserId"]) for r in rows] == [("", "", "")]


@pytest.mark.parametrize(
    ("upn", "name", "suffix"),
    [
        ("john@contoso.com", "john", "contoso.com"),
        ("john", "john", ""),
        ("", "", ""),
        ("@x.com", "", "x.com"),
        ("a@b@c", "a", "b"),
    ],
)
def test_stage7_name_parts(upn: str, name: str, suffix: str) -> None:
    assert name_parts(upn) == {"Name": name, "UPNSuffix": suffix}


def test_null_times_are_skipped_by_min_and_max() -> None:
    rows = run([signin(minute=5), {**signin(), "TimeGenerated": None}])
    assert (rows[0]["StartTime"], rows[0]["EndTIme"]) == (at(5), at(5))
