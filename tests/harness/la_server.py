"""A loopback Log Analytics workspace: the query API over fixture tables, executing the KQL it receives.

    with LogAnalyticsServer({"SigninLogs": rows, ...}) as workspace:
        LogsQueryClient(credential, endpoint=workspace.endpoint).query_workspace(
            workspace.workspace_id, "SigninLogs | take 1", timespan=(start, end), enforce_https=False)

It speaks ``POST /v1/workspaces/{id}/query`` with the documented request, response and error
shapes (azure-facts.md), listens on 127.0.0.1 only, and answers by *running* the query: the KQL is
executed by ``duckdb-kql`` (Microsoft's KQL grammar, translated to DuckDB SQL) over the tables,
after the request's ``timespan`` is applied to TimeGenerated (both ends inclusive: the API does not
document its end as exclusive). So a query that filters wrongly returns wrong rows.

Tables have the workspace's full column sets (``WORKSPACE_SCHEMAS``, from the Azure Monitor table
reference); cells a fixture row does not give are empty ("" for strings, null otherwise), and
dynamic cells go out as JSON text, as the service sends them.

Failures on demand: ``fail(Fault(...))`` answers the next matching requests with an HTTP error,
or a partial result (200 + "error"); ``row_limit`` makes every larger result partial, as the
service's 500,000-row limit does (or, with ``silent_truncation``, cut without an error). It counts
the queries it received and the bytes it sent.
"""

from __future__ import annotations

import gzip
import json
import re
import tempfile
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Final

import duckdb_kql
from duckdb_kql.errors import KqlError

from shared.sources import values


def _schema(text: str) -> dict[str, str]:
    return dict(part.split(":") for part in text.split())


# The columns of each table (Azure Monitor Logs table reference, "Columns"), name:type. Every
# workspace table also has TenantId (the workspace); the SigninLogs page does not list it.
WORKSPACE_SCHEMAS: Final[dict[str, dict[str, str]]] = {
    "SigninLogs": _schema(
        """
        AADTenantId:string AlternateSignInName:string AppDisplayName:string AppId:string
        AppliedConditionalAccessPolicies:string AppliedEventListeners:dynamic
        AuthenticationContextClassReferences:string AuthenticationDetails:string AuthenticationMethodsUsed:string
        AuthenticationProcessingDetails:string AuthenticationProtocol:string AuthenticationRequirement:string
        AuthenticationRequirementPolicies:string AutonomousSystemNumber:string _BilledSize:real Category:string
        ClientAppUsed:string ConditionalAccessPolicies:dynamic ConditionalAccessStatus:string CorrelationId:string
        CreatedDateTime:datetime CrossTenantAccessType:string DeviceDetail:dynamic DurationMs:long
        FlaggedForReview:bool HomeTenantId:string Id:string Identity:string IPAddress:string
        IPAddressFromResourceProvider:string _IsBillable:string IsInteractive:bool IsRisky:bool Level:string
        Location:string LocationDetails:dynamic MfaDetail:dynamic NetworkLocationDetails:string OperationName:string
        OperationVersion:string OriginalRequestId:string ProcessingTimeInMilliseconds:string Resource:string
        ResourceDisplayName:string ResourceGroup:string ResourceId:string ResourceIdentity:string
        ResourceProvider:string ResourceServicePrincipalId:string ResourceTenantId:string ResultDescription:string
        ResultSignature:string ResultType:string RiskDetail:string RiskEventTypes:string RiskEventTypes_V2:string
        RiskLevel:string RiskLevelAggregated:string RiskLevelDuringSignIn:string RiskState:string
        ServicePrincipalId:string ServicePrincipalName:string SessionLifetimePolicies:string SignInIdentifier:string
        SignInIdentifierType:string SourceSystem:string Status:dynamic TimeGenerated:datetime TokenIssuerName:string
        TokenIssuerType:string Type:string UniqueTokenIdentifier:string UserAgent:string UserDisplayName:string
        UserId:string UserPrincipalName:string UserType:string TenantId:string
        """
    ),
    "IdentityInfo": _schema(
        """
        AccountCloudSID:string AccountCreationTime:datetime AccountDisplayName:string AccountDomain:string
        AccountName:string AccountObjectId:string AccountSID:string AccountTenantId:string AccountUPN:string
        AdditionalMailAddresses:dynamic Applications:string AssignedRoles:dynamic _BilledSize:real
        BlastRadius:string ChangeSource:string City:string CompanyName:string Country:string
        DeletedDateTime:datetime Department:string EmployeeId:string EntityRiskScore:dynamic
        ExtensionProperty:dynamic GivenName:string GroupMembership:dynamic InvestigationPriority:int
        InvestigationPriorityPercentile:int IsAccountEnabled:bool _IsBillable:string IsMFARegistered:bool
        IsServiceAccount:bool JobTitle:string LastSeenDate:datetime MailAddress:string Manager:string
        OnPremisesDistinguishedName:string OnPremisesExtensionAttributes:string Phone:string RelatedAccounts:dynamic
        RiskLevel:string RiskLevelDetails:string RiskState:string SAMAccountName:string ServicePrincipals:dynamic
        SourceSystem:string State:string StreetAddress:string Surname:string Tags:string TenantId:string
        TimeGenerated:datetime Type:string UACFlags:string UserAccountControl:dynamic UserState:string
        UserStateChangedOn:datetime UserType:string
        """
    ),
    "BehaviorAnalytics": _schema(
        """
        ActionType:string ActivityInsights:dynamic ActivityType:string ActorName:string ActorPrincipalName:string
        _BilledSize:real DestinationDevice:string DestinationIPAddress:string DestinationIPLocation:string
        Device:string DevicesInsights:dynamic EventProductVersion:string EventSource:string EventVendor:string
        InvestigationPriority:int _IsBillable:string NativeTableName:string _ResourceId:string SourceDevice:string
        SourceIPAddress:string SourceIPLocation:string SourceRecordId:string SourceSystem:string
        _SubscriptionId:string TargetName:string TargetPrincipalName:string TenantId:string TimeGenerated:datetime
        TimeProcessed:datetime Type:string UserName:string UserPrincipalName:string UsersInsights:dynamic
        """
    ),
}

_DUCKDB_TYPES: Final = {
    "string": "VARCHAR",
    "datetime": "TIMESTAMP",
    "dynamic": "JSON",
    "int": "INTEGER",
    "long": "BIGINT",
    "real": "DOUBLE",
    "bool": "BOOLEAN",
}
_RESULT_TYPES: Final = {
    "VARCHAR": "string",
    "TIMESTAMP": "datetime",
    "JSON": "dynamic",
    "INTEGER": "int",
    "BIGINT": "long",
    "DOUBLE": "real",
    "BOOLEAN": "bool",
}
_PATH: Final = re.compile(r"^/v1/workspaces/(?P<workspace>[^/]+)/query/?$")
_DURATION: Final = re.compile(r"^PT(?P<seconds>\d+(?:\.\d+)?)S$")

LIMIT_MESSAGE: Final = (
    "Query result set has exceeded the internal record count limit {limit} "
    "(E_QUERY_RESULT_SET_TOO_LARGE; see https://aka.ms/kustoquerylimits)"
)


def error_body(code: str, message: str, *inner: tuple[str, str]) -> dict[str, Any]:
    """The API's error shape: {"error": {"code", "message", "innererror": {...}}}, innermost last."""
    node: dict[str, Any] | None = None
    for inner_code, inner_message in reversed(inner):
        node = {"code": inner_code, "message": inner_message} | ({"innererror": node} if node else {})
    top: dict[str, Any] = {"code": code, "message": message, "correlationId": str(uuid.uuid4())}
    if node:
        top["innererror"] = node
    return {"error": top}


def partial_error(message: str) -> dict[str, Any]:
    """The "error" member of a partial success (HTTP 200), as the service sends it."""
    return {
        "code": "PartialError",
        "message": "There were some errors when processing your query.",
        "details": [
            {
                "code": "EngineError",
                "message": "Something went wrong processing your query on the server.",
                "innererror": {"code": "-2133196797", "message": message, "severity": 2, "severityName": "Error"},
            }
        ],
    }


# The bodies the service sends for each failure (error codes as the API documents them).
DEFAULT_ERRORS: Final[dict[int, dict[str, Any]]] = {
    400: error_body(
        "BadArgumentError",
        "The request had some invalid properties",
        ("SemanticError", "A semantic error occurred."),
        ("SEM0100", "'where' operator: Failed to resolve column or scalar expression named 'Nope'"),
    ),
    401: error_body("AuthorizationRequiredError", "Valid authentication was not provided"),
    403: error_body(
        "InsufficientAccessError",
        "The provided credentials have insufficient access to perform the requested operation",
    ),
    429: error_body("ThrottledError", "You have exceeded the request limit; try again later"),
    500: error_body("InternalServerError", "An internal server error occurred"),
    503: error_body("ServiceUnavailableError", "The service is temporarily unavailable"),
    504: error_body("GatewayTimeout", "The query did not complete within the server timeout"),
}


@dataclass
class Fault:
    """Answer the next ``times`` requests whose query contains ``when`` (any, if None) with this.

    ``status`` 200 with ``partial`` set sends a partial result: half the real rows plus "error".
    """

    status: int = 500
    times: int = 1
    when: str | None = None
    partial: bool = False
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def matches(self, query: str) -> bool:
        return self.times > 0 and (self.when is None or self.when in query)


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    workspace: str
    query: str
    timespan: str | None
    prefer: str | None
    status: int
    rows: int


