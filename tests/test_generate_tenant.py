"""The synthetic tenant generator: determinism, the five formats, realistic proportions, the sample."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.detection import detect
from shared.models import SCHEMAS, ReadRequest
from shared.sources.fixtures import FixtureSource, read_records
from shared.sources.values import normalise_row
from tools.tenant import SAMPLE_PARAMS, TenantParams, generate
from tools.tenant.cli import main
from tools.tenant.formats import FORMATS
from tools.tenant.generate import ensure_generated, logical_rows, table_path
from tools.tenant.planted import CASES
from tools.tenant.schema import TABLES, table_columns

REPO = Path(__file__).resolve().parent.parent
SAMPLE_DIR = REPO / "sample_data"
SMALL = TenantParams(seed=7, users=40, hours=2, rate=5, planted=True)


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


# --- determinism ----------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_bytes_and_another_seed_other_bytes(tmp_path: Path) -> None:
    first = generate(SMALL, tmp_path / "a").directory
    second = generate(SMALL, tmp_path / "b").directory
    other = generate(SMALL.with_(seed=8), tmp_path / "c").directory
    assert _files(first) == _files(second)
    assert _files(first)["SigninLogs.jsonl"] != _files(other)["SigninLogs.jsonl"]


def test_the_bundled_sample_regenerates_bit_for_bit(tmp_path: Path) -> None:
    assert main(["--sample", "--out", str(tmp_path)]) == 0
    bundled = {name: data for name, data in _files(SAMPLE_DIR).items() if name.endswith(".jsonl")}
    assert set(bundled) == {f"{table}.jsonl" for table in TABLES}
    assert _files(tmp_path) == bundled


def test_the_script_runs_from_a_checkout_without_installation(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "tools" / "generate_tenant.py"),
            "--users",
            "3",
            "--rate",
            "2",
            "--out",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "SigninLogs.jsonl").stat().st_size > 0


def test_bad_parameters_are_refused_with_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--decline-rate", "1.5", "--out", str(tmp_path)])
    assert exited.value.code == 2
    assert "between 0 and 1" in capsys.readouterr().err


# --- every format spells the same rows -------------------------------------------------------------


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _time(text: str, fmt: str) -> int:
    if fmt == "csv":
        return _ms(datetime.strptime(text, "%m/%d/%Y, %I:%M:%S.%f %p").replace(tzinfo=UTC))
    digits = re.fullmatch(r"(.*\.\d{3})\d*Z", text)
    assert digits, text
    return _ms(datetime.strptime(digits.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC))


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _cell(kind: str, value: Any, fmt: str, expected: Any) -> Any:
    """A cell as written back to the generator's value model, by plain parsing."""
    as_text = fmt in ("csv", "azjson")
    if kind == "string":
        # IdentityInfo.Tags may hold an array: JSON exports keep it, the others write JSON text.
        return json.loads(value) if isinstance(expected, list) and isinstance(value, str) else value
    if as_text and value == "":
        return None
    if value is None:
        return None
    if kind == "datetime":
        return _time(value, fmt)
    if kind in ("int", "long"):
        return int(value)
    if kind == "bool":
        return value if isinstance(value, bool) else {"true": True, "false": False}[value.lower()]
    if kind == "dynamic":
        return value if fmt in ("jsonl", "json") else _json_or_text(value)
    raise AssertionError(kind)


def _records(path: Path, fmt: str) -> list[dict[str, Any]]:
    text = path.read_text(encoding="utf-8")
    if fmt == "jsonl":
        return [json.loads(line) for line in text.splitlines()]
    if fmt in ("json", "azjson"):
        return json.loads(text)
    if fmt == "api":
        (table,) = json.loads(text)["tables"]
        names = [c["name"] for c in table["columns"]]
        return [dict(zip(names, row, strict=True)) for row in table["rows"]]
    reader = csv.reader(text.splitlines(keepends=True), strict=True)
    header = [name.removesuffix(" [UTC]") for name in next(reader)]
    return [dict(zip(header, row, strict=True)) for row in reader]


