"""Fixtures shared across the suite: the state stores (a real Azurite for the Table store, a temp
file for SQLite) that the store contract and the runner tests both run against, and one Kusto language
service. Also how the suite runs: the Hypothesis profiles (tests/harness/hypothesis_profiles.py) and
the number of xdist workers. Session fixtures are per xdist worker: each has its own Azurite (ports
picked by the OS, its own directory) and its own node process for Kusto."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from shared.detection import detect
from shared.models import ReadRequest, Window
from shared.sources.fixtures import FixtureSource
from shared.state import SqliteStateStore, StateStore
from shared.state.tables import TableStateStore
from tests.builders import behavior
from tests.harness.azurite import Azurite, AzuriteError, run_azurite, unique_table_name
from tests.harness.hypothesis_profiles import register_profiles, scale_property_tests
from tests.harness.kusto_check import KustoChecker, KustoCheckerError
from tests.oracle import sql_port, verbatim_kql
from tests.oracle.files import write_tables

StoreFactory = Callable[[], StateStore]

# Before any test module is imported, so that every @settings inherits from the loaded profile.
register_profiles()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    scale_property_tests(items)


def pytest_xdist_auto_num_workers() -> int:
    """``-n auto`` (pyproject.toml): twice the usable CPUs, at most 8. About a quarter of the suite's
    time is spent waiting (on loopback servers' deadlines, Azurite, node, checkov), which a second
    worker per CPU fills; PYTEST_XDIST_AUTO_NUM_WORKERS still decides when set."""
    configured = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if configured:
        return int(configured)
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return min(8, 2 * cpus)


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the session (of each xdist worker). Missing node/Azurite is a failure, never a skip: the Table
    store is part of the product and must be tested."""
    try:
        with run_azurite(location=tmp_path_factory.mktemp("azurite")) as running:
            yield running
    except AzuriteError as error:
        pytest.fail(f"the Azure Table state tests need Azurite: {error}", pytrace=False)


@pytest.fixture(scope="session")
def kusto_checker() -> Iterator[KustoChecker]:
    """One Kusto language service for the session (each costs about two seconds of CPU to load);
    a call that needs other table schemas names them, and only that call sees them."""
    try:
        checker = KustoChecker()
    except KustoCheckerError as error:
        pytest.fail(f"the KQL check needs node and node_modules: {error}", pytrace=False)
    with checker:
        yield checker


@pytest.fixture(params=["sqlite", "table"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Opens stores on one shared location (a file or a table): each call is another runner."""
    opened: list[StateStore] = []
    if request.param == "sqlite":
        path = tmp_path / "nested" / "state.sqlite3"

        def make() -> StateStore:
            return SqliteStateStore(path)
    else:
        connection_string = request.getfixturevalue("azurite").connection_string
        table_name = unique_table_name()

        def make() -> StateStore:
            service = TableServiceClient.from_connection_string(connection_string)
            return TableStateStore.from_service(service, table_name)

    def factory() -> StateStore:
        store = make()
        opened.append(store)
        return store

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreFactory) -> StateStore:
    return open_store()


# --- the rule, by each of its three implementations ---------------------------------------------


def run_product(
    directory: Path,
    *,
    fmt: str = "jsonl",
    cutoff: int = 3,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    """The product on fixture files: FixtureSource (every line parsed) + detect, rows shaped as the
    oracles shape theirs (arrays sorted, rows in sort_key order)."""
    window = Window(start, end) if start is not None else None
    del fmt  # FixtureSource tells the format by the file extension
    tables = FixtureSource(directory, strict=True).read(ReadRequest.same(window))
    rows = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=cutoff)
    shaped = [{k: sorted(v, key=json.dumps) if isinstance(v, list) else v for k, v in row.items()} for row in rows]
    return sorted(shaped, key=sql_port.sort_key)


# "product": shared.detection; "sql": the hand-written DuckDB SQL port (tests/oracle/rule.sql);
# "kql": the rule's verbatim KQL text run by duckdb-kql (tests/oracle/verbatim_kql.py).
RULE_IMPLEMENTATIONS: dict[str, Callable[..., list[dict[str, Any]]]] = {
    "product": run_product,
    "sql": sql_port.run_rule,
    "kql": verbatim_kql.run_rule,
}


class Rule:
    """One implementation of the rule, run on tables written as jsonl fixture files."""

    def __init__(self, name: str, tmp_path: Path) -> None:
        self.name = name
        self.on_files = RULE_IMPLEMENTATIONS[name]
        self._tmp_path = tmp_path
        self._cases = 0

    def __call__(
        self,
        signins: list[dict[str, Any]],
        identities: list[dict[str, Any]] = (),  # type: ignore[assignment]
        behaviors: list[dict[str, Any]] | None = None,
        *,
        cutoff: int = 3,
        **window: Any,
    ) -> list[dict[str, Any]]:
        """The rule's rows; ``behaviors`` defaults to one matching UEBA row of score 5."""
        behaviors = [behavior()] if behaviors is None else behaviors
        self._cases += 1
        directory = write_tables(
            self._tmp_path / f"case{self._cases}", signins=signins, identities=identities, behaviors=behaviors
        )
        return self.on_files(directory, cutoff=cutoff, **window)


@pytest.fixture(params=list(RULE_IMPLEMENTATIONS))
def rule(request: pytest.FixtureRequest, tmp_path: Path) -> Rule:
    """Every implementation of the rule in turn, so that each named case holds for all of them."""
    return Rule(request.param, tmp_path)
