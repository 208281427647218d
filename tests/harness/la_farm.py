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
import threading
from collections.abc import Iterable, Mapping
from http.server import ThreadingHTTPServer
from typing import Any

from tests.harness.la_server import _PATH, Fault, LogAnalyticsServer, _handler_for, error_body

Tables = Mapping[str, Iterable[Mapping[str, Any]]]


class WorkspaceFarm:
    def __init__(self, workspaces: Mapping[str, Tables]) -> None:
        self.workspaces = {guid: LogAnalyticsServer(tables, workspace_id=guid) for guid, tables in workspaces.items()}
        self.unknown: list[str] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))  # type: ignore[arg-type]
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="la-farm", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> WorkspaceFarm:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
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
