"""The DuckDB SQL port of the rule (tests/oracle/rule.sql) on its own: the bundled sample's
expected.json, every fixture format, the product against it on a busy generated tenant, and its
command line. The named cases run against every implementation in tests/test_detection.py."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.detection import detect
from shared.models import OUTPUT_COLUMNS, ReadRequest, Window
from shared.sources.fixtures import FixtureSource
from tests.builders import T0
from tests.oracle.sql_port import expected_json, run_rule, to_json_rows
from tests.oracle.sql_port import main as duckdb_rule_main
from tools.tenant import SAMPLE_PARAMS, TenantParams, generate
from tools.tenant.formats import FORMATS
from tools.tenant.planted import CASES

SAMPLE_DIR = Path(__file__).resolve().parent.parent / "sample_data"


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
    # Byte for byte as well: expected.json is regenerated with `python -m tests.oracle.sql_port`.
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