class LogAnalyticsServer:
    """The loopback workspace. Use as a context manager; ``endpoint`` is ``http://127.0.0.1:PORT``."""

    def __init__(
        self,
        tables: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        *,
        workspace_id: str = "11111111-2222-3333-4444-555555555555",
        row_limit: int | None = None,
        silent_truncation: bool = False,
        compress: bool = True,
        column_types: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        # ``column_types`` retypes columns, as workspaces differ: {"IdentityInfo": {"Tags": "dynamic"}}.
        self.schemas = {
            name: dict(schema) | dict((column_types or {}).get(name, {})) for name, schema in WORKSPACE_SCHEMAS.items()
        }
        self.workspace_id = workspace_id
        self.row_limit = row_limit
        self.silent_truncation = silent_truncation
        self.compress = compress
        self.received: list[Received] = []
        self.bytes_sent = 0
        self.json_bytes = 0
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._con = duckdb_kql.connect()
        self._con.execute("CREATE SCHEMA base")
        self.load(tables or {})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="la-server", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> LogAnalyticsServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop serving (if it was started) and release the tables."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join(timeout=5)
        self._httpd.server_close()
        self._con.close()

    # --- test controls ----------------------------------------------------------------------

    def load(self, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
        """Replace the workspace's tables; a table not given is empty."""
        with self._lock:
            for name, schema in self.schemas.items():
                _load_table(self._con, name, schema, tables.get(name, ()))
            unknown = set(tables) - set(self.schemas)
            if unknown:
                raise ValueError(f"unknown tables {sorted(unknown)}")

    def fail(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def reset_counters(self) -> None:
        with self._lock:
            self.received.clear()
            self.bytes_sent = 0
            self.json_bytes = 0

    def reset(self) -> None:
        """Counters cleared, no faults, no row limit: as new (the tables stay)."""
        self.reset_counters()
        with self._lock:
            self._faults.clear()
            self.row_limit = None
            self.silent_truncation = False

    @property
    def queries(self) -> list[str]:
        return [r.query for r in self.received]

    # --- the API ----------------------------------------------------------------------------

    def respond(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        """(status, extra headers, body bytes) for one request, counted; gzip when the client accepts it."""
        with self._lock:
            status, extra, payload = self.answer(path, headers, body)
            data = json.dumps(payload, ensure_ascii=False).encode()
            self.json_bytes += len(data)
            if self.compress and "gzip" in (headers.get("Accept-Encoding") or ""):
                data = gzip.compress(data, compresslevel=6)
                extra = extra | {"Content-Encoding": "gzip"}
            self.bytes_sent += len(data)
            return status, extra, data

    def answer(self, path: str, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, str], dict[str, Any]]:
        """(status, extra headers, JSON body) for one request. Call under the server's lock."""
        match = _PATH.match(path)
        if match is None or match["workspace"] != self.workspace_id:
            return 404, {}, error_body("PathNotFoundError", f"The requested path does not exist: {path}")
        if not (headers.get("Authorization") or "").startswith("Bearer "):
            return 401, {}, DEFAULT_ERRORS[401]
        try:
            request = json.loads(body)
            query = request["query"]
            timespan = request.get("timespan")
            bounds = _parse_timespan(timespan)
        except (ValueError, KeyError, TypeError) as error:
            return 400, {}, error_body("BadArgumentError", "The request had some invalid properties", ("", str(error)))
        fault = next((f for f in self._faults if f.matches(query)), None)
        if fault is not None:
            fault.times -= 1
        status, extra, payload, rows = self._run(query, bounds, fault)
        self.received.append(Received(match["workspace"], query, timespan, headers.get("Prefer"), status, rows))
        return status, extra, payload

    def _run(
        self, query: str, bounds: tuple[datetime, datetime] | None, fault: Fault | None
    ) -> tuple[int, dict[str, str], dict[str, Any], int]:
        if fault is not None and fault.status != 200:
            return fault.status, fault.headers, fault.body or DEFAULT_ERRORS.get(fault.status, DEFAULT_ERRORS[500]), 0
        try:
            columns, rows = self._execute(query, bounds)
        except KqlError as error:
            inner = ("SyntaxError", str(error).splitlines()[0])
            return 400, {}, error_body("BadArgumentError", "The request had some invalid properties", inner), 0
        except Exception as error:  # DuckDB refusing the translated SQL: the query's fault, as in Kusto
            inner = ("SemanticError", str(error).splitlines()[0])
            return 400, {}, error_body("BadArgumentError", "The request had some invalid properties", inner), 0
        table = {"name": "PrimaryResult", "columns": columns, "rows": rows}
        if fault is not None and fault.partial:
            table["rows"] = rows[: len(rows) // 2]
            error = partial_error("Query execution has exceeded the allowed limits (E_RUNAWAY_QUERY)")
            return 200, fault.headers, {"tables": [table], "error": error}, len(table["rows"])
        if self.row_limit is not None and len(rows) > self.row_limit:
            table["rows"] = rows[: self.row_limit]
            if self.silent_truncation:
                return 200, {}, {"tables": [table]}, len(table["rows"])
            error = partial_error(LIMIT_MESSAGE.format(limit=self.row_limit))
            return 200, {}, {"tables": [table], "error": error}, len(table["rows"])
        return 200, {}, {"tables": [table]}, len(rows)

    def _execute(
        self, query: str, bounds: tuple[datetime, datetime] | None
    ) -> tuple[list[dict[str, str]], list[list[Any]]]:
        for name in self.schemas:
            where = ""
            if bounds is not None:
                start, end = (b.astimezone(UTC).replace(tzinfo=None).isoformat() for b in bounds)
                where = f" WHERE \"TimeGenerated\" BETWEEN TIMESTAMP '{start}' AND TIMESTAMP '{end}'"
            self._con.execute(f'CREATE OR REPLACE TEMP VIEW "{name}" AS SELECT * FROM base."{name}"{where}')
        relation = duckdb_kql.query(self._con, query)
        types = [_RESULT_TYPES.get(str(t), "string") for t in relation.types]
        columns = [{"name": n, "type": t} for n, t in zip(relation.columns, types, strict=True)]
        rows = [[_cell(v, t) for v, t in zip(row, types, strict=True)] for row in relation.fetchall()]
        return columns, rows


def _parse_timespan(text: str | None) -> tuple[datetime, datetime] | None:
    # The forms azure-monitor-query sends: "start/end", "start/PT<s>S", "PT<s>S" (ending now).
    if not text:
        return None
    parts = text.split("/")
    if len(parts) == 1:
        end = datetime.now(UTC)
        return end - _duration(parts[0]), end
    start = _instant(parts[0])
    end = start + _duration(parts[1]) if parts[1].startswith("P") else _instant(parts[1])
    return start, end


def _instant(text: str) -> datetime:
    moment = values.parse_datetime(text)
    if moment is None:
        raise ValueError(f"bad timespan instant {text!r}")
    return moment


def _duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"unsupported timespan duration {text!r}")
    return timedelta(seconds=float(match["seconds"]))


def _cell(value: Any, kusto_type: str) -> Any:
    if kusto_type == "string":
        return "" if value is None else value
    if value is None:
        return None
    if kusto_type == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value  # dynamic: DuckDB already holds it as JSON text, which is what the API sends


def _stored(value: Any, kusto_type: str) -> Any:
    """A fixture cell as the workspace stores it (JSON-able, for bulk loading)."""
    if kusto_type == "string":
        return values.parse_string(value) if value is not None else ""
    if kusto_type == "datetime":
        moment = values.parse_datetime(value)
        return None if moment is None else moment.replace(tzinfo=None).isoformat()
    if kusto_type == "dynamic":
        # Ingestion into a dynamic column parses JSON text; other text stays a string value.
        parsed = values.parse_dynamic(value)
        return None if parsed is None else json.dumps(parsed, ensure_ascii=False)
    if kusto_type in ("int", "long"):
        return values.parse_int(value)
    if kusto_type == "bool":
        return values.parse_bool(value)
    return None if value is None or value == "" else float(value)


def _load_table(con: Any, name: str, schema: Mapping[str, str], rows: Iterable[Mapping[str, Any]]) -> None:
    columns = ", ".join(f'"{c}" {_DUCKDB_TYPES[t]}' for c, t in schema.items())
    con.execute(f'CREATE OR REPLACE TABLE base."{name}" ({columns})')
    with tempfile.TemporaryDirectory(prefix="la-server-") as directory:
        path = Path(directory) / f"{name}.jsonl"
        count = 0
        with path.open("w", encoding="utf-8") as stream:
            for row in rows:
                unknown = set(row) - set(schema)
                if unknown:
                    raise ValueError(f"{name}: no such column(s) {sorted(unknown)}")
                record = {c: _stored(row.get(c), t) for c, t in schema.items()}
                stream.write(json.dumps(record, ensure_ascii=False) + "\n")
                count += 1
        if count == 0:
            return
        # Read every cell as text (or its JSON scalar), then cast to the column type in SQL.
        read_types = {
            c: ("VARCHAR" if t in ("string", "datetime", "dynamic") else _DUCKDB_TYPES[t]) for c, t in schema.items()
        }
        spec = "{" + ", ".join(f"'{c}': '{t}'" for c, t in read_types.items()) + "}"
        select = ", ".join(f'CAST("{c}" AS {_DUCKDB_TYPES[t]})' for c, t in schema.items())
        con.execute(
            f"INSERT INTO base.\"{name}\" SELECT {select} FROM read_json(?, format='newline_delimited', "
            f"columns={spec}, maximum_object_size=1073741824)",
            [str(path)],
        )


def _handler_for(server: LogAnalyticsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status, extra, data = server.respond(self.path, dict(self.headers.items()), body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            data = json.dumps(error_body("MethodNotAllowed", "Use POST for queries")).encode()
            self.send_response(405)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``server.received`` instead."""

    return Handler
