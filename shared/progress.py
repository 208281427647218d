"""A one-line progress bar for long command-line jobs (backfill), written to a terminal stream."""

from __future__ import annotations

from typing import TextIO

from shared.models import Window

_WIDTH = 30


class ProgressBar:
    def __init__(self, *, total: int, stream: TextIO) -> None:
        self.total = max(total, 1)
        self.done = 0
        self.stream = stream
        self._draw("")

    def advance(self, window: Window) -> None:
        self.done += 1
        self._draw(f" {window.end:%Y-%m-%d %H:%M}Z")

    def _draw(self, label: str) -> None:
        filled = _WIDTH * self.done // self.total
        bar = "#" * filled + "." * (_WIDTH - filled)
        self.stream.write(f"\r[{bar}] {self.done}/{self.total}{label}")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()
