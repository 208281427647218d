"""Azure Table store specifics: key layout, payload parts, errors, and building the client from settings."""

from __future__ import annotations

import hashlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import TableClient, TableServiceClient, UpdateMode
from azure.identity import DefaultAzureCredential

from shared.errors import ConfigError, StateConflictError
from shared.settings import Settings, load_settings
from shared.state import Checkpoint, NewItem, StateStorageError
from shared.state.table_client import table_service_from_settings
from shared.state.tables import TableStateStore
from tests.harness.azurite import ACCOUNT_KEY, Azurite, unique_table_name

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
LEASE = timedelta(minutes=5)
STORAGE_SETTINGS = ("AzureWebJobsStorage", "AzureWebJobsStorage__accountName", "AzureWebJobsStorage__tableServiceUri")


@pytest.fixture(autouse=True)
def _no_storage_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*STORAGE_SETTINGS, "AZURE_CLIENT_ID", "MFA_STATE", "MFA_STATE_TABLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def table_store(azurite: Azurite) -> Iterator[TableStateStore]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = TableStateStore.from_service(service, unique_table_name())
    yield store
    store.close()


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def raw_entities(store: TableStateStore) -> dict[tuple[str, str], dict]:
    return {(e["PartitionKey"], e["RowKey"]): dict(e) for e in store._table.list_entities()}


# -- layout ------------------------------------------------------------------------------------------


def test_entities_use_the_documented_partitions_and_safe_row_keys(table_store: TableStateStore) -> None:
    guest = "guest_contoso.com#EXT#@tenant.onmicrosoft.com|10.0.0.1"
    table_store.commit_window(
        window_end=T0,
        items=[NewItem(alert_id="9f3a", sink="teams", payload="{}", created_at=T0)],
        expected=None,
    )
    table_store.record_skipped(start=T0, end=T0 + timedelta(hours=1), reason="catch-up bound", at=T0)
    table_store.remember_alerted(guest, T0)

    entities = raw_entities(table_store)

    suppression_key = hashlib.sha256(guest.encode("utf-8")).hexdigest()
    assert set(entities) == {
        ("checkpoint", "checkpoint"),
        ("outbox", "9f3a:teams"),
        ("skipped", "2026-03-01T10:00:00.123456Z_2026-03-01T11:00:00.123456Z"),
        ("suppression", suppression_key),
    }
    assert entities["checkpoint", "checkpoint"]["window_end"] == "2026-03-01T10:00:00.123456Z"
    assert entities["suppression", suppression_key]["key"] == guest


SCOPE = "6c1b2f3e-0a4d-4e5f-9a8b-7c6d5e4f3a2b"


def fill(store: TableStateStore) -> None:
    """One entity in each partition of the store's stream."""
    store.commit_window(
        window_end=T0,
        items=[NewItem(alert_id="9f3a", sink="teams", payload="{}", created_at=T0)],
        expected=None,
    )
    store.record_skipped(start=T0, end=T0 + timedelta(hours=1), reason="catch-up bound", at=T0)
    store.remember_alerted("user@x.example|10.0.0.1", T0)
    store.record_run(at=T0, error="HTTP 500")


