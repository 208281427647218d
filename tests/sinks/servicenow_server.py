"""A loopback fake of a ServiceNow instance's Table API and ``/oauth_token.do``, for the sink's tests
and the end-to-end CLI test.

It checks basic authentication or a Bearer token it issued, and answers as an instance does:
``GET /api/now/table/{table}`` with ``sysparm_query=correlation_id=X`` (the only query it knows),
``sysparm_fields`` and ``sysparm_limit``; ``POST`` (201, ``result`` with ``sys_id`` and ``number``
INC0010001...); ``PATCH /api/now/table/{table}/{sys_id}`` (a ``work_notes`` value is appended to the
record's journal, ``record["work_notes_journal"]``); errors as ``{"error": {"message", "detail"},
"status": "failure"}``; an unknown table is HTTP 400 "Invalid table". ``fail(Fault(...))`` scripts the
next matching requests to fail: a status, a hang, or the work done and then a failure (a create that
"fails" after creating). ``ignore_query=True`` acts as an instance whose table lacks the queried field
(ServiceNow drops such a term and returns every record).
"""

from __future__ import annotations

import base64
import contextlib
import json
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sinks.loopback import LoopbackServer

NOT_AUTHENTICATED = {
    "error": {"message": "User Not Authenticated", "detail": "Required to provide Auth information"},
    "status": "failure",
}


@dataclass(frozen=True)
class Fault:
    """The next request with ``method`` (any if None) to ``path_part`` (any if empty) fails this way."""

    status: int = 500
    method: str | None = None
    path_part: str = ""
    body: bytes = b'{"error":{"message":"Internal server error","detail":null},"status":"failure"}'
    headers: dict[str, str] = field(default_factory=dict)
    hang: float = 0.0  # seconds to hold the connection, then drop it without an answer
    after: bool = False  # do the work first (the record is created), then fail


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def query(self) -> dict[str, str]:
        return {name: values[0] for name, values in parse_qs(urlsplit(self.path).query).items()}


class ServiceNowServer(LoopbackServer):
    def __init__(
        self,
        *,
        user: str | None = "mfa.integration",
        password: str | None = "S3cr3t-Pa55:w0rd&more",
        client_id: str | None = None,
        client_secret: str | None = None,
        tables: tuple[str, ...] = ("incident",),
        token_lifetime: int = 1800,
        ignore_query: bool = False,
    ) -> None:
        self.user, self.password = user, password
        self.client_id, self.client_secret = client_id, client_secret
        self.tables = tables
        self.token_lifetime = token_lifetime
        self.ignore_query = ignore_query
        self.records: list[dict[str, Any]] = []
        self.requests: list[Seen] = []
        self.tokens: list[str] = []  # every token issued, newest last
        self._valid_tokens: set[str] = set()
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin

    def fail(self, *faults: Fault) -> None:
        with self._lock:
            self._faults.extend(faults)

    def expire_tokens(self) -> None:
        """The instance forgets every token it issued (as after expiry or a revocation)."""
        with self._lock:
            self._valid_tokens.clear()

    def of(self, method: str, path_part: str = "/api/now/table/") -> list[Seen]:
        return [r for r in self.requests if r.method == method and path_part in r.path]

    # What the handler calls, under the lock ------------------------------------------------------

    def _fault_for(self, seen: Seen) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if (fault.method in (None, seen.method)) and fault.path_part in seen.path:
                return self._faults.pop(index)
        return None

    def _authenticated(self, header: str) -> bool:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value in self._valid_tokens
        if scheme.lower() == "basic" and self.user is not None:
            expected = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            return secrets.compare_digest(value.encode(), expected.encode())
        return False

    def _token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        wanted = (form.get("grant_type"), form.get("client_id"), form.get("client_secret"))
        if self.client_id is None or wanted != ("client_credentials", self.client_id, self.client_secret):
            return 401, {"error_description": "access_denied", "error": "server_error"}
        token = "SNtok" + secrets.token_urlsafe(24)
        self.tokens.append(token)
        self._valid_tokens.add(token)
        return 200, {
            "access_token": token,
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
        }

    def _table(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        parts = urlsplit(seen.path).path.split("/")[4:]  # ["", "api", "now", "table", table, sys_id?]
        if not parts or parts[0] not in self.tables:
            name = parts[0] if parts else ""
            return 400, {"error": {"message": f"Invalid table {name}", "detail": None}, "status": "failure"}
        if seen.method == "GET" and len(parts) == 1:
            return self._search(seen.query)
        if seen.method == "POST" and len(parts) == 1:
            return self._create(parts[0], seen.json(), seen.query)
        if seen.method == "PATCH" and len(parts) == 2:
            return self._update(parts[1], seen.json(), seen.query)
        return 405, {"error": {"message": "Method not Supported", "detail": None}, "status": "failure"}

    def _search(self, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        name, _, value = query.get("sysparm_query", "").partition("=")
        if name != "correlation_id" or not value or "^" in value:
            return 400, {
                "error": {"message": "the fake knows correlation_id=X only", "detail": None},
                "status": "failure",
            }
        found = [r for r in self.records if self.ignore_query or r.get("correlation_id") == value]
        limit = int(query.get("sysparm_limit", "10000"))
        return 200, {"result": [_shown(r, query) for r in found[:limit]]}

    def _create(self, table: str, fields: dict[str, Any], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        record = {key: str(value) for key, value in fields.items() if key != "work_notes"}
        record |= {"sys_id": uuid.uuid4().hex, "number": f"INC{10001 + len(self.records):07d}", "sys_class_name": table}
        record["work_notes_journal"] = [str(fields["work_notes"])] if "work_notes" in fields else []
        self.records.append(record)
        return 201, {"result": _shown(record, query)}

    def _update(self, sys_id: str, fields: dict[str, Any], query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        record = next((r for r in self.records if r["sys_id"] == sys_id), None)
        if record is None:
            detail = "Record doesn't exist or ACL restricts the record retrieval"
            return 404, {"error": {"message": "No Record found", "detail": detail}, "status": "failure"}
        for key, value in fields.items():
            if key == "work_notes":
                record["work_notes_journal"].append(str(value))
            elif key not in ("sys_id", "number"):
                record[key] = str(value)
        return 200, {"result": _shown(record, query)}

    def _answer(self, seen: Seen) -> tuple[int, dict[str, Any]]:
        if seen.path.startswith("/oauth_token.do") and seen.method == "POST":
            form = {name: values[0] for name, values in parse_qs(seen.body.decode()).items()}
            return self._token(form)
        if not self._authenticated(seen.headers.get("authorization", "")):
            return 401, NOT_AUTHENTICATED
        if seen.path.startswith("/api/now/table/"):
            return self._table(seen)
        return 400, {"error": {"message": "Requested URI does not represent any resource", "detail": None}}


def _shown(record: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """A record as the Table API shows it: only ``sysparm_fields`` when given; journal fields read as ""."""
    names = query.get("sysparm_fields")
    shown = {k: v for k, v in record.items() if k != "work_notes_journal"} | {"work_notes": ""}
    return shown if not names else {name: shown[name] for name in names.split(",") if name in shown}


def _handler(server: ServiceNowServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            seen = Seen(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            with server._lock:
                server.requests.append(seen)
                fault = server._fault_for(seen)
                status, answer = server._answer(seen) if fault is None or fault.after else (0, {})
            if fault is not None:
                self._fail(fault)
            else:
                self._send(status, json.dumps(answer).encode(), {"content-type": "application/json"})

        def _fail(self, fault: Fault) -> None:
            if fault.hang:
                server._released.wait(fault.hang)
                self.close_connection = True
                return  # no answer: the client times out
            self._send(fault.status, fault.body, {"content-type": "application/json", **fault.headers})

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PATCH(self) -> None:
            self._serve()

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler
