"""The live source through the real SDK: azure-monitor-query's LogsQueryClient against a loopback workspace.

The workspace (``tests.harness.la_server``) executes the KQL it receives over its tables, so a
pushdown that filters wrongly returns wrong rows. The promise under test: ``detect`` over what the
live source returns equals ``detect`` over the same rows read as fixture files, and failures raise
one clear ``SourceError``.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import DefaultAzureCredential
from hypothesis import HealthCheck, given, settings

from shared.detection import detect
from shared.errors import ConfigError, SourceError
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE, ReadRequest, Tables, Window
from shared.settings import load_settings
from shared.sources import la_queries
from shared.sources.fixtures import FixtureSource, read_records
from shared.sources.la_queries import Batching
from shared.sources.loganalytics import LogAnalyticsSource
from shared.sources.placeholder_credential import PlaceholderCredential
from tests.builders import DECLINED, T0, at, behavior, identity, signin
from tests.harness.la_server import WORKSPACE_SCHEMAS, Fault, LogAnalyticsServer
from tests.strategies import tables as adversarial_tables

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA = REPO_ROOT / "sample_data"
HOUR = Window(T0, T0 + timedelta(hours=1))
COLUMNS = {
    SIGNIN_TABLE: la_queries.SIGNIN_COLUMNS,
    IDENTITY_TABLE: la_queries.IDENTITY_COLUMNS,
    BEHAVIOR_TABLE: la_queries.BEHAVIOR_COLUMNS,
}
HOSTILE_NAMES = [
    'o"brien',
    "back\\slash",
    "new\nline",
    "pipe|where true",
    "slash//comment",
    "' or 1==1 //",
    '" or 1==1 or "',
    "let",
    "where",
    "ünïcödé",
    "日本",
    "tab\tx",
    "nul\x00byte",
    "\x00leading-nul",  # no writable prefix at all: that batch reads every row, then keeps exact ones
]


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[LogAnalyticsServer]:
    with LogAnalyticsServer() as running:
        yield running


@pytest.fixture
def workspace(server: LogAnalyticsServer) -> LogAnalyticsServer:
    server.reset()
    server.load({})
    return server


def source_for(workspace: LogAnalyticsServer, **options: Any) -> LogAnalyticsSource:
    options = {"retry_total": 2, "retry_backoff_factor": 0.0, "retry_backoff_max": 0.0} | options
    return LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=workspace.endpoint, **options)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def write_fixtures(directory: Path, tables: Mapping[str, Iterable[Mapping[str, Any]]]) -> Path:
    """The same rows as fixture files (JSON Lines), for ``FixtureSource``."""
    for table in COLUMNS:
        with (directory / f"{table}.jsonl").open("w", encoding="utf-8") as stream:
            for row in tables.get(table, ()):
                stream.write(json.dumps(row, default=_json_default) + "\n")
    return directory


def canonical(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] | None = None) -> list[str]:
    # Arrays compare as sets (make_set order is undefined) and row order does not matter.
    def one(row: Mapping[str, Any]) -> str:
        keys = list(columns) if columns is not None else list(row)
        return repr({k: sorted(map(repr, row[k])) if isinstance(row[k], list) else row[k] for k in keys})

    return sorted(one(row) for row in rows)


def assert_live_equals_fixtures(live: Tables, fixture: Tables) -> None:
    assert canonical(live.signins, COLUMNS[SIGNIN_TABLE]) == canonical(fixture.signins, COLUMNS[SIGNIN_TABLE])
    assert canonical(live.identities, COLUMNS[IDENTITY_TABLE]) == canonical(fixture.identities, COLUMNS[IDENTITY_TABLE])
    assert canonical(live.behaviors, COLUMNS[BEHAVIOR_TABLE]) == canonical(fixture.behaviors, COLUMNS[BEHAVIOR_TABLE])
    for cutoff in (0, 3):
        expected = detect(fixture.signins, fixture.identities, fixture.behaviors, risk_score_cutoff=cutoff)
        actual = detect(live.signins, live.identities, live.behaviors, risk_score_cutoff=cutoff)
        assert canonical(actual) == canonical(expected)


def read_both(
    workspace: LogAnalyticsServer,
    tables: Mapping[str, list[dict[str, Any]]],
    request: ReadRequest,
    directory: Path,
    **options: Any,
) -> tuple[Tables, Tables]:
    workspace.load(tables)
    fixture = FixtureSource(write_fixtures(directory, tables)).read(request)
    with source_for(workspace, **options) as live_source:
        live = live_source.read(request)
    return live, fixture


def built_sample() -> dict[str, list[dict[str, Any]]]:
    """A small tenant hour with every case the rule distinguishes, plus rows outside the window."""
    return {
        SIGNIN_TABLE: [
            signin("john.doe@contoso.com", minute=3),
            signin("John.Doe@contoso.com", minute=40),  # case variant: merges
            signin("jane.roe@contoso.com", ip="198.51.100.4", details="MFA denied; Fraud Code entered"),
            signin("ann@contoso.com", ip="198.51.100.9", details="user-reported-fraud", minute=59.99),
            signin("bob@contoso.com", details="fraudulent"),  # not the term "fraud"
            signin("carl@contoso.com", ip="198.51.100.7"),  # UEBA score 3: no alert
            signin("dave@contoso.com", result_type="0"),
            signin("erin@contoso.com", details=DECLINED + "."),
            signin("frank@contoso.com", status=None),
            signin("gina@contoso.com", ip=""),
            signin("john.doe@contoso.com", minute=-1),  # before the window
            signin("john.doe@contoso.com", minute=60),  # at its end: excluded
        ],
        IDENTITY_TABLE: [
            identity("john.doe@contoso.com", tags='["VIP", "Finance"]'),
            identity("JOHN.DOE@contoso.com", tags="Sensitive", groups=("HR",), minute=30),
            identity("jane.roe@contoso.com", tags=[], roles=()),
            identity("carl@contoso.com", minute=-30),  # before the window
            identity("zoe@contoso.com"),  # no candidate
        ],
        BEHAVIOR_TABLE: [
            behavior("john.doe", score=7),
            behavior("john.doe", score=9, activity="FailedLogOn", minute=50),
            behavior("john.doe", score=10, activity="ResourceAccess"),  # other activity
            behavior("John.Doe", score=10),  # case differs from the lower-cased name
            behavior("jane.roe", ip="198.51.100.4", score=4),
            behavior("ann", ip="198.51.100.9", score=8),
            behavior("carl", ip="198.51.100.7", score=3),
            behavior("john.doe", ip="198.51.100.4", score=10),  # IP of one candidate, name of another
            behavior("gina", ip="", score=10),
            behavior("zoe", score=10),
        ],
    }


def sample_data_tables() -> tuple[dict[str, list[dict[str, Any]]], ReadRequest]:
    """The repository's sample_data/ as rows, and a window covering all of them."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table, schema in WORKSPACE_SCHEMAS.items():
        [path] = [p for p in SAMPLE_DATA.glob(f"{table}.*") if p.suffix in (".jsonl", ".json", ".csv")]
        tables[table] = [{k: v for k, v in raw.items() if k in schema} for _, raw in read_records(path, table)]
    fixture = FixtureSource(SAMPLE_DATA).read(ReadRequest.same(None))
    times = [row["TimeGenerated"] for rows in (fixture.signins, fixture.identities, fixture.behaviors) for row in rows]
    times = [t for t in times if t is not None] or [T0]
    return tables, ReadRequest.same(Window(min(times), max(times) + timedelta(seconds=1)))


