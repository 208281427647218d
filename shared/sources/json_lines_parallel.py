"""A large JSON Lines file read by every core at once: the bulk replay's fast path.

Python's byte searches run at one to two GB/s on one core, so a replay of gigabytes is bound by
the marks search (``raw_prefilter``) and the walk over lines, both per byte. Here the file is cut
into byte ranges on line boundaries, and each range is read by a process of its own exactly as
``json_lines`` reads a whole file: the same filter, the same per-line checks. Each record goes at
once, in that worker, to the caller's ``Taker`` (``FixtureSource``: normalise, window, the rule's
first filters), so parsing is spread too, and only the rows kept travel back. A range gives back
those rows, its count of lines and rows, its taker's counts and the first error it met. The reader
then gives the rows in file order, and raises the first error in file order with the file's line
number: exactly what one reader would have given and raised, since a reader stops at its first
error. (Only the file's first record has its columns checked, as one
reader does: the first range holds it; a first range of blank lines only is read again by one
reader.)

Used only where it pays and is safe: a filter that skips lines (records come back few), a file of at
least ``PARALLEL_MIN_BYTES``, more than one core, and a process running one thread. The workers are
forked for the read and gone after it: a fork starts in milliseconds with every module already
imported (spawning would import them again, and run the main script's preparation, which a
Functions host or a script on standard input does not allow), and forking is safe only where no
other thread can hold a lock at that moment. The CLI and the benchmarks read with one thread; the
Functions host, which runs threads, reads with one process.
"""

from __future__ import annotations

import copy
import multiprocessing
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from shared.errors import InputError
from shared.sources import json_lines, raw_prefilter
from shared.sources.fixture_files import Counter, open_binary, too_long

# Below this a file is read by one process: spawning workers costs about a tenth of a second.
PARALLEL_MIN_BYTES: Final = 64 << 20
# Ranges per worker: a few, so that a range dense in matches does not hold up the others.
_RANGES_PER_WORKER: Final = 2
_MAX_WORKERS: Final = 8


def workers() -> int:
    """The cores this process may run on (at most ``_MAX_WORKERS``)."""
    return min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, _MAX_WORKERS)


def worth_it(path: Path, line_filter: raw_prefilter.RawFilter | None, *, min_bytes: int = PARALLEL_MIN_BYTES) -> bool:
    """Whether ``path`` is read faster in ranges, safely: a filter that marks lines (an empty block
    has no marks, rather than None), a big file, more than one core, one thread."""
    if line_filter is None or line_filter.marks(b"", 0, 0) is None or workers() < 2:
        return False
    if threading.active_count() > 1:
        return False
    try:
        return path.stat().st_size >= min_bytes
    except OSError:
        return False  # the reader reports it


class Taker(Protocol):
    """What becomes of each record, in the worker that read it: a row kept, or None. Picklable: a copy
    goes to each worker and comes back with what it counted, for ``absorb``."""

    def take(self, where: str, record: Mapping[str, Any]) -> Any | None:
        """The row for ``record`` (at ``where``, ``line N``), or None; InputError naming ``where``."""
        ...

    def absorb(self, other: Any) -> None:
        """Add what ``other`` (a copy that took a later range) counted."""
        ...


