"""The live data source: the three tables from a Log Analytics workspace, with the rule's filters pushed down.

One query per table (per batch of candidates), each with the API's ``timespan`` set to that
table's window, as Sentinel runs a scheduled rule, plus an explicit half-open time filter in the
KQL (``shared.sources.la_queries``). What comes back is only what can matter to the rule, and
``detect`` over it equals ``detect`` over the same rows read from fixture files.

Never returns partial data as if it were complete: a partial result, or one at the service's row
limit, is re-read as two half windows, down to ``min_split``; anything else that goes wrong
raises ``SourceError`` with one message naming the cause, and the window counts as not evaluated.
That includes a response the SDK cannot read (not UTF-8, not JSON, JSON nested deeper than
``json``'s recursion allows, JSON of another shape) and a value that cannot be read as its column's
type (``shared.sources.values``): each names the table and the window, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypeVar

from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, DecodeError, HttpResponseError
from azure.identity import DefaultAzureCredential
from azure.monitor.query import LogsQueryClient, LogsQueryPartialResult

from shared import kql
from shared.candidates import Candidates, is_logon_with_source_ip, is_rejected_mfa
from shared.errors import ConfigError, SourceError
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SCHEMAS, SIGNIN_TABLE, ReadRequest, Row, Tables, Window
from shared.settings import PUBLIC_LA_ENDPOINT
from shared.sources import la_errors, la_queries
from shared.sources.la_queries import Batching
from shared.sources.placeholder_credential import PlaceholderCredential
from shared.sources.values import CellError, api_row, normalise_row
from shared.urls import is_loopback_url

if TYPE_CHECKING:
    from shared.settings import Settings

logger = logging.getLogger(__name__)
E = TypeVar("E", bound=BaseException)

# The service's result limits (azure-facts.md): 500,000 rows and ~100 MB per result.
SERVICE_ROW_LIMIT: Final = 500_000
# A log query is a read, so retrying its POST is safe; the SDK retries a POST only on 500/503/504
# (and on 429 only with Retry-After) unless POST is named here.
_RETRY_METHODS: Final = frozenset({"POST", "GET", "HEAD"})
# What the SDK raises, past its own AzureError, for a response it cannot read: it decodes the body
# (UnicodeDecodeError), parses it with json.loads (JSONDecodeError, RecursionError for deep
# nesting) and builds its models from what it finds (TypeError, KeyError, AttributeError ... for
# JSON of another shape). The same errors from the result's tables and rows.
_UNREADABLE: Final = (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError)


class LogAnalyticsSource:
    """A ``DataSource`` over a Log Analytics workspace (azure-monitor-query ``LogsQueryClient``).

    ``credential`` defaults to ``DefaultAzureCredential`` (managed identity in Azure;
    ``client_id`` selects a user-assigned one), or to a placeholder for a loopback ``endpoint``
    (``http://127.0.0.1:…``, ``http://localhost:…``), the only endpoints for which HTTPS is not
    enforced. ``retry_*`` configure the SDK's retry of 408/429/5xx and connection errors.
    """

    def __init__(
        self,
        *,
        workspace_id: str,
        endpoint: str = PUBLIC_LA_ENDPOINT,
        server_timeout: int = 180,
        credential: TokenCredential | None = None,
        client_id: str | None = None,
        min_split: timedelta = timedelta(minutes=1),
        max_result_rows: int = SERVICE_ROW_LIMIT,
        batching: Batching | None = None,
        retry_total: int = 4,
        retry_backoff_factor: float = 0.8,
        retry_backoff_max: float = 60.0,
    ) -> None:
        if not workspace_id:
            raise ConfigError("LOG_ANALYTICS_WORKSPACE_ID: the Log Analytics source needs a workspace id")
        if not 1 <= server_timeout <= 600:
            raise ConfigError(f"MFA_LA_SERVER_TIMEOUT: must be 1-600 seconds, got {server_timeout}")
        if min_split <= timedelta(0) or max_result_rows < 1:
            raise ValueError("min_split must be positive and max_result_rows at least 1")
        self.workspace_id = workspace_id
        self.endpoint = endpoint.rstrip("/")
        self.server_timeout = server_timeout
        self.client_id = client_id
        self.min_split = min_split
        self.max_result_rows = max_result_rows
        self.batching = batching or Batching()
        self.retry_total = retry_total
        self.loopback = is_loopback_url(self.endpoint)
        self._owns_credential = credential is None
        self.credential: TokenCredential = credential or self._default_credential()
        self._call_options: dict[str, Any] = {
            "server_timeout": server_timeout,
            "retry_total": retry_total,
            "retry_status": retry_total,
            "retry_connect": retry_total,
            "retry_read": retry_total,
            "retry_backoff_factor": retry_backoff_factor,
            "retry_backoff_max": retry_backoff_max,
            "retry_on_methods": _RETRY_METHODS,
            # The service may work for server_timeout seconds before it answers.
            "read_timeout": server_timeout + 30,
        }
        if self.loopback:
            self._call_options["enforce_https"] = False
        self._client = LogsQueryClient(self.credential, endpoint=self.endpoint)

    @classmethod
    def from_settings(cls, settings: Settings, *, credential: TokenCredential | None = None) -> LogAnalyticsSource:
        workspaces = settings.workspaces
        if len(workspaces) != 1:
            # Many workspaces are many sources, one per runner (shared.fleet).
            raise ConfigError(f"LOG_ANALYTICS_WORKSPACE_ID: one source reads one workspace, {len(workspaces)} are set")
        return cls(
            workspace_id=workspaces[0].id,
            endpoint=settings.la_endpoint,
            server_timeout=settings.la_server_timeout,
            client_id=settings.azure_client_id,
            credential=credential,
        )

    def _default_credential(self) -> TokenCredential:
        if self.loopback:
            return PlaceholderCredential()
        # Passed explicitly (None = system-assigned), so the setting is the one source of truth.
        return DefaultAzureCredential(managed_identity_client_id=self.client_id)

    def close(self) -> None:
        self._client.close()
        if self._owns_credential and isinstance(self.credential, DefaultAzureCredential):
            self.credential.close()

    def __enter__(self) -> LogAnalyticsSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, table: str, window: Window, query: str) -> tuple[list[dict[str, Any]], str | None]:
        """Run one query over ``window``: its raw rows (``dynamic`` cells decoded, ``api_row``), or
        why the result is incomplete.

        Raises ``SourceError`` naming the cause for every failure the SDK reports.
        """
        try:
            result = self._client.query_workspace(
                self.workspace_id, query, timespan=(window.start, window.end), **self._call_options
            )
        except HttpResponseError as error:
            # The SDK re-raises every HttpResponseError as a plain one, a token failure and a body
            # it could not decode included; the original is its context.
            undecodable = la_errors.context_of(error, DecodeError)
            if undecodable is not None:
                raise SourceError(la_errors.unreadable_message(table, window, undecodable)) from None
            auth = la_errors.auth_failure(error)
            if auth is not None:
                raise SourceError(la_errors.auth_message(self, auth)) from None
            raise SourceError(la_errors.http_message(self, table, error)) from None
        except AzureError as error:
            raise SourceError(
                f"could not query Log Analytics at {self.endpoint} for {table}: {la_errors.first_line(error)}"
            ) from None
        except _UNREADABLE as error:
            raise SourceError(la_errors.unreadable_message(table, window, error)) from None
        try:
            if isinstance(result, LogsQueryPartialResult):
                return [], f"partial result: {la_errors.partial_reason(result)}"
            if len(result.tables) > 1:
                raise SourceError(f"Log Analytics returned {len(result.tables)} result tables for the {table} query")
            if not result.tables:
                return [], None
            found = result.tables[0]
            raw = [api_row(found.columns, found.columns_types, list(row)) for row in found.rows]
        except _UNREADABLE as error:
            raise SourceError(la_errors.unreadable_message(table, window, error)) from None
        if len(raw) >= self.max_result_rows:
            return [], f"{len(raw)} rows, the service's row limit"
        return raw, None

    # --- DataSource ----------------------------------------------------------------------------

    def read(self, request: ReadRequest) -> Tables:
        windows = {SIGNIN_TABLE: request.signins, IDENTITY_TABLE: request.identities, BEHAVIOR_TABLE: request.behaviors}
        unbounded = [table for table, window in windows.items() if window is None]
        if unbounded:
            raise SourceError(f"the Log Analytics source needs a time window for every table; none for {unbounded}")
        reader = _Reader(self)
        latest = {table: self._latest(table, window) for table, window in windows.items()} if request.measure else {}

        # Stages 2-5 run in the query; the exact Python check keeps the candidates exactly the
        # rule's even where the service's text functions differed from ours on some input.
        received = reader.rows(SIGNIN_TABLE, request.signins, la_queries.signin_query)
        signins = [row for row in received if is_rejected_mfa(row)]
        candidates = Candidates.from_signins(signins)
        if not candidates:
            logger.info("Log Analytics: no rejected MFA sign-in; IdentityInfo and BehaviorAnalytics not read")
            return Tables(signins=signins, scanned=reader.scanned, latest=latest)

        identities = self._identities(reader, request.identities, candidates)
        behaviors = self._behaviors(reader, request.behaviors, candidates)
        logger.info("Log Analytics: %d queries, rows received %s", reader.queries, reader.scanned)
        return Tables(
            signins=signins, identities=identities, behaviors=behaviors, scanned=reader.scanned, latest=latest
        )

    def _latest(self, table: str, window: Window) -> datetime | None:
        """The newest row of ``table`` in ``window`` (``la_queries.latest_query``), None for none."""
        raw, incomplete = self.query(table, window, la_queries.latest_query(table, window))
        if incomplete is not None:
            raise SourceError(f"Log Analytics could not measure {table} for {window}: {incomplete}")
        latest = raw[0].get("Latest") if raw else None
        if latest is not None and not isinstance(latest, datetime):
            raise SourceError(f"Log Analytics answered the {table} measure for {window} with {latest!r}, not a time")
        return latest

    def _identities(self, reader: _Reader, window: Window, candidates: Candidates) -> list[Row]:
        kept: list[Row] = []
        max_chars = self.batching.max_value_chars
        for batch in self.batching.upn_batches(candidates.upns):
            query_for = partial(la_queries.identity_query, upns=batch, max_value_chars=max_chars)
            rows = reader.rows(IDENTITY_TABLE, window, query_for)
            # Exactly this batch's UPNs: the query may admit more (a prefix test), and a row kept by
            # one batch is never kept by another.
            kept.extend(row for row in rows if kql.tolower(row["AccountUPN"]) in batch)
        return kept

    def _behaviors(self, reader: _Reader, window: Window, candidates: Candidates) -> list[Row]:
        # A sign-in without an IP can match no BehaviorAnalytics row: isnotempty(SourceIPAddress).
        pairs = [(ip, name) for ip, name in candidates.ip_names if ip != ""]
        kept: list[Row] = []
        max_chars = self.batching.max_value_chars
        for batch in self.batching.pair_batches(pairs):
            query_for = partial(la_queries.behavior_query, pairs=batch, max_value_chars=max_chars)
            rows = reader.rows(BEHAVIOR_TABLE, window, query_for)
            kept.extend(
                row
                for row in rows
                if is_logon_with_source_ip(row) and (row["SourceIPAddress"], row["UserName"]) in batch
            )
        return kept


class _Reader:
    """Runs one read's queries: splits a window whose result is incomplete, counts what it did."""

    def __init__(self, source: LogAnalyticsSource) -> None:
        self.source = source
        self.queries = 0
        self.scanned: dict[str, int] = {SIGNIN_TABLE: 0, IDENTITY_TABLE: 0, BEHAVIOR_TABLE: 0}

    def rows(self, table: str, window: Window, query_for: Callable[[Window], str]) -> list[Row]:
        """All rows of ``query_for(window)``; an incomplete result is re-read as two half windows."""
        self.queries += 1
        raw, incomplete = self.source.query(table, window, query_for(window))
        if incomplete is None:
            rows = [_normalise(table, window, row) for row in raw]
            self.scanned[table] += len(rows)
            return rows
        half = (window.end - window.start) / 2
        if half < self.source.min_split:
            raise SourceError(
                f"Log Analytics returned an incomplete {table} result for {window} ({incomplete}), "
                f"even after splitting the window down to {self.source.min_split}; the window is not evaluated"
            )
        logger.warning("Log Analytics: incomplete %s result for %s (%s); halving", table, window, incomplete)
        middle = window.start + half
        first = self.rows(table, Window(window.start, middle), query_for)
        return first + self.rows(table, Window(middle, window.end), query_for)


def _normalise(table: str, window: Window, raw: Mapping[str, Any]) -> Row:
    # Columns the query did not project come out "" (string) or null, as from a fixture file.
    try:
        return normalise_row(raw, SCHEMAS[table])
    except CellError as error:
        raise SourceError(
            f"Log Analytics returned an unreadable {table} value for {window}: {error}; the window is not evaluated"
        ) from None
