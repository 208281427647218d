"""The state in one Azure Table (the function's storage account, identity-based in Azure).

Layout, one table, four partitions:

    PartitionKey  RowKey                          what
    checkpoint    checkpoint                      window_end
    outbox        <alert_id>:<sink>               one item per alert and sink (payload in parts)
    skipped       <start>_<end>                   a range beyond the catch-up bound
    suppression   sha256(key)                     last alert time for a user + IP key

Table storage has no multi-entity transaction that can insert only the absent rows, so
``commit_window`` creates the items first (an existing one is left untouched) and then moves the
checkpoint with a conditional write on its ETag. A runner that loses the race may have created
items; they are the same alerts, with the same ids, that the winner recorded, so nothing is lost or
doubled. The checkpoint never moves before its window's items exist.

Times are stored as fixed-width ISO 8601 text: exact to the microsecond, and comparable with
``le`` in a filter. Strings over 64 KiB cannot be stored in one property, so payloads are split.

Every conditional write is on the ETag read, so a change made meanwhile by another runner is never
overwritten: ``claim`` and ``mark_failed`` lose, ``mark_delivered`` and ``requeue`` re-read and decide
again.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import EntityProperty, TableClient, TableServiceClient, UpdateMode

from shared.display import shown
from shared.errors import ConfigError, StateConflictError
from shared.state.base import (
    MAX_ERROR_CHARS,
    MISSING,
    Checkpoint,
    NewItem,
    OutboxItem,
    SkippedRange,
    StateStorageError,
    Status,
    StoredRow,
    check_alert_ids,
    check_key,
    check_new_item,
    check_status,
    check_window_end,
    conflict_message,
    missing_message,
    order_key,
    outbox_row_name,
    stale_message,
    storable_text,
    to_text,
    utc,
)

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)

CHECKPOINT: Final = "checkpoint"
OUTBOX: Final = "outbox"
SKIPPED: Final = "skipped"
SUPPRESSION: Final = "suppression"

# A string property holds at most 64 KiB of UTF-16; an entity at most 1 MiB in all.
_PART_UNITS: Final = 32_000
_MAX_PAYLOAD_BYTES: Final = 960 * 1024
# mark_delivered and requeue re-read and retry when the item moved under them; each retry follows
# a real change by another runner, so a handful is plenty.
_DELIVERED_RETRIES: Final = 5
_REQUEUE_RETRIES: Final = 5

TABLE_NAME_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
ACCOUNT_NAME_PATTERN: Final = re.compile(r"[a-z0-9]{3,24}")

# Entra ID audiences for sovereign clouds; the SDK's default is the public cloud's.
_AUDIENCES: Final = {
    ".core.usgovcloudapi.net": "https://storage.azure.us",
    ".core.chinacloudapi.cn": "https://storage.azure.cn",
}


class _Closeable(Protocol):
    def close(self) -> None: ...


class TableStateStore:
    """``StateStore`` in the Azure Table behind ``table_client`` (the table must exist: see
    ``from_service`` / ``ensure_table``). ``close_also`` are closed with the store (a credential)."""

    def __init__(self, table_client: TableClient, *, close_also: Sequence[_Closeable] = ()) -> None:
        self._table = table_client
        self._close_also = tuple(close_also)
        parts = urlsplit(table_client.url)
        # The URL may carry a SAS token in its query: name the table by scheme, host and path only.
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/{table_client.table_name}"

    @classmethod
    def from_service(
        cls, service: TableServiceClient, table_name: str, *, create: bool = True, close_also: Sequence[_Closeable] = ()
    ) -> TableStateStore:
        check_table_name(table_name)
        store = cls(service.get_table_client(table_name), close_also=close_also)
        if create:
            store.ensure_table()
        return store

    def ensure_table(self) -> None:
        """Create the table unless it exists. An identity allowed to use but not to create tables
        (a role scoped to the table, as infra/ assigns) goes on, and gets a clear error later if
        the table is really missing."""
        with self._storage("creating the table"):
            try:
                self._table.create_table()
            except ResourceExistsError:
                return
            except HttpResponseError as error:
                if error.status_code != 403:
                    raise
                # As infra/ deploys it: the table exists and the role is scoped to that one table, so
                # creating tables is refused on every run. Not a warning; a missing table errors later.
                logger.info("state table %s: may not create tables (HTTP 403); using it as it is", self.where)

    # -- StateStore -----------------------------------------------------------------------------

    def checkpoint(self) -> Checkpoint | None:
        with self._storage("reading the checkpoint"):
            try:
                entity = self._table.get_entity(CHECKPOINT, CHECKPOINT)
            except ResourceNotFoundError as error:
                if _table_missing(error):
                    raise
                return None
        stored = self._row("the checkpoint", CHECKPOINT, CHECKPOINT)
        return Checkpoint(end=stored.time("window_end", _field(entity, "window_end")), version=entity.metadata["etag"])

    def commit_window(
        self, *, window_end: datetime, items: Sequence[NewItem], expected: Checkpoint | None
    ) -> Checkpoint:
        end = check_window_end(window_end, expected)
        entities = [_new_entity(item, where=self.where) for item in items]
        # Cheap early check, so a stale runner usually writes nothing; the conditional write below
        # is what decides. It also reads the checkpoint in full: a damaged one stops the commit, and
        # the write is conditional on the version read, so it cannot replace one damaged meanwhile.
        current = self.checkpoint()
        found = None if current is None else current.version
        if found != (None if expected is None else expected.version):
            raise StateConflictError(conflict_message(expected, found))
        self._create_absent(entities)
        checkpoint = {"PartitionKey": CHECKPOINT, "RowKey": CHECKPOINT, "window_end": to_text(end, name="window_end")}
        with self._storage("moving the checkpoint"):
            try:
                if expected is None:
                    metadata = self._table.create_entity(checkpoint)
                else:
                    metadata = self._table.update_entity(
                        checkpoint,
                        mode=UpdateMode.REPLACE,
                        etag=expected.version,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as error:
                if _table_missing(error):
                    raise
                raise StateConflictError(
                    "state conflict: another runner created the checkpoint first"
                    if expected is None
                    else f"state conflict: checkpoint version {expected.version} changed while committing; "
                    "another runner committed first"
                ) from None
        logger.debug("checkpoint moved to %s with %d outbox item(s)", end.isoformat(), len(items))
        return Checkpoint(end=end, version=metadata["etag"])

    def add_items(self, items: Sequence[NewItem]) -> None:
        self._create_absent([_new_entity(item, where=self.where) for item in items])

    def due(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        due = self._query(
            "PartitionKey eq @pk and status eq 'pending' and next_attempt_at le @now",
            {"pk": OUTBOX, "now": to_text(now, name="now")},
            doing="reading due outbox items",
        )
        return sorted((self._item(entity) for entity in due), key=order_key)[:limit]

    def claim(self, item: OutboxItem, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        if lease <= timedelta(0):
            raise ValueError(f"lease must be positive, got {lease}")
        if item.status != "pending":
            return None
        next_attempt = utc(now, name="now") + lease
        changes = {"attempts": item.attempts + 1, "next_attempt_at": to_text(next_attempt, name="now + lease")}
        with self._storage("claiming an outbox item"):
            metadata = self._merge_if_unchanged(item, changes, etag=item.version)
        if metadata is None:
            return None
        return replace(item, attempts=item.attempts + 1, next_attempt_at=next_attempt, version=metadata["etag"])

    def mark_delivered(self, item: OutboxItem, *, at: datetime) -> None:
        changes = {"status": "delivered", "delivered_at": to_text(at, name="at")}
        etag = item.version
        with self._storage("marking an outbox item delivered"):
            for _ in range(_DELIVERED_RETRIES):
                if self._merge_if_unchanged(item, changes, etag=etag) is not None:
                    return
                current = self._current(item)
                if current is None:
                    raise StateConflictError(missing_message(item))
                if current["status"] == "delivered":
                    return
                etag = current.metadata["etag"]
        raise StateConflictError(f"{stale_message(item)} ({_DELIVERED_RETRIES} times in a row)")

    def mark_failed(self, item: OutboxItem, *, at: datetime, error: str, retry_at: datetime | None) -> None:
        changes = {
            "status": "dead" if retry_at is None else "pending",
            "last_error": storable_text(error, limit=MAX_ERROR_CHARS),
            "last_failed_at": to_text(at, name="at"),
        }
        if retry_at is not None:
            changes["next_attempt_at"] = to_text(retry_at, name="retry_at")
        with self._storage("recording a failed delivery"):
            try:
                self._merge(item, changes, etag=item.version)
            except ResourceModifiedError:
                raise StateConflictError(stale_message(item)) from None
            except ResourceNotFoundError as missing:
                if _table_missing(missing):
                    raise
                raise StateConflictError(missing_message(item)) from None

    def requeue(self, *, alert_ids: Sequence[str] | None, now: datetime) -> list[OutboxItem]:
        wanted = check_alert_ids(alert_ids)
        again = utc(now, name="now")
        if wanted is not None and not wanted:
            return []
        dead = self._query(
            "PartitionKey eq @pk and status eq 'dead'", {"pk": OUTBOX}, doing="reading dead outbox items"
        )
        # Every chosen item is read in full before any is written: an unreadable one changes nothing.
        chosen = [
            self._item(entity) for entity in dead if wanted is None or _split_row_key(entity["RowKey"])[0] in wanted
        ]
        requeued = []
        with self._storage("requeueing dead outbox items"):
            for item in chosen:
                if (done := self._requeue_one(item, now=again)) is not None:
                    requeued.append(done)
        return sorted(requeued, key=order_key)

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        check_status(status)
        parameters = {"pk": OUTBOX} if status is None else {"pk": OUTBOX, "status": status}
        query = "PartitionKey eq @pk" + ("" if status is None else " and status eq @status")
        return sorted(
            (self._item(entity) for entity in self._query(query, parameters, doing="listing outbox items")),
            key=order_key,
        )

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        start_text, end_text = to_text(start, name="start"), to_text(end, name="end")
        entity = {
            "PartitionKey": SKIPPED,
            "RowKey": f"{start_text}_{end_text}",
            "range_start": start_text,
            "range_end": end_text,
            "reason": storable_text(reason, limit=MAX_ERROR_CHARS),
            "recorded_at": to_text(at, name="at"),
        }
        with self._storage("recording a skipped range"), suppress(ResourceExistsError):
            self._table.create_entity(entity)

    def skipped(self) -> list[SkippedRange]:
        entities = self._query("PartitionKey eq @pk", {"pk": SKIPPED}, doing="listing skipped ranges")
        ranges = []
        for entity in entities:
            # The RowKey is "<start>_<end>" (time texts hold no "_"): name the row as SQLite does.
            start, _, end = entity["RowKey"].partition("_")
            stored = self._row(f"skipped range {shown(start)} to {shown(end)}", SKIPPED, entity["RowKey"])
            ranges.append(
                SkippedRange(
                    start=stored.time("range_start", _field(entity, "range_start")),
                    end=stored.time("range_end", _field(entity, "range_end")),
                    reason=stored.text("reason", _field(entity, "reason")),
                    recorded_at=stored.time("recorded_at", _field(entity, "recorded_at")),
                )
            )
        return sorted(ranges, key=lambda skipped: (skipped.start, skipped.end))

    def last_alerted(self, key: str) -> datetime | None:
        check_key(key)
        with self._storage("reading suppression"):
            try:
                entity = self._table.get_entity(SUPPRESSION, _key_hash(key))
            except ResourceNotFoundError as error:
                if _table_missing(error):
                    raise
                return None
        stored = self._row(f"suppression row for key {shown(key)}", SUPPRESSION, entity["RowKey"])
        return stored.time("alerted_at", _field(entity, "alerted_at"))

    def remember_alerted(self, key: str, at: datetime) -> None:
        check_key(key)
        entity = {
            "PartitionKey": SUPPRESSION,
            "RowKey": _key_hash(key),
            "key": storable_text(key, limit=MAX_ERROR_CHARS),  # a copy for people; the RowKey hash is the key
            "alerted_at": to_text(at, name="at"),
        }
        with self._storage("recording suppression"):
            self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    def close(self) -> None:
        self._table.close()
        for resource in self._close_also:
            resource.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _create_absent(self, entities: Sequence[dict[str, Any]]) -> None:
        with self._storage("recording outbox items"):
            for entity in entities:
                with suppress(ResourceExistsError):  # insert only if absent: never reset an item
                    self._table.create_entity(entity)

    def _requeue_one(self, item: OutboxItem, *, now: datetime) -> OutboxItem | None:
        """``item`` (dead when read) pending again, or None when it is no longer dead or is gone."""
        changes = {"status": "pending", "attempts": 0, "next_attempt_at": to_text(now, name="now")}
        for _ in range(_REQUEUE_RETRIES):
            metadata = self._merge_if_unchanged(item, changes, etag=item.version)
            if metadata is not None:
                return replace(item, status="pending", attempts=0, next_attempt_at=now, version=metadata["etag"])
            # It changed since it was read: decide again on what it is now, so a delivery made
            # meanwhile is never undone and an item another runner requeued is not reset again.
            entity = self._current(item)
            if entity is None:
                return None
            item = self._item(entity)
            if item.status != "dead":
                return None
        logger.warning(
            "state table %s: outbox item %s for sink %s changed %d times in a row while requeueing; left as it is",
            self.where,
            item.alert_id,
            item.sink,
            _REQUEUE_RETRIES,
        )
        return None

    def _row(self, row: str, partition: str, row_key: str) -> StoredRow:
        return StoredRow(
            place=f"state table {self.where}",
            where=self.where,
            row=row,
            remedy=(
                f"restore the table from a backup, or fix or delete the entity "
                f"(PartitionKey {partition!r}, RowKey {row_key!r})"
            ),
        )

    def _item(self, entity: Mapping[str, Any]) -> OutboxItem:
        row_key = entity["RowKey"]
        stored = self._row(outbox_row_name(*_split_row_key(row_key)), OUTBOX, row_key)
        parts = stored.integer("payload_parts", _field(entity, "payload_parts"))
        if parts < 1:  # every item is written with at least one part, "" for an empty payload
            raise stored.damaged("payload_parts", parts, "a positive integer")
        return OutboxItem(
            alert_id=stored.text("alert_id", _field(entity, "alert_id")),
            sink=stored.text("sink", _field(entity, "sink")),
            payload="".join(stored.text(f"payload_{n}", _field(entity, f"payload_{n}")) for n in range(parts)),
            created_at=stored.time("created_at", _field(entity, "created_at")),
            status=stored.status("status", _field(entity, "status")),
            attempts=stored.integer("attempts", _field(entity, "attempts")),
            next_attempt_at=stored.time("next_attempt_at", _field(entity, "next_attempt_at")),
            last_error=stored.text("last_error", entity.get("last_error", "")),
            delivered_at=stored.optional_time("delivered_at", entity.get("delivered_at", "")),
            version=entity.metadata["etag"],
            last_failed_at=stored.optional_time("last_failed_at", entity.get("last_failed_at", "")),
        )

    def _merge(self, item: OutboxItem, changes: Mapping[str, Any], *, etag: str) -> dict[str, Any]:
        entity = {"PartitionKey": OUTBOX, "RowKey": _row_key(item.alert_id, item.sink), **changes}
        return self._table.update_entity(
            entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified
        )

    def _merge_if_unchanged(self, item: OutboxItem, changes: Mapping[str, Any], *, etag: str) -> dict[str, Any] | None:
        """Merge ``changes`` into the item if it is still as ``etag`` says: the new metadata, or None
        when it changed or is gone since (a missing table still raises)."""
        try:
            return self._merge(item, changes, etag=etag)
        except (ResourceModifiedError, ResourceNotFoundError) as error:
            if _table_missing(error):
                raise
            return None

    def _current(self, item: OutboxItem) -> Any | None:
        """The item's entity as stored now, or None when it is gone (a missing table still raises)."""
        try:
            return self._table.get_entity(OUTBOX, _row_key(item.alert_id, item.sink))
        except ResourceNotFoundError as error:
            if _table_missing(error):
                raise
            return None

    def _query(self, query: str, parameters: dict[str, str], *, doing: str) -> list[Any]:
        with self._storage(doing):
            return list(self._table.query_entities(query, parameters=parameters))

    @contextmanager
    def _storage(self, doing: str) -> Iterator[None]:
        """Turn the SDK's errors into one ``StateStorageError`` naming the table and HTTP status."""
        try:
            yield
        except AzureError as error:
            raise _describe(error, doing=doing, where=self.where) from None


