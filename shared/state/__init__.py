"""Durable state: the checkpoint, the outbox of alerts to deliver, skipped ranges, suppression.

``open_state(settings)`` picks the store: an SQLite file (``MFA_STATE`` is its path, the local
default) or an Azure Table (``MFA_STATE=table``, in the function's storage account).
``open_state(settings, scope=S)`` opens the state of one stream (a workspace GUID), apart from every
other: the file ``scoped_path(path, S)`` beside the configured one, or the same table's partitions
``S.checkpoint``, ``S.outbox``, ...
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
    RunNote,
    SkippedRange,
    StateStorageError,
    StateStore,
    Status,
    SuppressionLog,
    check_scope,
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
    "RunNote",
    "SkippedRange",
    "SqliteStateStore",
    "StateStorageError",
    "StateStore",
    "Status",
    "SuppressionLog",
    "open_state",
    "scoped_path",
    "state_exists",
]


def scoped_path(path: Path, scope: str | None) -> Path:
    """The SQLite file of ``scope``'s state: ``state/mfa-rejected.sqlite3`` -> ``state/mfa-rejected.<scope>.sqlite3``.

    None is ``path`` itself (the unscoped state, as before scopes existed). ValueError for a scope
    ``SCOPE_PATTERN`` refuses; a scope holds no '.', so no two scopes, nor a scope and ``path``, share a file.
    """
    if check_scope(scope) is None:
        return path
    return path.with_name(f"{path.stem}.{scope}{path.suffix}")


def state_exists(settings: Settings, *, scope: str | None = None) -> bool:
    """Whether ``scope``'s state may hold anything: an SQLite file exists only once a run created it;
    an Azure Table may always hold it (reading it is the only way to know)."""
    return settings.uses_table_state or scoped_path(Path(settings.state), scope).is_file()


def open_state(settings: Settings, *, scope: str | None = None) -> StateStore:
    """The configured store, ready to use (SQLite file and schema, or Azure table, created if absent).

    ``scope`` (a workspace GUID, ``SCOPE_PATTERN``) opens that stream's own state; None the unscoped
    state, exactly where it always was. Raises ``ValueError`` for a bad scope (before anything is
    opened), ``ConfigError`` for unusable settings and ``StateStorageError`` when the Azure table
    cannot be reached. Close the store when done.
    """
    check_scope(scope)
    if settings.uses_table_state:
        # Imported here so the local SQLite path does not load the Azure SDK.
        from shared.state.table_client import check_table_name, table_service_from_settings  # noqa: PLC0415
        from shared.state.tables import TableStateStore  # noqa: PLC0415

        check_table_name(settings.state_table)
        service = table_service_from_settings(settings)
        # A credential made from the settings is ours to close; a shared key is not closeable.
        owned = [service.credential] if hasattr(service.credential, "close") else []
        return TableStateStore.from_service(service, settings.state_table, close_also=owned, scope=scope)
    path = scoped_path(Path(settings.state), scope)
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
