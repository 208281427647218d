"""The backfill's progress: a bar redrawn in place at a terminal, plain lines in a log."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from shared.models import Window
from shared.progress import ProgressBar

T0 = datetime(2026, 11, 28, tzinfo=UTC)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def windows(count: int) -> list[Window]:
    return [Window(T0 + i * timedelta(hours=1), T0 + (i + 1) * timedelta(hours=1)) for i in range(count)]


def run(stream: io.StringIO, count: int) -> str:
    bar = ProgressBar(total=count, stream=stream)
    for window in windows(count):
        bar.advance(window)
    bar.close()
    return stream.getvalue()


def test_a_terminal_gets_one_bar_redrawn_in_place() -> None:
    text = run(Terminal(), 3)
    assert text.count("\r") == 4
    assert text.endswith("\r[" + "#" * 30 + "] 3/3 2026-11-28 03:00Z\n")


def test_a_log_gets_plain_lines_without_carriage_returns() -> None:
    text = run(io.StringIO(), 3)
    assert "\r" not in text
    assert text.splitlines() == [
        "1/3 window(s) evaluated, up to 2026-11-28 01:00Z",
        "2/3 window(s) evaluated, up to 2026-11-28 02:00Z",
        "3/3 window(s) evaluated, up to 2026-11-28 03:00Z",
    ]


def test_a_long_backfill_logs_a_line_per_tenth_not_per_window() -> None:
    lines = run(io.StringIO(), 720).splitlines()
    assert len(lines) == 10
    assert lines[0].startswith("72/720 ")
    assert lines[-1] == "720/720 window(s) evaluated, up to 2026-12-28 00:00Z"
