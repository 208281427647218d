"""Where alerts go: Microsoft Teams (Adaptive Card), Slack (Block Kit), PagerDuty (Events API v2),
Jira Cloud and ServiceNow (one ticket per alert), a signed JSON webhook, the console.

Formatting (``teams_card``, ``Alert.to_json``, ``console.render_text``) is apart from transport
(``transport.HttpTransport``: timeouts, bounded retries).
"""

from shared.sinks.base import Sink
from shared.sinks.console import ConsoleSink
from shared.sinks.factory import build_sinks
from shared.sinks.jira import JiraSink
from shared.sinks.pagerduty import PagerDutySink
from shared.sinks.servicenow import ServiceNowSink
from shared.sinks.slack import SlackSink
from shared.sinks.teams import TeamsSink
from shared.sinks.transport import HttpTransport
from shared.sinks.webhook import WebhookSink

__all__ = [
    "ConsoleSink",
    "HttpTransport",
    "JiraSink",
    "PagerDutySink",
    "ServiceNowSink",
    "Sink",
    "SlackSink",
    "TeamsSink",
    "WebhookSink",
    "build_sinks",
]
