"""Which rows can matter: the rule's own first filters, and the semi-join keys they imply.

A data source may drop a row only when it provably cannot change the result of ``detect``.
The fixture source applies these predicates in Python while streaming; the Log Analytics source
pushes the same predicates into KQL. ``tests/test_candidates.py`` shows on random tables that
``detect`` over the kept rows equals ``detect`` over all rows.

Why each drop is safe:
- a sign-in that fails the rule's stage-2/5 filters never reaches the summarize;
- an IdentityInfo row whose ``tolower(AccountUPN)`` is no candidate UPN forms a group whose join
  key matches no left row, and a left-outer join emits right rows only with a matching left row;
- a BehaviorAnalytics row that fails the subquery's own filters never reaches its summarize, and
  one whose (SourceIPAddress, UserName) is no candidate pair forms a group no left row matches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from shared import kql
from shared.models import Row

# KQL: | where ResultType == 500121
MFA_DENIED_RESULT_TYPE = 500121
# KQL: | where additionalDetails_ =~ "MFA denied; user declined the authentication" or additionalDetails_ has "fraud"
DECLINED_DETAILS = "MFA denied; user declined the authentication"
FRAUD_TERM = "fraud"
# KQL: | where ActivityType in ("FailedLogOn", "LogOn")
LOGON_ACTIVITY_TYPES = ("FailedLogOn", "LogOn")


def additional_details(signin: Row) -> str:
    """KQL: | extend additionalDetails_ = tostring(Status.additionalDetails)"""
    return kql.tostring(kql.member(signin.get("Status"), "additionalDetails"))


def is_rejected_mfa(signin: Row) -> bool:
    """The rule's sign-in filters (stages 2 and 5): an MFA prompt declined, or fraud reported."""
    if not kql.equals_long(signin.get("ResultType"), MFA_DENIED_RESULT_TYPE):
        return False
    details = additional_details(signin)
    return kql.equals_ci(details, DECLINED_DETAILS) or kql.has(details, FRAUD_TERM)


def user_name(upn_lower: str) -> str:
    """KQL: Name = tostring(split(UserPrincipalName,'@',0)[0])"""
    return kql.split_part(upn_lower, "@", 0)


def is_logon_with_source_ip(behavior: Row) -> bool:
    """The BehaviorAnalytics subquery's filters: a (failed) log-on with a non-empty source IP."""
    return behavior.get("ActivityType") in LOGON_ACTIVITY_TYPES and kql.isnotempty(behavior.get("SourceIPAddress", ""))


@dataclass(frozen=True, slots=True)
class Candidates:
    """The join keys the sign-ins that passed the filters can match.

    ``upns``: lower-cased UserPrincipalName values (the IdentityInfo join key);
    ``ip_names``: (IPAddress, Name) pairs (the BehaviorAnalytics join keys).
    """

    upns: frozenset[str]
    ip_names: frozenset[tuple[str, str]]

    @classmethod
    def from_signins(cls, rejected: Iterable[Row]) -> Candidates:
        upns: set[str] = set()
        pairs: set[tuple[str, str]] = set()
        for row in rejected:
            upn = kql.tolower(row.get("UserPrincipalName", ""))
            upns.add(upn)
            pairs.add((row.get("IPAddress", ""), user_name(upn)))
        return cls(upns=frozenset(upns), ip_names=frozenset(pairs))

    def __bool__(self) -> bool:
        return bool(self.upns)

    def may_enrich(self, identity: Row) -> bool:
        return kql.tolower(identity.get("AccountUPN", "")) in self.upns

    def may_score(self, behavior: Row) -> bool:
        return (
            is_logon_with_source_ip(behavior)
            and (behavior.get("SourceIPAddress", ""), behavior.get("UserName", "")) in self.ip_names
        )
