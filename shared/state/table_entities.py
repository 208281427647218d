"""Entities of the Azure Table state: their keys, how each is written, and reading one back.

Layout, one table, five partitions per stream (``Partitions``):

    PartitionKey  RowKey                          what
    checkpoint    checkpoint                      window_end
    outbox        <alert_id>:<sink>               one item per alert and sink (payload in parts)
    skipped       <start>_<end>                   a range beyond the catch-up bound
    suppression   sha256(key)                     last alert time for a user + IP key
    run           last                            the run note: the latest run and the latest failure

A scoped stream's partitions are the same names after "<scope>." (``S.checkpoint``, ``S.outbox``, ...);
the unscoped stream keeps the bare names, so a table written before scopes existed reads as it was.

Times are stored as fixed-width ISO 8601 text: exact to the microsecond, and comparable with
``le`` in a filter. Strings over 64 KiB cannot be stored in one property, so payloads are split.
The store (``shared.state.tables``) does the reads and writes; nothing here contacts the service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from azure.data.tables import EntityProperty

from shared.display import shown
from shared.state.base import (
    MAX_ERROR_CHARS,
    Checkpoint,
    NewItem,
    OutboxItem,
    RunNote,
    SkippedRange,
    StateStorageError,
    check_scope,
    outbox_row_name,
)
from shared.state.stored import MISSING, RUN_NOTE_ROW, StoredRow, storable_text, suppression_row_name, to_text

CHECKPOINT_ROW: Final = "checkpoint"
RUN_NOTE_KEY: Final = "last"


@dataclass(frozen=True)
class Partitions:
    """The PartitionKeys of one stream's state: the bare names, or each after "<scope>."."""

    checkpoint: str = "checkpoint"
    outbox: str = "outbox"
    skipped: str = "skipped"
    suppression: str = "suppression"
    run: str = "run"

    @classmethod
    def of(cls, scope: str | None) -> Partitions:
        """The partitions of ``scope`` (None: unscoped); ValueError for a scope ``SCOPE_PATTERN`` refuses."""
        if check_scope(scope) is None:
            return cls()
        return cls(**{name: f"{scope}.{bare}" for name, bare in vars(cls()).items()})


# A string property holds at most 64 KiB of UTF-16; an entity at most 1 MiB in all.
_PART_UNITS: Final = 32_000
MAX_PAYLOAD_BYTES: Final = 960 * 1024


def row_key(alert_id: str, sink: str) -> str:
    # Sink names contain no ':', so this is unambiguous; both parts are key-safe (check_new_item).
    return f"{alert_id}:{sink}"


def split_row_key(row_key: str) -> tuple[str, str]:
    alert_id, _, sink = row_key.rpartition(":")
    return alert_id, sink


def key_hash(key: str) -> str:
    # Suppression keys hold UPNs, and guest UPNs contain '#', which a RowKey forbids. Any str is a
    # key: "surrogatepass" encodes a lone surrogate too (and every other key exactly as UTF-8 does).
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def field(entity: Mapping[str, Any], name: str) -> object:
    # The SDK wraps some typed values (e.g. Edm.Int64) in EntityProperty; a missing one is MISSING.
    value = entity.get(name, MISSING)
    return value.value if isinstance(value, EntityProperty) else value


def split_payload(payload: str) -> list[str]:
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


