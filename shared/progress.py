"""Progress of long command-line jobs (backfill) on a stream: a bar redrawn in place at a terminal,
plain lines anywhere else (a log file or CI output keeps no carriage returns)."""

from __future__ import annotations

from typing import TextIO

from shared.models import Window

_WIDTH = 30
# Not at a terminal: a line each time another tenth of the windows is done (and at the last).
_LINES = 10


class ProgressBar:
    def __init__(self, *, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        isatty = getattr(stream, "isatty", None)
        self.terminal = bool(isatty and isatty())
        if self.terminal:
            self._draw("")

    def advance(self, window: Window) -> None:
        self.done += 1
        label = f" {window.end:%Y-%m-%d %H:%M}Z"
        if self.terminal:
            self._draw(label)
        elif self.done == self.total or self.done * _LINES // self.total > (self.done - 1) * _LINES // self.total:
            self.stream.write(f"{self.done}/{self.total} window(s) evaluated, up to{label}\n")
            self.stream.flush()

    def _draw(self, label: str) -> None:
        filled = _WIDTH * self.done // self.total
        bar = "#" * filled + "." * (_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}{label}")
        self.stream.flush()

    def close(self) -> None:
        if self.terminal:
            self.stream.write("\n")
            self.stream.flush()
