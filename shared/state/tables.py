"""The state in one Azure Table (the function's storage account, identity-based in Azure).

The entities (one table, five partitions per stream, a scope's after "<scope>.") are laid out in
``shared.state.table_entities``; the SDK's
errors are mapped in ``shared.state.table_errors``; the client is built from the settings in
``shared.state.table_client``.

Table storage has no multi-entity transaction that can insert only the absent rows, so
``commit_window`` creates the items first (an existing one is left untouched), then records the
suppression times (``alerted``), and only then moves the checkpoint with a conditional write on its
ETag. A runner that loses the race may have created items and recorded suppression times; they are
the same alerts, with the same ids, and the same keys and times, that the winner records, so nothing
is lost or doubled, and since a suppression time only ever moves later, no such write shortens one.
The checkpoint never moves before its window's items and suppression times exist.

Every conditional write is on the ETag read, so a change made meanwhile by another runner is never
overwritten: ``claim`` and ``mark_failed`` lose; ``mark_delivered``, ``requeue`` and suppression
writes re-read and decide again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, suppress
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient

from shared.errors import StateConflictError
from shared.state.base import (
    MAX_ERROR_CHARS,
    NO_ALERTED,
    Checkpoint,
    NewItem,
    OutboxItem,
    RunNote,
    SkippedRange,
    Status,
    conflict_message,
    missing_message,
    order_key,
    stale_message,
    utc,
)
from shared.state.preconditions import (
    check_alert_ids,
    check_alerted,
    check_key,
    check_lease,
    check_limit,
    check_new_items,
    check_run,
    check_status,
    check_window_end,
)
from shared.state.stored import storable_text, to_text
from shared.state.table_client import check_table_name
from shared.state.table_entities import (
    CHECKPOINT_ROW,
    RUN_NOTE_KEY,
    Partitions,
    key_hash,
    new_entity,
    read_alerted,
    read_checkpoint,
    read_item,
    read_run_note,
    read_skipped,
    row_key,
    skipped_entity,
    split_row_key,
)
from shared.state.table_errors import storage_errors, table_missing
from shared.state.table_writes import (
    create_absent,
    get_or_none,
    merge,
    merge_if_unchanged,
    move_checkpoint,
    record_run_note,
    remember_later,
    requeue_one,
)

logger = logging.getLogger(__name__)

# mark_delivered re-reads and retries when the item moved under it; each retry follows a real change
# by another runner, so a handful is plenty.
_DELIVERED_RETRIES: Final = 5


class _Closeable(Protocol):
    def close(self) -> None: ...


class TableStateStore:
    """``StateStore`` in the Azure Table behind ``table_client`` (the table must exist: see
    ``from_service`` / ``ensure_table``). ``close_also`` are closed with the store (a credential).
    ``scope`` (``SCOPE_PATTERN``) selects the stream: its partitions only; None is the unscoped one."""

    def __init__(
        self, table_client: TableClient, *, close_also: Sequence[_Closeable] = (), scope: str | None = None
    ) -> None:
        self._parts = Partitions.of(scope)  # first: a refused scope leaves nothing to close
        self.scope = scope
        self._table = table_client
        self._close_also = tuple(close_also)
        parts = urlsplit(table_client.url)
        # The URL may carry a SAS token in its query: name the table by scheme, host and path only.
        self.where = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/{table_client.table_name}"

    @classmethod
    def from_service(
        cls,
        service: TableServiceClient,
        table_name: str,
        *,
        create: bool = True,
        close_also: Sequence[_Closeable] = (),
        scope: str | None = None,
    ) -> TableStateStore:
        check_table_name(table_name)
        Partitions.of(scope)  # refuse a bad scope before a client is made
        store = cls(service.get_table_client(table_name), close_also=close_also, scope=scope)
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
            entity = get_or_none(self._table, self._parts.checkpoint, CHECKPOINT_ROW)
        return None if entity is None else read_checkpoint(entity, where=self.where)

    def commit_window(
        self,
        *,
        window_end: datetime,
        items: Sequence[NewItem],
        expected: Checkpoint | None,
        alerted: Mapping[str, datetime] = NO_ALERTED,
    ) -> Checkpoint:
        end = check_window_end(window_end, expected)
        check_new_items(items)
        times = check_alerted(alerted)
        entities = [new_entity(item, parts=self._parts, where=self.where) for item in items]
        # Cheap early check, so a stale runner usually writes nothing; the conditional write below
        # is what decides. It also reads the checkpoint in full: a damaged one stops the commit, and
        # the write is conditional on the version read, so it cannot replace one damaged meanwhile.
        current = self.checkpoint()
        found = None if current is None else current.version
        if found != (None if expected is None else expected.version):
            raise StateConflictError(conflict_message(expected, found))
        self._create_absent(entities)
        # Before the checkpoint moves, as the items are: once it has moved, the window's suppression
        # times are recorded too (a run stopped before it moved leaves the window to be done again).
        self._remember(times)
        with self._storage("moving the checkpoint"):
            metadata = move_checkpoint(self._table, end, expected, parts=self._parts)
        logger.debug("checkpoint moved to %s with %d outbox item(s)", end.isoformat(), len(items))
        return Checkpoint(end=end, version=metadata["etag"])

    def add_items(self, items: Sequence[NewItem], *, alerted: Mapping[str, datetime] = NO_ALERTED) -> None:
        check_new_items(items)
        times = check_alerted(alerted)
        self._create_absent([new_entity(item, parts=self._parts, where=self.where) for item in items])
        self._remember(times)

    def due(self, *, now: datetime, limit: int) -> list[OutboxItem]:
        check_limit(limit)
        due = self._query(
            "PartitionKey eq @pk and status eq 'pending' and next_attempt_at le @now",
            {"pk": self._parts.outbox, "now": to_text(now, name="now")},
            doing="reading due outbox items",
        )
        return sorted((read_item(entity, where=self.where) for entity in due), key=order_key)[:limit]

    def claim(self, item: OutboxItem, *, now: datetime, lease: timedelta) -> OutboxItem | None:
        check_lease(lease)
        if item.status != "pending":
            return None
        next_attempt = utc(now, name="now") + lease
        changes = {"attempts": item.attempts + 1, "next_attempt_at": to_text(next_attempt, name="now + lease")}
        with self._storage("claiming an outbox item"):
            metadata = merge_if_unchanged(self._table, item, changes, etag=item.version, parts=self._parts)
        if metadata is None:
            return None
        return replace(item, attempts=item.attempts + 1, next_attempt_at=next_attempt, version=metadata["etag"])

    def mark_delivered(self, item: OutboxItem, *, at: datetime) -> None:
        changes = {"status": "delivered", "delivered_at": to_text(at, name="at")}
        etag = item.version
        with self._storage("marking an outbox item delivered"):
            for _ in range(_DELIVERED_RETRIES):
                if merge_if_unchanged(self._table, item, changes, etag=etag, parts=self._parts) is not None:
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
                merge(self._table, item, changes, etag=item.version, parts=self._parts)
            except ResourceModifiedError:
                raise StateConflictError(stale_message(item)) from None
            except ResourceNotFoundError as missing:
                if table_missing(missing):
                    raise
                raise StateConflictError(missing_message(item)) from None

    def requeue(self, *, alert_ids: Sequence[str] | None, now: datetime) -> list[OutboxItem]:
        wanted = check_alert_ids(alert_ids)
        again = utc(now, name="now")
        if wanted is not None and not wanted:
            return []
        dead = self._query(
            "PartitionKey eq @pk and status eq 'dead'", {"pk": self._parts.outbox}, doing="reading dead outbox items"
        )
        # Every chosen item is read in full before any is written: an unreadable one changes nothing.
        chosen = [
            read_item(entity, where=self.where)
            for entity in dead
            if wanted is None or split_row_key(entity["RowKey"])[0] in wanted
        ]
        requeued = []
        with self._storage("requeueing dead outbox items"):
            for item in chosen:
                if (done := requeue_one(self._table, item, now=again, parts=self._parts, where=self.where)) is not None:
                    requeued.append(done)
        return sorted(requeued, key=order_key)

    def items(self, *, status: Status | None = None) -> list[OutboxItem]:
        check_status(status)
        parameters = {"pk": self._parts.outbox} | ({} if status is None else {"status": status})
        query = "PartitionKey eq @pk" + ("" if status is None else " and status eq @status")
        return sorted(
            (
                read_item(entity, where=self.where)
                for entity in self._query(query, parameters, doing="listing outbox items")
            ),
            key=order_key,
        )

    def record_skipped(self, *, start: datetime, end: datetime, reason: str, at: datetime) -> None:
        entity = skipped_entity(start=start, end=end, reason=reason, at=at, parts=self._parts)
        with self._storage("recording a skipped range"), suppress(ResourceExistsError):
            self._table.create_entity(entity)

    def skipped(self) -> list[SkippedRange]:
        entities = self._query("PartitionKey eq @pk", {"pk": self._parts.skipped}, doing="listing skipped ranges")
        ranges = [read_skipped(entity, where=self.where) for entity in entities]
        return sorted(ranges, key=lambda skipped: (skipped.start, skipped.end))

    def last_alerted(self, key: str) -> datetime | None:
        check_key(key)
        with self._storage("reading suppression"):
            entity = get_or_none(self._table, self._parts.suppression, key_hash(key))
        return None if entity is None else read_alerted(entity, key, where=self.where)

    def remember_alerted(self, key: str, at: datetime) -> None:
        check_key(key)
        at = utc(at, name="at")
        with self._storage("recording suppression"):
            remember_later(self._table, key, at, parts=self._parts, where=self.where)

    def record_run(self, *, at: datetime, error: str) -> None:
        at, error = check_run(at=at, error=error)
        with self._storage("recording the run note"):
            record_run_note(self._table, at=at, error=error, parts=self._parts, where=self.where)

    def last_run(self) -> RunNote | None:
        with self._storage("reading the run note"):
            entity = get_or_none(self._table, self._parts.run, RUN_NOTE_KEY)
        return None if entity is None else read_run_note(entity, where=self.where)

    def close(self) -> None:
        self._table.close()
        for resource in self._close_also:
            resource.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _create_absent(self, entities: Sequence[dict[str, Any]]) -> None:
        with self._storage("recording outbox items"):
            create_absent(self._table, entities)

    def _remember(self, alerted: Mapping[str, datetime]) -> None:
        with self._storage("recording suppression"):
            for key, at in alerted.items():
                remember_later(self._table, key, at, parts=self._parts, where=self.where)

    def _current(self, item: OutboxItem) -> Any | None:
        """The item's entity as stored now, or None when it is gone (a missing table still raises)."""
        return get_or_none(self._table, self._parts.outbox, row_key(item.alert_id, item.sink))

    def _query(self, query: str, parameters: dict[str, str], *, doing: str) -> list[Any]:
        with self._storage(doing):
            return list(self._table.query_entities(query, parameters=parameters))

    def _storage(self, doing: str) -> AbstractContextManager[None]:
        """Turn the SDK's errors into one ``StateStorageError`` naming the table and HTTP status."""
        return storage_errors(doing, where=self.where)