def test_a_scope_prefixes_every_partition_and_the_unscoped_stream_keeps_the_bare_names(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    name = unique_table_name()
    unscoped = TableStateStore.from_service(service, name)
    scoped = TableStateStore.from_service(service, name, scope=SCOPE)
    try:
        fill(unscoped)
        fill(scoped)

        keys = set(raw_entities(unscoped))
    finally:
        scoped.close()
        unscoped.close()

    suppression_key = hashlib.sha256(b"user@x.example|10.0.0.1").hexdigest()
    bare = {
        ("checkpoint", "checkpoint"),
        ("outbox", "9f3a:teams"),
        ("skipped", "2026-03-01T10:00:00.123456Z_2026-03-01T11:00:00.123456Z"),
        ("suppression", suppression_key),
        ("run", "last"),
    }
    assert keys == bare | {(f"{SCOPE}.{partition}", row) for partition, row in bare}


def test_the_run_note_entity_holds_the_latest_run_and_failure(table_store: TableStateStore) -> None:
    table_store.record_run(at=T0, error="HTTP 500")
    table_store.record_run(at=T0 + timedelta(hours=1), error="")

    entity = raw_entities(table_store)["run", "last"]

    assert {name: entity[name] for name in ("run_at", "error", "failed_at", "failure")} == {
        "run_at": "2026-03-01T11:00:00.123456Z",
        "error": "",
        "failed_at": "2026-03-01T10:00:00.123456Z",
        "failure": "HTTP 500",
    }


@pytest.mark.parametrize("scope", ["", "a.b", "a/b", "a#b", "a b", "é", "x" * 65, 7])
def test_a_bad_scope_is_refused_before_any_client_is_made(azurite: Azurite, scope: object) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)

    with pytest.raises(ValueError, match="state scope must match"):
        TableStateStore.from_service(service, unique_table_name(), scope=scope)  # type: ignore[arg-type]
    with service.get_table_client(unique_table_name()) as client, pytest.raises(ValueError, match="state scope"):
        TableStateStore(client, scope=scope)  # type: ignore[arg-type]


def test_a_payload_over_one_property_is_split_into_parts(table_store: TableStateStore) -> None:
    payload = "x" * 70_000  # a string property holds at most 32K UTF-16 units
    table_store.commit_window(
        window_end=T0, items=[NewItem(alert_id="a1", sink="teams", payload=payload, created_at=T0)], expected=None
    )

    entity = raw_entities(table_store)["outbox", "a1:teams"]

    assert entity["payload_parts"] == 3
    assert [len(entity[f"payload_{n}"]) for n in range(3)] == [32_000, 32_000, 6_000]
    assert table_store.items()[0].payload == payload


def test_a_payload_beyond_an_entity_is_refused_before_anything_is_written(table_store: TableStateStore) -> None:
    huge = NewItem(alert_id="a1", sink="teams", payload="x" * 600_000, created_at=T0)

    with pytest.raises(StateStorageError, match=r"alert a1 for sink teams is 1200000 bytes"):
        table_store.commit_window(window_end=T0, items=[huge], expected=None)

    assert table_store.checkpoint() is None
    assert raw_entities(table_store) == {}


# -- errors ------------------------------------------------------------------------------------------


def test_a_wrong_account_key_is_reported_with_status_and_table_but_no_key(azurite: Azurite) -> None:
    wrong_key = "d3Jvbmcga2V5IGZvciB0ZXN0aW5nIG9ubHkgd3Jvbmcga2V5IGZvciB0ZXN0aW5nIG9ubHk="
    connection_string = azurite.connection_string.replace(ACCOUNT_KEY, wrong_key)
    store = TableStateStore(TableServiceClient.from_connection_string(connection_string).get_table_client("Nope123"))

    with pytest.raises(StateStorageError) as raised:
        store.checkpoint()

    store.close()
    message = str(raised.value)
    assert raised.value.status == 403
    assert "HTTP 403" in message
    assert "/devstoreaccount1/Nope123" in message
    assert "Storage Table Data Contributor" in message
    assert wrong_key not in message
    assert ACCOUNT_KEY not in message


def test_an_unreachable_endpoint_is_reported_without_the_sas_token() -> None:
    sas = "sv=2019-02-02&ss=t&srt=sco&sp=rwdlacu&se=2099-01-01T00:00:00Z&sig=c2VjcmV0c2lnbmF0dXJl"
    endpoint = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    service = TableServiceClient.from_connection_string(
        f"TableEndpoint={endpoint};SharedAccessSignature={sas}", retry_total=0
    )
    store = TableStateStore(service.get_table_client("State"))
    started = time.monotonic()

    with pytest.raises(StateStorageError) as raised:
        store.commit_window(window_end=T0, items=[], expected=None)

    store.close()
    message = str(raised.value)
    assert time.monotonic() - started < 10
    assert raised.value.status is None
    assert "connection refused" in message
    assert f"{endpoint}/State" in message
    assert "sig=" not in message
    assert "c2VjcmV0c2lnbmF0dXJl" not in message


