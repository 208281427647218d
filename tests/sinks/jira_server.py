"""A loopback fake of the parts of Jira Cloud's REST API v3 the Jira sink uses, for sink and CLI tests.

Runs stdlib ``ThreadingHTTPServer`` on 127.0.0.1, port 0. It checks HTTP Basic auth (401 otherwise)
and implements, on an in-memory project:

- ``GET /rest/api/3/search/jql`` with JQL of ``project = "..."`` and ``labels = "..."`` clauses joined
  by ``AND`` (anything else: 400, as Jira answers a query it cannot parse);
- ``POST /rest/api/3/issue``: checks the fields as Jira does (400 ``{"errorMessages": [], "errors":
  {field: message}}``), answers 201 ``{"id", "key", "self"}`` with keys SEC-1, SEC-2...;
- ``GET`` and ``POST /rest/api/3/issue/{key}/comment``; ``PUT /rest/api/3/issue/{key}`` (labels).

``fail_next`` scripts the next requests to fail: a status (with ``Retry-After``), a hang, or, with
``applied=True``, the request done and then a failure answered (a create that "fails" after creating).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.sinks.loopback import LoopbackServer

_CLAUSE = re.compile(r'\s*(project|labels)\s*=\s*"((?:[^"\\]|\\.)*)"\s*')
_ISSUE_PATH = re.compile(r"/rest/api/3/issue/([A-Z][A-Z0-9_]*-\d+)(/comment)?")
DESCRIPTION_LIMIT = 32_767


@dataclass(frozen=True)
class Fault:
    status: int = 500
    body: bytes = b'{"errorMessages":["Internal server error"],"errors":{}}'
    retry_after: str | None = None
    hang: float = 0.0  # seconds to hold the connection, then drop it
    applied: bool = False  # do the request first, then answer the failure


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Issue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)


class JiraError(Exception):
    def __init__(self, status: int, messages: list[str] | None = None, errors: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.body = {"errorMessages": messages or [], "errors": errors or {}}


class JiraServer(LoopbackServer):
    def __init__(
        self,
        *,
        email: str = "soc-bot@contoso.com",
        api_token: str = "ATATT3xFfGF0-test-token-0123456789",
        project: str = "SEC",
        issue_types: tuple[str, ...] = ("Task", "Bug"),
    ) -> None:
        self.email, self.api_token, self.project, self.issue_types = email, api_token, project, issue_types
        self.issues: list[Issue] = []
        self.requests: list[Request] = []
        self._faults: list[tuple[Fault, str, str]] = []
        self._lock = threading.Lock()
        super().__init__(_handler(self))

    @property
    def url(self) -> str:
        return self.origin

    @property
    def authorization(self) -> str:
        return "Basic " + base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()

    def fail_next(
        self, count: int = 1, fault: Fault | None = None, *, method: str = "", path: str = "", **options: Any
    ) -> None:
        """The next ``count`` requests fail with ``fault`` (or ``Fault(**options)``); with ``method``
        and ``path``, the next ``count`` requests of that method to exactly that path."""
        with self._lock:
            self._faults += [(fault or Fault(**options), method, path)] * count

    def issue(self, key: str) -> Issue:
        (found,) = [issue for issue in self.issues if issue.key == key]
        return found

    def requests_to(self, method: str, path_start: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_start)]

    # What Jira does with each request; JiraError is its error answer.

    def handle(self, request: Request) -> tuple[int, Any]:
        if request.headers.get("authorization") != self.authorization:
            raise JiraError(401, ["Client must be authenticated to access this resource."])
        if request.method == "GET" and request.path == "/rest/api/3/search/jql":
            return 200, self._search(request.query)
        if request.method == "POST" and request.path == "/rest/api/3/issue":
            return 201, self._create(_body(request))
        found = _ISSUE_PATH.fullmatch(request.path)
        if found is None:
            raise JiraError(404, ["Not found"])
        issue = self._issue_or_404(found.group(1))
        if found.group(2) and request.method == "GET":
            return 200, _comments_page(issue, request.query)
        if found.group(2) and request.method == "POST":
            return 201, self._comment(issue, _body(request))
        if request.method == "PUT" and not found.group(2):
            self._edit(issue, _body(request))
            return 204, None
        raise JiraError(405, ["Method not allowed"])

    def _search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        jql = query.get("jql", [""])[0]
        wanted: dict[str, str] = {}
        for clause in re.split(r"\bAND\b", jql):
            matched = _CLAUSE.fullmatch(clause)
            if matched is None:
                raise JiraError(400, [f"Error in the JQL Query: cannot read {clause.strip()!r}"])
            wanted[matched.group(1)] = re.sub(r"\\(.)", r"\1", matched.group(2))
        if "project" in wanted and wanted["project"] != self.project:
            raise JiraError(400, [f"The value '{wanted['project']}' does not exist for the field 'project'."])
        limit = int(query.get("maxResults", ["50"])[0])
        with self._lock:
            hits = [i for i in self.issues if "labels" not in wanted or wanted["labels"] in i.fields["labels"]]
        return {"issues": [{"id": i.id, "key": i.key, "fields": {}} for i in hits[:limit]], "isLast": True}

    def _create(self, body: dict[str, Any]) -> dict[str, Any]:
        fields = body.get("fields") or {}
        errors = _field_errors(fields, project=self.project, issue_types=self.issue_types)
        if errors:
            raise JiraError(400, [], errors)
        with self._lock:
            number = len(self.issues) + 1
            issue = Issue(str(10_000 + number), f"{self.project}-{number}", {"labels": [], **fields})
            self.issues.append(issue)
        return {"id": issue.id, "key": issue.key, "self": f"{self.url}/rest/api/3/issue/{issue.id}"}

    def _comment(self, issue: Issue, body: dict[str, Any]) -> dict[str, Any]:
        if not _is_adf(body.get("body")):
            raise JiraError(400, [], {"comment": "Comment body is not valid!"})
        with self._lock:
            comment = {"id": str(20_000 + sum(len(i.comments) for i in self.issues)), "body": body["body"]}
            issue.comments.append(comment)
        return comment

    def _edit(self, issue: Issue, body: dict[str, Any]) -> None:
        with self._lock:
            for operation in body.get("update", {}).get("labels", []):
                if "add" in operation and operation["add"] not in issue.fields["labels"]:
                    issue.fields["labels"].append(operation["add"])
                if "remove" in operation and operation["remove"] in issue.fields["labels"]:
                    issue.fields["labels"].remove(operation["remove"])

    def _issue_or_404(self, key: str) -> Issue:
        with self._lock:
            for issue in self.issues:
                if issue.key == key:
                    return issue
        raise JiraError(404, ["Issue does not exist or you do not have permission to see it."])

    def next_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for index, (_fault, method, path) in enumerate(self._faults):
                if method in ("", request.method) and path in ("", request.path):
                    return self._faults.pop(index)[0]
        return None


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        raise JiraError(400, ["Unexpected character in the request body"]) from None
    if not isinstance(body, dict):
        raise JiraError(400, ["The request body must be a JSON object"])
    return body


def _field_errors(fields: dict[str, Any], *, project: str, issue_types: tuple[str, ...]) -> dict[str, str]:
    errors: dict[str, str] = {}
    if (fields.get("project") or {}).get("key") != project:
        errors["project"] = "Specify a valid project ID or key"
    if (fields.get("issuetype") or {}).get("name") not in issue_types:
        errors["issuetype"] = "Specify a valid issue type"
    summary = fields.get("summary")
    if not isinstance(summary, str) or not summary.strip():
        errors["summary"] = "You must specify a summary of the issue."
    elif len(summary) > 255:
        errors["summary"] = "Summary can't exceed 255 characters."
    elif "\n" in summary or "\r" in summary:
        errors["summary"] = "The summary is invalid because it contains newline characters."
    if "description" in fields and not _is_adf(fields["description"]):
        errors["description"] = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
    elif len(json.dumps(fields.get("description"), ensure_ascii=False, separators=(",", ":"))) > DESCRIPTION_LIMIT:
        errors["description"] = "The entered text is too long. It exceeds the allowed limit of 32,767 characters."
    labels = fields.get("labels", [])
    bad = [label for label in labels if not isinstance(label, str) or " " in label or not 0 < len(label) <= 255]
    if bad:
        errors["labels"] = f"The label '{bad[0]}' contains spaces which is invalid."
    return errors


def _is_adf(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == "doc" and value.get("version") == 1


def _comments_page(issue: Issue, query: dict[str, list[str]]) -> dict[str, Any]:
    ordered = list(reversed(issue.comments)) if query.get("orderBy", [""])[0] == "-created" else list(issue.comments)
    limit = int(query.get("maxResults", ["100"])[0])
    return {"startAt": 0, "maxResults": limit, "total": len(ordered), "comments": ordered[:limit]}


def _handler(server: JiraServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            parts = urlsplit(self.path)
            request = Request(
                self.command,
                parts.path,
                parse_qs(parts.query),
                {name.lower(): value for name, value in self.headers.items()},
                body,
            )
            with server._lock:
                server.requests.append(request)
            fault = server.next_fault(request)
            if fault is not None and not fault.applied:
                return self._fail(fault)
            try:
                status, answer = server.handle(request)
            except JiraError as error:
                status, answer = error.status, error.body
            if fault is not None:
                return self._fail(fault)
            self._send(status, b"" if answer is None else json.dumps(answer).encode(), {})
            return None

        def do_GET(self) -> None:
            self._serve()

        def do_POST(self) -> None:
            self._serve()

        def do_PUT(self) -> None:
            self._serve()

        def _fail(self, fault: Fault) -> None:
            if fault.hang and server._released.wait(fault.hang):
                return  # the test is over: drop the connection
            headers = {"retry-after": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, fault.body, headers)

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            try:
                self.send_response(status)
                for name, value in {"content-type": "application/json;charset=UTF-8", **headers}.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output clean

    return Handler
