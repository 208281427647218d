"""The replay bench on the bundled sample: both engines in fresh processes, rows compared, figures sane."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.replay import main as replay_main
from bench.replay import peak_rss_bytes
from bench.speed import count_lines, measure_replay, run_replay, scan_floor, table_files
from tools.tenant.params import SAMPLE_PARAMS

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_both_engines_agree_on_the_sample_in_fresh_processes() -> None:
    result = measure_replay("sample", SAMPLE, SAMPLE_PARAMS, runs=1)
    assert result.same_rows, result.differences
    assert result.ours.rows == result.duckdb.rows == {8}  # sample_data/expected.json holds 8 rows
    assert result.table_rows == {"SigninLogs": 313, "IdentityInfo": 53, "BehaviorAnalytics": 227}
    assert result.file_bytes == sum(path.stat().st_size for path in table_files(SAMPLE))
    # A fresh interpreter has a few MB; DuckDB's library alone makes its process much bigger.
    assert 5_000_000 < result.ours.peak_rss < result.duckdb.peak_rss
    assert all(seconds > 0 for seconds in result.ours.seconds + result.duckdb.seconds + result.scan)


def test_a_replay_reports_as_json_and_writes_canonical_rows(tmp_path: Path) -> None:
    report = run_replay("ours", SAMPLE, SAMPLE_PARAMS, rows_out=tmp_path / "rows.json")
    assert report["engine"] == "ours"
    assert report["rows"] == 8
    assert (tmp_path / "rows.json").read_text().startswith("[[")


def test_a_window_before_the_data_gives_no_rows(capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_main(["ours", str(SAMPLE), "--start", "2020-01-01T00:00:00Z", "--end", "2020-01-01T01:00:00Z"]) == 0
    assert '"rows": 0' in capsys.readouterr().out


def test_the_scan_and_the_line_count_read_every_file() -> None:
    elapsed, counts = count_lines(table_files(SAMPLE))
    assert counts == {"SigninLogs": 313, "IdentityInfo": 53, "BehaviorAnalytics": 227}
    assert elapsed > 0
    assert scan_floor(table_files(SAMPLE)) > 0


def test_peak_rss_is_read_from_proc() -> None:
    assert peak_rss_bytes() > 1_000_000
