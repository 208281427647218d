"""A loopback fake of PagerDuty's Events API v2, for sink and end-to-end tests.

Usage::

    with PagerDutyServer(routing_key=KEY) as pagerduty:
        sink = PagerDutySink(KEY, transport=..., url=pagerduty.url)
        sink.deliver(alert)
        assert pagerduty.incidents[alert.id].state == "triggered"

It serves ``POST /v2/enqueue`` on 127.0.0.1 (a free port, ``ThreadingHTTPServer``) and answers as the
documentation says PagerDuty does (https://developer.pagerduty.com/docs/events-api-v2/overview/):

- 202 ``{"status": "success", "message": "Event processed", "dedup_key": ...}`` for a valid event;
- 400 ``{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`` when the
  checks below fail (the error texts are this fake's own wording);
- 400 ``{"status": "Unrecognized object", ...}`` for a body that is not a JSON object.

Checks (minimal, from the documentation): the body at most 512 KB; ``routing_key`` equal to the
server's; ``event_action`` one of trigger, acknowledge, resolve; ``dedup_key`` a string of at most 255
characters, required except on a trigger (which then gets a new one); a trigger's ``payload`` an object
with non-blank ``summary`` (at most 1024 characters) and ``source``, and ``severity`` one of critical,
error, warning, info.

Incidents, by dedup_key (``incidents``): a trigger opens one when none is open under its key (a key
whose incident was resolved gets a new one, as PagerDuty does) and is otherwise added to the open one's
``events``; acknowledge and resolve change the open one's state, and do nothing without one (202
still). ``opened`` counts every incident ever opened. ``requests`` holds every request received.

Scripting the next requests (each consumes one request, in order, before any check):
``answer_next(429, times=2, retry_after="0")`` answers that status (with a small JSON body) and takes
nothing; ``hang_next(process=True)`` holds the request without answering until the server closes (at
most 30 s; the client times out); with ``process`` the event is taken first, as when PagerDuty took an
event but its answer was lost.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.sinks.loopback import LoopbackServer

PATH = "/v2/enqueue"
MAX_BODY_BYTES = 512 * 1024
ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
STATE_OF = {"acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class Incident:
    """One incident: ``state`` is "triggered", "acknowledged" or "resolved"; ``events`` every event applied."""

    dedup_key: str
    state: str = "triggered"
    events: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class _Scripted:
    status: int | None  # None: hang
    retry_after: str | None = None
    process: bool = False


class PagerDutyServer(LoopbackServer):
    def __init__(self, *, routing_key: str) -> None:
        self.routing_key = routing_key
        self.incidents: dict[str, Incident] = {}
        self.opened = 0
        self.requests: list[Request] = []
        self._script: list[_Scripted] = []
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin + PATH

    def answer_next(self, status: int, *, times: int = 1, retry_after: str | None = None) -> None:
        """The next ``times`` requests get ``status`` (with ``Retry-After`` if given); nothing is processed."""
        with self._lock:
            self._script += [_Scripted(status, retry_after)] * times

    def hang_next(self, *, times: int = 1, process: bool = False) -> None:
        """The next ``times`` requests get no answer until the server closes; ``process``: take the event first."""
        with self._lock:
            self._script += [_Scripted(None, process=process)] * times

    def handle(self, request: Request) -> tuple[int, dict[str, Any], dict[str, str]] | None:
        """(status, answer, headers) for ``request``, or None to hang. Called by the handler thread."""
        with self._lock:
            self.requests.append(request)
            scripted = self._script.pop(0) if self._script else None
            if scripted is not None and scripted.status is not None:
                headers = {"retry-after": scripted.retry_after} if scripted.retry_after is not None else {}
                return scripted.status, {"status": "scripted", "message": f"scripted HTTP {scripted.status}"}, headers
            if scripted is not None:  # a hang
                if scripted.process:
                    self._process(request)
                return None
            status, answer = self._process(request)
            return status, answer, {}

    def _process(self, request: Request) -> tuple[int, dict[str, Any]]:
        try:
            event = json.loads(request.body)
        except ValueError:
            event = None
        if not isinstance(event, dict):
            return 400, {
                "status": "Unrecognized object",
                "message": "Event object format is unrecognized",
                "errors": ["JSON parse error"],
            }
        errors = event_errors(event, routing_key=self.routing_key, size=len(request.body))
        if errors:
            return 400, {"status": "invalid event", "message": "Event object is invalid", "errors": errors}
        key = event.get("dedup_key") or uuid.uuid4().hex
        self._apply(key, event)
        return 202, {"status": "success", "message": "Event processed", "dedup_key": key}

    def _apply(self, key: str, event: dict[str, Any]) -> None:
        action = event["event_action"]
        incident = self.incidents.get(key)
        if incident is None or incident.state == "resolved":
            if action != "trigger":
                return  # nothing open under this key: PagerDuty takes the event and does nothing
            incident = self.incidents[key] = Incident(key)
            self.opened += 1
        if action != "trigger":
            incident.state = STATE_OF[action]
        incident.events.append(event)


def event_errors(event: dict[str, Any], *, routing_key: str, size: int) -> list[str]:
    """What makes ``event`` invalid, as the documentation describes an event (empty: valid)."""
    errors = []
    if size > MAX_BODY_BYTES:
        errors.append(f"Event is larger than {MAX_BODY_BYTES} bytes")
    if event.get("routing_key") != routing_key:
        errors.append("'routing_key' is missing or not an integration key of this service")
    action = event.get("event_action")
    if action not in ACTIONS:
        errors.append("'event_action' must be one of trigger, acknowledge, resolve")
    key = event.get("dedup_key")
    if key is None and action in ("acknowledge", "resolve"):
        errors.append("'dedup_key' is required for acknowledge and resolve events")
    if key is not None and (not isinstance(key, str) or not key or len(key) > 255):
        errors.append("'dedup_key' must be a string of 1 to 255 characters")
    if action == "trigger":
        errors += payload_errors(event.get("payload"))
    return errors


def payload_errors(payload: Any) -> list[str]:
    if not isinstance(payload, dict):
        return ["'payload' is missing or not an object"]
    errors = []
    summary = payload.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors.append("'payload.summary' is missing or blank")
    elif len(summary) > 1024:
        errors.append("'payload.summary' is too long (maximum is 1024 characters)")
    source = payload.get("source")
    if not isinstance(source, str) or not source.strip():
        errors.append("'payload.source' is missing or blank")
    if payload.get("severity") not in SEVERITIES:
        errors.append("'payload.severity' must be one of critical, error, warning, info")
    return errors


def _handler(server: PagerDutyServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            if self.path != PATH:
                self._answer(404, {"status": "not found", "message": f"no such path: {self.path}"}, {})
                return
            answered = server.handle(Request(self.path, headers, body))
            if answered is None:
                server._released.wait(30)  # held until the server closes (the client has timed out by then)
                self.close_connection = True
                return
            self._answer(*answered)

        def _answer(self, status: int, answer: dict[str, Any], headers: dict[str, str]) -> None:
            data = json.dumps(answer).encode("utf-8")
            try:
                self.send_response(status)
                for name, value in {"content-type": "application/json", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler
