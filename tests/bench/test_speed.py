"""The replay bench on the bundled sample: both engines in fresh processes, rows compared, figures sane."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.polars_peer import first_filter
from bench.replay import main as replay_main
from bench.replay import peak_rss_bytes
from bench.speed import count_lines, measure_replay, run_replay, scan_floor, table_files
from tools.tenant.params import SAMPLE_PARAMS

START, END = datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC)

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_both_engines_agree_on_the_sample_in_fresh_processes() -> None:
    result = measure_replay("sample", SAMPLE, SAMPLE_PARAMS, runs=1)
    assert result.same_rows, result.differences
    assert result.ours.rows == result.duckdb.rows == {8}  # sample_data/expected.json holds 8 rows
    # Polars' first filter, on the sample whose Status is once a bare string: the sign-ins it keeps.
    assert result.polars is not None
    assert result.polars.rows == {21}
    assert result.fastest_peer in (result.duckdb, result.polars)
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


def _signin(status: object, *, result_type: object = "500121", at: str = "2026-11-28T09:30:00.0000000Z") -> str:
    row = {"TimeGenerated": at, "ResultType": result_type, "Status": status, "UserPrincipalName": "A@Contoso.com"}
    return json.dumps(row | {"UserId": "u", "AADTenantId": "t", "IPAddress": "203.0.113.9", "DeviceDetail": {}})


def _details(text: str) -> dict[str, object]:
    return {"errorCode": 500121, "additionalDetails": text}


def test_polars_first_filter_keeps_what_the_rule_first_keeps(tmp_path: Path) -> None:
    lines = {
        "declined": _signin(_details("MFA denied; user declined the authentication")),
        "declined, other case": _signin(_details("MFA Denied; User declined the authentication")),
        "fraud, a term": _signin(_details("MFA denied; Fraud Code entered")),
        "fraud, another term": _signin(_details("MFA denied; Phone App Reported Fraud")),
        "fraudulent: not the term": _signin(_details("MFA denied; fraudulent")),
        "declined, as a substring": _signin(_details("MFA denied; user declined the authentication twice")),
        "other result type": _signin(_details("MFA denied; user declined the authentication"), result_type="50074"),
        "Status a bare string": _signin("MFA denied; user declined the authentication"),
        "no Status details": _signin({"errorCode": 500121}),
        "before the window": _signin(_details("MFA denied; user reported fraud"), at="2026-11-28T08:59:59.9990000Z"),
        "at the window's end": _signin(_details("MFA denied; user reported fraud"), at="2026-11-28T10:00:00.0000000Z"),
    }
    (tmp_path / "SigninLogs.jsonl").write_text("\n".join(lines.values()) + "\n", encoding="utf-8")
    kept = first_filter(tmp_path, start=START, end=END)
    assert kept.height == 4  # the first four
    assert kept["UserPrincipalName"].to_list() == ["a@contoso.com"] * 4
    assert kept["FailedIPAddress"].to_list() == ["203.0.113.9"] * 4


def test_a_polars_replay_runs_in_its_own_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert replay_main(["polars", str(SAMPLE), "--start", START.isoformat(), "--end", END.isoformat()]) == 0
    assert '"engine": "polars"' in capsys.readouterr().out
