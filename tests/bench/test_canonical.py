"""Canonical result rows: order-free, arrays as sets, datetimes to the microsecond."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from bench.canonical import canonical_rows, differences
from shared.models import OUTPUT_COLUMNS


def _row(**changes: object) -> dict:
    row = dict.fromkeys(OUTPUT_COLUMNS, "")
    row |= {
        "StartTime": datetime(2026, 11, 28, 9, 10, 0, 123456, tzinfo=UTC),
        "EndTIme": datetime(2026, 11, 28, 9, 20, tzinfo=UTC),
        "Tags": ["VIP", "Finance"],
        "GroupMembership": None,
        "MaxInvestigationScore": 5,
        "UEBARiskScore": 5,
    }
    return row | changes


def test_arrays_compare_as_sets_and_rows_in_any_order() -> None:
    ours = [_row(UserPrincipalName="a"), _row(UserPrincipalName="b", Tags=["Finance", "VIP"])]
    theirs = [_row(UserPrincipalName="b", Tags=["VIP", "Finance", "VIP"]), _row(UserPrincipalName="a")]
    assert canonical_rows(ours) == canonical_rows(theirs)
    assert differences(canonical_rows(ours), canonical_rows(theirs)) == []


def test_datetimes_compare_as_utc_instants_to_the_microsecond() -> None:
    plus_one = timezone(timedelta(hours=1))
    same = _row(StartTime=datetime(2026, 11, 28, 10, 10, 0, 123456, tzinfo=plus_one))
    naive_utc = _row(StartTime=datetime(2026, 11, 28, 9, 10, 0, 123456))
    assert canonical_rows([same]) == canonical_rows([_row()]) == canonical_rows([naive_utc])
    later = _row(StartTime=datetime(2026, 11, 28, 9, 10, 0, 123457, tzinfo=UTC))
    assert canonical_rows([later]) != canonical_rows([_row()])


def test_differences_name_what_differs() -> None:
    ours = canonical_rows([_row(UserPrincipalName="a"), _row(UserPrincipalName="b")])
    theirs = canonical_rows([_row(UserPrincipalName="a"), _row(UserPrincipalName="b", UEBARiskScore=6)])
    found = differences(ours, theirs)
    assert any(text.startswith("only ours:") and '"b"' in text for text in found)
    assert any(text.startswith("only DuckDB's:") and "6" in text for text in found)
    assert differences(ours, ours + ours[:1]) == ["2 rows against 3"]
