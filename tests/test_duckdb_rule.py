"""The DuckDB SQL port of the rule (bench/rule.sql) and the product, side by side: kql-semantics.md
case by case on tiny tables written as fixture files, plus the bundled sample's expected.json and
every fixture format."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.duckdb_rule import OUTPUT_COLUMNS, expected_json, run_rule, sort_key, to_json_rows, write_tables
from bench.duckdb_rule import main as duckdb_rule_main
from shared.detection import detect
from shared.models import ReadRequest, Window
from shared.sources.fixtures import FixtureSource
from tests.builders import DECLINED, T0, at, behavior, identity, signin
from tools.tenant import SAMPLE_PARAMS, TenantParams, generate
from tools.tenant.formats import FORMATS
from tools.tenant.planted import CASES

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"


def _product(directory: Path, *, cutoff: int, start: Any = None, end: Any = None) -> list[dict[str, Any]]:
    """The product on the same files: FixtureSource (every line parsed) + detect, rows shaped as
    run_rule shapes them (arrays sorted, rows in sort_key order)."""
    window = Window(start, end) if start is not None else None
    tables = FixtureSource(directory, strict=True).read(ReadRequest.same(window))
    rows = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=cutoff)
    shaped = [{k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    return sorted(shaped, key=sort_key)


@pytest.fixture(params=["sql", "product"])
def rule(request: pytest.FixtureRequest, tmp_path: Path):
    """Write the tables as jsonl fixture files and run the rule on them: the SQL port, and the
    product itself, so that every case below holds for both independent implementations."""
    counter = iter(range(1000))
    implementation = run_rule if request.param == "sql" else _product

    def run(
        signins: list[dict[str, Any]],
        identities: list[dict[str, Any]] = (),  # type: ignore[assignment]
        behaviors: list[dict[str, Any]] | None = None,
        *,
        cutoff: int = 3,
        **window: Any,
    ) -> list[dict[str, Any]]:
        behaviors = [behavior()] if behaviors is None else behaviors
        directory = write_tables(
            tmp_path / f"case{next(counter)}", signins=signins, identities=identities, behaviors=behaviors
        )
        return implementation(directory, cutoff=cutoff, **window)

    return run


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


@pytest.mark.parametrize(
    ("result_type", "alerts"),
    [("500121", True), (500121, True), ("50012", False), ("0", False), ("", False), ("0500121", False)],
)
def test_result_type_is_compared_as_text_or_by_number(rule, result_type: object, alerts: bool) -> None:
    assert bool(rule([signin(result_type=result_type)])) is alerts


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
    ],
    ids=["no-additionalDetails", "null", "a-string", "an-array", "key-in-other-case"],
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
def test_name_and_upn_suffix_split_on_the_first_two_at_signs(rule, upn: str, name: str, suffix: str) -> None:
    rows = rule([signin(upn)], behaviors=[behavior(name=name, score=9)])
    assert [(r["Name"], r["UPNSuffix"]) for r in rows] == [(name, suffix)]


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


# --- the consequences that surprise people (kql-semantics.md) -----------------------------------


def test_1_no_ueba_match_means_no_alert_however_many_rejections(rule) -> None:
    signins = [signin(minute=m) for m in range(10, 20)]
    assert rule(signins, [identity()], []) == []
    assert rule(signins, [identity()], [behavior(ip="203.0.113.99", score=10)]) == []


def test_2_score_3_never_alerts_and_4_does(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=3)]) == []
    assert [r["UEBARiskScore"] for r in rule([signin()], behaviors=[behavior(score=4)])] == [4]


def test_2_the_cutoff_is_a_parameter(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=4)], cutoff=4) == []
    assert len(rule([signin()], behaviors=[behavior(score=1)], cutoff=0)) == 1


def test_3_ueba_user_name_in_original_case_never_matches(rule) -> None:
    assert rule([signin("John.Doe@contoso.com")], behaviors=[behavior(name="John.Doe", score=9)]) == []


def test_3_ips_must_match_byte_for_byte(rule) -> None:
    assert rule([signin(ip="2001:db8::5")], behaviors=[behavior(ip="2001:DB8::5", score=9)]) == []
    assert rule([signin(ip="203.0.113.7")], behaviors=[behavior(ip="203.0.113.7 ", score=9)]) == []


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


def test_7_the_score_is_the_maximum_over_the_window_whenever_it_was_logged(rule) -> None:
    rows = rule(
        [signin(minute=10)],
        behaviors=[behavior(score=2, minute=1), behavior(score=8, minute=55), behavior(score=5, minute=10)],
    )
    assert [r["UEBARiskScore"] for r in rows] == [8]


def test_9_empty_signins_give_no_rows(rule) -> None:
    assert rule([], [identity()], [behavior(score=10)]) == []


@pytest.mark.parametrize(
    ("activity", "alerts"),
    [("LogOn", True), ("FailedLogOn", True), ("logon", False), ("FailedLogon", False), ("ProcessTracking", False)],
)
def test_activity_type_is_case_sensitive(rule, activity: str, alerts: bool) -> None:
    assert bool(rule([signin()], behaviors=[behavior(activity=activity, score=9)])) is alerts


def test_only_an_empty_source_ip_is_dropped(rule) -> None:
    signins = [signin(ip=ip) for ip in ("", " ", "-")]
    behaviors = [behavior(ip=ip, score=9) for ip in ("", " ", "-")]
    assert sorted(r["FailedIPAddress"] for r in rule(signins, behaviors=behaviors)) == [" ", "-"]


def test_a_null_score_never_passes_the_cutoff(rule) -> None:
    assert rule([signin()], behaviors=[behavior(score=None)], cutoff=-1) == []


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


# --- the bundled sample -----------------------------------------------------------------------------


def _as_set(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(row, sort_keys=True) for row in to_json_rows(rows))


def test_the_bundled_expected_json_is_what_the_sql_computes_on_the_sample() -> None:
    expected = json.loads((SAMPLE_DIR / "expected.json").read_text(encoding="utf-8"))
    fresh = to_json_rows(run_rule(SAMPLE_DIR))
    assert [tuple(row) for row in expected] == [OUTPUT_COLUMNS] * len(expected)
    assert sorted(json.dumps(r, sort_keys=True) for r in expected) == sorted(
        json.dumps(r, sort_keys=True) for r in fresh
    )
    # Byte for byte as well: expected.json is regenerated with `python -m bench.duckdb_rule`.
    assert (SAMPLE_DIR / "expected.json").read_text(encoding="utf-8") == expected_json(run_rule(SAMPLE_DIR))


def test_the_sample_alerts_on_exactly_the_planted_alerting_cases_plus_generated_ones() -> None:
    rows = run_rule(SAMPLE_DIR)
    for case in CASES:
        produced = [r for r in rows if r["UserPrincipalName"] in case.upns]
        assert len(produced) == case.alert_rows, case.name
    assert 4 <= len(rows) <= 12


@pytest.fixture(scope="module")
def sample_in_every_format(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("formats")
    return {fmt: generate(SAMPLE_PARAMS, root / fmt, fmt=fmt).directory for fmt in FORMATS}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_fixture_format_gives_the_same_rows(sample_in_every_format: dict[str, Path], fmt: str) -> None:
    reference = run_rule(sample_in_every_format["jsonl"])
    assert reference
    assert _as_set(run_rule(sample_in_every_format[fmt], fmt=fmt)) == _as_set(reference)


# --- the product against the oracle --------------------------------------------------------------


def _canonical(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for row in to_json_rows(rows):
        for column in ("Tags", "GroupMembership", "AssignedRoles", "UserType", "UserAccountControl"):
            if row[column] is not None:
                row[column] = sorted(row[column], key=lambda e: json.dumps(e, sort_keys=True))
        out.append(json.dumps(row, sort_keys=True))
    return sorted(out)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_the_product_agrees_with_the_sql_port_on_a_busy_generated_tenant(tmp_path: Path, fmt: str) -> None:
    params = TenantParams(seed=11, users=150, hours=2, rate=6, decline_rate=0.03, fraud_rate=0.01, planted=True)
    directory = generate(params, tmp_path, fmt=fmt).directory
    window = Window(T0, T0 + timedelta(hours=1))
    for request_window in (None, window):
        tables = FixtureSource(directory).read(ReadRequest.same(request_window))
        product = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=3)
        bounds = {} if request_window is None else {"start": window.start, "end": window.end}
        oracle = run_rule(directory, fmt=fmt, **bounds)
        assert len(oracle) > 20
        assert _canonical(product) == _canonical(oracle)


def test_the_command_line_names_a_missing_table_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert duckdb_rule_main([str(tmp_path)]) == 2
    assert "SigninLogs" in capsys.readouterr().err


def test_the_command_line_writes_expected_json(tmp_path: Path) -> None:
    out = tmp_path / "expected.json"
    assert duckdb_rule_main([str(SAMPLE_DIR), "--write-expected", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == (SAMPLE_DIR / "expected.json").read_text(encoding="utf-8")
