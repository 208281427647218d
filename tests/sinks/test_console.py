"""The console sink: a readable alert on the stream it is given."""

from __future__ import annotations

import io

import pytest

from shared.sinks.console import ConsoleSink, render_text
from tests.sinks.rows import alert_of, result_row


def test_prints_title_window_rows_and_entities() -> None:
    alert = alert_of(
        [
            result_row("ann@contoso.com", ip="198.51.100.4", score=8, first=3, last=41, user_id="u-ann"),
            result_row("bob@contoso.com", ip="203.0.113.9", score=5, matched=False, user_id="u-bob"),
        ]
    )
    stream = io.StringIO()

    ConsoleSink(stream=stream).deliver(alert)

    out = stream.getvalue()
    assert out.startswith("[Medium] MFA Rejected by User (rule d99cf5c3-d660-436c-895b-8a8f8448da23 v2.0.4) — 2 rows\n")
    assert f"  alert     {alert.id}\n" in out
    assert "  window    2026-11-28T09:00:00Z .. 2026-11-28T10:00:00Z\n" in out
    assert "technique T1078.004 (https://attack.mitre.org/techniques/T1078/004/)" in out
    assert (
        "  - ann@contoso.com from 198.51.100.4: UEBA score 8, first 2026-11-28T09:03:00Z, last 2026-11-28T09:41:00Z\n"
        in out
    )
    assert "      roles: Global Administrator\n" in out
    assert (
        "      entities: Account(FullName=ann@contoso.com, Name=ann, UPNSuffix=contoso.com); "
        "Account(AadUserId=u-ann); IP(Address=198.51.100.4)\n" in out
    )
    # bob has no IdentityInfo match: no roles or groups line under him.
    bob = out.split("  - bob@contoso.com", 1)[1]
    assert "roles:" not in bob
    assert "groups:" not in bob


def test_defaults_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    alert = alert_of([result_row()])

    ConsoleSink().deliver(alert)

    assert capsys.readouterr().out == render_text(alert)


def test_values_from_the_data_are_shown_escaped_so_any_stream_can_take_them() -> None:
    row = result_row("eve\x1b[31m\ud800@contoso.com", groups=("line\nbreak", "\u202egnp.exe"))
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")  # a real, strict UTF-8 stream

    ConsoleSink(stream=stream).deliver(alert_of([row]))

    stream.seek(0)
    text = stream.read()
    assert "eve\\x1b[31m\\ud800@contoso.com" in text
    assert "groups: line\\nbreak, \\u202egnp.exe" in text
    assert "\x1b" not in text
