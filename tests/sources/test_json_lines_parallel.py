"""The JSON Lines reader on every core: a file read in byte ranges by forked workers gives exactly
the rows, counts and first error (with its line number in the file) of one reader."""

from __future__ import annotations

import itertools
import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.candidates import Candidates, is_rejected_mfa
from shared.errors import InputError
from shared.models import SCHEMAS, Window
from shared.sources import json_lines_parallel, raw_prefilter
from shared.sources.fixture_files import Counter
from shared.sources.fixtures import RowTaker, read_records, take_all
from shared.sources.json_lines_parallel import line_bounds, parallel_rows, worth_it
from tests.sources.test_fixtures import SIGNIN, SUCCESS
from tests.sources.test_json_lines import LINE_KINDS, _outcome, _reference_records

TABLE = "SigninLogs"


@dataclass
class Everything:
    """A taker that keeps every record with where it was, and fails on a record marked ``Fail``."""

    seen: int = 0

    def take(self, where: str, record: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
        self.seen += 1
        if "Fail" in record:
            raise InputError(f"{PATH_OF[0]}: {where}: the taker refused it")
        return where, record

    def absorb(self, other: Everything) -> None:
        self.seen += other.seen


PATH_OF: list[Path] = []


def _parallel(path: Path, ranges: int) -> tuple[list[tuple[str, dict]], int]:
    PATH_OF[:] = [path]
    counter, taker = Counter(), Everything()
    rows = parallel_rows(path, TABLE, raw_prefilter.SIGNIN_FILTER, counter, taker, ranges=ranges)
    assert taker.seen == len(rows) or any("Fail" in record for _, record in rows)
    # Where a worker saw its record is its line within the range: compare the records, in order.
    return [record for _, record in rows], counter.rows


def _reference(path: Path) -> tuple[list[dict], int]:
    records, rows = _reference_records(path, TABLE, raw_prefilter.SIGNIN_FILTER)
    return [record for _, record in records], rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.sampled_from([json.dumps(SUCCESS), json.dumps(SIGNIN), "", '{"ResultType": "0"}', "[1]"]),
    body=st.lists(st.sampled_from(LINE_KINDS), max_size=40),
    final_newline=st.booleans(),
    ranges=st.integers(min_value=1, max_value=7),
)
def test_ranges_read_in_parallel_give_exactly_what_one_reader_gives(
    first: str, body: list[str], final_newline: bool, ranges: int
) -> None:
    text = "\n".join([first, *body]) + ("\n" if final_newline else "")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / f"{TABLE}.jsonl"
        path.write_bytes(text.encode())
        expected = _outcome(lambda: _reference(path))
        assert _outcome(lambda: _parallel(path, ranges)) == expected


def test_a_bad_line_in_a_later_range_is_named_by_its_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    lines = [json.dumps(SIGNIN)] + [json.dumps(SUCCESS)] * 999
    lines[800] = lines[800][:-1]  # line 801 lacks its closing brace: not a JSON object
    lines[900] = "[1]"  # a later error, which one reader never reaches
    path.write_text("\n".join(lines) + "\n")

    outcome = _outcome(lambda: _parallel(path, 5))

    assert outcome == f"InputError: {path}: line 801: not a JSON object"