DATASETS = ["built"] + (["sample_data"] if SAMPLE_DATA.is_dir() else [])


# --- equality with fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize("dataset", DATASETS)
def test_live_source_equals_fixtures(workspace: LogAnalyticsServer, tmp_path: Path, dataset: str) -> None:
    if dataset == "built":
        tables, request = built_sample(), ReadRequest.same(HOUR)
    else:
        tables, request = sample_data_tables()
    live, fixture = read_both(workspace, tables, request, tmp_path)
    assert_live_equals_fixtures(live, fixture)
    assert live.signins, "the dataset must exercise the pushdown"
    assert [r.status for r in workspace.received] == [200, 200, 200]


def test_built_sample_alerts_as_the_rule_does(workspace: LogAnalyticsServer, tmp_path: Path) -> None:
    live, _ = read_both(workspace, built_sample(), ReadRequest.same(HOUR), tmp_path)
    result = detect(live.signins, live.identities, live.behaviors)
    assert sorted((r["UserPrincipalName"], r["FailedIPAddress"], r["UEBARiskScore"]) for r in result) == [
        ("ann@contoso.com", "198.51.100.9", 8),
        ("jane.roe@contoso.com", "198.51.100.4", 4),
        ("john.doe@contoso.com", "203.0.113.7", 9),
        ("john.doe@contoso.com", "203.0.113.7", 9),  # two IdentityInfo case variants
    ]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(adversarial_tables)
