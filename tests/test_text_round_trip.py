"""Any text in the data survives the whole path: run -> outbox (SQLite) -> signed webhook -> JSON decode.

Values come from hypothesis over every Unicode code point, lone surrogates, NUL and C0 controls
included. One exception is inherent to JSON: a high surrogate directly followed by a low one reads
back as the single character the pair encodes (``"\\ud83d\\ude00"`` is "😀"); no reader of ours can
produce such a pair from data (JSON joins escaped pairs when it is read, and UTF-8 files cannot hold
surrogates), so the strategy leaves it out.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks import Webhook

from shared import kql
from shared.runner import Runner
from shared.sinks import WebhookSink
from shared.sinks.transport import HttpTransport
from shared.state.sqlite import SqliteStateStore
from tests.builders import behavior, identity, signin
from tests.runner_parts import MemorySource
from tests.runner_parts import settings as runner_settings
from tests.sinks.receiver import Receiver

SECRET = "whsec_MfHfXGGvDRrwlUMw+0sCfTStORsHk1ilK8KJjqR5pXc="
JOINED_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")

any_text = st.text(st.characters(exclude_categories=()), min_size=1, max_size=12).filter(
    lambda text: not JOINED_PAIR.search(text)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    local=any_text.filter(lambda text: "@" not in text),
    domain=any_text,
    ip=any_text,
    user_id=any_text,
    tenant=any_text,
    group=any_text,
    role=any_text,
    tag=any_text,
    user_type=any_text,
)
def test_any_string_in_any_column_reaches_the_receiver_unchanged(  # noqa: PLR0917  hypothesis gives each value
    local: str, domain: str, ip: str, user_id: str, tenant: str, group: str, role: str, tag: str, user_type: str
) -> None:
    upn = f"{local}@{domain}"
    lowered = kql.tolower(upn)
    name = kql.split_part(lowered, "@", 0)
    moment = signin()["TimeGenerated"]
    source = MemorySource(
        signins=[signin(upn, ip=ip, user_id=user_id, tenant=tenant)],
        behaviors=[behavior(name, ip=ip, score=8)],
        identities=[identity(lowered, groups=(group,), roles=(role,), tags=tag, user_type=user_type)],
    )
    with tempfile.TemporaryDirectory() as directory, Receiver() as receiver:
        store = SqliteStateStore(Path(directory) / "state.sqlite3")
        sink = WebhookSink(receiver.url(), SECRET, transport=HttpTransport(timeout=5))
        runner = Runner(settings=runner_settings(), source=source, sinks=[sink], state=store)
        report = runner.run(now=moment.replace(minute=0) + timedelta(hours=1, minutes=5))
        store.close()

    assert not report.failed, report.error
    [request] = receiver.requests
    Webhook(SECRET).verify(request.body, request.headers)  # the signature covers the exact bytes
    [row] = json.loads(request.body.decode("utf-8"))["rows"]
    assert row["UserPrincipalName"] == lowered
    assert (row["UserId"], row["AADTenantId"], row["FailedIPAddress"], row["Name"]) == (user_id, tenant, ip, name)
    assert row["GroupMembership"] == [group]
    assert row["AssignedRoles"] == [role]
    assert row["Tags"] == [tag]
    assert row["UserType"] == [user_type]