def test_a_missing_table_that_was_not_created_is_named(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = TableStateStore.from_service(service, unique_table_name(), create=False)

    with pytest.raises(StateStorageError, match=r"HTTP 404 TableNotFound; the table does not exist") as raised:
        store.due(now=T0, limit=10)

    store.close()
    assert raised.value.status == 404


def test_creating_an_existing_table_is_fine(azurite: Azurite) -> None:
    name = unique_table_name()
    first = TableStateStore.from_service(TableServiceClient.from_connection_string(azurite.connection_string), name)
    first.remember_alerted("k", T0)

    second = TableStateStore.from_service(TableServiceClient.from_connection_string(azurite.connection_string), name)

    assert second.last_alerted("k") == T0
    first.close()
    second.close()


# -- client from settings ------------------------------------------------------------------------------


def settings(**values: str) -> Settings:
    return load_settings(MFA_STATE="table", **values)


def test_use_development_storage_means_azurite_on_loopback() -> None:
    service = table_service_from_settings(settings(AzureWebJobsStorage="UseDevelopmentStorage=true"))

    assert service.url.startswith("http://127.0.0.1:10002/devstoreaccount1")
    assert service.account_name == "devstoreaccount1"


def test_the_connection_string_wins_over_identity_settings(azurite: Azurite) -> None:
    service = table_service_from_settings(
        settings(AzureWebJobsStorage=azurite.connection_string, AzureWebJobsStorage__accountName="prodaccount")
    )

    assert service.url.startswith(azurite.table_endpoint)


def test_an_account_name_means_managed_identity_on_the_public_cloud() -> None:
    service = table_service_from_settings(
        settings(AzureWebJobsStorage__accountName="mfastate01", AZURE_CLIENT_ID="00000000-0000-0000-0000-000000000001")
    )

    assert service.url.startswith("https://mfastate01.table.core.windows.net")
    assert isinstance(service.credential, DefaultAzureCredential)
    service.credential.close()


def test_a_table_service_uri_is_used_as_given() -> None:
    uri = "https://mfastate01.table.core.usgovcloudapi.net/"
    service = table_service_from_settings(
        settings(AzureWebJobsStorage__tableServiceUri=uri, AzureWebJobsStorage__accountName="ignored")
    )

    assert service.url.startswith("https://mfastate01.table.core.usgovcloudapi.net")
    assert isinstance(service.credential, DefaultAzureCredential)
    service.credential.close()


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({}, "MFA_STATE=table needs the storage account: set AzureWebJobsStorage__accountName"),
        ({"AzureWebJobsStorage": "   "}, "MFA_STATE=table needs the storage account"),
        ({"AzureWebJobsStorage__accountName": "Bad_Name"}, "AzureWebJobsStorage__accountName: 'Bad_Name' is not"),
        ({"AzureWebJobsStorage__tableServiceUri": "http://x.table.core.windows.net"}, "must be the https URL"),
        ({"AzureWebJobsStorage__tableServiceUri": "https://x.table.core.windows.net?sig=abc"}, "must be the https"),
    ],
)
def test_unusable_storage_settings_name_the_setting(values: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message) as raised:
        table_service_from_settings(settings(**values))

    assert "sig=abc" not in str(raised.value)


def test_a_bad_connection_string_is_refused_without_quoting_it() -> None:
    key = "c2VjcmV0LWtleS1mb3ItdGVzdHM="
    bad = f"DefaultEndpointsProtocol=https;AccountKey={key}"  # no AccountName

    with pytest.raises(ConfigError, match="AzureWebJobsStorage: not a usable storage connection string") as raised:
        table_service_from_settings(settings(AzureWebJobsStorage=bad))

    assert key not in str(raised.value)
    assert "AccountKey, DefaultEndpointsProtocol" in str(raised.value)


# -- damaged entities --------------------------------------------------------------------------------


@dataclass
class Shared:
    """A store on a fresh table, and a plain SDK client on the same table to damage it with."""

    store: TableStateStore
    raw: TableClient
    connection_string: str
    name: str


@pytest.fixture
def shared(azurite: Azurite) -> Iterator[Shared]:
    name = unique_table_name()
    store = TableStateStore.from_service(TableServiceClient.from_connection_string(azurite.connection_string), name)
    raw = TableClient.from_connection_string(azurite.connection_string, table_name=name)
    yield Shared(store=store, raw=raw, connection_string=azurite.connection_string, name=name)
    raw.close()
    store.close()


