"""open_state: the setting MFA_STATE picks the store; bad settings are ConfigErrors naming the setting."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.errors import ConfigError
from shared.settings import load_settings
from shared.state import NewItem, SqliteStateStore, StateStorageError, open_state
from shared.state.tables import TableStateStore
from tests.harness.azurite import Azurite

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_storage_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__tableServiceUri"):
        monkeypatch.delenv(name, raising=False)


def test_a_path_opens_an_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.sqlite3"

    store = open_state(load_settings(MFA_STATE=str(path)))

    assert isinstance(store, SqliteStateStore)
    store.remember_alerted("k", T0)
    assert path.is_file()
    assert SqliteStateStore(path).last_alerted("k") == T0


def test_an_unusable_path_names_mfa_state(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")

    with pytest.raises(ConfigError, match=r"^MFA_STATE: state file .*file/state.sqlite3: cannot create its directory"):
        open_state(load_settings(MFA_STATE=str(tmp_path / "file" / "state.sqlite3")))


def test_table_opens_the_azure_table_and_creates_it(azurite: Azurite) -> None:
    settings = load_settings(
        MFA_STATE="table", MFA_STATE_TABLE="OpenStateTest1", AzureWebJobsStorage=azurite.connection_string
    )

    store = open_state(settings)
    try:
        assert isinstance(store, TableStateStore)
        assert store.where.endswith("/devstoreaccount1/OpenStateTest1")
        item = NewItem(alert_id="a1", sink="console", payload="{}", created_at=T0)
        checkpoint = store.commit_window(window_end=T0, items=[item], expected=None)
        assert store.checkpoint() == checkpoint
        assert [i.alert_id for i in store.items(status="pending")] == ["a1"]
    finally:
        store.close()


def test_a_bad_table_name_names_mfa_state_table() -> None:
    settings = load_settings(
        MFA_STATE="table", MFA_STATE_TABLE="bad-name", AzureWebJobsStorage="UseDevelopmentStorage=true"
    )

    with pytest.raises(ConfigError, match="MFA_STATE_TABLE: 'bad-name' is not a valid Azure Table name"):
        open_state(settings)


def test_a_damaged_file_is_a_storage_error_not_a_settings_error(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    path.write_text("not a database, but someone's notes\n")

    with pytest.raises(StateStorageError, match="not an SQLite database") as caught:
        open_state(load_settings(MFA_STATE=str(path)))

    assert not isinstance(caught.value, ConfigError)  # exit 1 (the state), not 2 (a setting)
    assert path.read_text() == "not a database, but someone's notes\n"
