"""The machine a benchmark ran on: processors, CPU model, memory, Python, date, load."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Machine:
    cpus: int  # what nproc prints: the processors this process may use
    cpu_model: str
    memory_bytes: int
    python: str
    date: str
    load: str  # the 1/5/15-minute load averages when the bench started

    def describe(self) -> str:
        return (
            f"{self.cpus} CPUs ({self.cpu_model}), {self.memory_bytes / 2**30:.1f} GiB RAM, "
            f"Python {self.python}, {self.date}, load average {self.load}"
        )


def _field(path: Path, name: str) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def current() -> Machine:
    memory = _field(Path("/proc/meminfo"), "MemTotal") or "0 kB"
    try:
        load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        load = "unknown"
    return Machine(
        cpus=len(os.sched_getaffinity(0)),
        cpu_model=_field(Path("/proc/cpuinfo"), "model name") or platform.processor() or "unknown CPU",
        memory_bytes=int(memory.split()[0]) * 1024,
        python=platform.python_version(),
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        load=load,
    )
