"""The KQL the Log Analytics source sends: the rule's own first filters, and its semi-joins, pushed down.

Each query reads one table over one half-open window and returns rows, not aggregates (but for the
health measure, ``latest_query``), so the
detection sees exactly the rows a fixture of the same data would give it (``shared.candidates``
says why each dropped row cannot matter). Only the columns the detection reads are projected.

- SigninLogs: the rule's stages 2-5, written as the rule writes them.
- IdentityInfo: only rows whose ``tolower(AccountUPN)`` is a candidate UPN.
- BehaviorAnalytics: the subquery's own filters, then rows whose SourceIPAddress is a candidate
  IP and whose UserName is a candidate name. That admits some pairs that are no candidate (an IP
  of one sign-in with the name of another); the source keeps only exact pairs.

Candidate values are split into batches (``Batching``) so that no query text grows without bound.
Constants come from ``shared.candidates``; values reach the text only through ``kql_text``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeVar

from shared.candidates import DECLINED_DETAILS, FRAUD_TERM, LOGON_ACTIVITY_TYPES, MFA_DENIED_RESULT_TYPE
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE, Window
from shared.sources.kql_text import (
    DEFAULT_MAX_VALUE_CHARS,
    datetime_literal,
    literal_cost,
    string_literal,
    value_in,
)

# The columns each query returns: what the detection reads. IdentityInfo's JobTitle and
# IsAccountEnabled, and BehaviorAnalytics' three *Insights columns, are projected by the rule but
# dropped by its next summarize, so they never reach an output row; the source fills them with null.
SIGNIN_COLUMNS: Final = (
    "TimeGenerated",
    "ResultType",
    "Status",
    "UserPrincipalName",
    "UserId",
    "AADTenantId",
    "IPAddress",
)
IDENTITY_COLUMNS: Final = ("TimeGenerated", "AccountUPN", "Tags", "GroupMembership", "AssignedRoles", "UserType")
BEHAVIOR_COLUMNS: Final = ("TimeGenerated", "ActivityType", "SourceIPAddress", "UserName", "InvestigationPriority")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Batching:
    """How many candidate values one query may carry, and how much literal text.

    ``max_values`` bounds the values (UPNs; or (IP, name) pairs) per query; ``max_literal_chars``
    bounds the text they add to it; ``max_value_chars`` is the longest value written in full.
    """

    max_values: int = 500
    max_literal_chars: int = 64_000
    max_value_chars: int = DEFAULT_MAX_VALUE_CHARS

    def __post_init__(self) -> None:
        if self.max_values < 1 or self.max_value_chars < 1:
            raise ValueError("max_values and max_value_chars must be at least 1")
        # One (IP, name) pair of the longest values must fit, so every batch makes progress.
        if self.max_literal_chars < 2 * self._cost("x" * self.max_value_chars):
            raise ValueError(f"max_literal_chars must be at least {2 * self._cost('x' * self.max_value_chars)}")

    def upn_batches(self, upns: Iterable[str]) -> list[frozenset[str]]:
        return _batches(sorted(set(upns)), self, cost=self._cost)

    def pair_batches(self, pairs: Iterable[tuple[str, str]]) -> list[frozenset[tuple[str, str]]]:
        return _batches(sorted(set(pairs)), self, cost=lambda pair: self._cost(pair[0]) + self._cost(pair[1]))

    def _cost(self, value: str) -> int:
        return literal_cost(value, max_chars=self.max_value_chars)


def _batches(items: Sequence[T], batching: Batching, *, cost: Callable[[T], int]) -> list[frozenset[T]]:
    batches: list[frozenset[T]] = []
    current: list[T] = []
    spent = 0
    for item in items:
        price = cost(item)
        if current and (len(current) >= batching.max_values or spent + price > batching.max_literal_chars):
            batches.append(frozenset(current))
            current, spent = [], 0
        current.append(item)
        spent += price
    if current:
        batches.append(frozenset(current))
    return batches


def _time_filter(window: Window) -> str:
    # The API's timespan bounds the data too, but its end is not documented as exclusive; this
    # makes the boundary exactly the window's [start, end).
    return (
        f"| where TimeGenerated >= {datetime_literal(window.start)} and TimeGenerated < {datetime_literal(window.end)}"
    )


def latest_query(table: str, window: Window) -> str:
    """The newest TimeGenerated of ``table`` in ``window`` (one row, null when there is none), for
    health alerts; of BehaviorAnalytics only the LogOn/FailedLogOn rows the rule reads. The one
    aggregate this source asks for: a count of what is there, not rows for the detection."""
    activity_types = ", ".join(string_literal(kind) for kind in LOGON_ACTIVITY_TYPES)
    only_logons = (f"| where ActivityType in ({activity_types})",) if table == BEHAVIOR_TABLE else ()
    return "\n".join((table, _time_filter(window), *only_logons, "| summarize Latest = max(TimeGenerated)"))


def signin_query(window: Window) -> str:
    """SigninLogs rows that can pass the rule's sign-in filters (stages 2-5), as the rule writes them.

    ``ResultType == "500121"`` compares as text, the decision ``shared.kql.equals_long`` makes for
    the rule's ``ResultType == 500121`` (ResultType is a string column).
    """
    return "\n".join(
        (
            SIGNIN_TABLE,
            _time_filter(window),
            f"| where ResultType == {string_literal(str(MFA_DENIED_RESULT_TYPE))}",
            "| extend additionalDetails_ = tostring(Status.additionalDetails)",
            f"| where additionalDetails_ =~ {string_literal(DECLINED_DETAILS)}"
            f" or additionalDetails_ has {string_literal(FRAUD_TERM)}",
            "| project " + ", ".join(SIGNIN_COLUMNS),
        )
    )


def identity_query(window: Window, upns: Iterable[str], *, max_value_chars: int = DEFAULT_MAX_VALUE_CHARS) -> str:
    """IdentityInfo rows whose lower-cased AccountUPN is one of ``upns`` (lower-cased candidates)."""
    return "\n".join(
        (
            IDENTITY_TABLE,
            _time_filter(window),
            "| where " + value_in("tolower(AccountUPN)", upns, max_chars=max_value_chars),
            "| project " + ", ".join(IDENTITY_COLUMNS),
        )
    )


def behavior_query(
    window: Window, pairs: Iterable[tuple[str, str]], *, max_value_chars: int = DEFAULT_MAX_VALUE_CHARS
) -> str:
    """BehaviorAnalytics rows passing the subquery's filters whose IP and name are candidates."""
    pairs = list(pairs)
    activity_types = ", ".join(string_literal(kind) for kind in LOGON_ACTIVITY_TYPES)
    return "\n".join(
        (
            BEHAVIOR_TABLE,
            _time_filter(window),
            f"| where ActivityType in ({activity_types})",
            "| where isnotempty(SourceIPAddress)",
            "| where "
            + value_in("SourceIPAddress", (ip for ip, _ in pairs), max_chars=max_value_chars)
            + " and "
            + value_in("UserName", (name for _, name in pairs), max_chars=max_value_chars),
            "| project " + ", ".join(BEHAVIOR_COLUMNS),
        )
    )
