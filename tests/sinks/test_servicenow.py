"""The ServiceNow sink against a loopback fake of the Table API: one record per alert whatever happens,
both kinds of authentication, the fields, hostile values, errors, and secrets kept out of sight."""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from shared.alert_links import PortalLinks
from shared.errors import ConfigError, DeliveryError
from shared.sinks.servicenow import DESCRIPTION_CHARS, ServiceNowSink, clear_marker
from shared.sinks.ticket_text import description, summary
from shared.sinks.transport import HttpTransport
from tests.sinks.health_alerts import health_alert
from tests.sinks.hostile_rows import HOSTILE_VALUES, hostile_alert, hostile_row
from tests.sinks.rows import alert_of, many_rows, result_row
from tests.sinks.servicenow_server import Fault, ServiceNowServer

CLIENT_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CLIENT_SECRET = "cL13nt-S3cr3t~value!"
RAW_CONTROLS = ("\x00", "\x1b", "\r", "\u202e", "\u2028")
SHOWN = ("controls", "servicenow code", "html")


class Clock:
    """Unix seconds that a test moves on by hand (the transport's and the token cache's clock)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def transport(clock: Clock | None = None) -> HttpTransport:
    # The clock stands still unless a test moves it, so the deadline is only the per-attempt timeout.
    return HttpTransport(timeout=0.5, max_attempts=3, max_elapsed=30, sleep=lambda _: None, clock=clock or Clock())


def basic_sink(server: ServiceNowServer, **options: object) -> ServiceNowSink:
    return ServiceNowSink(
        url=server.url, table="incident", transport=transport(), user=server.user, password=server.password, **options
    )  # type: ignore[arg-type]


def oauth_sink(server: ServiceNowServer, clock: Clock | None = None) -> ServiceNowSink:
    return ServiceNowSink(
        url=server.url,
        table="incident",
        transport=transport(clock),
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )


@pytest.fixture
def server() -> Iterator[ServiceNowServer]:
    with ServiceNowServer() as fake:
        yield fake


@pytest.fixture
def oauth_server() -> Iterator[ServiceNowServer]:
    with ServiceNowServer(user=None, password=None, client_id=CLIENT_ID, client_secret=CLIENT_SECRET) as fake:
        yield fake


def failure(sink: ServiceNowSink, alert: object) -> DeliveryError:
    with pytest.raises(DeliveryError) as caught:
        sink.deliver(alert)  # type: ignore[arg-type]
    return caught.value


# One record per alert ----------------------------------------------------------------------------


def test_looks_first_then_creates_one_record_with_the_alert_id(server: ServiceNowServer) -> None:
    alert = alert_of([result_row()])

    basic_sink(server).deliver(alert)

    assert [r.method for r in server.requests] == ["GET", "POST"]
    search = server.requests[0]
    assert search.query == {
        "sysparm_query": f"correlation_id={alert.id}",
        "sysparm_fields": "sys_id,number,correlation_id,correlation_display",
        "sysparm_limit": "1",
    }
    assert f"sysparm_query=correlation_id%3D{alert.id}&" in search.path
    assert all(r.headers["accept"] == "application/json" for r in server.requests)
    (record,) = server.records
    assert record["correlation_id"] == alert.id
    assert record["number"] == "INC0010001"


def test_delivering_twice_creates_one_record_and_says_so(
    server: ServiceNowServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    alert = alert_of([result_row()])
    sink = basic_sink(server)

    sink.deliver(alert)
    sink.deliver(alert)

    assert len(server.records) == 1
    assert [r.method for r in server.requests] == ["GET", "POST", "GET"]
    assert f"{alert.id} already created as INC0010001" in caplog.text


@pytest.mark.parametrize(
    "fault",
    [Fault(500, method="POST", after=True), Fault(hang=5.0, method="POST", after=True)],
    ids=["created-then-500", "created-then-timeout"],
)
def test_a_create_that_fails_after_creating_is_not_repeated(server: ServiceNowServer, fault: Fault) -> None:
    alert = alert_of([result_row()])
    sink = basic_sink(server)
    server.fail(fault)

    error = failure(sink, alert)
    sink.deliver(alert)  # the next run

    assert not error.permanent
    assert len(server.of("POST")) == 1  # the create was sent once, never retried blind
    assert len(server.records) == 1


def test_a_failed_search_is_retried_but_nothing_is_created_twice(server: ServiceNowServer) -> None:
    server.fail(Fault(503, method="GET"), Fault(429, method="GET", headers={"Retry-After": "1"}))

    basic_sink(server).deliver(alert_of([result_row()]))

    assert [r.method for r in server.requests] == ["GET", "GET", "GET", "POST"]
    assert len(server.records) == 1


def test_a_table_without_correlation_id_is_refused_rather_than_matching_every_record() -> None:
    with ServiceNowServer(ignore_query=True) as fake:
        fake.records.append({"sys_id": "a" * 32, "number": "INC0000001", "correlation_id": ""})
        error = failure(basic_sink(fake), alert_of([result_row()]))

    assert error.permanent
    assert "no correlation_id field" in str(error)
    assert "MFA_SERVICENOW_TABLE" in str(error)
    assert fake.of("POST") == []


def test_an_id_that_could_extend_the_encoded_query_is_refused_before_sending(server: ServiceNowServer) -> None:
    alert = dataclasses.replace(alert_of([result_row()]), id="msg_1^ORactive=true")

    error = failure(basic_sink(server), alert)

    assert error.permanent
    assert "encoded query" in str(error)
    assert server.requests == []


# Fields ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "level"), [("High", "1"), ("Medium", "2"), ("Low", "3"), ("Informational", "3")])
def test_record_fields_and_urgency_impact_from_severity(server: ServiceNowServer, severity: str, level: str) -> None:
    alert = alert_of([result_row()])
    alert = dataclasses.replace(alert, rule=dataclasses.replace(alert.rule, severity=severity))

    basic_sink(server).deliver(alert)

    assert server.of("POST")[0].json() == {
        "short_description": summary(alert, limit=160),
        "description": description(alert, links=PortalLinks()),
        "urgency": level,
        "impact": level,
        "correlation_id": alert.id,
        "correlation_display": "mfa-rejected",
    }
    assert server.of("POST")[0].headers["content-type"] == "application/json; charset=utf-8"


def test_a_long_description_is_cut_at_a_line_with_a_note(server: ServiceNowServer) -> None:
    basic_sink(server).deliver(alert_of(many_rows(200)))

    text = server.records[0]["description"]
    assert len(text) <= DESCRIPTION_CHARS
    assert text.endswith("\n… (cut: a ServiceNow description holds at most 4000 characters)")
    assert len(server.records[0]["short_description"]) <= 160


def test_hostile_values_arrive_as_plain_text_with_controls_escaped(server: ServiceNowServer) -> None:
    sink = basic_sink(server)
    sink.deliver(hostile_alert())  # every hostile value (cut to 4000 characters)
    sink.deliver(alert_of([hostile_row(HOSTILE_VALUES[name], index=i) for i, name in enumerate(SHOWN)]))

    for record in server.records:
        text = record["description"] + record["short_description"]
        assert not any(char in text for char in RAW_CONTROLS)
        assert record["work_notes_journal"] == []  # data values never go into a journal field
    record = server.records[1]
    assert "a\\x00b\\x1b[31mred\\x1b[0m\\rover\\u202eevil\\u2028line\\ttab" in record["description"]
    assert '[code]<a href="https://evil.example/m">x</a>[/code]' in record["description"]  # text, not markup


# Health alerts -----------------------------------------------------------------------------------


def test_a_raised_health_alert_is_a_record_under_its_raise_id(server: ServiceNowServer) -> None:
    raised = health_alert("signins-silent", "raised")

    basic_sink(server).deliver(raised)

    (record,) = server.records
    assert record["correlation_id"] == raised.raise_id == raised.id
    assert (record["urgency"], record["impact"]) == ("2", "2")
    assert record["short_description"] == summary(raised, limit=160)


def test_a_clear_notes_the_raise_record_exactly_once(server: ServiceNowServer) -> None:
    sink = basic_sink(server)
    cleared = health_alert("signins-silent", "cleared")
    sink.deliver(health_alert("signins-silent", "raised"))

    sink.deliver(cleared)
    sink.deliver(cleared)

    (record,) = server.records
    (note,) = record["work_notes_journal"]
    assert note.startswith("mfa-rejected: health condition signins-silent cleared. Cleared: no SigninLogs rows")
    assert cleared.id in note
    assert record["correlation_display"] == clear_marker(cleared)
    assert len(server.of("PATCH")) == 1
    (patch,) = server.of("PATCH")
    assert f"/api/now/table/incident/{record['sys_id']}?" in patch.path


def test_a_clear_whose_note_failed_after_applying_is_not_noted_again(server: ServiceNowServer) -> None:
    sink = basic_sink(server)
    cleared = health_alert("ueba-silent", "cleared")
    sink.deliver(health_alert("ueba-silent", "raised"))
    server.fail(Fault(502, method="PATCH", after=True))

    assert not failure(sink, cleared).permanent
    sink.deliver(cleared)

    assert len(server.records[0]["work_notes_journal"]) == 1
    assert len(server.of("PATCH")) == 1


def test_a_clear_without_a_raise_record_gets_one_record_of_its_own(server: ServiceNowServer) -> None:
    sink = basic_sink(server)
    cleared = health_alert("identity-silent", "cleared")

    sink.deliver(cleared)
    sink.deliver(cleared)

    (record,) = server.records
    assert record["correlation_id"] == cleared.id != cleared.raise_id
    assert (record["urgency"], record["impact"]) == ("3", "3")  # an info-level condition
    assert server.of("PATCH") == []


# Authentication ----------------------------------------------------------------------------------


def test_basic_auth_sends_the_user_and_password(server: ServiceNowServer) -> None:
    basic_sink(server).deliver(alert_of([result_row()]))

    expected = base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
    assert {r.headers["authorization"] for r in server.requests} == {f"Basic {expected}"}


def test_oauth_fetches_a_token_once_and_reuses_it(oauth_server: ServiceNowServer) -> None:
    sink = oauth_sink(oauth_server)

    sink.deliver(alert_of([result_row()]))
    sink.deliver(alert_of([result_row("ann@contoso.com")]))

    (token_request,) = oauth_server.of("POST", "/oauth_token.do")
    assert token_request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert token_request.query == {}
    form = parse_qs(token_request.body.decode(), strict_parsing=True)
    assert form == {"grant_type": ["client_credentials"], "client_id": [CLIENT_ID], "client_secret": [CLIENT_SECRET]}
    (token,) = oauth_server.tokens
    table_calls = oauth_server.of("GET") + oauth_server.of("POST")
    assert {r.headers["authorization"] for r in table_calls} == {f"Bearer {token}"}
    assert len(oauth_server.records) == 2


def test_oauth_renews_the_token_shortly_before_it_expires(oauth_server: ServiceNowServer) -> None:
    clock = Clock()
    sink = oauth_sink(oauth_server, clock)
    sink.deliver(alert_of([result_row()]))

    clock.now += 1800 - 61  # still valid, outside the margin
    sink.deliver(alert_of([result_row("ann@contoso.com")]))
    clock.now += 30  # within a minute of expiry
    sink.deliver(alert_of([result_row("bob@contoso.com")]))

    assert len(oauth_server.tokens) == 2
    assert oauth_server.requests[-1].headers["authorization"] == f"Bearer {oauth_server.tokens[1]}"


def test_oauth_token_refused_mid_life_is_replaced_once(oauth_server: ServiceNowServer) -> None:
    sink = oauth_sink(oauth_server)
    sink.deliver(alert_of([result_row()]))
    oauth_server.expire_tokens()

    sink.deliver(alert_of([result_row("ann@contoso.com")]))

    assert len(oauth_server.tokens) == 2
    assert [r.method for r in oauth_server.requests[-4:]] == ["GET", "POST", "GET", "POST"]  # 401, token, again
    assert len(oauth_server.records) == 2


def test_a_fresh_token_refused_is_not_retried_again(oauth_server: ServiceNowServer) -> None:
    sink = oauth_sink(oauth_server)
    oauth_server.fail(
        Fault(401, method="GET", body=json.dumps({"error": {"message": "User Not Authenticated"}}).encode())
    )

    error = failure(sink, alert_of([result_row()]))

    assert error.permanent
    assert "glide.oauth.inbound.client.credential.grant_type.enabled" in str(error)
    assert len(oauth_server.tokens) == 1


def test_wrong_client_secret_names_the_settings_to_check(oauth_server: ServiceNowServer) -> None:
    sink = ServiceNowSink(
        url=oauth_server.url, table="incident", transport=transport(), client_id=CLIENT_ID, client_secret="wrong-one"
    )

    error = failure(sink, alert_of([result_row()]))

    assert error.permanent
    assert "MFA_SERVICENOW_CLIENT_SECRET" in str(error)
    assert "OAuth Application User" in str(error)
    assert oauth_server.of("GET") == []


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"user": "u", "password": "p", "client_id": "c", "client_secret": "s"},
        {"user": "u"},
        {"client_secret": "s"},
        {"user": "a:b", "password": "p"},
    ],
    ids=["none", "both", "user-only", "secret-only", "colon-in-user"],
)
def test_exactly_one_complete_kind_of_credentials(options: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="MFA_SERVICENOW_"):
        ServiceNowSink(url="https://acme.service-now.com", table="incident", transport=transport(), **options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "table"),
    [("http://acme.service-now.com", "incident"), ("https://acme.service-now.com", "Incident;drop")],
)
def test_bad_url_or_table_is_a_config_error(url: str, table: str) -> None:
    with pytest.raises(ConfigError, match=r"MFA_SERVICENOW_(URL|TABLE)"):
        ServiceNowSink(url=url, table=table, transport=transport(), user="u", password="p")


# Errors ------------------------------------------------------------------------------------------


def sn_error(message: str, detail: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "detail": detail}, "status": "failure"}).encode()


@pytest.mark.parametrize(
    ("faults", "permanent", "says"),
    [
        (
            [Fault(400, method="POST", body=sn_error("Operation Failed", "Data Policy Exception"))],
            True,
            "ServiceNow says: Operation Failed (Data Policy Exception)",
        ),
        (
            [Fault(401, method="GET", body=sn_error("User Not Authenticated"))],
            True,
            "check MFA_SERVICENOW_USER and MFA_SERVICENOW_PASSWORD",
        ),
        (
            [Fault(403, method="POST", body=sn_error("Operation Failed", "ACL Exception Insert Failed"))],
            True,
            "the user MFA_SERVICENOW_USER may not create incident records: check its roles",
        ),
        ([Fault(404, method="GET", body=sn_error("No Record found"))], True, "check MFA_SERVICENOW_TABLE"),
        ([Fault(429, method="GET", headers={"Retry-After": "0"})] * 3, False, "HTTP 429"),
        ([Fault(500, method="GET")] * 3, False, "HTTP 500"),
        ([Fault(503, method="POST")], False, "HTTP 503"),
        ([Fault(hang=5.0, method="GET")] * 3, False, "timed out"),
    ],
    ids=["400", "401", "403", "404", "429", "500", "503-create", "timeout"],
)
def test_errors_are_classified_and_explained(
    server: ServiceNowServer, faults: list[Fault], permanent: bool, says: str
) -> None:
    server.fail(*faults)

    error = failure(basic_sink(server), alert_of([result_row()]))

    assert error.permanent is permanent
    assert says in str(error)
    assert str(error).startswith(f"servicenow (127.0.0.1:{server.url.rsplit(':', 1)[1]})")
    assert len(server.of("POST")) <= 1


def test_a_table_that_does_not_exist_names_the_setting() -> None:
    with ServiceNowServer() as fake:
        sink = ServiceNowSink(
            url=fake.url, table="incidnet", transport=transport(), user=fake.user, password=fake.password
        )
        error = failure(sink, alert_of([result_row()]))

    assert error.permanent
    assert "Invalid table incidnet" in str(error)
    assert "check MFA_SERVICENOW_TABLE" in str(error)


def test_a_wrong_password_is_permanent_and_names_the_settings(server: ServiceNowServer) -> None:
    sink = ServiceNowSink(url=server.url, table="incident", transport=transport(), user=server.user, password="nope")

    error = failure(sink, alert_of([result_row()]))

    assert error.permanent
    assert "User Not Authenticated" in str(error)
    assert "MFA_SERVICENOW_PASSWORD" in str(error)


def test_a_server_message_with_control_characters_is_escaped(server: ServiceNowServer) -> None:
    server.fail(Fault(400, method="POST", body=sn_error("bad\x1b[2Jvalue\u202eevil")))

    error = failure(basic_sink(server), alert_of([result_row()]))

    assert not any(char in str(error) for char in RAW_CONTROLS)
    assert "bad\\x1b[2Jvalue\\u202eevil" in str(error)


# Secrets -----------------------------------------------------------------------------------------


def forbidden(fake: ServiceNowServer) -> list[str]:
    basic = base64.b64encode(f"{fake.user}:{fake.password}".encode()).decode() if fake.user else ""
    return [s for s in (fake.password, basic, fake.client_secret, *fake.tokens) if s]


def echo_of(fake: ServiceNowServer) -> bytes:
    """An error body quoting every secret, as a misbehaving proxy might."""
    return sn_error(f"refused {' '.join(forbidden(fake))}")


@pytest.mark.parametrize("mode", ["basic", "oauth"])
@pytest.mark.parametrize("status", [400, 401, 403, 500])
def test_secrets_stay_out_of_errors_logs_and_repr(caplog: pytest.LogCaptureFixture, mode: str, status: int) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, httpx's included
    options = (
        {}
        if mode == "basic"
        else {"user": None, "password": None, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
    )
    with ServiceNowServer(**options) as fake:  # type: ignore[arg-type]
        sink = basic_sink(fake) if mode == "basic" else oauth_sink(fake)
        sink.deliver(alert_of([result_row()]))  # a token exists now, for the echo to quote
        fake.fail(*[Fault(status, body=echo_of(fake), path_part="/api/now/table/")] * 3)
        error = failure(sink, alert_of([result_row("ann@contoso.com")]))

    shown = [str(error), repr(error), repr(sink), caplog.text, repr(vars(sink))]
    for secret in forbidden(fake):
        assert not any(secret in text for text in shown), secret
    assert "[redacted]" in str(error)
    assert repr(sink) == f"ServiceNowSink(name='servicenow', host='127.0.0.1:{fake.url.rsplit(':', 1)[1]}')"


def test_the_description_carries_the_portal_links(server: ServiceNowServer) -> None:
    workspace = (
        "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/sec/providers/"
        "Microsoft.OperationalInsights/workspaces/sentinel"
    )
    basic_sink(server, links=PortalLinks(workspace_resource_id=workspace)).deliver(alert_of([result_row()]))

    text = server.records[0]["description"]
    assert "Sign-in logs (Entra): https://entra.microsoft.com/" in text
    assert "Open the query in Log Analytics: https://portal.azure.com/" in text


def test_an_acl_refusal_under_oauth_names_the_application_user(oauth_server: ServiceNowServer) -> None:
    denied = sn_error("Operation Failed", "ACL Exception Insert Failed")
    oauth_server.fail(Fault(403, method="POST", path_part="/api/now/table/", body=denied))

    error = failure(oauth_sink(oauth_server), alert_of([result_row()]))

    assert error.permanent
    assert "the OAuth Application User of MFA_SERVICENOW_CLIENT_ID may not create incident records" in str(error)
    assert "ServiceNow says: Operation Failed (ACL Exception Insert Failed)" in str(error)
