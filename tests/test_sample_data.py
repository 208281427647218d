"""The bundled sample: our detection gives exactly the checked-in expected rows.

sample_data/expected.json was computed by the hand-written DuckDB SQL port of the rule
(tests/oracle/rule.sql, `make sample`), not by the code under test; every implementation of the rule
(the ``rule`` fixture: the product, the SQL port, the verbatim KQL run by duckdb-kql) gives it.
"""

from __future__ import annotations

import json
from pathlib import Path

from shared.detection import detect
from shared.models import OUTPUT_COLUMNS, ReadRequest
from shared.serialise import jsonable
from shared.settings import SAMPLE_CLOCK_FILE, SAMPLE_DATA_DIR
from shared.sources.fixtures import FixtureSource


def canonical(rows: list[dict]) -> list[str]:
    # Arrays compare as sets (make_set order is undefined); ties in the sort have no order.
    return sorted(
        json.dumps({k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in row.items()}, sort_keys=True)
        for row in rows
    )


def test_detect_on_the_sample_equals_the_independent_expected_rows() -> None:
    tables = FixtureSource(SAMPLE_DATA_DIR).read(ReadRequest.same(None))
    rows = detect(tables.signins, tables.identities, tables.behaviors)
    expected = json.loads((SAMPLE_DATA_DIR / "expected.json").read_text(encoding="utf-8"))
    assert [list(row) for row in rows] == [list(OUTPUT_COLUMNS)] * len(rows)
    assert canonical(jsonable(rows)) == canonical(expected)
    assert [row["UEBARiskScore"] for row in rows] == sorted((row["UEBARiskScore"] for row in rows), reverse=True)


def test_every_implementation_gives_the_expected_rows_on_the_sample(rule) -> None:
    rows = rule.on_files(SAMPLE_DATA_DIR)
    expected = json.loads((SAMPLE_DATA_DIR / "expected.json").read_text(encoding="utf-8"))
    assert [list(row) for row in rows] == [list(OUTPUT_COLUMNS)] * len(rows)
    assert canonical(jsonable(rows)) == canonical(expected)


def test_the_sample_alerts_on_a_few_rows_and_most_sign_ins_do_not() -> None:
    tables = FixtureSource(SAMPLE_DATA_DIR).read(ReadRequest.same(None))
    assert 4 <= len(json.loads((SAMPLE_DATA_DIR / "expected.json").read_text())) <= 12
    assert tables.scanned["SigninLogs"] >= 200
    assert len(tables.signins) < tables.scanned["SigninLogs"] / 5


def test_the_sample_clock_is_just_after_the_sample_hour() -> None:
    clock = (SAMPLE_DATA_DIR / SAMPLE_CLOCK_FILE).read_text().strip()
    assert clock == "2026-11-28T10:05:00Z"
    assert Path(SAMPLE_DATA_DIR / "SigninLogs.jsonl").is_file()