def test_live_source_equals_fixtures_on_adversarial_tables(server: LogAnalyticsServer, data: tuple) -> None:
    signins, identities, behaviors = data
    tables = {SIGNIN_TABLE: signins, IDENTITY_TABLE: identities, BEHAVIOR_TABLE: behaviors}
    server.reset()
    with tempfile.TemporaryDirectory() as directory:
        live, fixture = read_both(server, tables, ReadRequest.same(HOUR), Path(directory))
    assert_live_equals_fixtures(live, fixture)


def test_hostile_values_neither_break_the_queries_nor_change_what_they_select(
    workspace: LogAnalyticsServer, tmp_path: Path
) -> None:
    signins, identities, behaviors = [], [], []
    for index, name in enumerate(HOSTILE_NAMES):
        ip = f'10.0.0.{index}" or 1==1 //'
        signins.append(signin(f"{name}@x.com", ip=ip))
        identities.append(identity(f"{name.upper()}@x.com", tags=f"tag{index}"))
        behaviors.append(behavior(name, ip=ip, score=4 + index % 5))
        # Decoys: would be selected if a value leaked out of its literal or lost a character.
        identities.append(identity(f"{name}@x.co", tags="decoy"))
        if "\x00" in name:
            identities.append(identity(f"{name.replace(chr(0), '')}@x.com", tags="decoy"))
        behaviors.append(behavior(name + " ", ip=ip, score=10))
        behaviors.append(behavior(name, ip=ip.replace('"', ""), score=10))
    tables = {SIGNIN_TABLE: signins, IDENTITY_TABLE: identities, BEHAVIOR_TABLE: behaviors}
    # Small batches: several queries per table, some prefix tests admitting other batches' rows.
    live, fixture = read_both(
        workspace, tables, ReadRequest.same(HOUR), tmp_path, batching=Batching(max_values=4, max_literal_chars=5000)
    )
    assert_live_equals_fixtures(live, fixture)
    assert len(live.signins) == len(HOSTILE_NAMES)
    assert {row["Tags"] for row in live.identities} == {f"tag{i}" for i in range(len(HOSTILE_NAMES))}
    assert all(row["InvestigationPriority"] < 10 for row in live.behaviors)
    assert all(r.status == 200 for r in workspace.received)
    assert len(workspace.received) == 1 + 2 * 4  # 14 candidates in batches of 4, for two tables
    assert any("\n| where true\n" in query for query in workspace.queries)  # the leading NUL's batch


def test_batches_keep_each_row_once(workspace: LogAnalyticsServer, tmp_path: Path) -> None:
    names = [f"user{i}" for i in range(7)]
    tables = {
        SIGNIN_TABLE: [signin(f"{n}@x.com") for n in names],
        IDENTITY_TABLE: [identity(f"{n}@x.com") for n in names],
        BEHAVIOR_TABLE: [behavior(n, score=5) for n in names],
    }
    live, fixture = read_both(workspace, tables, ReadRequest.same(HOUR), tmp_path, batching=Batching(max_values=3))
    assert_live_equals_fixtures(live, fixture)
    assert len(live.identities) == 7
    assert len(live.behaviors) == 7
    assert len(workspace.received) == 1 + 3 + 3


# --- what is queried ----------------------------------------------------------------------------


def test_no_candidate_means_exactly_one_query(workspace: LogAnalyticsServer) -> None:
    workspace.load(
        {
            SIGNIN_TABLE: [signin(result_type="0"), signin(details="fraudulent")],
            IDENTITY_TABLE: [identity()],
            BEHAVIOR_TABLE: [behavior()],
        }
    )
    tables = source_for(workspace).read(ReadRequest.same(HOUR))
    assert (tables.signins, tables.identities, tables.behaviors) == ([], [], [])
    assert [r.query.split("\n")[0] for r in workspace.received] == [SIGNIN_TABLE]


def test_sign_ins_without_an_ip_need_no_behavior_query(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin(ip="")], BEHAVIOR_TABLE: [behavior(ip="")]})
    tables = source_for(workspace).read(ReadRequest.same(HOUR))
    assert len(tables.signins) == 1
    assert [r.query.split("\n")[0] for r in workspace.received] == [SIGNIN_TABLE, IDENTITY_TABLE]


def test_each_query_is_bounded_by_its_tables_window(workspace: LogAnalyticsServer) -> None:
    lookback = Window(T0 - timedelta(hours=23), HOUR.end)
    workspace.load(
        {
            SIGNIN_TABLE: [
                signin(minute=0),  # at the start: included
                signin(minute=60 - 1 / 60_000_000, ip="198.51.100.1"),  # 1 µs before the end: included
                signin(minute=60, ip="198.51.100.2"),  # at the end: excluded (the API's timespan admits it)
            ],
            IDENTITY_TABLE: [identity(minute=-600)],  # within the longer IdentityInfo lookback
            BEHAVIOR_TABLE: [behavior(minute=-600), behavior(minute=30, score=6)],
        }
    )
    tables = source_for(workspace).read(ReadRequest(signins=HOUR, identities=lookback, behaviors=HOUR))
    assert sorted(r["IPAddress"] for r in tables.signins) == ["198.51.100.1", "203.0.113.7"]
    assert len(tables.identities) == 1
    assert [r["InvestigationPriority"] for r in tables.behaviors] == [6]
    assert [r.timespan for r in workspace.received] == [
        "2026-11-28T09:00:00.000Z/2026-11-28T10:00:00.000Z",
        "2026-11-27T10:00:00.000Z/2026-11-28T10:00:00.000Z",
        "2026-11-28T09:00:00.000Z/2026-11-28T10:00:00.000Z",
    ]


