"""One workspace's settings: the deployment's, with the workspace's GUID, endpoint, resource id and destinations.

A workspace with destinations of its own (``MFA_WORKSPACES_FILE``) uses exactly those, none of the
global ones: a customer's alerts go to that customer's channel or queue, and nowhere else. A
workspace without falls back to the global destinations. Every value is validated as the global
settings are, and a problem names the workspace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pydantic import ValidationError

from shared.errors import ConfigError
from shared.settings import Settings, describe_problems
from shared.workspaces import DESTINATION_SETTINGS, Workspace, WorkspaceConfigError, resolved_destinations

# The fields behind the destination settings a workspace may set, reset before its own are applied.
_NO_DESTINATIONS: Final = {
    name: field.default for name, field in Settings.model_fields.items() if field.alias in DESTINATION_SETTINGS
}


def settings_for(settings: Settings, workspace: Workspace, *, environ: Mapping[str, str] | None = None) -> Settings:
    """``settings`` for ``workspace`` alone; ``ConfigError`` naming the workspace for a destination of its
    own that cannot be used (its app setting unset or unresolved, a bad value)."""
    update: dict[str, Any] = {}
    if workspace.endpoint is not None:
        update["la_endpoint"] = workspace.endpoint  # checked by shared.workspaces
    if workspace.resource_id is not None:
        update["workspace_resource_id"] = workspace.resource_id
    elif workspace.scoped and len(settings.workspaces) > 1:
        # MFA_WORKSPACE_RESOURCE_ID names one workspace: it must not send another's analysts there.
        update["workspace_resource_id"] = None
    if workspace.destinations is None:
        return settings.narrowed(workspace, **update)
    try:
        own = resolved_destinations(workspace, environ=environ)
    except WorkspaceConfigError as error:
        raise ConfigError(str(error)) from None
    # Its own destinations: validated as the global ones are, with none of the global ones.
    values: dict[str, Any] = {name: getattr(settings, name) for name in Settings.model_fields}
    values |= _NO_DESTINATIONS | update
    by_alias = {field.alias: name for name, field in Settings.model_fields.items() if field.alias}
    values |= {by_alias[key]: value for key, value in own.items()}
    values |= {"workspace_id": workspace.id, "workspaces_file": None}
    try:
        return Settings.model_validate(values)
    except ValidationError as error:
        raise ConfigError(
            f"workspace {workspace.label}: invalid settings: " + "; ".join(describe_problems(error))
        ) from None


def without_destinations(settings: Settings, workspace: Workspace) -> Settings:
    """``workspace``'s settings when its own destinations cannot be used: it is still evaluated, and its
    alerts wait in its own outbox (never at another workspace's destinations) until they are fixed."""
    return settings.narrowed(workspace, **_NO_DESTINATIONS, allow_no_sink=True)
