"""Which Log Analytics workspaces a deployment watches, from LOG_ANALYTICS_WORKSPACE_ID or MFA_WORKSPACES_FILE.

``LOG_ANALYTICS_WORKSPACE_ID`` holds one GUID (as it always has) or a comma-separated list, each entry
optionally named: ``contoso=GUID,fabrikam=GUID``. ``MFA_WORKSPACES_FILE`` names a JSON file
(docs/workspaces.md#the-workspaces-file) that can also give each workspace its own query endpoint,
resource id and destinations. Every problem names its entry; nothing is guessed.

One GUID without a name is the original single-workspace form: its state and alert ids stay exactly
what they were (``Workspace.scoped`` is False), so an existing deployment carries on where it was.
Every other workspace is a stream of its own, keyed by its GUID.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from shared.display import shown
from shared.urls import check_http_url

NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_RESOURCE_ID: Final = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[^/]+/providers/Microsoft\.OperationalInsights/workspaces/[^/]+",
    re.IGNORECASE,
)
# The settings a workspace may set for itself: its destinations (docs/workspaces.md#destinations).
DESTINATION_SETTINGS: Final = frozenset(
    {
        "MFA_TEAMS_WEBHOOK_URL",
        "MFA_WEBHOOK_URL",
        "MFA_WEBHOOK_SECRET",
        "MFA_SLACK_WEBHOOK_URL",
        "MFA_PAGERDUTY_ROUTING_KEY",
        "MFA_PAGERDUTY_URL",
        "MFA_JIRA_URL",
        "MFA_JIRA_PROJECT",
        "MFA_JIRA_ISSUE_TYPE",
        "MFA_JIRA_EMAIL",
        "MFA_JIRA_API_TOKEN",
        "MFA_SERVICENOW_URL",
        "MFA_SERVICENOW_TABLE",
        "MFA_SERVICENOW_USER",
        "MFA_SERVICENOW_PASSWORD",
        "MFA_SERVICENOW_CLIENT_ID",
        "MFA_SERVICENOW_CLIENT_SECRET",
    }
)
_ENTRY_KEYS: Final = ("name", "id", "endpoint", "resourceId", "destinations")
_FILE_KEYS: Final = ("$schema", "workspaces")


@dataclass(frozen=True)
class SettingRef:
    """A destination value kept in an app setting (in Azure, a Key Vault reference), read when the
    workspace runs, so one workspace's missing secret never stops the others."""

    name: str


class WorkspaceConfigError(ValueError):
    """A workspace entry that cannot be used; the message names the setting and the entry."""


@dataclass(frozen=True)
class Workspace:
    """One workspace: a stream of its own (checkpoint, windows, outbox, suppression, health)."""

    name: str
    id: str  # the workspace's GUID (its Workspace ID), lower case
    endpoint: str | None = None  # the query API endpoint; None: MFA_LA_ENDPOINT
    resource_id: str | None = None  # for the alerts' Log Analytics link; None: MFA_WORKSPACE_RESOURCE_ID
    # Its own destinations (setting name -> value, or the app setting holding it); None: the global ones.
    destinations: Mapping[str, str | SettingRef] | None = None
    # False: the original one-GUID form, whose state and alert ids stay as they were.
    scoped: bool = field(default=True)

    @property
    def label(self) -> str:
        """``contoso (GUID)``, or the GUID alone for an unnamed workspace."""
        return self.id if self.name == self.id else f"{self.name} ({self.id})"


def parse_workspace_list(text: str) -> list[Workspace]:
    """``GUID`` or ``name=GUID,name=GUID``: the workspaces of LOG_ANALYTICS_WORKSPACE_ID."""
    entries = [part.strip() for part in text.split(",")]
    workspaces: list[Workspace] = []
    for number, entry in enumerate(entries, start=1):
        where = f"LOG_ANALYTICS_WORKSPACE_ID: entry {number}" + (f" ({shown(entry)})" if entry else "")
        if not entry:
            raise WorkspaceConfigError(f"{where} is empty (a stray comma?)")
        name, equals, guid_text = entry.rpartition("=")
        name = name.strip()
        guid = _guid(guid_text.strip(), where=where)
        if equals:
            _check_name(name, where=where)
        workspaces.append(Workspace(name=name or guid, id=guid))
    _check_unique(workspaces, setting="LOG_ANALYTICS_WORKSPACE_ID")
    if len(workspaces) == 1 and "=" not in text:
        return [Workspace(name=workspaces[0].id, id=workspaces[0].id, scoped=False)]
    return workspaces


def canonical_list(text: str) -> str:
    """LOG_ANALYTICS_WORKSPACE_ID as it is kept: lower-case GUIDs, no spaces, a name where one was given."""
    workspaces = parse_workspace_list(text)
    named = ["=" in part for part in text.split(",")]
    return ",".join(f"{w.name}={w.id}" if was else w.id for w, was in zip(workspaces, named, strict=True))


def configured_workspaces(listed: str | None, file: Path | None) -> list[Workspace]:
    """The workspaces of LOG_ANALYTICS_WORKSPACE_ID or MFA_WORKSPACES_FILE (one or the other; none: [])."""
    if listed is not None and file is not None:
        raise WorkspaceConfigError("LOG_ANALYTICS_WORKSPACE_ID, MFA_WORKSPACES_FILE: set one or the other, not both")
    if file is not None:
        return load_workspaces_file(file)
    return [] if listed is None else parse_workspace_list(listed)


