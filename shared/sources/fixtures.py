"""Read the three tables from local files: data exports, CLI output, API responses, portal CSVs.

A directory holds one file per table, ``<Table>.jsonl`` | ``.json`` | ``.csv``. Files are
streamed: only rows that can matter to the rule are kept (``shared.candidates``), so memory grows
with those rows, not with the file. Every problem becomes one ``InputError`` naming the file and
line (or record) and what is wrong: text that is not UTF-8 (a lone surrogate written as raw bytes
included), invalid JSON or CSV, JSON nested too deeply for Python's parser (a RecursionError
inside), a value of the wrong type (``shared.sources.values``).

Every string is data, whatever it holds: NUL and every other control character (JSON escapes them;
a CSV field holds them as they are, a bare CR or LF inside quotes included) and, in JSON text, a
lone surrogate escape such as ``"\ud800"`` (valid JSON; UTF-8 cannot carry one any other way).

All JSON is decoded by Python's ``json`` (a JSON Lines line whole; a ``.json`` file value by
value, streamed), so every format reads every escape, and refuses every depth, alike. (ijson's
yajl backend, which streamed ``.json`` files before, turns a lone surrogate escape into "?", pairs
two high surrogates into a wrong character, raises UnicodeDecodeError past its own error type, and
holds each level's path text, so that deep nesting under long keys takes memory quadratic in
the depth: a 10 MB file, 1 GB.)

Each format has its reader: ``json_lines`` (``.jsonl``), ``json_file`` (``.json``: an array, or a
saved query API response, ``api_response_file``; both streamed by ``json_stream``) and
``csv_export`` (``.csv``); ``fixture_files`` holds what they share.

Late-arriving rows: any table, in any format, may have a column ``_ingested``, when the row arrived
in the workspace (ISO 8601 with a timezone). A read as of an earlier time (``ReadRequest.as_of``)
leaves the row out as if it were not in the file, and does not count it in ``scanned``: it is not
in the workspace yet. A row without a value there is always in it. The column is never part of a
row the rule sees; a value that is not such a time is an error, whatever ``as_of`` (bad files are
found early).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.candidates import Candidates, is_rejected_mfa
from shared.errors import InputError
from shared.health import counts_for_health
from shared.models import (
    BEHAVIOR_TABLE,
    IDENTITY_TABLE,
    SCHEMAS,
    SIGNIN_TABLE,
    ReadRequest,
    Row,
    Tables,
    Window,
)
from shared.sources import json_lines_parallel, raw_prefilter
from shared.sources.csv_export import csv_records
from shared.sources.fixture_files import INGESTED, Counter, RawRecord, ingested_at
from shared.sources.json_file import json_records
from shared.sources.json_lines import jsonl_records
from shared.sources.values import CellError, normalise_row

logger = logging.getLogger(__name__)

EXTENSIONS = (".jsonl", ".json", ".csv")
# JSON Lines up to this size (the three files together) are parsed and checked line by line in full
# (about a second per 100 MB); more take the fast path that leaves provably irrelevant lines unparsed.
FULL_VALIDATION_MAX_BYTES = 128 * 2**20


def table_file(directory: Path, table: str) -> Path:
    """The one file holding ``table`` in ``directory``, or an InputError naming what was looked for."""
    found = [directory / f"{table}{ext}" for ext in EXTENSIONS if (directory / f"{table}{ext}").is_file()]
    if not found:
        looked = ", ".join(f"{table}{ext}" for ext in EXTENSIONS)
        raise InputError(f"{directory}: no {table} file (looked for {looked})")
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise InputError(f"{directory}: more than one {table} file ({names}); keep one")
    return found[0]


@dataclass(frozen=True, slots=True)
class FixtureSource:
    """A ``DataSource`` over a directory of table files.

    Every line of a file is parsed and every value checked, so that any bad line is reported —
    except when the JSON Lines files hold more than ``validate_up_to`` bytes together (a bulk replay
    of data exports): there, lines that provably cannot hold a row the rule uses are only checked for being one JSON
    object (``{…}``), not parsed, which is the difference between replaying a million sign-ins in
    seconds and in a minute. ``strict=True`` parses every line whatever the size; ``strict=False``
    takes the fast path whatever the size.
    """

    directory: Path
    strict: bool | None = None
    validate_up_to: int = FULL_VALIDATION_MAX_BYTES

    def read(self, request: ReadRequest) -> Tables:
        directory = Path(self.directory)
        if not directory.is_dir():
            raise InputError(f"{directory}: not a directory of fixture files")
        as_of = request.as_of
        if as_of is not None and as_of.tzinfo is None:
            raise ValueError(f"as_of {as_of.isoformat()} is naive: expected a timezone-aware time")
        files = {table: table_file(directory, table) for table in SCHEMAS}
        parse_all = self._validates_all(files)
        scanned: dict[str, int] = {}
        # The newest row per table is known only when every line is parsed (not on the fast path).
        latest: dict[str, datetime | None] | None = {} if request.measure and parse_all else None

        signins = self._rows(
            files[SIGNIN_TABLE],
            SIGNIN_TABLE,
            request.signins,
            keep=is_rejected_mfa,
            line_filter=None if parse_all else _arrival_aware(raw_prefilter.signin_line_filter(), as_of),
            as_of=as_of,
            scanned=scanned,
            latest=latest,
        )
        candidates = Candidates.from_signins(signins)
        identities = self._rows(
            files[IDENTITY_TABLE],
            IDENTITY_TABLE,
            request.identities,
            keep=candidates.may_enrich,
            line_filter=None if parse_all else _arrival_aware(raw_prefilter.identity_line_filter(candidates), as_of),
            as_of=as_of,
            scanned=scanned,
            latest=latest,
        )
        behaviors = self._rows(
            files[BEHAVIOR_TABLE],
            BEHAVIOR_TABLE,
            request.behaviors,
            keep=candidates.may_score,
            line_filter=None if parse_all else _arrival_aware(raw_prefilter.behavior_line_filter(candidates), as_of),
            as_of=as_of,
            scanned=scanned,
            latest=latest,
        )
        logger.debug("read fixtures from %s: %s", directory, scanned)
        return Tables(signins=signins, identities=identities, behaviors=behaviors, scanned=scanned, latest=latest or {})

    def close(self) -> None:
        """Nothing to release: each read opens and closes its files."""

    def _rows(
        self,
        path: Path,
        table: str,
        window: Window | None,
        *,
        keep: Callable[[Row], bool],
        line_filter: raw_prefilter.RawFilter | None,
        as_of: datetime | None,
        scanned: dict[str, int],
        latest: dict[str, datetime | None] | None = None,
    ) -> list[Row]:
        kept, counter, taker = take_all(
            path,
            table,
            line_filter,
            lambda: RowTaker(path, SCHEMAS[table], table, window, keep, as_of, measure=latest is not None),
        )
        scanned[table] = counter.rows - taker.not_arrived
        if latest is not None:
            latest[table] = taker.newest
        return kept

    def _validates_all(self, files: dict[str, Path]) -> bool:
        """Whether every line is parsed: yes, unless ``strict`` says otherwise or the JSON Lines
        files together are a bulk replay (over ``validate_up_to`` bytes)."""
        if self.strict is not None:
            return self.strict
        jsonl = [path for path in files.values() if path.suffix.lower() == ".jsonl"]
        size = sum(path.stat().st_size for path in jsonl)
        if size <= self.validate_up_to:
            return True
        logger.info(
            "%s holds %d MB of JSON Lines: lines that cannot matter to the rule are checked for shape only, "
            "not parsed (--strict parses every line)",
            self.directory,
            size // 2**20,
        )
        return False


def _arrival_aware(line_filter: raw_prefilter.RawFilter, as_of: datetime | None) -> raw_prefilter.RawFilter:
    """``line_filter``, and with ``as_of`` also every line that mentions ``_ingested`` parsed, so that
    a row that has not arrived yet is not counted in ``scanned`` on the fast path either."""
    return line_filter if as_of is None else _ParsingMentions(line_filter, f'{INGESTED}"'.encode())


class _ParsingMentions(raw_prefilter.RawFilter):
    """``inner``, with every line holding ``needle`` parsed too. Parsing more lines than ``inner``
    does keeps every line ``inner`` parses, so it is as transparent as ``inner``. (A key written with
    an escape has a backslash, and every filter parses such a line.)"""

    __slots__ = ("_inner", "_needle")

    def __init__(self, inner: raw_prefilter.RawFilter, needle: bytes) -> None:
        self._inner = inner
        self._needle = needle

    def may_match(self, line: bytes) -> bool:
        return self._needle in line or self._inner.may_match(line)

    def marks(self, buffer: bytes, start: int, stop: int) -> list[int] | None:
        inner = self._inner.marks(buffer, start, stop)
        if inner is None:
            return None
        mentions = []
        at = buffer.find(self._needle, start, stop)
        while at >= 0:
            mentions.append(at)
            at = buffer.find(self._needle, at + 1, stop)
        return sorted(inner + mentions) if mentions else inner


@dataclass
class RowTaker:
    """What ``FixtureSource`` keeps of each record: normalised, arrived by ``as_of``, in the window
    and passing ``keep``; it counts the rows not arrived yet and, with ``measure``, the newest row
    that counts for health. Picklable, so that a big file's workers each take their range
    (``json_lines_parallel``)."""

    path: Path
    schema: Any
    table: str
    window: Window | None
    keep: Callable[[Row], bool]
    as_of: datetime | None
    measure: bool = False
    not_arrived: int = 0  # rows whose _ingested is after as_of: not in the workspace yet
    newest: datetime | None = None

    def take(self, where: str, raw: Mapping[str, Any]) -> Row | None:
        try:
            arrived = ingested_at(raw)
            row = normalise_row(raw, self.schema)
        except CellError as error:
            raise InputError(f"{self.path}: {where}: {error}") from None
        if self.as_of is not None and arrived is not None and arrived > self.as_of:
            self.not_arrived += 1
            return None
        if self.window is not None and not self.window.contains(row["TimeGenerated"]):
            return None
        if self.measure and counts_for_health(self.table, row):
            self.newest = row["TimeGenerated"] if self.newest is None else max(self.newest, row["TimeGenerated"])
        return row if self.keep(row) else None

    def absorb(self, other: RowTaker) -> None:
        self.not_arrived += other.not_arrived
        if other.newest is not None:
            self.newest = other.newest if self.newest is None else max(self.newest, other.newest)


def take_all(
    path: Path,
    table: str,
    line_filter: raw_prefilter.RawFilter | None,
    new_taker: Callable[[], RowTaker],
    *,
    parallel_from: int = json_lines_parallel.PARALLEL_MIN_BYTES,
) -> tuple[list[Row], Counter, RowTaker]:
    """What a taker keeps of a table file, with the counter and the taker that counted: a big JSON
    Lines file on every core (``json_lines_parallel``), or if a worker dies (out of memory, killed),
    read again from the start by this process alone, so that a read never fails for want of workers.
    ``parallel_from``: the smallest file read on every core."""
    if json_lines_parallel.worth_it(path, line_filter, min_bytes=parallel_from):
        assert line_filter is not None  # worth_it says so
        counter, taker = Counter(), new_taker()
        try:
            return json_lines_parallel.parallel_rows(path, table, line_filter, counter, taker), counter, taker
        except BrokenProcessPool:
            logger.warning("%s: a worker reading it died; reading it again with one process", path)
    counter, taker = Counter(), new_taker()
    records = read_records(path, table, line_filter=line_filter, counter=counter)
    return [row for where, raw in records if (row := taker.take(where, raw)) is not None], counter, taker


def read_records(
    path: Path, table: str, *, line_filter: raw_prefilter.RawFilter | None = None, counter: Counter | None = None
) -> Iterator[RawRecord]:
    """Every record of a table file as raw values, with where it is; raises InputError on bad data.

    ``line_filter`` (JSON Lines only) lets lines it rejects go unparsed.
    """
    counter = counter if counter is not None else Counter()
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return jsonl_records(path, table, line_filter, counter)
    if suffix == ".json":
        return json_records(path, table, counter)
    return csv_records(path, table, counter)