def parallel_rows(
    path: Path,
    table: str,
    line_filter: raw_prefilter.RawFilter,
    counter: Counter,
    taker: Taker,
    *,
    ranges: int | None = None,
) -> list[Any]:
    """What ``taker`` keeps of the records ``json_lines.jsonl_records`` gives for ``path``, in file
    order, read in ``ranges`` byte ranges (default: a few per core) by forked workers; ``counter``
    and ``taker`` count as if one reader had read the file. Parsing, and the taker's work, happen in
    the workers: only the rows kept travel back."""
    bounds = line_bounds(path, ranges or workers() * _RANGES_PER_WORKER)
    pool = ProcessPoolExecutor(max_workers=min(workers(), len(bounds)), mp_context=multiprocessing.get_context("fork"))
    try:
        futures = [
            # A copy each, taken now: the pool pickles arguments later, after ``taker`` absorbed some.
            pool.submit(read_range, path, table, line_filter, begin, end, first=index == 0, taker=copy.copy(taker))
            for index, (begin, end) in enumerate(bounds)
        ]
        if futures[0].result().blank_only:
            # No record in the first range: the file's first record, whose columns one reader checks, is later.
            records = json_lines.jsonl_records(path, table, line_filter, counter)
            return [row for where, record in records if (row := taker.take(where, record)) is not None]
        return _in_file_order(path, futures, counter, taker)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _in_file_order(path: Path, futures: list[Future[_Range]], counter: Counter, taker: Taker) -> list[Any]:
    rows: list[Any] = []
    offset = 0
    for future in futures:
        part = future.result()
        rows += part.rows_kept
        counter.rows += part.rows
        taker.absorb(part.taker)
        if part.error is not None:
            number, message = part.error
            raise InputError(_renumbered(message, path, number, offset))
        offset += part.lines
    return rows


def _renumbered(message: str, path: Path, number: int, offset: int) -> str:
    """``message`` (``<path>: line <number>: …`` in the range) with the file's line number."""
    prefix = f"{path}: line {number}:"
    if offset and message.startswith(prefix):
        return f"{path}: line {number + offset}:{message[len(prefix) :]}"
    return message


def line_bounds(path: Path, ranges: int) -> list[tuple[int, int]]:
    """``[begin, end)`` byte ranges covering ``path``, each starting at the start of a line."""
    size = path.stat().st_size
    starts = [0]
    with open_binary(path) as stream:
        for index in range(1, max(ranges, 1)):
            at = max(size * index // ranges, starts[-1])
            stream.seek(at)
            start = _next_line_start(stream, at)
            if start is None or start >= size:
                break
            if start > starts[-1]:
                starts.append(start)
    return list(zip(starts, [*starts[1:], size], strict=True))


def _next_line_start(stream: Any, at: int) -> int | None:
    """The position just after the first newline at or after ``at`` (None: no newline after it)."""
    while chunk := stream.read(1 << 16):
        found = chunk.find(b"\n")
        if found >= 0:
            return at + found + 1
        at += len(chunk)
    return None


@dataclass
class _Range:
    """What one range gave: the rows its taker kept, its lines and rows read, its taker (with what
    it counted), its first error (line number within the range, message), and whether it had only
    blank lines."""

    rows_kept: list[Any] = field(default_factory=list)
    lines: int = 0
    rows: int = 0
    taker: Any = None
    error: tuple[int, str] | None = None
    blank_only: bool = False


def read_range(
    path: Path, table: str, line_filter: raw_prefilter.RawFilter, begin: int, end: int, *, first: bool, taker: Taker
) -> _Range:
    """One range of ``path``, read as ``json_lines`` reads a file and given to ``taker`` (in a worker)."""
    counter = Counter()
    lines = json_lines.JsonLines(path, table, line_filter, counter, first=first)
    part = _Range(taker=taker)
    take = taker.take
    with open_binary(path) as stream:
        stream.seek(begin)
        try:
            for buffer, start, stop in json_lines.line_blocks(_Bounded(stream, end - begin)):
                for where, record in lines.block(buffer, start, stop):
                    row = take(where, record)
                    if row is not None:
                        part.rows_kept.append(row)
        except json_lines.LineTooLongError:
            part.error = (lines.lines_read + 1, f"{path}: line {lines.lines_read + 1}: {too_long()}")
        except InputError as error:
            part.error = (lines.lines_read, str(error))
    part.lines, part.rows = lines.lines_read, counter.rows
    part.blank_only = first and part.error is None and lines.expects_first
    return part


class _Bounded:
    """``stream`` from where it is, for at most ``left`` bytes."""

    __slots__ = ("_left", "_stream")

    def __init__(self, stream: Any, left: int) -> None:
        self._stream = stream
        self._left = left

    def read(self, size: int) -> bytes:
        data = self._stream.read(min(size, self._left)) if self._left > 0 else b""
        self._left -= len(data)
        return data