def load_workspaces_file(path: Path) -> list[Workspace]:
    """The workspaces of the JSON file ``path`` (MFA_WORKSPACES_FILE)."""
    where = f"MFA_WORKSPACES_FILE {path}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise WorkspaceConfigError(f"{where}: cannot be read: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise WorkspaceConfigError(f"{where}: not UTF-8 text (byte {error.start})") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise WorkspaceConfigError(
            f"{where}: not JSON: line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None
    if not isinstance(document, dict) or not isinstance(document.get("workspaces"), list):
        raise WorkspaceConfigError(f'{where}: expected an object {{"workspaces": [...]}} (docs/workspaces.md)')
    _check_keys(document, _FILE_KEYS, where=where)
    if not document["workspaces"]:
        raise WorkspaceConfigError(f"{where}: lists no workspace")
    workspaces = [
        _file_entry(entry, where=f"{where}: workspace {number}")
        for number, entry in enumerate(document["workspaces"], start=1)
    ]
    _check_unique(workspaces, setting=where)
    return workspaces


def _file_entry(entry: object, *, where: str) -> Workspace:
    if not isinstance(entry, dict):
        raise WorkspaceConfigError(f"{where}: expected an object, got {shown(entry)}")
    name = entry.get("name")
    if name is not None:
        where = f"{where} ({shown(name)})"
    _check_keys(entry, _ENTRY_KEYS, where=where)
    if "id" not in entry:
        raise WorkspaceConfigError(f"{where}: has no id (the workspace's GUID)")
    guid = _guid(entry["id"], where=where)
    if name is not None:
        _check_name(name, where=where)
    endpoint = _optional_text(entry, "endpoint", where=where)
    if endpoint is not None:
        try:
            check_http_url(endpoint, secret=False)
        except ValueError as error:
            raise WorkspaceConfigError(f"{where}: endpoint: {error}") from None
        endpoint = endpoint.rstrip("/")
    resource_id = _optional_text(entry, "resourceId", where=where)
    if resource_id is not None and not _RESOURCE_ID.fullmatch(resource_id):
        raise WorkspaceConfigError(
            f"{where}: resourceId must be /subscriptions/<id>/resourceGroups/<group>/providers/"
            f"Microsoft.OperationalInsights/workspaces/<name>, got {shown(resource_id)}"
        )
    destinations = _destinations(entry.get("destinations"), where=where)
    return Workspace(
        name=name or guid,
        id=guid,
        endpoint=endpoint,
        resource_id=resource_id,
        destinations=destinations,
    )


def _destinations(value: object, *, where: str) -> Mapping[str, str | SettingRef] | None:
    """The entry's own destinations, each value literal or the name of an app setting to read it from."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise WorkspaceConfigError(f"{where}: destinations must be an object of destination settings")
    given: dict[str, str | SettingRef] = {}
    for key, spec in value.items():
        if key not in DESTINATION_SETTINGS:
            raise WorkspaceConfigError(
                f"{where}: destinations: {shown(key)} is not a destination setting "
                f"(one of {', '.join(sorted(DESTINATION_SETTINGS))})"
            )
        given[key] = _destination_value(spec, where=f"{where}: destinations: {key}")
    return MappingProxyType(given)


def _destination_value(spec: object, *, where: str) -> str | SettingRef:
    if isinstance(spec, str):
        return spec
    if isinstance(spec, dict) and set(spec) == {"setting"} and isinstance(spec["setting"], str) and spec["setting"]:
        return SettingRef(spec["setting"])
    # Never echo the value: it may be a webhook URL or a token.
    raise WorkspaceConfigError(f'{where}: expected a string or {{"setting": "APP_SETTING_NAME"}}')


def resolved_destinations(workspace: Workspace, *, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``workspace``'s own destinations with every ``SettingRef`` read from ``environ`` (default: the
    process environment), when the workspace runs: an app setting that is unset, or a Key Vault
    reference the platform could not resolve, is a ``WorkspaceConfigError`` of this workspace alone."""
    environ = os.environ if environ is None else environ
    resolved: dict[str, str] = {}
    for key, spec in (workspace.destinations or {}).items():
        if isinstance(spec, str):
            resolved[key] = spec
            continue
        where = f"workspace {workspace.label}: destinations: {key}: the app setting {shown(spec.name)}"
        value = environ.get(spec.name, "")
        if not value.strip():
            raise WorkspaceConfigError(f"{where} it names is not set")
        if value.startswith("@Microsoft.KeyVault("):
            raise WorkspaceConfigError(
                f"{where} is an unresolved Key Vault reference "
                "(check the secret and the identity's access to the vault)"
            )
        resolved[key] = value
    return resolved


def _guid(value: object, *, where: str) -> str:
    if isinstance(value, str):
        try:
            return str(uuid.UUID(value))
        except ValueError:
            pass
    raise WorkspaceConfigError(f"{where}: {shown(value)} is not a workspace GUID (its Workspace ID)")


def _check_name(name: object, *, where: str) -> None:
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise WorkspaceConfigError(
            f"{where}: name {shown(name)} must be 1-63 letters, digits, '.', '_', '-', from a letter or digit"
        )


def _optional_text(entry: Mapping[str, Any], key: str, *, where: str) -> str | None:
    value = entry.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise WorkspaceConfigError(f"{where}: {key} must be a string, got {shown(value)}")
    return value.strip()


def _check_keys(entry: Mapping[str, Any], known: Sequence[str], *, where: str) -> None:
    unknown = [key for key in entry if key not in known]
    if unknown:
        raise WorkspaceConfigError(
            f"{where}: unknown key(s) {', '.join(shown(key) for key in unknown)} (known: {', '.join(known)})"
        )


def _check_unique(workspaces: Sequence[Workspace], *, setting: str) -> None:
    seen_names: dict[str, int] = {}
    seen_ids: dict[str, int] = {}
    for number, workspace in enumerate(workspaces, start=1):
        for seen, key, what in ((seen_names, workspace.name.lower(), "name"), (seen_ids, workspace.id, "GUID")):
            if key in seen:
                raise WorkspaceConfigError(
                    f"{setting}: entries {seen[key]} and {number} have the same {what} "
                    f"{shown(workspace.name if what == 'name' else workspace.id)}"
                )
            seen[key] = number