def test_server_timeout_is_sent_with_each_query(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    source_for(workspace, server_timeout=42).read(ReadRequest.same(HOUR))
    assert {r.prefer for r in workspace.received} == {"wait=42"}


def test_values_arrive_typed_as_the_fixtures_give_them(workspace: LogAnalyticsServer) -> None:
    workspace.load(
        {
            SIGNIN_TABLE: [signin()],
            IDENTITY_TABLE: [identity(tags='["VIP"]', groups=("IT", "HR"))],
            BEHAVIOR_TABLE: [behavior(score=None)],
        }
    )
    tables = source_for(workspace).read(ReadRequest.same(HOUR))
    [sign_in], [ident], [behave] = tables.signins, tables.identities, tables.behaviors
    assert sign_in["TimeGenerated"] == at(10)
    assert sign_in["TimeGenerated"].tzinfo is not None
    assert sign_in["Status"] == {"errorCode": 500121, "additionalDetails": DECLINED}
    assert ident["Tags"] == ["VIP"]
    assert ident["GroupMembership"] == ["IT", "HR"]
    assert ident["JobTitle"] == ""  # not projected: a string is "" as in a fixture without it
    assert ident["IsAccountEnabled"] is None
    assert behave["InvestigationPriority"] is None
    assert behave["UsersInsights"] is None
    assert tables.scanned == {SIGNIN_TABLE: 1, IDENTITY_TABLE: 1, BEHAVIOR_TABLE: 1}


# --- incomplete results -------------------------------------------------------------------------


def _spread_signins(count: int) -> list[dict[str, Any]]:
    return [signin(f"user{i}@x.com", minute=i * 60 / count) for i in range(count)]


def test_a_partial_result_is_read_again_in_halves(workspace: LogAnalyticsServer, tmp_path: Path) -> None:
    tables = {SIGNIN_TABLE: _spread_signins(12), BEHAVIOR_TABLE: [behavior(f"user{i}") for i in range(12)]}
    workspace.fail(Fault(200, partial=True, when=SIGNIN_TABLE))
    live, fixture = read_both(workspace, tables, ReadRequest.same(HOUR), tmp_path)
    assert_live_equals_fixtures(live, fixture)
    assert len(live.signins) == 12
    assert [r.timespan for r in workspace.received[:3]] == [
        "2026-11-28T09:00:00.000Z/2026-11-28T10:00:00.000Z",
        "2026-11-28T09:00:00.000Z/2026-11-28T09:30:00.000Z",
        "2026-11-28T09:30:00.000Z/2026-11-28T10:00:00.000Z",
    ]


def test_results_over_the_row_limit_are_split_until_complete(workspace: LogAnalyticsServer, tmp_path: Path) -> None:
    tables = {
        SIGNIN_TABLE: _spread_signins(12),
        IDENTITY_TABLE: [identity(f"user{i}@x.com", minute=i * 5) for i in range(12)],
    }
    workspace.row_limit = 4
    live, fixture = read_both(workspace, tables, ReadRequest.same(HOUR), tmp_path)
    assert_live_equals_fixtures(live, fixture)
    assert len(live.signins) == 12
    assert len(live.identities) == 12
    complete = [r for r in workspace.received if r.rows < 4]
    assert sum(r.rows for r in complete) == 24


def test_a_silently_truncated_result_at_the_row_limit_is_split(workspace: LogAnalyticsServer, tmp_path: Path) -> None:
    tables = {SIGNIN_TABLE: _spread_signins(10)}
    workspace.row_limit = 3
    workspace.silent_truncation = True
    live, fixture = read_both(workspace, tables, ReadRequest.same(HOUR), tmp_path, max_result_rows=3)
    assert_live_equals_fixtures(live, fixture)
    assert len(live.signins) == 10


def test_a_result_still_incomplete_at_the_floor_raises(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin(minute=10), signin("ann@x.com", minute=10)]})
    workspace.row_limit = 1
    with pytest.raises(SourceError) as caught:
        source_for(workspace, min_split=timedelta(minutes=5)).read(ReadRequest.same(HOUR))
    message = str(caught.value)
    assert "incomplete SigninLogs result" in message
    assert "E_QUERY_RESULT_SET_TOO_LARGE" in message
    assert "0:05:00" in message
    assert "not evaluated" in message
    # 60 -> 30 -> 15 -> 7.5 minutes; the 7.5-minute window holding both rows cannot be halved.
    assert len(workspace.received) <= 8


def test_persistent_partial_results_raise(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(200, partial=True, times=100))
    with pytest.raises(SourceError, match=r"partial result: PartialError: .*E_RUNAWAY_QUERY"):
        source_for(workspace).read(ReadRequest.same(HOUR))
    assert len(workspace.received) == 6  # 60, 30, 15, 7.5, 3.75, 1.875 minutes, then the floor


# --- failures -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_missing_read_access_names_the_workspace_and_role(workspace: LogAnalyticsServer, status: int) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(status))
    with pytest.raises(SourceError) as caught:
        source_for(workspace).read(ReadRequest.same(HOUR))
    message = str(caught.value)
    assert f"HTTP {status}" in message
    assert f"lacks read access on workspace {workspace.workspace_id}" in message
    assert "Log Analytics Reader" in message
    assert len(workspace.received) == 1  # not retried


def test_a_rejected_query_gives_the_services_reason_and_the_table(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(400, when=IDENTITY_TABLE))
    with pytest.raises(SourceError) as caught:
        source_for(workspace).read(ReadRequest.same(HOUR))
    message = str(caught.value)
    assert "rejected the IdentityInfo query (HTTP 400 BadArgumentError)" in message
    assert "Failed to resolve column or scalar expression named 'Nope'" in message


def test_throttling_is_retried_then_succeeds(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(429, times=2, headers={"Retry-After": "0"}))
    tables = source_for(workspace).read(ReadRequest.same(HOUR))
    assert len(tables.signins) == 1
    assert [r.status for r in workspace.received] == [429, 429, 200, 200, 200]


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_is_retried_then_succeeds(workspace: LogAnalyticsServer, status: int) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(status, when=BEHAVIOR_TABLE))
    tables = source_for(workspace).read(ReadRequest.same(HOUR))
    assert len(tables.signins) == 1
    assert [r.status for r in workspace.received] == [200, 200, status, 200]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (429, "throttled the SigninLogs query (HTTP 429 ThrottledError); gave up after 3 attempts"),
        (500, "failed the SigninLogs query with a server error (HTTP 500 InternalServerError); gave up after 3"),
        (504, "timed out on the SigninLogs query (HTTP 504 GatewayTimeout, server timeout 180 s); gave up after 3"),
    ],
)
def test_persistent_failures_raise_naming_the_status(workspace: LogAnalyticsServer, status: int, expected: str) -> None:
    workspace.load({SIGNIN_TABLE: [signin()]})
    workspace.fail(Fault(status, times=10))
    with pytest.raises(SourceError) as caught:
        source_for(workspace).read(ReadRequest.same(HOUR))
    assert expected in str(caught.value)
    assert len(workspace.received) == 3


def test_an_unreachable_endpoint_raises(workspace: LogAnalyticsServer) -> None:
    with LogAnalyticsServer() as stopped:
        endpoint = stopped.endpoint
    source = LogAnalyticsSource(workspace_id=workspace.workspace_id, endpoint=endpoint, retry_total=0)
    with pytest.raises(SourceError, match=f"could not query Log Analytics at {endpoint} for SigninLogs"):
        source.read(ReadRequest.same(HOUR))


class _FailingCredential:
    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        raise ClientAuthenticationError("ManagedIdentityCredential: no managed identity endpoint found")


def test_a_token_failure_names_the_identity(workspace: LogAnalyticsServer) -> None:
    source = source_for(workspace, credential=_FailingCredential(), client_id="abc-123")
    with pytest.raises(SourceError) as caught:
        source.read(ReadRequest.same(HOUR))
    message = str(caught.value)
    assert "could not get a token" in message
    assert "user-assigned identity abc-123" in message
    assert "no managed identity endpoint found" in message
    assert workspace.received == []


def test_https_is_enforced_for_any_endpoint_but_loopback(workspace: LogAnalyticsServer) -> None:
    # 127.0.0.2 is not one of the loopback names the settings allow plain http for: the SDK must
    # refuse to send a token there before connecting anywhere.
    source = LogAnalyticsSource(
        workspace_id=workspace.workspace_id,
        endpoint="http://127.0.0.2:9",
        credential=PlaceholderCredential(),
        retry_total=0,
    )
    with pytest.raises(SourceError, match="not permitted for non-TLS protected"):
        source.read(ReadRequest.same(HOUR))


def test_a_window_is_required_for_every_table(workspace: LogAnalyticsServer) -> None:
    with pytest.raises(SourceError, match="needs a time window"):
        source_for(workspace).read(ReadRequest(signins=HOUR, identities=None, behaviors=HOUR))
    assert workspace.received == []


# --- construction -------------------------------------------------------------------------------


