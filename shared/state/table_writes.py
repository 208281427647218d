"""The Azure Table state's reads and writes of single entities, each write conditional on what was read.

An answer that means "another runner changed or created it meanwhile" is decided here (None, a fresh
read and another try, or ``StateConflictError``); every other SDK error is left for the store to map
with ``storage_errors``. A missing table is never taken for a missing entity: it still raises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.errors import StateConflictError
from shared.state.base import Checkpoint, OutboxItem, next_run_note
from shared.state.stored import RUN_NOTE_ROW, suppression_row_name, to_text
from shared.state.table_entities import (
    RUN_NOTE_KEY,
    Partitions,
    checkpoint_entity,
    read_alerted,
    read_item,
    read_run_note,
    row_key,
    run_note_entity,
    suppression_entity,
)
from shared.state.table_errors import table_missing

logger = logging.getLogger(__name__)

# A suppression or run note write re-reads and retries when the entity moved under it; each retry
# follows a real change by another runner, so a handful is plenty. Each runner writes the run note at
# most once, so a runner loses at most once per other runner recording a run of the stream at once.
_SUPPRESSION_RETRIES: Final = 5
_RUN_NOTE_RETRIES: Final = 10
# requeue likewise, for each dead item.
_REQUEUE_RETRIES: Final = 5


def get_or_none(table: TableClient, partition: str, key: str) -> Any | None:
    """The entity as stored now, or None when there is none (a missing table still raises)."""
    try:
        return table.get_entity(partition, key)
    except ResourceNotFoundError as error:
        if table_missing(error):
            raise
        return None


def create_absent(table: TableClient, entities: Sequence[dict[str, Any]]) -> None:
    for entity in entities:
        with suppress(ResourceExistsError):  # insert only if absent: never reset an item
            table.create_entity(entity)


def merge(
    table: TableClient, item: OutboxItem, changes: Mapping[str, Any], *, etag: str, parts: Partitions
) -> dict[str, Any]:
    entity = {"PartitionKey": parts.outbox, "RowKey": row_key(item.alert_id, item.sink), **changes}
    return table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)


def merge_if_unchanged(
    table: TableClient, item: OutboxItem, changes: Mapping[str, Any], *, etag: str, parts: Partitions
) -> dict[str, Any] | None:
    """Merge ``changes`` into the item if it is still as ``etag`` says: the new metadata, or None
    when it changed or is gone since (a missing table still raises)."""
    try:
        return merge(table, item, changes, etag=etag, parts=parts)
    except (ResourceModifiedError, ResourceNotFoundError) as error:
        if table_missing(error):
            raise
        return None


def requeue_one(
    table: TableClient, item: OutboxItem, *, now: datetime, parts: Partitions, where: str
) -> OutboxItem | None:
    """``item`` (dead when read) pending again, or None when it is no longer dead or is gone."""
    changes = {"status": "pending", "attempts": 0, "next_attempt_at": to_text(now, name="now")}
    for _ in range(_REQUEUE_RETRIES):
        metadata = merge_if_unchanged(table, item, changes, etag=item.version, parts=parts)
        if metadata is not None:
            return replace(item, status="pending", attempts=0, next_attempt_at=now, version=metadata["etag"])
        # It changed since it was read: decide again on what it is now, so a delivery made
        # meanwhile is never undone and an item another runner requeued is not reset again.
        entity = get_or_none(table, parts.outbox, row_key(item.alert_id, item.sink))
        if entity is None:
            return None
        item = read_item(entity, where=where)
        if item.status != "dead":
            return None
    logger.warning(
        "state table %s: outbox item %s for sink %s changed %d times in a row while requeueing; left as it is",
        where,
        item.alert_id,
        item.sink,
        _REQUEUE_RETRIES,
    )
    return None


def move_checkpoint(
    table: TableClient, end: datetime, expected: Checkpoint | None, *, parts: Partitions
) -> dict[str, Any]:
    """Write the checkpoint ``end`` if it is still ``expected`` (None: absent); the new metadata.

    Raises ``StateConflictError`` when another runner created or moved it first."""
    checkpoint = checkpoint_entity(end, parts=parts)
    try:
        if expected is None:
            return table.create_entity(checkpoint)
        return table.update_entity(
            checkpoint, mode=UpdateMode.REPLACE, etag=expected.version, match_condition=MatchConditions.IfNotModified
        )
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as error:
        if table_missing(error):
            raise
        raise StateConflictError(
            "state conflict: another runner created the checkpoint first"
            if expected is None
            else f"state conflict: checkpoint version {expected.version} changed while committing; "
            "another runner committed first"
        ) from None


def replace_as_read(table: TableClient, entity: dict[str, Any], current: TableEntity | None) -> bool:
    """Write ``entity`` if the row is still as read (``current``; None: absent). False when another
    runner changed it meanwhile (read again and decide again); a missing table raises."""
    try:
        if current is None:
            table.create_entity(entity)
        else:
            table.update_entity(
                entity,
                mode=UpdateMode.REPLACE,
                etag=current.metadata["etag"],
                match_condition=MatchConditions.IfNotModified,
            )
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError) as error:
        if table_missing(error):
            raise
        return False
    return True


def remember_later(table: TableClient, key: str, at: datetime, *, parts: Partitions, where: str) -> None:
    """Store ``at`` (aware UTC) for ``key`` unless a later time is stored: read, then write on the ETag read."""
    entity = suppression_entity(key, at, parts=parts)
    for _ in range(_SUPPRESSION_RETRIES):
        current = get_or_none(table, parts.suppression, entity["RowKey"])
        # Read in full: a damaged row stops the write rather than being replaced.
        if current is not None and read_alerted(current, key, where=where) >= at:
            return
        if replace_as_read(table, entity, current):
            return
        # another runner wrote this key meanwhile: decide again on what it holds now
    raise StateConflictError(
        f"state conflict: {suppression_row_name(key)} changed {_SUPPRESSION_RETRIES} times in a row "
        "while recording it; another runner is writing it"
    )


def record_run_note(table: TableClient, *, at: datetime, error: str, parts: Partitions, where: str) -> None:
    """Merge a run (checked by ``check_run``) into the run note: read, then write on the ETag read."""
    for _ in range(_RUN_NOTE_RETRIES):
        current = get_or_none(table, parts.run, RUN_NOTE_KEY)
        # Read in full: a damaged note stops the write rather than being replaced.
        stored = None if current is None else read_run_note(current, where=where)
        note = next_run_note(stored, at=at, error=error)
        if note == stored:
            return  # an older run, already outdone on both counts
        if replace_as_read(table, run_note_entity(note, parts=parts), current):
            return
        # another runner recorded a run meanwhile: merge into what it holds now
    raise StateConflictError(
        f"state conflict: {RUN_NOTE_ROW} changed {_RUN_NOTE_RETRIES} times in a row while recording a run; "
        "other runners are recording runs of this stream"
    )
