"""The one output format for times: ISO 8601 UTC with a Z, fraction digits only when present."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.instants import format_instant, parse_instant


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2024, 5, 1, 10, tzinfo=UTC), "2024-05-01T10:00:00Z"),
        (datetime(2024, 5, 1, 10, 0, 0, 250000, tzinfo=UTC), "2024-05-01T10:00:00.250000Z"),
        (datetime(2024, 5, 1, 10, 0, 0, 1, tzinfo=UTC), "2024-05-01T10:00:00.000001Z"),
        (datetime(2024, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T10:00:00Z"),
    ],
    ids=["whole second", "a fraction", "one microsecond", "another offset"],
)
def test_an_instant_is_written_in_utc_with_a_z_and_its_fraction_only_when_it_has_one(
    moment: datetime, text: str
) -> None:
    assert format_instant(moment) == text
    assert parse_instant(text) == moment


def test_a_naive_time_is_refused_rather_than_read_as_local_time() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        format_instant(datetime(2024, 5, 1, 10))
    with pytest.raises(ValueError, match="has no timezone"):
        parse_instant("2024-05-01T10:00:00")


def test_text_with_an_offset_reads_as_the_same_instant_in_utc() -> None:
    assert parse_instant("2024-05-01T12:00:00+02:00") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_instant("2024-05-01T12:00:00+02:00").tzinfo is UTC