def test_from_settings_uses_the_settings(workspace: LogAnalyticsServer) -> None:
    settings = load_settings(
        MFA_SOURCE="loganalytics",
        LOG_ANALYTICS_WORKSPACE_ID=workspace.workspace_id,
        MFA_LA_ENDPOINT=workspace.endpoint,
        MFA_LA_SERVER_TIMEOUT=33,
        AZURE_CLIENT_ID="client-1",
    )
    source = LogAnalyticsSource.from_settings(settings)
    assert (source.workspace_id, source.endpoint, source.server_timeout, source.client_id) == (
        workspace.workspace_id,
        workspace.endpoint,
        33,
        "client-1",
    )
    assert isinstance(source.credential, PlaceholderCredential)
    workspace.load({SIGNIN_TABLE: [signin()]})
    assert len(source.read(ReadRequest.same(HOUR)).signins) == 1
    assert {r.prefer for r in workspace.received} == {"wait=33"}


def test_a_public_endpoint_uses_default_azure_credential() -> None:
    settings = load_settings(
        MFA_SOURCE="loganalytics", LOG_ANALYTICS_WORKSPACE_ID="11111111-2222-3333-4444-555555555555"
    )
    with LogAnalyticsSource.from_settings(settings) as source:
        assert source.endpoint == "https://api.loganalytics.io"
        assert isinstance(source.credential, DefaultAzureCredential)
        assert not source.loopback


def test_from_settings_without_a_workspace_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="LOG_ANALYTICS_WORKSPACE_ID"):
        LogAnalyticsSource.from_settings(load_settings(MFA_SOURCE="fixtures"))


def test_results_are_timezone_aware_utc(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin(minute=15.5)]})
    [row] = source_for(workspace).read(ReadRequest.same(HOUR)).signins
    assert row["TimeGenerated"] == datetime(2026, 11, 28, 9, 15, 30, tzinfo=UTC)


# --- dynamic cells: JSON text, decoded once --------------------------------------------------------

# (value as ingested, Tags as read when the workspace types Tags dynamic, GroupMembership as read).
# Tags is a string column in the reference schema: a dynamic one reads as its tostring text, except
# an array, which the rule then treats as dynamic (docs/rule-semantics.md, "Input columns and types").
DYNAMIC_CASES: dict[str, tuple[Any, Any, Any]] = {
    "string": ("Contractor", "Contractor", "Contractor"),
    "string-that-starts-like-an-array": ("[not json", "[not json", "[not json"),
    "integer": (5, "5", 5),
    "real": (2.5, "2.5", 2.5),
    "boolean": (True, "true", True),
    "null": (None, "", None),
    "array": (["VIP", "Finance"], ["VIP", "Finance"], ["VIP", "Finance"]),
    "object": ({"level": "high"}, '{"level":"high"}', {"level": "high"}),
}


@pytest.fixture(scope="module")
def dynamic_tags_server() -> Iterator[LogAnalyticsServer]:
    # Some workspaces type IdentityInfo.Tags dynamic; the service then sends each cell as JSON text.
    with LogAnalyticsServer(column_types={IDENTITY_TABLE: {"Tags": "dynamic"}}) as running:
        yield running


def _dynamic_tables() -> dict[str, list[dict[str, Any]]]:
    upns = {case: f"{case}@contoso.com" for case in DYNAMIC_CASES}
    return {
        SIGNIN_TABLE: [signin(upn) for upn in upns.values()],
        IDENTITY_TABLE: [
            identity(upns[case], tags=value, groups=value) for case, (value, _, _) in DYNAMIC_CASES.items()
        ],
    }


def _response_file(server: LogAnalyticsServer, directory: Path, table: str) -> None:
    """The workspace's own answer to ``<table>`` (every column, typed), saved as a response fixture."""
    body = json.dumps({"query": table, "timespan": f"{HOUR.start.isoformat()}/{HOUR.end.isoformat()}"}).encode()
    status, _, payload = server.answer(
        f"/v1/workspaces/{server.workspace_id}/query", {"Authorization": "Bearer x"}, body
    )
    assert status == 200
    (directory / f"{table}.json").write_text(json.dumps(payload), encoding="utf-8")


