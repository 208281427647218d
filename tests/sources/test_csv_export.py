"""The CSV export reader: real portal exports are read, and a line with the wrong number of fields
is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.errors import InputError
from shared.sources.fixtures import FixtureSource
from tests.sources.test_fixtures import ALL, IDENTITY, write_jsonl, write_tables


def _error(directory: Path, **kwargs: object) -> str:
    with pytest.raises(InputError) as caught:
        FixtureSource(directory, **kwargs).read(ALL)
    return str(caught.value)


def test_the_real_portal_csv_excerpts_are_read(tmp_path: Path) -> None:
    # Excerpts of real portal exports (see tests/data/portal/README.md).
    samples = Path(__file__).resolve().parents[1] / "data" / "portal"
    (tmp_path / "SigninLogs.csv").write_bytes((samples / "SigninLogs_portal_export_2rows.csv").read_bytes())
    (tmp_path / "BehaviorAnalytics.csv").write_bytes(
        (samples / "BehaviorAnalytics_SampleData-Custom_Behavior-Analytics_excerpt.csv").read_bytes()
    )
    write_jsonl(tmp_path, "IdentityInfo", [IDENTITY])
    tables = FixtureSource(tmp_path).read(ALL)
    assert tables.scanned == {"SigninLogs": 2, "IdentityInfo": 1, "BehaviorAnalytics": 6}
    assert tables.signins == []  # the excerpts hold no MFA rejections


def test_csv_with_wrong_field_count_names_the_line(tmp_path: Path) -> None:
    write_tables(tmp_path)
    (tmp_path / "BehaviorAnalytics.jsonl").unlink()
    (tmp_path / "BehaviorAnalytics.csv").write_text(
        "TimeGenerated [UTC],ActivityType,SourceIPAddress,UserName,InvestigationPriority\n"
        '"11/28/2026, 9:05:00.000 AM",LogOn,203.0.113.7,john.doe,7\n'
        "11/28/2026 9:06,LogOn,203.0.113.7\n"
    )
    assert "BehaviorAnalytics.csv: line 3: 3 fields, the header has 5" in _error(tmp_path)
