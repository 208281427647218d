"""The console sink: a readable alert on the stream it is given."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import timedelta

import pytest

from shared.sinks.console import ConsoleSink, render_health_text, render_text
from tests.sinks.health_alerts import every_health_alert, health_alert
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


def test_prints_a_health_alert_with_its_header_summary_detail_and_times() -> None:
    alert = health_alert("signins-silent", "raised")
    stream = io.StringIO()

    ConsoleSink(stream=stream).deliver(alert)

    assert stream.getvalue() == (
        "[HEALTH raised] mfa-rejected health: signins-silent raised (warning)\n"
        f"  summary   {alert.summary}\n"
        f"  detail    {alert.detail}\n"
        "  since     2026-11-28T06:12:40Z; last seen 2026-11-28T06:12:40Z\n"
        "  detected  2026-11-28T10:05:30Z\n"
        f"  id        {alert.id}\n\n"
    )


def test_a_cleared_skipped_delayed_health_alert_shows_its_range_and_delay() -> None:
    text = render_health_text(health_alert("skipped", "cleared", delay=timedelta(hours=25)))

    assert text.startswith("[HEALTH cleared] mfa-rejected health: skipped cleared\n")
    assert "  since     2026-11-28T06:12:40Z; last seen none yet\n" in text
    assert "  skipped   2026-11-20T09:00:00Z .. 2026-11-27T09:00:00Z\n" in text
    assert "  DELAYED   delivered 1 d 1 h after detection (it waited in the outbox)\n" in text


@pytest.mark.parametrize("name", sorted(every_health_alert()))
def test_every_health_alert_prints_one_header_line(name: str) -> None:
    alert = every_health_alert()[name]

    lines = render_health_text(alert).splitlines()

    assert lines[0].startswith(f"[HEALTH {alert.state}] {alert.title}")
    assert all(line.startswith("  ") for line in lines[1:] if line)


def test_health_text_is_shown_escaped_too() -> None:
    alert = replace(health_alert(), summary="gone\x1b[31m quiet", detail="first line\nsecond\u202eline")

    text = render_health_text(alert)

    assert "  summary   gone\\x1b[31m quiet\n" in text
    assert "  detail    first line\n  detail    second\\u202eline\n" in text
    assert "\x1b" not in text


def test_a_late_alert_says_so() -> None:
    text = render_text(alert_of([result_row()]).found_late(timedelta(hours=2, minutes=5)))
    assert (
        "  LATE      UEBA/sign-in data arrived after the first evaluation (found 2 h 5 min after the window)\n" in text
    )
    assert "LATE" not in render_text(alert_of([result_row()]))