def test_dynamic_cells_are_decoded_once_from_the_live_api(dynamic_tags_server: LogAnalyticsServer) -> None:
    dynamic_tags_server.reset()
    dynamic_tags_server.load(_dynamic_tables())
    tables = source_for(dynamic_tags_server).read(ReadRequest.same(HOUR))
    read = {row["AccountUPN"].split("@")[0]: row for row in tables.identities}
    assert set(read) == set(DYNAMIC_CASES)
    for case, (_, tags, groups) in DYNAMIC_CASES.items():
        assert (case, read[case]["Tags"]) == (case, tags)
        assert (case, read[case]["GroupMembership"]) == (case, groups)


def test_response_fixtures_live_api_and_data_exports_agree_on_dynamic_cells(
    dynamic_tags_server: LogAnalyticsServer, tmp_path: Path
) -> None:
    dynamic_tags_server.reset()
    tables = _dynamic_tables()
    dynamic_tags_server.load(tables)
    with source_for(dynamic_tags_server) as live_source:
        live = live_source.read(ReadRequest.same(HOUR))
    responses = tmp_path / "responses"
    responses.mkdir()
    for table in COLUMNS:
        _response_file(dynamic_tags_server, responses, table)
    assert '"\\"Contractor\\""' in (responses / f"{IDENTITY_TABLE}.json").read_text(encoding="utf-8")
    from_responses = FixtureSource(responses).read(ReadRequest.same(HOUR))
    exports = tmp_path / "exports"
    exports.mkdir()
    from_exports = FixtureSource(write_fixtures(exports, tables)).read(ReadRequest.same(HOUR))
    assert_live_equals_fixtures(live, from_responses)
    assert_live_equals_fixtures(live, from_exports)
    [row] = [r for r in from_responses.identities if r["AccountUPN"] == "string@contoso.com"]
    assert row["Tags"] == "Contractor"


# --- the health measure ----------------------------------------------------------------------------


def test_the_health_measure_gives_each_tables_newest_row_in_its_window_and_equals_the_fixtures(
    workspace: LogAnalyticsServer, tmp_path: Path
) -> None:
    tables = {
        SIGNIN_TABLE: [signin(minute=5), signin(minute=50, result_type="0", status={"errorCode": 0})],
        IDENTITY_TABLE: [identity(minute=20)],
        # Only log-ons say UEBA is flowing; the later ResourceAccess row does not count.
        BEHAVIOR_TABLE: [behavior(minute=30), behavior(minute=45, activity="ResourceAccess")],
    }
    workspace.load(tables)
    request = ReadRequest(signins=HOUR, identities=HOUR, behaviors=HOUR, measure=True)
    live = source_for(workspace).read(request)
    assert live.latest == {SIGNIN_TABLE: at(50), IDENTITY_TABLE: at(20), BEHAVIOR_TABLE: at(30)}
    assert FixtureSource(write_fixtures(tmp_path, tables)).read(request).latest == live.latest


def test_an_empty_table_measures_none_and_the_measure_costs_one_query_per_table(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin(minute=5)]})
    live = source_for(workspace).read(ReadRequest(signins=HOUR, identities=HOUR, behaviors=HOUR, measure=True))
    assert live.latest == {SIGNIN_TABLE: at(5), IDENTITY_TABLE: None, BEHAVIOR_TABLE: None}
    measures = [r.query for r in workspace.received if "summarize Latest" in r.query]
    assert sorted(query.split("\n")[0] for query in measures) == sorted([SIGNIN_TABLE, IDENTITY_TABLE, BEHAVIOR_TABLE])


def test_without_the_measure_flag_nothing_is_measured(workspace: LogAnalyticsServer) -> None:
    workspace.load({SIGNIN_TABLE: [signin(minute=5)]})
    live = source_for(workspace).read(ReadRequest.same(HOUR))
    assert live.latest == {}
    assert not any("summarize" in r.query for r in workspace.received)
