"""The pivots an alert offers: fixed Microsoft portal URLs, with every value from the data encoded."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from urllib.parse import unquote, urlsplit

from shared.alert_links import PortalLinks, rule_query
from shared.alert_view import lines
from tests.sinks.hostile_rows import HOSTILE_VALUES
from tests.sinks.rows import WINDOW, alert_of, result_row

RESOURCE = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-sec/providers/"
    "Microsoft.OperationalInsights/workspaces/sentinel-ws"
)
RULE_FILE = Path(__file__).resolve().parent / "data" / "rule" / "mfa-rejected-by-user-v2.0.4.txt"


def test_the_query_link_carries_the_rules_query_and_the_window() -> None:
    link = PortalLinks(workspace_resource_id=RESOURCE, risk_score_cutoff=5).query_link(WINDOW)

    assert link is not None
    parts = urlsplit(link.url)
    assert (parts.scheme, parts.netloc) == ("https", "portal.azure.com")
    fragment = parts.fragment
    encoded_query = fragment.split("/q/")[1].split("/")[0]
    query = gzip.decompress(base64.b64decode(unquote(encoded_query))).decode()
    assert query == rule_query(5)
    assert unquote(fragment.split("/timespan/")[1]) == "2026-11-28T09:00:00Z/2026-11-28T10:00:00Z"
    assert unquote(fragment.split("/resourceId/")[1].split("/source/")[0]) == RESOURCE


def test_without_a_workspace_resource_id_there_is_no_query_link() -> None:
    assert PortalLinks().query_link(WINDOW) is None


def test_the_shipped_query_is_the_rules_query_verbatim_but_for_the_cutoff() -> None:
    text = RULE_FILE.read_text(encoding="utf-8")
    published = text[text.index("query: |\n") + len("query: |\n") : text.index("entityMappings:")]

    assert rule_query(3).strip() == published.strip()
    assert "let riskScoreCutoff = 7;" in rule_query(7)


def test_user_links_open_microsoft_portals_by_object_id() -> None:
    (line,) = lines(alert_of([result_row()]))
    links = PortalLinks().user_links(line)

    assert [urlsplit(link.url).netloc for link in links] == ["entra.microsoft.com", "security.microsoft.com"]
    assert all(line.user_id in link.url for link in links)


def test_a_hostile_user_id_or_upn_never_changes_the_site_and_a_non_guid_gets_no_link() -> None:
    guid = "11111111-1111-1111-1111-111111111111"
    for value in HOSTILE_VALUES.values():
        row = {**result_row(), "UserPrincipalName": f"{value}@x", "UserId": guid}
        (line,) = lines(alert_of([row]))
        for link in PortalLinks().user_links(line):
            assert urlsplit(link.url).netloc in ("entra.microsoft.com", "security.microsoft.com")
            assert value not in link.url or value.isalnum()

        (line,) = lines(alert_of([{**result_row(), "UserId": value}]))
        assert PortalLinks().user_links(line) == ()
