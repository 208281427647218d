"""Result rows whose every text column holds markup that some destination would interpret: Markdown
(Teams TextBlocks, Jira's old wiki syntax), Slack mrkdwn and its control sequences, HTML, Adaptive
Card template functions, control characters and bidirectional overrides. Every sink's test renders
an alert of these and checks that none becomes a link, a mention or formatting.
"""

from __future__ import annotations

from typing import Final

from shared.alerts import Alert
from shared.models import Row
from tests.sinks.rows import alert_of, result_row

EVIL: Final = "https://evil.example/m"
HOSTILE_VALUES: Final[dict[str, str]] = {
    "markdown link": f"[Re-verify MFA now]({EVIL})",
    "markdown image": f"![logo]({EVIL}.png)",
    "autolink": f"<{EVIL}>",
    "bare url": f"{EVIL}/bare",
    "bold": "**urgent** __now__",
    "italic": "_quiet_ *soft*",
    "strike": "~~gone~~ ~gone~",
    "heading": "# Heading",
    "list": "- item\n1. item",
    "quote": "> quoted",
    "code": "`code` ```block```",
    "html": f'<a href="{EVIL}">click</a><script>alert(1)</script><img src="{EVIL}.png">',
    "entities": "&amp; &lt;b&gt; &#x3C;",
    "slack link": f"<{EVIL}|click here>",
    "slack mention": "<!channel> <!here> <@U0123ABC> <#C0123ABC>",
    "slack date": "<!date^1392734382^{date_pretty}|fallback>",
    "jira wiki": f"[evil|{EVIL}] {{color:red}}red{{color}} !{EVIL}.png!",
    "adaptive template": "{{DATE(2026-11-28T09:00:00Z, SHORT)}} ${user}",
    "servicenow code": f'[code]<a href="{EVIL}">x</a>[/code]',
    "controls": "a\x00b\x1b[31mred\x1b[0m\rover\u202eevil\u2028line\ttab",
    "emoji and wide": "👩‍💻 ✓ 名前",
}
LIST_COLUMNS: Final = ("Tags", "GroupMembership", "AssignedRoles", "UserType", "UserAccountControl")
TEXT_COLUMNS: Final = (
    "UserPrincipalName",
    "UserId",
    "AADTenantId",
    "FailedIPAddress",
    "Name",
    "UPNSuffix",
    "AccountUPN",
)


def hostile_row(value: str, *, index: int = 0) -> Row:
    """A result row with ``value`` in every text column and as the one item of every list column
    (UserPrincipalName keeps an ``@`` and an index so rows stay distinct)."""
    row = result_row(f"{value}{index}@{value}")
    for column in TEXT_COLUMNS:
        row[column] = f"{value}{index}@{value}" if column == "UserPrincipalName" else f"{value}{index}"
    for column in LIST_COLUMNS:
        row[column] = [value, f"VIP {value}"]
    return row


def hostile_alert() -> Alert:
    """One alert with a row for each hostile value."""
    return alert_of([hostile_row(value, index=i) for i, value in enumerate(HOSTILE_VALUES.values())])