def test_matching_rows_come_in_file_order_and_every_line_is_counted(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    lines = [json.dumps(SUCCESS)] * 1000
    for number in (1, 250, 251, 999, 1000):
        lines[number - 1] = json.dumps(SIGNIN | {"Marker": number})
    path.write_text("\n".join(lines))  # no newline after the last line

    records, rows = _parallel(path, 6)

    assert [record["Marker"] for record in records if "Marker" in record] == [1, 250, 251, 999, 1000]
    assert rows == 1000


def test_a_takers_error_in_a_later_range_names_the_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    lines = [json.dumps(SUCCESS)] * 1000
    lines[0] = json.dumps(SIGNIN)
    lines[700] = json.dumps(SIGNIN | {"Fail": True})  # line 701, in the fifth of six ranges

    path.write_text("\n".join(lines) + "\n")

    assert _outcome(lambda: _parallel(path, 6)) == f"InputError: {path}: line 701: the taker refused it"


def test_a_first_range_of_blank_lines_is_read_by_one_reader(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    path.write_text("\n" * 500 + '{"ResultType": "0"}\n' + json.dumps(SIGNIN) + "\n")

    outcome = _outcome(lambda: _parallel(path, 4))

    assert outcome == _outcome(lambda: _reference(path))
    assert isinstance(outcome, str), "the file's first record has its columns checked, as one reader does"


def test_ranges_cover_the_file_and_start_at_line_starts(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    data = b"".join(b"{" + b"a" * (n % 97) + b"}\n" for n in range(2000))
    path.write_bytes(data)

    bounds = line_bounds(path, 7)

    assert bounds[0][0] == 0
    assert bounds[-1][1] == len(data)
    assert len(bounds) == 7
    assert all(end == begin for (_, end), (begin, _) in itertools.pairwise(bounds))
    assert all(data[begin - 1 : begin] == b"\n" for begin, _ in bounds[1:])


def test_it_is_used_only_for_big_files_with_a_skipping_filter_and_one_thread(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    path.write_bytes(b"{}\n" * 1000)
    skipping = raw_prefilter.SIGNIN_FILTER

    assert worth_it(path, skipping, min_bytes=1) == (json_lines_parallel.workers() > 1)
    assert not worth_it(path, skipping)  # 3 KB is far below PARALLEL_MIN_BYTES
    assert not worth_it(path, None, min_bytes=1)
    assert not worth_it(path, raw_prefilter.identity_line_filter(_with_empty_upn()), min_bytes=1)
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not worth_it(path, skipping, min_bytes=1), "forking beside another thread is not safe"
    finally:
        release.set()
        other.join()


def _with_empty_upn() -> Candidates:
    return Candidates(upns=frozenset({""}), ip_names=frozenset())


def test_the_fixture_sources_taker_keeps_and_counts_the_same_in_parallel(tmp_path: Path) -> None:
    """FixtureSource's own taker: normalised rows in the window, arrived by as_of, passing the rule's
    first filters; the rows not arrived yet and the newest row counted once, whatever the ranges."""
    path = tmp_path / f"{TABLE}.jsonl"
    lines = []
    for minute in range(600):
        row = SIGNIN | {"TimeGenerated": f"2026-11-28T{8 + minute // 120:02d}:{minute % 60:02d}:00Z"}
        if minute % 7 == 0:
            row |= {"_ingested": f"2026-11-28T{11 + minute % 3:02d}:00:00Z"}
        lines.append(json.dumps(row if minute % 5 else SUCCESS | {"TimeGenerated": row["TimeGenerated"]}))
    path.write_text("\n".join(lines) + "\n")
    window = Window(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 11, tzinfo=UTC))
    as_of = datetime(2026, 11, 28, 12, tzinfo=UTC)

    def taker() -> RowTaker:
        return RowTaker(path, SCHEMAS[TABLE], TABLE, window, is_rejected_mfa, as_of, measure=True)

    one, counted_one = taker(), Counter()
    records = read_records(path, TABLE, line_filter=raw_prefilter.SIGNIN_FILTER, counter=counted_one)
    sequential = [row for where, raw in records if (row := one.take(where, raw)) is not None]
    many, counted_many = taker(), Counter()
    parallel = parallel_rows(path, TABLE, raw_prefilter.SIGNIN_FILTER, counted_many, many, ranges=5)

    assert parallel == sequential
    assert len(sequential) > 50
    assert (many.not_arrived, many.newest, counted_many.rows) == (one.not_arrived, one.newest, counted_one.rows)
    assert one.not_arrived > 0


@dataclass
class DiesInAWorker(RowTaker):
    """The fixture source's taker, except that a worker taking a record dies on the spot (as one
    killed for memory would); in the process that made it, it takes as usual."""

    parent: int = 0

    def take(self, where: str, raw: Mapping[str, Any]) -> Any:
        if os.getpid() != self.parent:
            os._exit(3)
        return super().take(where, raw)


def test_a_worker_that_dies_leaves_the_read_to_one_process_with_nothing_counted_twice(tmp_path: Path) -> None:
    path = tmp_path / f"{TABLE}.jsonl"
    path.write_text("".join(json.dumps(SIGNIN | {"N": n}) + "\n" for n in range(300)))
    window = Window(datetime(2026, 11, 28, 9, tzinfo=UTC), datetime(2026, 11, 28, 10, tzinfo=UTC))
    made: list[DiesInAWorker] = []

    def new_taker() -> DiesInAWorker:
        made.append(DiesInAWorker(path, SCHEMAS[TABLE], TABLE, window, is_rejected_mfa, None, parent=os.getpid()))
        return made[-1]

    rows, counter, taker = take_all(path, TABLE, raw_prefilter.SIGNIN_FILTER, new_taker, parallel_from=1)

    assert len(made) == 2, "the parallel read was tried first, then one process read it all again"
    assert taker is made[-1]
    assert [row["UserPrincipalName"] for row in rows] == [SIGNIN["UserPrincipalName"]] * 300
    assert counter.rows == 300
