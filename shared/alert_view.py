"""What an analyst reads of a rule alert, the same in every destination (Teams, Slack, PagerDuty,
Jira, ServiceNow, the console): one line per user and IP address, with the directory context.

The rule's result can hold two rows for one user and IP: its IdentityInfo join matches on both
``tolower(AccountUPN)`` and the UPN as written, so a directory record spelled two ways gives two rows
that differ only in their enrichment (docs/rule-semantics.md). A line merges them: nothing is dropped,
each distinct enrichment is kept (``Line.directory``), first and last times are the earliest and latest,
the score the highest. The signed webhook payload still carries every row exactly as the rule gave it.

Values here are exactly as the data holds them: each destination makes them safe for its own format
(``shared.sinks.teams_card``, ``shared.sinks.slack_blocks``...).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from shared.alerts import Alert
from shared.models import Row

# Directory columns shown, with their labels, in the order shown.
DIRECTORY_COLUMNS: Final = (
    ("Roles", "AssignedRoles"),
    ("Groups", "GroupMembership"),
    ("User type", "UserType"),
    ("Tags", "Tags"),
    ("Account control", "UserAccountControl"),
)
# Tags (IdentityInfo.Tags, set by admins and Defender for Identity) that mark a user to look at first.
MARKED_TAGS: Final = ("VIP", "Sensitive")
PRIVILEGED: Final = "Privileged role"


@dataclass(frozen=True, slots=True)
class Directory:
    """One IdentityInfo record joined to a line: the account as written and its non-empty columns."""

    account_upn: str
    fields: tuple[tuple[str, tuple[str, ...]], ...]  # (label, items), only columns with items


@dataclass(frozen=True, slots=True)
class Line:
    """One user and IP address of an alert (one or more result rows merged)."""

    user: str
    ip: str
    user_ids: tuple[str, ...]
    tenant_ids: tuple[str, ...]
    score: Any
    first: datetime
    last: datetime
    directory: tuple[Directory, ...]
    marks: tuple[str, ...]  # "VIP", "Sensitive", "Privileged role": why to look at this user first
    rows: int  # how many result rows this line merges

    @property
    def user_id(self) -> str:
        """The user's Entra object id (the first, should the rule give two), or "" if none."""
        return self.user_ids[0] if self.user_ids else ""


def lines(alert: Alert) -> tuple[Line, ...]:
    """The alert's lines, in the order of their first row (the alert's display order)."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in alert.rows:
        groups.setdefault((str(row["UserPrincipalName"]), str(row["FailedIPAddress"])), []).append(row)
    return tuple(_line(user, ip, rows) for (user, ip), rows in groups.items())


def counts(alert: Alert) -> tuple[int, int]:
    """(distinct users, distinct IP addresses): the headline's numbers, the same the lines show."""
    shown = lines(alert)
    return len({line.user for line in shown}), len({line.ip for line in shown})


def headline(alert: Alert) -> str:
    """``2 users rejected MFA prompts from 3 IP addresses ...``: counts that match the lines."""
    users, ips = counts(alert)
    return (
        f"{users} user{'s' if users != 1 else ''} rejected MFA prompts from "
        f"{ips} IP address{'es' if ips != 1 else ''} with a UEBA investigation score above the cutoff"
    )


def items(value: Any) -> tuple[str, ...]:
    """A cell as the strings to show: a list's items, a scalar alone, nothing for null or empty;
    a nested value as its JSON text."""
    if value is None or value == "":
        return ()
    values = value if isinstance(value, list) else [value]
    return tuple(
        v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str)
        for v in values
        if v not in (None, "")
    )


def marks(rows: Iterable[Row]) -> tuple[str, ...]:
    """Why these rows' user needs attention first: a VIP or Sensitive tag, any assigned role."""
    found: list[str] = []
    for row in rows:
        tags = [tag.casefold() for tag in items(row.get("Tags"))]
        found += [mark for mark in MARKED_TAGS if any(mark.casefold() in tag for tag in tags)]
        if items(row.get("AssignedRoles")):
            found.append(PRIVILEGED)
    return tuple(dict.fromkeys(found))


def _line(user: str, ip: str, rows: list[Row]) -> Line:
    directory = tuple(dict.fromkeys(d for d in (_directory(row) for row in rows) if d.fields))
    scores = [row["UEBARiskScore"] for row in rows if row["UEBARiskScore"] is not None]
    return Line(
        user=user,
        ip=ip,
        user_ids=_distinct(row["UserId"] for row in rows),
        tenant_ids=_distinct(row["AADTenantId"] for row in rows),
        score=max(scores, key=_score_order) if scores else None,
        first=min(row["StartTime"] for row in rows),
        last=max(row["EndTIme"] for row in rows),
        directory=directory,
        marks=marks(rows),
        rows=len(rows),
    )


def _directory(row: Row) -> Directory:
    fields = tuple((label, items(row.get(column))) for label, column in DIRECTORY_COLUMNS)
    return Directory(str(row.get("AccountUPN") or ""), tuple((label, found) for label, found in fields if found))


def _distinct(values: Iterable[Any]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values if v not in (None, "")))


def _score_order(score: Any) -> float:
    try:
        return float(score)
    except (TypeError, ValueError):
        return float("-inf")