def remedy(partition: str, row_key: str) -> str:
    return (
        "the state is damaged: restore the table from a backup, or fix or delete the entity "
        f"(PartitionKey '{partition}', RowKey '{row_key}')"
    )


def replace_entity(raw: TableClient, partition: str, row_key: str, change: Callable[[dict], None]) -> None:
    entity = dict(raw.get_entity(partition, row_key))
    change(entity)
    raw.upsert_entity(entity, mode=UpdateMode.REPLACE)


def dead_items(store: TableStateStore, *alert_ids: str) -> None:
    store.commit_window(window_end=T0, items=[new(alert_id) for alert_id in alert_ids], expected=None)
    for item in store.due(now=T0, limit=100):
        claimed = store.claim(item, now=T0, lease=LEASE)
        assert claimed is not None
        store.mark_failed(claimed, at=T0, error="HTTP 400", retry_at=None)


def new(alert_id: str) -> NewItem:
    return NewItem(alert_id=alert_id, sink="teams", payload="{}", created_at=T0)


@pytest.mark.parametrize(
    ("value", "found"),
    [
        ("garbage", "window_end 'garbage' is not a UTC time as the store writes it"),
        ("", "window_end '' is not a UTC time as the store writes it"),
        (None, "window_end missing"),
        (42, "window_end 42 is not a UTC time as the store writes it"),
        (
            T0,
            "window_end TablesEntityDatetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=datetime.timezone.utc) "
            "is not a UTC time",
        ),
    ],
    ids=["garbage", "empty", "missing", "integer", "datetime"],
)
def test_an_unreadable_checkpoint_entity_is_reported_and_never_overwritten(
    shared: Shared, value: object, found: str
) -> None:
    store = shared.store
    store.commit_window(window_end=T0 - timedelta(hours=1), items=[], expected=None)

    def set_window_end(entity: dict) -> None:
        if value is None:
            del entity["window_end"]
        else:
            entity["window_end"] = value

    replace_entity(shared.raw, "checkpoint", "checkpoint", set_window_end)
    damaged = shared.raw.get_entity("checkpoint", "checkpoint")
    expected = f"state table {store.where}: the checkpoint is unreadable ({found}"

    with pytest.raises(StateStorageError) as raised:
        store.checkpoint()
    for from_checkpoint in (None, Checkpoint(end=T0 - timedelta(hours=2), version=damaged.metadata["etag"])):
        with pytest.raises(StateStorageError, match=re.escape(expected)):
            store.commit_window(window_end=T0, items=[new("a1")], expected=from_checkpoint)

    message = str(raised.value)
    assert message.startswith(expected)
    assert message.endswith(remedy("checkpoint", "checkpoint"))
    assert raised.value.where == store.where
    assert shared.raw.get_entity("checkpoint", "checkpoint").metadata["etag"] == damaged.metadata["etag"]
    assert store.items() == []


@pytest.mark.parametrize(
    ("changes", "found"),
    [
        ({"created_at": "yesterday"}, "created_at 'yesterday' is not a UTC time as the store writes it"),
        ({"created_at": None}, "created_at missing"),
        ({"attempts": "many"}, "attempts 'many' is not an integer"),
        ({"status": "lost"}, "status 'lost' is not pending or delivered or dead"),
        ({"payload_parts": 2}, "payload_1 missing"),
        ({"payload_parts": 0}, "payload_parts 0 is not a positive integer"),
        ({"payload_parts": None}, "payload_parts missing"),
        ({"payload_0": 5}, "payload_0 5 is not text"),
        ({"delivered_at": "soon"}, "delivered_at 'soon' is not a UTC time"),
        ({"last_failed_at": "then"}, "last_failed_at 'then' is not a UTC time"),
    ],
)
def test_an_unreadable_outbox_entity_is_reported_naming_the_item_and_field(
    shared: Shared, changes: dict[str, object], found: str
) -> None:
    store = shared.store
    store.commit_window(window_end=T0, items=[new("a1"), new("9f3a")], expected=None)

    def apply(entity: dict) -> None:
        for name, value in changes.items():
            if value is None:
                del entity[name]
            else:
                entity[name] = value

    replace_entity(shared.raw, "outbox", "9f3a:teams", apply)
    reads = [store.items] if "status" in changes else [store.items, lambda: store.due(now=T0, limit=10)]

    for read in reads:
        with pytest.raises(StateStorageError) as raised:
            read()
        message = str(raised.value)
        assert message.startswith(f"state table {store.where}: outbox item 9f3a for sink teams is unreadable ({found}")
        assert message.endswith(remedy("outbox", "9f3a:teams"))


