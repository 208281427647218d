"""The product's one output format for times: ISO 8601 in UTC ending in ``Z``, fraction digits only
when the instant has them (``2024-05-01T10:00:00Z``, ``2024-05-01T10:00:00.250000Z``).

Every time the product writes for a reader is in this form: the result rows of ``detect --format
json``, the alert document (webhook payload, outbox text, alert id material), the console and Teams
output, ``status`` and the command line's messages. Two texts keep their own formats on purpose: KQL
literals (``shared.sources.kql_text``) and the state stores' fixed-width storage text
(``shared.state``), which are read by machines that depend on them.
"""

from __future__ import annotations

from datetime import UTC, datetime


def format_instant(moment: datetime) -> str:
    """``moment`` as ISO 8601 UTC with a ``Z``; naive datetimes are refused (ValueError)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment.isoformat()}: expected a timezone-aware UTC time")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: str) -> datetime:
    """ISO 8601 text with a timezone (``Z`` or an offset) -> an aware UTC datetime; ValueError otherwise."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no timezone")
    return moment.astimezone(UTC)
