"""Hostile webhook receivers, as ``Reply(answer=...)`` for ``tests.sinks.receiver.Receiver``.

Each writes its response by hand on the raw connection: dripping one byte at a time, sending a body
of gigabytes, redirecting elsewhere, or echoing the request URL decoded. They stop as soon as the
client hangs up (a write fails) or the receiver closes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from urllib.parse import unquote_plus

Answer = Callable[[BaseHTTPRequestHandler, threading.Event], None]

GIB = 2**30


def _send(handler: BaseHTTPRequestHandler, data: bytes) -> None:
    handler.wfile.write(data)
    handler.wfile.flush()


def drip_headers(*, every: float = 1.0, for_seconds: float = 60.0) -> Answer:
    """A status line, then one byte of an endless header every ``every`` seconds."""

    def answer(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        _send(handler, b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(int(for_seconds / every)):
            if released.wait(every):
                return
            _send(handler, b"a")

    return answer


def drip_body(*, status: int = 200, every: float = 1.0, for_seconds: float = 60.0) -> Answer:
    """Complete headers announcing a body, then one byte of it every ``every`` seconds."""

    def answer(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        length = int(for_seconds / every)
        _send(handler, f"HTTP/1.1 {status} Whatever\r\nContent-Length: {length}\r\n\r\n".encode())
        for _ in range(length):
            if released.wait(every):
                return
            _send(handler, b"x")

    return answer


def huge_body(*, status: int, size: int = 2 * GIB) -> Answer:
    """``status`` with a ``size``-byte body, written as fast as the client takes it."""
    block = b"0123456789abcdef" * 4096  # 64 KiB

    def answer(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        _send(handler, f"HTTP/1.1 {status} Big\r\nContent-Length: {size}\r\n\r\n".encode())
        sent = 0
        while sent < size and not released.is_set():
            handler.wfile.write(block)
            sent += len(block)

    return answer


def redirect(location: str = "https://elsewhere.example/collect", *, status: int = 307) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        _send(handler, f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    return answer


def echo_decoded(*, status: int = 500) -> Answer:
    """An error whose reason phrase, headers and body quote the request URL form-decoded, as some
    proxies do (``%2B`` comes back as ``+``, ``+`` as a space)."""

    def answer(handler: BaseHTTPRequestHandler, released: threading.Event) -> None:
        decoded = unquote_plus(handler.path)
        body = f"no route for {decoded} (raw {handler.path})".encode()
        head = (
            f"HTTP/1.1 {status} Cannot serve {decoded}\r\nX-Upstream: {decoded}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        _send(handler, head.encode() + body)

    return answer
