"""Azure Table store specifics: key layout, payload parts, errors, and building the client from settings."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableServiceClient
from azure.identity import DefaultAzureCredential

from shared.errors import ConfigError
from shared.settings import Settings, load_settings
from shared.state import NewItem, StateStorageError
from shared.state.tables import TableStateStore, table_service_from_settings
from tests.harness.azurite import ACCOUNT_KEY, Azurite, unique_table_name

T0 = datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
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
