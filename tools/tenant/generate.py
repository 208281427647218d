"""Write a simulated tenant to one file per table, streaming row by row."""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tools.tenant.formats import Format, format_named
from tools.tenant.params import TenantParams
from tools.tenant.schema import TABLES, table_columns
from tools.tenant.simulate import Simulation

logger = logging.getLogger(__name__)

WRITE_BUFFER = 1 << 20


@dataclass(slots=True)
class GenerateReport:
    directory: Path
    fmt: str
    rows: dict[str, int] = field(default_factory=dict)
    bytes: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def rows_per_second(self) -> float:
        return self.total_rows / self.seconds if self.seconds else 0.0


class _TableFile:
    """One table's file: the format's framing around rows, written in batches as they come."""

    BATCH = 512

    def __init__(self, handle: IO[str], fmt: Format, table: str, *, wide: bool = False) -> None:
        self.handle = handle
        self.separator = fmt.row_separator
        self.end = fmt.file_end()
        self.rows = 0
        self.pending: list[str] = []
        handle.write(fmt.file_start(table, table_columns(table, wide=wide)))

    def write(self, text: str) -> None:
        self.pending.append(text)
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            if self.rows and self.separator:
                self.handle.write(self.separator)
            self.handle.write(self.separator.join(self.pending))
            self.rows += len(self.pending)
            self.pending.clear()

    def close(self) -> None:
        self.flush()
        self.handle.write(self.end)
        self.handle.close()


@contextmanager
def _gc_paused() -> Iterator[None]:
    # The generator allocates millions of short-lived, acyclic objects; the cyclic collector
    # would repeatedly scan the long-lived caches for nothing (about a third of the run time).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def table_path(directory: Path, table: str, fmt: str) -> Path:
    return directory / f"{table}.{format_named(fmt).extension}"


def generate(params: TenantParams, directory: Path | str, *, fmt: str = "jsonl") -> GenerateReport:
    """Generate the tenant described by ``params`` into ``directory`` as ``<Table>.<ext>`` files."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    form = format_named(fmt)
    began = time.perf_counter()
    files: dict[str, _TableFile] = {}
    try:
        for table in TABLES:
            # newline="" keeps "\n" as written on every platform, so files are identical everywhere.
            handle = table_path(directory, table, fmt).open("w", encoding="utf-8", newline="", buffering=WRITE_BUFFER)
            files[table] = _TableFile(handle, form, table, wide=params.wide)
        render = form.render
        with _gc_paused():
            for table, segments in Simulation(params).rows():
                files[table].write(render(segments))
    finally:
        for table_file in files.values():
            table_file.close()
    report = GenerateReport(directory, fmt, seconds=time.perf_counter() - began)
    for table, table_file in files.items():
        report.rows[table] = table_file.rows
        report.bytes[table] = table_path(directory, table, fmt).stat().st_size
    logger.info(
        "generated %d rows (%s) into %s in %.1f s (%.0f rows/s)",
        report.total_rows,
        ", ".join(f"{t} {n}" for t, n in report.rows.items()),
        directory,
        report.seconds,
        report.rows_per_second,
    )
    return report


def logical_rows(params: TenantParams) -> dict[str, list[dict[str, Any]]]:
    """The generated rows as plain dicts (column -> value; datetimes as epoch milliseconds).

    For tests and small tenants only: it holds every row in memory.
    """
    tables: dict[str, list[dict[str, Any]]] = {table: [] for table in TABLES}
    for table, segments in Simulation(params).rows():
        row: dict[str, Any] = {}
        for segment in segments:
            row.update(segment.as_dict())
        tables[table].append(row)
    return tables


def ensure_generated(params: TenantParams, root: Path | str, *, fmt: str = "jsonl") -> Path:
    """``root/<format>-<parameters digest>/``, generated once and reused (e.g. bench/data/).

    A ``.complete`` marker is written last, so an interrupted generation is redone.
    """
    directory = Path(root) / f"{fmt}-{params.cache_key()}"
    marker = directory / ".complete"
    if not marker.exists():
        generate(params, directory, fmt=fmt)
        marker.write_text(repr(params) + "\n", encoding="utf-8")
    return directory