@pytest.fixture(scope="module")
def small_in_every_format(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tenant")
    return {fmt: generate(SMALL, root / fmt, fmt=fmt).directory for fmt in FORMATS}


@pytest.fixture(scope="module")
def small_rows() -> dict[str, list[dict[str, Any]]]:
    return logical_rows(SMALL)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("table", TABLES)
def test_every_format_parses_back_to_the_generated_rows(
    small_in_every_format: dict[str, Path], small_rows: dict[str, list[dict[str, Any]]], fmt: str, table: str
) -> None:
    columns = table_columns(table)
    records = _records(table_path(small_in_every_format[fmt], table, fmt), fmt)
    expected = small_rows[table]
    assert len(records) == len(expected) > 0
    for record, want in zip(records, expected, strict=True):
        if fmt == "azjson":
            assert record.pop("TableName") == "PrimaryResult"
            assert all(isinstance(v, str) for v in record.values())
        assert list(record) == list(columns.names)
        got = {
            name: _cell(kind, record[name], fmt, want[name])
            for name, kind in zip(columns.names, columns.kinds, strict=True)
        }
        assert got == want


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_fixture_reader_reads_the_same_rows_from_every_format(
    small_in_every_format: dict[str, Path], fmt: str
) -> None:
    def normalised(directory: Path, table: str, ext_fmt: str) -> list[dict[str, Any]]:
        path = table_path(directory, table, ext_fmt)
        return [normalise_row(raw, SCHEMAS[table]) for _, raw in read_records(path, table)]

    for table in TABLES:
        reference = normalised(small_in_every_format["jsonl"], table, "jsonl")
        assert normalised(small_in_every_format[fmt], table, fmt) == reference, table
    tables = FixtureSource(small_in_every_format[fmt]).read(ReadRequest.same(None))
    reference_tables = FixtureSource(small_in_every_format["jsonl"]).read(ReadRequest.same(None))
    assert tables.signins
    assert (tables.signins, tables.identities, tables.behaviors) == (
        reference_tables.signins,
        reference_tables.identities,
        reference_tables.behaviors,
    )


def test_formats_look_like_the_real_exports(small_in_every_format: dict[str, Path]) -> None:
    jsonl_line = table_path(small_in_every_format["jsonl"], "SigninLogs", "jsonl").read_text().splitlines()[0]
    assert re.search(r'"TimeGenerated":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z"', jsonl_line)
    assert '"Status":{"errorCode":' in jsonl_line
    assert 1000 <= len(jsonl_line.encode()) <= 3000

    csv_text = table_path(small_in_every_format["csv"], "SigninLogs", "csv").read_text()
    header, first = csv_text.splitlines()[:2]
    assert "TimeGenerated [UTC]" in header.split(",")
    assert re.search(r'"\d{1,2}/\d{1,2}/\d{4}, \d{1,2}:\d\d:\d\d\.\d{3} [AP]M"', first)
    assert ",TRUE," in first or ",FALSE," in first
    assert '"{""errorCode"":' in first

    az = json.loads(table_path(small_in_every_format["azjson"], "SigninLogs", "azjson").read_text())[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", az["TimeGenerated"])
    assert az["IsInteractive"] in ("True", "False")
    assert az["DurationMs"] == "0"

    api = json.loads(table_path(small_in_every_format["api"], "BehaviorAnalytics", "api").read_text())
    columns = {c["name"]: c["type"] for c in api["tables"][0]["columns"]}
    assert api["tables"][0]["name"] == "PrimaryResult"
    assert (columns["TimeGenerated"], columns["InvestigationPriority"], columns["UsersInsights"]) == (
        "datetime",
        "int",
        "dynamic",
    )
    assert isinstance(api["tables"][0]["rows"][0][list(columns).index("UsersInsights")], str)


# --- realistic content ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tenant_rows() -> dict[str, list[dict[str, Any]]]:
    return logical_rows(TenantParams(seed=3, users=500, hours=2, rate=10))


def _details(row: dict[str, Any]) -> str:
    status = row["Status"]
    return status.get("additionalDetails", "") if isinstance(status, dict) else ""


def test_proportions_of_outcomes_are_realistic(tenant_rows: dict[str, list[dict[str, Any]]]) -> None:
    signins = tenant_rows["SigninLogs"]
    total = len(signins)
    assert 10_000 <= total <= 10_300
    results = Counter(row["ResultType"] for row in signins)
    assert 0.90 <= results["0"] / total <= 0.97
    assert {"50126", "50140", "50074", "53003", "500121"} <= set(results)
    declined = [r for r in signins if _details(r).lower() == "mfa denied; user declined the authentication"]
    fraud = [r for r in signins if "fraud" in _details(r).lower()]
    other_mfa = [r for r in signins if r["ResultType"] == "500121" and r not in declined and r not in fraud]
    assert 0.001 <= len(declined) / total <= 0.01
    assert 0 < len(fraud) / total <= 0.003
    assert other_mfa
    assert {_details(r) for r in declined} > {"MFA denied; user declined the authentication"}  # case variants


def test_identities_vary_like_a_real_tenant(tenant_rows: dict[str, list[dict[str, Any]]]) -> None:
    signins = tenant_rows["SigninLogs"]
    spellings: dict[str, set[str]] = {}
    for row in signins:
        spellings.setdefault(row["UserId"], set()).add(row["UserPrincipalName"])
    assert any(len(s) > 1 for s in spellings.values())  # one account, UPN in two cases
    assert len({row["AADTenantId"] for row in signins}) >= 2
    assert any(":" in row["IPAddress"] for row in signins)
    assert any(row["UserType"] == "Guest" for row in signins)
    identities = tenant_rows["IdentityInfo"]
    per_account = Counter(row["AccountUPN"] for row in identities)
    assert max(per_account.values()) >= 2  # several snapshots
    assert any(upn != upn.lower() for upn in per_account)
    assert {type(row["Tags"]) for row in identities} == {list, str}


def test_behavior_analytics_looks_like_ueba(tenant_rows: dict[str, list[dict[str, Any]]]) -> None:
    behaviors = tenant_rows["BehaviorAnalytics"]
    kinds = Counter(row["ActivityType"] for row in behaviors)
    assert {"LogOn", "FailedLogOn", "ProcessTracking", "ResourceAccess"} <= set(kinds)
    priorities = Counter(row["InvestigationPriority"] for row in behaviors)
    assert (priorities[0] + priorities[1] + priorities[2]) / len(behaviors) >= 0.8
    assert priorities[3] > 0
    assert sum(priorities[p] for p in range(4, 11)) > 0
    addresses = {row["SourceIPAddress"] for row in behaviors}
    assert {"", "-"} <= addresses
    names = {row["UserName"] for row in behaviors}
    assert any(name != name.lower() for name in names)  # some UEBA names keep the original case


def test_every_row_is_inside_the_window(tenant_rows: dict[str, list[dict[str, Any]]]) -> None:
    params = TenantParams(seed=3, users=500, hours=2, rate=10)
    for table in TABLES:
        times = [row["TimeGenerated"] for row in tenant_rows[table]]
        assert params.start_ms <= min(times)
        assert max(times) < params.end_ms


# --- the sample's planted cases ----------------------------------------------------------------------


def test_the_sample_holds_every_planted_case_within_its_hour() -> None:
    rows = logical_rows(SAMPLE_PARAMS)
    upns = {row["UserPrincipalName"].lower() for row in rows["SigninLogs"]}
    for case in CASES:
        assert set(case.upns) <= upns, case.name
    start = SAMPLE_PARAMS.start_ms
    for table in TABLES:
        assert all(start <= row["TimeGenerated"] < start + 3_600_000 for row in rows[table]), table
    # a few hundred sign-ins, mostly successful
    assert 250 <= len(rows["SigninLogs"]) <= 400
    assert sum(row["ResultType"] == "0" for row in rows["SigninLogs"]) / len(rows["SigninLogs"]) > 0.8


def test_planted_case_details_are_spelled_as_intended() -> None:
    signins = logical_rows(SAMPLE_PARAMS)["SigninLogs"]
    by_upn: dict[str, list[dict[str, Any]]] = {}
    for row in signins:
        by_upn.setdefault(row["UserPrincipalName"].lower(), []).append(row)
    johanna = [row["Status"] for row in by_upn["johanna.lorenz@contoso.com"]]
    assert any(isinstance(s, str) for s in johanna)
    assert any(isinstance(s, dict) and "additionalDetails" not in s for s in johanna)
    assert {_details(r) for r in by_upn["lynne.robbins@contoso.com"]} == {
        "MFA denied; user declined the authentication.",
        "MFA denied;  user declined the authentication",
    }
    assert {r["UserPrincipalName"] for r in by_upn["patti.fernandez@contoso.com"]} == {
        "Patti.Fernandez@contoso.com",
        "patti.fernandez@contoso.com",
    }


def test_generated_data_is_cached_by_parameters(tmp_path: Path) -> None:
    params = TenantParams(seed=5, users=5, rate=2)
    first = ensure_generated(params, tmp_path)
    stamp = (first / "SigninLogs.jsonl").stat().st_mtime_ns
    assert ensure_generated(params, tmp_path) == first
    assert (first / "SigninLogs.jsonl").stat().st_mtime_ns == stamp
    assert ensure_generated(params.with_(seed=6), tmp_path) != first


# --- --wide: the bulky columns of real sign-ins ------------------------------------------------------

WIDE_ONLY = set(table_columns("SigninLogs", wide=True).names) - set(table_columns("SigninLogs").names)
BULKIER = {"AuthenticationDetails", "MfaDetail", "ConditionalAccessPolicies"}  # in both, fuller when wide


def test_wide_sign_ins_are_the_compact_ones_with_the_bulky_columns_added() -> None:
    compact, wide = logical_rows(SMALL), logical_rows(SMALL.with_(wide=True))
    assert wide["IdentityInfo"] == compact["IdentityInfo"]
    assert wide["BehaviorAnalytics"] == compact["BehaviorAnalytics"]
    assert len(wide["SigninLogs"]) == len(compact["SigninLogs"]) > 0
    for thin, bulky in zip(compact["SigninLogs"], wide["SigninLogs"], strict=True):
        assert set(bulky) - set(thin) == WIDE_ONLY
        assert {k: v for k, v in bulky.items() if k in thin and k not in BULKIER} == {
            k: v for k, v in thin.items() if k not in BULKIER
        }
        assert bulky["OriginalRequestId"] == bulky["Id"]
        assert len(bulky["ConditionalAccessPolicies"]) >= 2
    assert {"AuthenticationProcessingDetails", "NetworkLocationDetails", "SessionLifetimePolicies"} <= WIDE_ONLY


def test_wide_rows_are_as_bulky_as_real_ones_deterministic_and_alert_alike(tmp_path: Path) -> None:
    params = TenantParams(seed=7, users=300, hours=1, rate=10, wide=True)
    first, again = generate(params, tmp_path / "a").directory, generate(params, tmp_path / "b").directory
    compact = generate(params.with_(wide=False), tmp_path / "c").directory
    assert _files(first) == _files(again)
    assert params.cache_key() != params.with_(wide=False).cache_key()
    lines = (first / "SigninLogs.jsonl").read_bytes().splitlines()
    assert 3500 <= sum(map(len, lines)) / len(lines) <= 4000  # issue 16: ~3.7 KB a row
    assert any(b'"networkType":"trustedNamedLocation"' in line for line in lines)

    def result(directory: Path) -> list[dict[str, Any]]:
        tables = FixtureSource(directory).read(ReadRequest.same(None))
        return detect(tables.signins, tables.identities, tables.behaviors)

    assert result(first) == result(compact)


def test_a_wide_csv_export_heads_every_wide_column(tmp_path: Path) -> None:
    params = TenantParams(seed=7, users=5, rate=2, wide=True)
    path = table_path(generate(params, tmp_path, fmt="csv").directory, "SigninLogs", "csv")
    header = next(csv.reader(path.open(encoding="utf-8")))
    assert [name.removesuffix(" [UTC]") for name in header] == list(table_columns("SigninLogs", wide=True).names)
    assert main(["--wide", "--users", "3", "--rate", "2", "--out", str(tmp_path / "cli")]) == 0
    assert b'"ConditionalAccessPolicies":[{' in (tmp_path / "cli" / "SigninLogs.jsonl").read_bytes()
