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
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from shared.candidates import Candidates, is_rejected_mfa
from shared.errors import InputError
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
from shared.sources import raw_prefilter
from shared.sources.csv_export import csv_records
from shared.sources.fixture_files import Counter, RawRecord
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
        files = {table: table_file(directory, table) for table in SCHEMAS}
        parse_all = self._validates_all(files)
        scanned: dict[str, int] = {}

        signins = self._rows(
            files[SIGNIN_TABLE],
            SIGNIN_TABLE,
            request.signins,
            keep=is_rejected_mfa,
            line_filter=None if parse_all else raw_prefilter.signin_line_filter(),
            scanned=scanned,
        )
        candidates = Candidates.from_signins(signins)
        identities = self._rows(
            files[IDENTITY_TABLE],
            IDENTITY_TABLE,
            request.identities,
            keep=candidates.may_enrich,
            line_filter=None if parse_all else raw_prefilter.identity_line_filter(candidates),
            scanned=scanned,
        )
        behaviors = self._rows(
            files[BEHAVIOR_TABLE],
            BEHAVIOR_TABLE,
            request.behaviors,
            keep=candidates.may_score,
            line_filter=None if parse_all else raw_prefilter.behavior_line_filter(candidates),
            scanned=scanned,
        )
        logger.debug("read fixtures from %s: %s", directory, scanned)
        return Tables(signins=signins, identities=identities, behaviors=behaviors, scanned=scanned)

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
        scanned: dict[str, int],
    ) -> list[Row]:
        schema = SCHEMAS[table]
        counter = Counter()
        records = read_records(path, table, line_filter=line_filter, counter=counter)
        kept: list[Row] = []
        for where, raw in records:
            try:
                row = normalise_row(raw, schema)
            except CellError as error:
                raise InputError(f"{path}: {where}: {error}") from None
            if (window is None or window.contains(row["TimeGenerated"])) and keep(row):
                kept.append(row)
        scanned[table] = counter.rows
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
