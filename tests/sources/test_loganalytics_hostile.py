"""Hostile values on the live path: served by the loopback workspace through the real LogsQueryClient.

- Every query the source sends for candidate keys holding NUL, every other control character and lone
  surrogates has zero diagnostics in Microsoft's Kusto language service, and its string literals
  decode to exactly the keys (or, for a key with NUL or a lone surrogate, the text before it: a
  prefix test that the source re-checks in Python); the workspace's engine (duckdb-kql) runs them.
- The planted sign-ins of ``tests.test_hostile_values`` come back, and ``detect`` gives exactly the
  rows the rule defines, as from fixture files.
- A response the SDK cannot read (nested 10,000 deep, not UTF-8, not JSON, of another shape) or a
  value that cannot be read is one SourceError naming the table and the window, never a traceback.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import duckdb_kql
import pytest

from shared.candidates import Candidates
from shared.cli import main
from shared.detection import detect
from shared.errors import SourceError
from shared.models import ReadRequest
from shared.sources import la_queries
from shared.sources.fixtures import FixtureSource
from shared.sources.la_queries import Batching
from shared.sources.loganalytics import LogAnalyticsSource
from tests.harness.kusto_check import KustoChecker
from tests.harness.la_server import LogAnalyticsServer
from tests.test_hostile_values import (
    CONTROLS,
    HOUR,
    OTHERS,
    SURROGATES,
    Case,
    Leading,
    by_user,
    cases,
    expected_rows,
    tables_of,
    write_format,
)

SPAN = "[2026-11-28T09:00:00Z, 2026-11-28T10:00:00Z)"
# Keys that also break literals in other ways.
QUOTING = ['q"uote', "back\\slash", "\\", '"', "' or 1==1 //", "x\r\ny"]


def planted_for_live(characters: list[str]) -> list[Case]:
    planted = cases(characters + QUOTING)
    return planted + [Leading(len(planted) + i, c) for i, c in enumerate(("\x00", "\x01", *SURROGATES[:2]))]


def _unwritable_at(text: str) -> int | None:
    found = re.search("[\x00\ud800-\udfff]", text)
    return None if found is None else found.start()


def literal_for(key: str) -> str:
    """What a query must hold for ``key``: the key, or the text before its first NUL or surrogate."""
    cut = _unwritable_at(key)
    return key if cut is None else key[:cut]


def literals_for(keys: Iterable[str]) -> set[str]:
    """The literals a value test on ``keys`` holds: none when some key has no writable prefix at all
    (the test is then ``true``: that batch reads every row, and the source keeps the exact ones)."""
    written = {literal_for(key) for key in keys}
    return set() if "" in written else written


def source_for(workspace: LogAnalyticsServer, **options: Any) -> LogAnalyticsSource:
    options = {"retry_total": 1, "retry_backoff_factor": 0.0, "retry_backoff_max": 0.0} | options
    return LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=workspace.endpoint, **options)


@pytest.fixture(scope="module")
def checker(kusto_checker: KustoChecker) -> KustoChecker:
    return kusto_checker


# --- the queries ----------------------------------------------------------------------------------


@pytest.mark.parametrize("batching", [Batching(), Batching(max_values=3, max_literal_chars=5000)])
def test_every_query_for_hostile_keys_parses_and_holds_exactly_the_keys(
    checker: KustoChecker, batching: Batching
) -> None:
    planted = planted_for_live(CONTROLS + SURROGATES + OTHERS)
    candidates = Candidates.from_signins([row for case in planted for row in case.signins()[:1]])
    upns = sorted(candidates.upns)
    pairs = sorted(candidates.ip_names)
    assert len(upns) == len(planted)
    queries: list[tuple[str, set[str]]] = [(la_queries.signin_query(HOUR), set())]
    for batch in batching.upn_batches(upns):
        queries.append((la_queries.identity_query(HOUR, batch), literals_for(batch)))
    for batch in batching.pair_batches(pairs):
        keys = literals_for(ip for ip, _ in batch) | literals_for(name for _, name in batch)
        queries.append((la_queries.behavior_query(HOUR, batch), keys | {"FailedLogOn", "LogOn"}))
    results = checker.check([query for query, _ in queries])
    for (query, keys), result in zip(queries, results, strict=True):
        assert result.diagnostics == [], result.messages
        assert result.columns is not None
        if keys:
            assert set(result.literals) == keys, query
        assert not re.search("[\x00\ud800-\udfff]", query)
    assert any("| where true" in query for query, _ in queries)  # the keys that start with NUL or a surrogate


def test_what_the_two_readers_make_of_nul_and_surrogate_forms(checker: KustoChecker) -> None:
    # The facts shared.sources.kql_text rests on: the undocumented escapes disagree between the
    # readers, so NUL and lone surrogates are never written; every other control is written raw.
    forms = {
        '"a\\u0000b"': ("a\x00b", "au0000b"),
        '"a\\x00b"': ("a\x00b", "ax00b"),
        '"a\\0b"': ("a\x00b", "a\x00b"),
        '"a\x00b"': ("a\x00b", "a\x00b"),
        '"a\\ud800b"': ("a\ud800b", "aud800b"),
        '"' + "".join(CONTROLS[1:]).replace("\n", "").replace("\r", "") + '"': (None, None),
    }
    results = checker.check([f"print v = {form}" for form in forms])
    connection = duckdb_kql.connect()
    for (form, (kusto, duckdb)), result in zip(forms.items(), results, strict=True):
        assert result.diagnostics == [], (form, result.messages)
        [value] = duckdb_kql.query(connection, f"print v = {form}").fetchall()[0]
        if kusto is None:  # every control but NUL, CR and LF, raw: both read it back as itself
            assert result.literals == [value] == [form[1:-1]]
        else:
            assert (result.literals, value) == ([kusto], duckdb), form


# --- through the SDK, against the loopback workspace ----------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LogAnalyticsServer]:
    with LogAnalyticsServer() as running:
        yield running


@pytest.mark.parametrize("batching", [Batching(), Batching(max_values=4, max_literal_chars=5000)])
def test_hostile_values_come_back_from_the_workspace_exactly(
    server: LogAnalyticsServer, checker: KustoChecker, tmp_path: Path, batching: Batching
) -> None:
    # The workspace, as Kusto, holds UTF-8: NUL and every control character, no lone surrogate.
    planted = [case for case in planted_for_live(CONTROLS + OTHERS) if not re.search("[\ud800-\udfff]", case.c)]
    tables = tables_of(planted)
    server.reset()
    server.load(tables)
    with source_for(server, batching=batching) as source:
        live = source.read(ReadRequest.same(HOUR))
    rows = by_user(detect(live.signins, live.identities, live.behaviors))
    assert rows == expected_rows(planted)
    fixture = FixtureSource(write_format(tmp_path, "jsonl", tables)).read(ReadRequest.same(HOUR))
    assert rows == by_user(detect(fixture.signins, fixture.identities, fixture.behaviors))
    assert all(received.status == 200 for received in server.received)
    assert all(result.diagnostics == [] for result in checker.check(server.queries))


_PRIVATE = 0xF0000 - 0xD800  # surrogates <-> U+F0000-U+F07FF, private use, in no test value
_SURROGATE = re.compile("[\ud800-\udfff]")
_STAND_IN = re.compile("[\U000f0000-\U000f07ff]")


def _stand_ins(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(lambda match: chr(ord(match.group()) + _PRIVATE), value)
    if isinstance(value, Mapping):
        return {key: _stand_ins(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_stand_ins(item) for item in value]
    return value


class SurrogateWorkspace(LogAnalyticsServer):
    """A workspace whose responses hold lone surrogates, as JSON carries them ("\\ud800" escapes).

    Kusto cannot store one (it keeps UTF-8 and replaces what is not), and neither can DuckDB, so
    they are kept as private-use stand-ins and turned back into escapes in each response: queries
    run over the same strings, with each surrogate as one character.
    """

    def load(self, tables: Mapping[str, Any]) -> None:
        super().load({name: [_stand_ins(row) for row in rows] for name, rows in tables.items()})

    def respond(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            status, extra, payload = self.answer(path, headers, body)
        text = json.dumps(payload, ensure_ascii=False)
        text = _STAND_IN.sub(lambda match: f"\\u{ord(match.group()) - _PRIVATE:04x}", text)
        return status, extra, text.encode("utf-8")


def test_keys_with_lone_surrogates_are_found_through_a_prefix_test(checker: KustoChecker) -> None:
    planted = planted_for_live([*SURROGATES, "\x00", "\x1f"])
    with SurrogateWorkspace() as workspace:
        workspace.load(tables_of(planted))
        with source_for(workspace, batching=Batching(max_values=3, max_literal_chars=5000)) as source:
            live = source.read(ReadRequest.same(HOUR))
        queries = workspace.queries
    assert by_user(detect(live.signins, live.identities, live.behaviors)) == expected_rows(planted)
    assert any("startswith_cs" in query for query in queries)
    assert any("| where true" in query for query in queries)
    assert all(result.diagnostics == [] for result in checker.check(queries))


# --- responses that cannot be read ------------------------------------------------------------------


class CannedWorkspace(LogAnalyticsServer):
    """Answers a table's query with the given status and body bytes; other queries as usual."""

    def __init__(self) -> None:
        super().__init__()
        self.canned: dict[str, tuple[int, bytes]] = {}

    def respond(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        table = json.loads(body)["query"].split("\n")[0]
        if table in self.canned:
            status, data = self.canned[table]
            return status, {}, data
        return super().respond(path, headers, body)


@pytest.fixture(scope="module")
def canned() -> Iterator[CannedWorkspace]:
    with CannedWorkspace() as running:
        yield running


DEEP = b"[" * 10_000 + b"]" * 10_000
SIGNIN_COLUMNS = [{"name": c, "type": "string"} for c in la_queries.SIGNIN_COLUMNS]


def _table(rows: bytes, columns: list[dict[str, str]] = SIGNIN_COLUMNS) -> bytes:
    return b'{"tables":[{"name":"PrimaryResult","columns":' + json.dumps(columns).encode() + b',"rows":' + rows + b"}]}"


UNREADABLE = [
    ("deep", 200, b'{"tables": ' + DEEP + b"}", "JSON nested too deeply to parse (RecursionError)"),
    ("deep rows", 200, _table(b"[" + DEEP + b"]"), "JSON nested too deeply to parse (RecursionError)"),
    ("not UTF-8", 200, b'{"tables": [], "x": "\xff"}', "UnicodeDecodeError"),
    ("not JSON", 200, b"<html>gateway</html>", "JSON is invalid: Expecting value"),
    ("a list", 200, b"[1, 2]", "AttributeError"),
    ("short rows", 200, _table(b'[["2026-11-28T09:10:00Z", "500121"]]'), "ValueError"),
    ("rows not a list", 200, _table(b"5"), "TypeError"),
    ("deep error", 500, b'{"error": ' + DEEP + b"}", "JSON nested too deeply to parse (RecursionError)"),
    ("deep 400", 400, b'{"error": {"code": "x", "details": ' + DEEP + b"}}", "RecursionError"),
]


@pytest.mark.parametrize(("status", "body", "reason"), [c[1:] for c in UNREADABLE], ids=[c[0] for c in UNREADABLE])
def test_an_unreadable_response_is_a_source_error_naming_the_table_and_window(
    canned: CannedWorkspace, status: int, body: bytes, reason: str
) -> None:
    canned.reset()
    canned.canned = {"SigninLogs": (status, body)}
    with pytest.raises(SourceError) as caught, source_for(canned) as source:
        source.read(ReadRequest.same(HOUR))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"Log Analytics sent a response to the SigninLogs query for {SPAN} that cannot be read (")
    assert reason in message
    assert message.endswith("the window is not evaluated")


