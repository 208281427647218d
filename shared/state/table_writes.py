"""The Azure Table state's reads and writes of single entities, each write conditional on what was read.

An answer that means "another runner changed or created it meanwhile" is decided here (None, a fresh
read and another try, or ``StateConflictError``); every other SDK error is left for the store to map
with ``storage_errors``. A missing table is never taken for a missing entity: it still raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import suppress
from datetime import datetime
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

from shared.errors import StateConflictError
from shared.state.base import Checkpoint, OutboxItem
from shared.state.stored import suppression_row_name
from shared.state.table_entities import (
    OUTBOX,
    SUPPRESSION,
    checkpoint_entity,
    read_alerted,
    row_key,
    suppression_entity,
)
from shared.state.table_errors import table_missing

# A suppression write re-reads and retries when the entity moved under it; each retry follows a real
# change by another runner, so a handful is plenty.
_SUPPRESSION_RETRIES: Final = 5


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


def merge(table: TableClient, item: OutboxItem, changes: Mapping[str, Any], *, etag: str) -> dict[str, Any]:
    entity = {"PartitionKey": OUTBOX, "RowKey": row_key(item.alert_id, item.sink), **changes}
    return table.update_entity(entity, mode=UpdateMode.MERGE, etag=etag, match_condition=MatchConditions.IfNotModified)


def merge_if_unchanged(
    table: TableClient, item: OutboxItem, changes: Mapping[str, Any], *, etag: str
) -> dict[str, Any] | None:
    """Merge ``changes`` into the item if it is still as ``etag`` says: the new metadata, or None
    when it changed or is gone since (a missing table still raises)."""
    try:
        return merge(table, item, changes, etag=etag)
    except (ResourceModifiedError, ResourceNotFoundError) as error:
        if table_missing(error):
            raise
        return None


def move_checkpoint(table: TableClient, end: datetime, expected: Checkpoint | None) -> dict[str, Any]:
    """Write the checkpoint ``end`` if it is still ``expected`` (None: absent); the new metadata.

    Raises ``StateConflictError`` when another runner created or moved it first."""
    checkpoint = checkpoint_entity(end)
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


def remember_later(table: TableClient, key: str, at: datetime, *, where: str) -> None:
    """Store ``at`` (aware UTC) for ``key`` unless a later time is stored: read, then write on the ETag read."""
    entity = suppression_entity(key, at)
    for _ in range(_SUPPRESSION_RETRIES):
        current = get_or_none(table, SUPPRESSION, entity["RowKey"])
        # Read in full: a damaged row stops the write rather than being replaced.
        if current is not None and read_alerted(current, key, where=where) >= at:
            return
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
            continue  # another runner wrote this key meanwhile: decide again on what it holds now
        return
    raise StateConflictError(
        f"state conflict: {suppression_row_name(key)} changed {_SUPPRESSION_RETRIES} times in a row "
        "while recording it; another runner is writing it"
    )
