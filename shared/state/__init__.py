"""Durable state: the checkpoint, the outbox of alerts to deliver, skipped ranges, suppression.

``open_state(settings)`` picks the store: an SQLite file (``MFA_STATE`` is its path, the local
default) or an Azure Table (``MFA_STATE=table``, in the function's storage account).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shared.errors import ConfigError
from shared.state.base import (
    Checkpoint,
    Checkpoints,
    NewItem,
    Outbox,
    OutboxItem,
    SkippedRange,
    StateStorageError,
    StateStore,
    Status,
    SuppressionLog,
)
from shared.state.sqlite import SqliteStateStore

if TYPE_CHECKING:
    from shared.settings import Settings

__all__ = [
    "Checkpoint",
    "Checkpoints",
    "NewItem",
    "Outbox",
    "OutboxItem",
    "SkippedRange",
    "SqliteStateStore",
    "StateStorageError",
    "StateStore",
    "Status",
    "SuppressionLog",
    "open_state",
]


def open_state(settings: Settings) -> StateStore:
    """The configured store, ready to use (SQLite file and schema, or Azure table, created if absent).

    Raises ``ConfigError`` for unusable settings and ``StateStorageError`` when the Azure table
    cannot be reached. Close the store when done.
    """
    if settings.uses_table_state:
        # Imported here so the local SQLite path does not load the Azure SDK.
        from shared.state.table_client import check_table_name, table_service_from_settings  # noqa: PLC0415
        from shared.state.tables import TableStateStore  # noqa: PLC0415

        check_table_name(settings.state_table)
        service = table_service_from_settings(settings)
        # A credential made from the settings is ours to close; a shared key is not closeable.
        owned = [service.credential] if hasattr(service.credential, "close") else []
        return TableStateStore.from_service(service, settings.state_table, close_also=owned)
    path = Path(settings.state)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"MFA_STATE: state file {path}: cannot create its directory: {error.strerror} "
            "(set it to a writable file path, or to 'table')"
        ) from None
    # A file that exists but cannot be used (damaged, from a newer release, not a database) is a
    # StateStorageError naming the file and what to do: it is never replaced.
    return SqliteStateStore(path)