def test_a_deep_response_to_a_later_query_names_that_table(canned: CannedWorkspace) -> None:
    canned.reset()
    canned.load(tables_of(cases(["\x00"])))
    canned.canned = {"IdentityInfo": (200, DEEP)}
    with pytest.raises(SourceError, match=rf"to the IdentityInfo query for {re.escape(SPAN)} that cannot be read"):
        source_for(canned).read(ReadRequest.same(HOUR))


def test_a_value_nested_too_deeply_is_kept_as_text_and_the_window_is_read(canned: CannedWorkspace) -> None:
    # One odd value must not fail the window on every run: that would stop detection for good.
    columns = [{"name": c, "type": "dynamic" if c == "Status" else "string"} for c in la_queries.SIGNIN_COLUMNS]
    deep = "[" * 10_000 + "]" * 10_000
    row = ["2026-11-28T09:10:00Z", "500121", deep, "a@x.com", "u", "t", "1.2.3.4"]
    canned.reset()
    canned.canned = {"SigninLogs": (200, _table(json.dumps([row]).encode(), columns))}
    tables = source_for(canned).read(ReadRequest.same(HOUR))  # no SourceError: the window is evaluated
    assert tables.scanned["SigninLogs"] == 1
    assert tables.signins == []  # its Status is text now, with no additionalDetails: not a rejection


def test_the_command_line_reports_an_unreadable_response_in_one_line(canned: CannedWorkspace) -> None:
    canned.reset()
    canned.canned = {"SigninLogs": (200, b'{"tables": ' + DEEP + b"}")}
    out, err = io.StringIO(), io.StringIO()
    argv = ["detect", "--source", "loganalytics", "--workspace", canned.workspace_id, "--endpoint", canned.endpoint]
    argv += ["--start", "2026-11-28T09:00Z", "--end", "2026-11-28T10:00Z"]
    assert main(argv, out=out, err=err) == 1
    [line] = err.getvalue().splitlines()
    assert line.startswith("python -m shared detect: failed: Log Analytics sent a response to the SigninLogs query")
    assert "RecursionError" in line
