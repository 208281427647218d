"""Fixtures shared across the suite: the state stores (a real Azurite for the Table store, a temp
file for SQLite) that the store contract and the runner tests both run against."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient

from shared.state import SqliteStateStore, StateStore
from shared.state.tables import TableStateStore
from tests.harness.azurite import Azurite, AzuriteError, run_azurite, unique_table_name

StoreFactory = Callable[[], StateStore]


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite for the session. Missing node/Azurite is a failure, never a skip: the Table
    store is part of the product and must be tested."""
    try:
        with run_azurite(location=tmp_path_factory.mktemp("azurite")) as running:
            yield running
    except AzuriteError as error:
        pytest.fail(f"the Azure Table state tests need Azurite: {error}", pytrace=False)


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
