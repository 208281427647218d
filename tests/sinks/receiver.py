"""A webhook receiver on 127.0.0.1 for tests: records each request, answers from a script.

Runs stdlib ``http.server`` in a thread on port 0 (a free port). Answers are queued ``Reply``s; when
the queue is empty it answers ``default``. A reply with ``hang`` seconds holds the connection before
answering (to test client timeouts); closing the receiver releases any hung handler at once. A reply
with ``answer`` writes the response itself (hostile receivers: ``tests/sinks/hostile.py``).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.sinks.loopback import LoopbackServer


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    hang: float = 0.0  # seconds to wait before answering
    # Writes the whole response on the raw connection: (handler, released) where ``released`` is set
    # when the receiver closes, so a long answer can stop early.
    answer: Callable[[BaseHTTPRequestHandler, threading.Event], None] | None = None


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


class Receiver(LoopbackServer):
    def __init__(self, replies: Iterable[Reply] = (), *, default: Reply | None = None) -> None:
        self._replies = list(replies)
        self._default = default or Reply(status=202)
        self._lock = threading.Lock()
        self.requests: list[Received] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {name.lower(): value for name, value in self.headers.items()}
                with receiver._lock:
                    receiver.requests.append(Received(self.command, self.path, headers, body))
                    reply = receiver._replies.pop(0) if receiver._replies else receiver._default
                if reply.hang and receiver._released.wait(reply.hang):
                    return  # the test is over: drop the connection
                if reply.answer is not None:
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up, as it should
                        reply.answer(self, receiver._released)
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            # Every method is recorded and answered alike (a vendor API's GET and PATCH too).
            do_GET = do_PATCH = do_PUT = do_POST  # noqa: N815  (http.server's names)

            def log_message(self, format: str, *args: object) -> None:
                pass  # keep test output clean

        super().__init__(Handler)

    @property
    def base_url(self) -> str:
        return self.origin

    def url(self, path: str = "/hook") -> str:
        return self.base_url + path
