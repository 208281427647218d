"""Where an analyst pivots from an alert: the user's sign-in logs in the Microsoft Entra admin
center, the user's page in Microsoft Defender XDR, and the rule's query over the alert's window in
Log Analytics. docs/alerts.md#links says where each URL format comes from.

Every value from the data is percent-encoded into a fixed https URL of a Microsoft portal, so a
hostile UPN or user id can change which page opens, never which site.
"""

from __future__ import annotations

import base64
import functools
import gzip
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

from shared.alert_view import Line
from shared.instants import format_instant
from shared.models import Window

ENTRA_SIGN_INS: Final = (
    "https://entra.microsoft.com/#view/Microsoft_AAD_UsersAndTenants/UserProfileMenuBlade/~/SignIns/userId/{user_id}"
)
DEFENDER_USER: Final = "https://security.microsoft.com/user?aad={user_id}&upn={upn}&tab=overview"
LOGS_QUERY: Final = (
    "https://portal.azure.com/#blade/Microsoft_OperationsManagementSuite_Workspace/Logs.ReactView"
    "/resourceId/{resource_id}/source/LogsBlade.AnalyticsShareLinkToQuery/q/{query}/timespan/{timespan}"
)
# The rule's query as published (v2.0.4), verbatim but for the cutoff, which is the deployment's.
RULE_QUERY_FILE: Final = Path(__file__).with_name("rule.kql")
_CUTOFF_LINE: Final = "let riskScoreCutoff = 3;"


@dataclass(frozen=True, slots=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class PortalLinks:
    """The links a deployment can make: the query link needs the workspace's resource id
    (MFA_WORKSPACE_RESOURCE_ID); the user links need only the user's object id."""

    workspace_resource_id: str | None = None
    risk_score_cutoff: int = 3

    def user_links(self, line: Line) -> tuple[Link, ...]:
        """Entra sign-in logs and the Defender XDR user page of the line's user (none unless its user id
        is a GUID, as Entra object ids are: anything else cannot name a user page)."""
        try:
            uuid.UUID(line.user_id)
        except ValueError:
            return ()
        user_id = _encoded(line.user_id)
        return (
            Link("Sign-in logs (Entra)", ENTRA_SIGN_INS.format(user_id=user_id)),
            Link("User page (Defender XDR)", DEFENDER_USER.format(user_id=user_id, upn=_encoded(line.user))),
        )

    def query_link(self, window: Window) -> Link | None:
        """The rule's query over ``window`` in Log Analytics, or None without a workspace resource id."""
        if self.workspace_resource_id is None:
            return None
        return Link(
            "Open the query in Log Analytics",
            LOGS_QUERY.format(
                resource_id=_encoded(self.workspace_resource_id),
                query=_encoded(compressed_query(rule_query(self.risk_score_cutoff))),
                timespan=_encoded(f"{format_instant(window.start)}/{format_instant(window.end)}"),
            ),
        )


@functools.cache
def rule_query(cutoff: int) -> str:
    """The rule's KQL with ``riskScoreCutoff`` set to ``cutoff`` (read once: a card is built many
    times over while it is fitted to its size limit)."""
    text = RULE_QUERY_FILE.read_text(encoding="utf-8")
    if _CUTOFF_LINE not in text:
        raise ValueError(f"{RULE_QUERY_FILE.name} no longer starts with {_CUTOFF_LINE!r}")
    return text.replace(_CUTOFF_LINE, f"let riskScoreCutoff = {int(cutoff)};", 1)


@functools.cache
def compressed_query(query: str) -> str:
    """How the portal's shared query links carry a query: gzip, then base64."""
    return base64.b64encode(gzip.compress(query.encode("utf-8"), mtime=0)).decode("ascii")


def _encoded(text: str) -> str:
    # A lone surrogate (possible in a hostile UPN) has no UTF-8 form: "?" stands for it, not an exception.
    return quote(text, safe="", errors="replace")
