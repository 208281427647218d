"""A test HTTP server on 127.0.0.1: stdlib ``ThreadingHTTPServer`` on a free port in a daemon
thread, as a context manager. The scripted receiver and every vendor fake (PagerDuty, Jira,
ServiceNow) are one of these with their own handler.

``_released`` is set when the server closes, so a handler holding a connection open (a hang
scripted by a test) returns at once instead of outliving the test.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self


class LoopbackServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._released.set()  # hung handlers return at once
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