def test_unreadable_skipped_and_suppression_entities_are_reported_naming_the_row(shared: Shared) -> None:
    store = shared.store
    key = "user@x.example|10.0.0.1"
    store.record_skipped(start=T0, end=T0 + timedelta(hours=1), reason="beyond MFA_MAX_CATCHUP", at=T0)
    store.remember_alerted(key, T0)
    skipped_key = "2026-03-01T10:00:00.123456Z_2026-03-01T11:00:00.123456Z"
    suppression_key = hashlib.sha256(key.encode()).hexdigest()
    replace_entity(shared.raw, "skipped", skipped_key, lambda entity: entity.update(recorded_at="later"))
    replace_entity(shared.raw, "suppression", suppression_key, lambda entity: entity.pop("alerted_at"))

    with pytest.raises(StateStorageError) as skipped:
        store.skipped()
    with pytest.raises(StateStorageError) as suppression:
        store.last_alerted(key)

    # Named as the SQLite store names them, so one runbook serves both.
    assert str(skipped.value) == (
        f"state table {store.where}: skipped range '2026-03-01T10:00:00.123456Z' to '2026-03-01T11:00:00.123456Z' "
        f"is unreadable (recorded_at 'later' is not a UTC time as the store writes it); "
        f"{remedy('skipped', skipped_key)}"
    )
    assert str(suppression.value) == (
        f"state table {store.where}: suppression row for key {key!r} is unreadable (alerted_at missing); "
        f"{remedy('suppression', suppression_key)}"
    )


def test_an_unreadable_run_note_entity_is_reported_naming_its_scoped_keys(shared: Shared) -> None:
    store = TableStateStore.from_service(
        TableServiceClient.from_connection_string(shared.connection_string), shared.name, scope=SCOPE
    )
    try:
        store.record_run(at=T0, error="HTTP 500")
        replace_entity(shared.raw, f"{SCOPE}.run", "last", lambda entity: entity.update(run_at=""))

        with pytest.raises(StateStorageError) as reading:
            store.last_run()
        with pytest.raises(StateStorageError, match="run_at '' is not a UTC time"):
            store.record_run(at=T0 + timedelta(hours=1), error="")
    finally:
        store.close()

    assert str(reading.value) == (
        f"state table {store.where}: the run note is unreadable (run_at '' is not a UTC time as the store writes it); "
        f"{remedy(f'{SCOPE}.run', 'last')}"
    )
    assert shared.raw.get_entity(f"{SCOPE}.run", "last")["run_at"] == ""
    assert shared.store.last_run() is None  # the unscoped stream has none of its own


def test_an_unreadable_scoped_outbox_entity_names_its_scoped_partition(shared: Shared) -> None:
    store = TableStateStore.from_service(
        TableServiceClient.from_connection_string(shared.connection_string), shared.name, scope=SCOPE
    )
    try:
        store.add_items([new("a1")])
        replace_entity(shared.raw, f"{SCOPE}.outbox", "a1:teams", lambda entity: entity.update(attempts="many"))

        with pytest.raises(StateStorageError) as reading:
            store.items()
    finally:
        store.close()

    assert str(reading.value).endswith(f"(attempts 'many' is not an integer); {remedy(f'{SCOPE}.outbox', 'a1:teams')}")


# -- requeue racing another runner ---------------------------------------------------------------------


