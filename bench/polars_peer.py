"""Polars as a peer: the rule's first filter over SigninLogs.jsonl, a lower bound for a Polars port.

    python -m bench.replay polars DIR --start ISO --end ISO

What it runs is the rule's stages 2-5 only, as one would write them in Polars::

    pl.scan_ndjson("SigninLogs.jsonl", schema=...)
      .filter(ResultType == "500121")
      .filter(lower(Status.additionalDetails) == "mfa denied; user declined the authentication"
              or Status.additionalDetails has "fraud")
      .filter(start <= TimeGenerated < end)
      .select(the summarize's keys and TimeGenerated).collect()

It reads one of the three files and neither joins nor summarises, so a full port could only be
slower: its time is a lower bound for Polars, not a replay of the rule, and its rows are the
sign-ins that pass the filter (not the rule's result rows, so they are not compared with DuckDB's).

The schema is given, and only the columns the filter needs: inferring it from the first rows
would miss ``Status.additionalDetails`` (absent from most rows) and parse every bulky column of a
wide row. Status is read as text (Polars writes an object read into a String column back as JSON)
and the detail taken with ``json_path_match``: some fixture files hold a Status that is not an
object (the bundled sample has one that is a bare string, which is no detail to the rule), and a
Struct schema fails on the whole file with a SchemaError there. Measured on both bench shapes, the
text path is as fast as the Struct one (within the runs' spread).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Final

import polars as pl

DECLINED: Final = "mfa denied; user declined the authentication"
# Kusto's `has "fraud"`: a whole term, ignoring case; a term is a run of letters and digits.
HAS_FRAUD: Final = r"(?i)(^|[^\p{L}\p{N}])fraud($|[^\p{L}\p{N}])"
TIME_FORMAT: Final = "%Y-%m-%dT%H:%M:%S%.fZ"
SIGNIN_SCHEMA: Final = {
    "TimeGenerated": pl.String,
    "ResultType": pl.String,
    "Status": pl.String,  # any JSON value; see the module's docstring
    "UserPrincipalName": pl.String,
    "UserId": pl.String,
    "AADTenantId": pl.String,
    "IPAddress": pl.String,
}


def first_filter(directory: Path, *, start: datetime, end: datetime) -> pl.DataFrame:
    """The sign-ins of ``directory/SigninLogs.jsonl`` in ``[start, end)`` that pass the rule's first filter."""
    details = pl.col("Status").str.json_path_match("$.additionalDetails").fill_null("")
    generated = pl.col("TimeGenerated").str.to_datetime(TIME_FORMAT, time_zone="UTC", time_unit="us")
    return (
        pl.scan_ndjson(directory / "SigninLogs.jsonl", schema=SIGNIN_SCHEMA)
        .filter(pl.col("ResultType") == "500121")
        .filter((details.str.to_lowercase() == DECLINED) | details.str.contains(HAS_FRAUD))
        .filter(generated.is_between(start, end, closed="left"))
        .select(
            pl.col("UserPrincipalName").str.to_lowercase(),
            "UserId",
            "AADTenantId",
            pl.col("IPAddress").alias("FailedIPAddress"),
            generated.alias("TimeGenerated"),
        )
        .collect()
    )


def replay(directory: Path, *, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """``first_filter`` as rows (a few thousand at most: the conversion is not what is measured)."""
    return first_filter(directory, start=start, end=end).rows(named=True)
