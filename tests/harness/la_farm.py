"""One loopback Log Analytics endpoint hosting many workspaces, each with its own tables, by GUID.

    with WorkspaceFarm({GUID_A: {"SigninLogs": rows, ...}, GUID_B: {...}}) as farm:
        # POST {farm.endpoint}/v1/workspaces/GUID_A/query runs against GUID_A's tables only
        farm.fail(GUID_B, Fault(status=403, times=2))

Each workspace is a ``LogAnalyticsServer`` (its tables, faults and counters) that is never started
on its own: this server routes every request by the GUID in its path, and answers 404 with the
API's error body for a GUID it does not host, as the service does for an unknown workspace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from tests.harness.la_server import _PATH, Fault, LogAnalyticsServer, _handler_for, error_body
from tests.sinks.loopback import LoopbackServer

Tables = Mapping[str, Iterable[Mapping[str, Any]]]


class WorkspaceFarm(LoopbackServer):
    def __init__(self, workspaces: Mapping[str, Tables]) -> None:
        self.workspaces = {guid: LogAnalyticsServer(tables, workspace_id=guid) for guid, tables in workspaces.items()}
        self.unknown: list[str] = []
        super().__init__(_handler_for(self))  # type: ignore[arg-type]  # it answers as a LogAnalyticsServer does

    @property
    def endpoint(self) -> str:
        return self.origin

    def close(self) -> None:
        super().close()
        for workspace in self.workspaces.values():
            workspace.close()

    def fail(self, workspace: str, fault: Fault) -> None:
        self.workspaces[workspace].fail(fault)

    def respond(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        match = _PATH.match(path)
        workspace = self.workspaces.get(match["workspace"]) if match else None
        if workspace is None:
            self.unknown.append(path)
            payload = error_body("WorkspaceNotFoundError", f"The workspace could not be found: {path}")
            return 404, {}, json.dumps(payload).encode()
        return workspace.respond(path, headers, body)