class ActsBeforeTheFirstWrite(TableClient):
    """The real SDK client, letting another runner act between the store's read and its first write."""

    meanwhile: Callable[[], None] | None = None

    def update_entity(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if self.meanwhile is not None:
            act, self.meanwhile = self.meanwhile, None
            act()
        return super().update_entity(*args, **kwargs)


@pytest.mark.parametrize(
    ("meanwhile", "requeued", "final"),
    [
        ("delivered", [], ("delivered", 1, "HTTP 400")),
        ("requeued and claimed", [], ("pending", 1, "HTTP 400")),
        ("dead again", ["a1"], ("pending", 0, "HTTP 400 again")),
    ],
)
def test_requeue_decides_again_on_an_item_changed_between_its_read_and_write(
    shared: Shared, meanwhile: str, requeued: list[str], final: tuple[str, int, str]
) -> None:
    other = shared.store
    dead_items(other, "a1")
    [dead] = other.items()
    racy = ActsBeforeTheFirstWrite.from_connection_string(shared.connection_string, table_name=shared.name)
    store = TableStateStore(racy)
    later = T0 + timedelta(hours=1)

    def act() -> None:
        if meanwhile == "delivered":
            other.mark_delivered(dead, at=T0 + LEASE)
            return
        [again] = other.requeue(alert_ids=["a1"], now=later)
        claimed = other.claim(again, now=later, lease=LEASE)
        assert claimed is not None
        if meanwhile == "dead again":
            other.mark_failed(claimed, at=later, error="HTTP 400 again", retry_at=None)

    racy.meanwhile = act
    result = store.requeue(alert_ids=None, now=later + LEASE)
    store.close()

    assert [item.alert_id for item in result] == requeued
    [item] = other.items()
    assert (item.status, item.attempts, item.last_error) == final
    assert result in ([], [item])


# -- suppression times, recorded with the window -------------------------------------------------------


class CommitsBeforeTheCheckpointWrite(TableClient):
    """The real SDK client, letting another runner commit just before the store writes the checkpoint."""

    meanwhile: Callable[[], None] | None = None

    def create_entity(self, entity: Any, **kwargs: Any) -> dict[str, Any]:
        if self.meanwhile is not None and entity["PartitionKey"] == "checkpoint":
            act, self.meanwhile = self.meanwhile, None
            act()
        return super().create_entity(entity, **kwargs)


def test_a_race_lost_at_the_checkpoint_write_leaves_the_same_items_and_alerted_as_the_winner(shared: Shared) -> None:
    # Table storage cannot write several entities in one step that inserts only the absent ones: the
    # loser created its items and recorded its suppression times before its checkpoint write failed.
    # They are the winner's too (the same window gives the same alerts and the same keys and times),
    # and a suppression time only moves later, so the state is as if the winner alone had written.
    winner = shared.store
    key = "guest_contoso.com#EXT#@tenant.onmicrosoft.com|2001:db8::1"
    racy = CommitsBeforeTheCheckpointWrite.from_connection_string(shared.connection_string, table_name=shared.name)
    loser = TableStateStore(racy)
    committed: list[Checkpoint] = []
    racy.meanwhile = lambda: committed.append(
        winner.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={key: T0})
    )

    with pytest.raises(StateConflictError, match="another runner created the checkpoint first"):
        loser.commit_window(window_end=T0, items=[new("a1")], expected=None, alerted={key: T0})
    loser.close()

    assert winner.checkpoint() == committed[0]
    assert [(item.alert_id, item.attempts) for item in winner.items()] == [("a1", 0)]
    assert winner.last_alerted(key) == T0


def test_a_damaged_suppression_entity_is_reported_and_never_overwritten(shared: Shared) -> None:
    store = shared.store
    key = "user@x.example|10.0.0.1"
    store.remember_alerted(key, T0)
    row_key = hashlib.sha256(key.encode()).hexdigest()
    replace_entity(shared.raw, "suppression", row_key, lambda entity: entity.update(alerted_at="garbage"))

    with pytest.raises(StateStorageError, match="alerted_at 'garbage' is not a UTC time"):
        store.remember_alerted(key, T0 + timedelta(hours=1))
    with pytest.raises(StateStorageError, match="alerted_at 'garbage' is not a UTC time"):
        store.add_items([], alerted={key: T0 + timedelta(hours=1)})

    assert shared.raw.get_entity("suppression", row_key)["alerted_at"] == "garbage"