def _describe(error: AzureError, *, doing: str, where: str) -> StateStorageError:
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        status = error.status_code
        code = getattr(error, "error_code", None) or error.reason or ""
        code = getattr(code, "value", code)  # the SDK's TableErrorCode enum -> "TableNotFound"
        return StateStorageError(
            f"state table {where}: {doing} failed: HTTP {status} {code}{_hint(status, str(code))}",
            where=where,
            status=status,
        )
    # Transport errors quote the request URL, which may carry a SAS token: name the kind only.
    text = str(error).lower()
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        kind = next(
            (phrase for marker, phrase in _TRANSPORT_PHRASES if marker in text), "the request could not be sent"
        )
    else:
        kind = type(error).__name__
    return StateStorageError(f"state table {where}: {doing} failed: {kind}", where=where)


_TRANSPORT_PHRASES: Final = (
    ("connection refused", "connection refused (is the storage endpoint right, and is it running?)"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("timed out", "timed out"),
    ("timeout", "timed out"),
    ("certificate", "TLS certificate rejected"),
)


def _hint(status: int, code: str) -> str:
    if status in (401, 403):
        return (
            "; the function's identity needs 'Storage Table Data Contributor' on the storage account "
            "(or the key / SAS in AzureWebJobsStorage is wrong or expired)"
        )
    if code == "TableNotFound":
        return "; the table does not exist and could not be created (create it, or let the identity create tables)"
    if status in (429, 500, 503):
        return "; storage is busy or unavailable, the next run retries"
    return ""


def _table_missing(error: HttpResponseError) -> bool:
    return getattr(error, "error_code", None) == "TableNotFound"


def check_table_name(name: str) -> None:
    if not TABLE_NAME_PATTERN.fullmatch(name) or name.lower() == "tables":
        raise ConfigError(
            f"MFA_STATE_TABLE: {name!r} is not a valid Azure Table name "
            "(3-63 letters and digits, starting with a letter, not 'tables')"
        )


def _row_key(alert_id: str, sink: str) -> str:
    # Sink names contain no ':', so this is unambiguous; both parts are key-safe (check_new_item).
    return f"{alert_id}:{sink}"


def _split_row_key(row_key: str) -> tuple[str, str]:
    alert_id, _, sink = row_key.rpartition(":")
    return alert_id, sink


def _key_hash(key: str) -> str:
    # Suppression keys hold UPNs, and guest UPNs contain '#', which a RowKey forbids. Any str is a
    # key: "surrogatepass" encodes a lone surrogate too (and every other key exactly as UTF-8 does).
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _field(entity: Mapping[str, Any], name: str) -> object:
    # The SDK wraps some typed values (e.g. Edm.Int64) in EntityProperty; a missing one is MISSING.
    value = entity.get(name, MISSING)
    return value.value if isinstance(value, EntityProperty) else value


def _split_payload(payload: str) -> list[str]:
    parts: list[str] = []
    start = units = 0
    for index, char in enumerate(payload):
        width = 2 if ord(char) > 0xFFFF else 1
        if units + width > _PART_UNITS:
            parts.append(payload[start:index])
            start, units = index, 0
        units += width
    parts.append(payload[start:])
    return parts


def _new_entity(item: NewItem, *, where: str) -> dict[str, Any]:
    check_new_item(item)
    size = len(item.payload.encode("utf-16-le", "surrogatepass"))
    if size > _MAX_PAYLOAD_BYTES:
        raise StateStorageError(
            f"state table {where}: alert {item.alert_id} for sink {item.sink} is {size} bytes as UTF-16, "
            f"over the {_MAX_PAYLOAD_BYTES} bytes an Azure Table entity can hold",
            where=where,
        )
    created = to_text(item.created_at, name="created_at")
    parts = _split_payload(item.payload)
    return {
        "PartitionKey": OUTBOX,
        "RowKey": _row_key(item.alert_id, item.sink),
        "alert_id": item.alert_id,
        "sink": item.sink,
        "created_at": created,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created,
        "last_error": "",
        "delivered_at": "",
        "last_failed_at": "",
        "payload_parts": len(parts),
        **{f"payload_{index}": part for index, part in enumerate(parts)},
    }


# -- building the client from settings ------------------------------------------------------------


def table_service_from_settings(
    settings: Settings, *, retry_total: int = 3, connection_timeout: float = 10.0, read_timeout: float = 30.0
) -> TableServiceClient:
    """The Table service client for the function's storage account.

    ``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite on
    127.0.0.1:10002) wins when set, as in the Functions host; otherwise the identity-based
    ``AzureWebJobsStorage__tableServiceUri`` or ``AzureWebJobsStorage__accountName`` with
    ``DefaultAzureCredential`` (``AZURE_CLIENT_ID`` picks a user-assigned identity; the client's
    ``credential`` is then that object, for the caller to close).
    Raises ``ConfigError`` naming the setting; nothing here contacts the service.
    """
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout,
    }
    secret = settings.storage_connection_string
    connection_string = secret.get_secret_value().strip() if secret is not None else ""
    if connection_string:
        return _from_connection_string(connection_string, options)
    if settings.storage_table_service_uri:
        endpoint = settings.storage_table_service_uri.rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname or parts.query:
            raise ConfigError(
                "AzureWebJobsStorage__tableServiceUri: must be the https URL of the Table service "
                f"(https://<account>.table.core.windows.net), got {parts.scheme}://{parts.hostname or ''}"
            )
        setting = "AzureWebJobsStorage__tableServiceUri"
    elif settings.storage_account_name:
        account = settings.storage_account_name
        if not ACCOUNT_NAME_PATTERN.fullmatch(account):
            raise ConfigError(
                f"AzureWebJobsStorage__accountName: {account!r} is not a storage account name "
                "(3-24 lowercase letters and digits)"
            )
        endpoint = f"https://{account}.table.core.windows.net"
        setting = "AzureWebJobsStorage__accountName"
    else:
        raise ConfigError(
            "MFA_STATE=table needs the storage account: set AzureWebJobsStorage__accountName (managed identity), "
            "AzureWebJobsStorage__tableServiceUri, or AzureWebJobsStorage (a connection string; "
            "UseDevelopmentStorage=true for Azurite)"
        )
    # Imported here: azure-identity is only needed for identity-based access.
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
    host = urlsplit(endpoint).hostname or ""
    audience = next((value for suffix, value in _AUDIENCES.items() if host.endswith(suffix)), None)
    if audience is not None:
        options["audience"] = audience
    try:
        return TableServiceClient(endpoint, credential=credential, **options)
    except ValueError as error:
        credential.close()
        raise ConfigError(f"{setting}: unusable Table service endpoint {endpoint}: {error}") from None


def _from_connection_string(connection_string: str, options: dict[str, Any]) -> TableServiceClient:
    try:
        return TableServiceClient.from_connection_string(connection_string, **options)
    except (ValueError, AzureError):
        # The SDK's message may quote parts of the string, and the string holds the account key.
        names = sorted({part.split("=", 1)[0].strip() for part in connection_string.split(";") if "=" in part})
        raise ConfigError(
            "AzureWebJobsStorage: not a usable storage connection string "
            f"(settings present: {', '.join(names) or 'none'}; expected AccountName and AccountKey, "
            "a SharedAccessSignature with TableEndpoint, or UseDevelopmentStorage=true)"
        ) from None