def new_entity(item: NewItem, *, parts: Partitions, where: str) -> dict[str, Any]:
    """The outbox entity for a new item (checked by ``check_new_item``): pending, due at once."""
    size = len(item.payload.encode("utf-16-le", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise StateStorageError(
            f"state table {where}: alert {item.alert_id} for sink {item.sink} is {size} bytes as UTF-16, "
            f"over the {MAX_PAYLOAD_BYTES} bytes an Azure Table entity can hold",
            where=where,
        )
    created = to_text(item.created_at, name="created_at")
    pieces = split_payload(item.payload)
    return {
        "PartitionKey": parts.outbox,
        "RowKey": row_key(item.alert_id, item.sink),
        "alert_id": item.alert_id,
        "sink": item.sink,
        "created_at": created,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": created,
        "last_error": "",
        "delivered_at": "",
        "last_failed_at": "",
        "payload_parts": len(pieces),
        **{f"payload_{index}": piece for index, piece in enumerate(pieces)},
    }


def checkpoint_entity(end: datetime, *, parts: Partitions) -> dict[str, Any]:
    return {"PartitionKey": parts.checkpoint, "RowKey": CHECKPOINT_ROW, "window_end": to_text(end, name="window_end")}


def skipped_entity(*, start: datetime, end: datetime, reason: str, at: datetime, parts: Partitions) -> dict[str, Any]:
    start_text, end_text = to_text(start, name="start"), to_text(end, name="end")
    return {
        "PartitionKey": parts.skipped,
        "RowKey": f"{start_text}_{end_text}",
        "range_start": start_text,
        "range_end": end_text,
        "reason": storable_text(reason, limit=MAX_ERROR_CHARS),
        "recorded_at": to_text(at, name="at"),
    }


def suppression_entity(key: str, at: datetime, *, parts: Partitions) -> dict[str, Any]:
    return {
        "PartitionKey": parts.suppression,
        "RowKey": key_hash(key),
        "key": storable_text(key, limit=MAX_ERROR_CHARS),  # a copy for people; the RowKey hash is the key
        "alerted_at": to_text(at, name="alerted time"),
    }


def run_note_entity(note: RunNote, *, parts: Partitions) -> dict[str, Any]:
    return {
        "PartitionKey": parts.run,
        "RowKey": RUN_NOTE_KEY,
        "run_at": to_text(note.at, name="at"),
        "error": note.error,
        "failed_at": "" if note.failed_at is None else to_text(note.failed_at, name="failed_at"),
        "failure": note.failure,
    }


def stored_row(row: str, entity: Mapping[str, Any], *, where: str) -> StoredRow:
    # Named by the entity's own keys: exactly what a person looks up in the table, scope included.
    partition, row_key = entity["PartitionKey"], entity["RowKey"]
    return StoredRow(
        place=f"state table {where}",
        where=where,
        row=row,
        remedy=(
            f"restore the table from a backup, or fix or delete the entity "
            f"(PartitionKey {partition!r}, RowKey {row_key!r})"
        ),
    )


def read_checkpoint(entity: Any, *, where: str) -> Checkpoint:
    stored = stored_row("the checkpoint", entity, where=where)
    return Checkpoint(end=stored.time("window_end", field(entity, "window_end")), version=entity.metadata["etag"])


def read_item(entity: Any, *, where: str) -> OutboxItem:
    key = entity["RowKey"]
    stored = stored_row(outbox_row_name(*split_row_key(key)), entity, where=where)
    parts = stored.integer("payload_parts", field(entity, "payload_parts"))
    if parts < 1:  # every item is written with at least one part, "" for an empty payload
        raise stored.damaged("payload_parts", parts, "a positive integer")
    return OutboxItem(
        alert_id=stored.text("alert_id", field(entity, "alert_id")),
        sink=stored.text("sink", field(entity, "sink")),
        payload="".join(stored.text(f"payload_{n}", field(entity, f"payload_{n}")) for n in range(parts)),
        created_at=stored.time("created_at", field(entity, "created_at")),
        status=stored.status("status", field(entity, "status")),
        attempts=stored.integer("attempts", field(entity, "attempts")),
        next_attempt_at=stored.time("next_attempt_at", field(entity, "next_attempt_at")),
        last_error=stored.text("last_error", entity.get("last_error", "")),
        delivered_at=stored.optional_time("delivered_at", entity.get("delivered_at", "")),
        version=entity.metadata["etag"],
        last_failed_at=stored.optional_time("last_failed_at", entity.get("last_failed_at", "")),
    )


def read_skipped(entity: Mapping[str, Any], *, where: str) -> SkippedRange:
    # The RowKey is "<start>_<end>" (time texts hold no "_"): name the row as SQLite does.
    start, _, end = entity["RowKey"].partition("_")
    stored = stored_row(f"skipped range {shown(start)} to {shown(end)}", entity, where=where)
    return SkippedRange(
        start=stored.time("range_start", field(entity, "range_start")),
        end=stored.time("range_end", field(entity, "range_end")),
        reason=stored.text("reason", field(entity, "reason")),
        recorded_at=stored.time("recorded_at", field(entity, "recorded_at")),
    )


def read_alerted(entity: Mapping[str, Any], key: str, *, where: str) -> datetime:
    stored = stored_row(suppression_row_name(key), entity, where=where)
    return stored.time("alerted_at", field(entity, "alerted_at"))


def read_run_note(entity: Mapping[str, Any], *, where: str) -> RunNote:
    stored = stored_row(RUN_NOTE_ROW, entity, where=where)
    return RunNote(
        at=stored.time("run_at", field(entity, "run_at")),
        error=stored.text("error", field(entity, "error")),
        failed_at=stored.optional_time("failed_at", field(entity, "failed_at")),
        failure=stored.text("failure", field(entity, "failure")),
    )
