"""The Slack sink against a loopback incoming webhook: what is posted, Slack's documented answers
(200 ``ok``; 400/403/404/410 permanent; 429 and 500 retried) and the webhook URL, a credential,
kept out of errors, logs and reprs."""

from __future__ import annotations

import json
import logging

import pytest

from shared.alerts import Alert
from shared.errors import ConfigError, DeliveryError
from shared.health import HealthAlert
from shared.sinks.base import Sink
from shared.sinks.slack import SlackSink
from shared.sinks.slack_blocks import health_message, message_body, slack_message
from shared.sinks.transport import HttpTransport
from tests.sinks.health_alerts import health_alert
from tests.sinks.receiver import Receiver, Reply
from tests.sinks.rows import alert_of, many_rows, result_row
from tests.sinks.test_slack_blocks import LINKS

TOKEN = "xQ9sEcReTwEbHoOkT0k3n"
PATH = f"/services/T0SECRET1/B0SECRET2/{TOKEN}"
FORBIDDEN = (TOKEN, "T0SECRET1", "B0SECRET2", "/services/")
OK = Reply(200, headers={"content-type": "text/html"}, body=b"ok")


def sink(server: Receiver, *, attempts: int = 3, pauses: list[float] | None = None) -> SlackSink:
    sleep = pauses.append if pauses is not None else (lambda _: None)
    # The pauses are instant but the deadline is wall-clock time: a loaded machine (xdist workers)
    # must not turn "3 attempts" into 2, so the attempt bound alone decides here.
    transport = HttpTransport(timeout=2, max_attempts=attempts, max_elapsed=60.0, sleep=sleep)
    return SlackSink(server.url(PATH), transport=transport, links=LINKS)


def assert_clean(text: str) -> None:
    for secret in FORBIDDEN:
        assert secret not in text, f"{secret!r} leaked into: {text}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)  # every logger, httpx and httpcore included
    return caplog


def test_posts_the_block_kit_message_as_json() -> None:
    alert = alert_of(many_rows(3))
    with Receiver([OK]) as server:
        sink(server).deliver(alert)

    (request,) = server.requests
    assert request.path == PATH
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.body == message_body(slack_message(alert, links=LINKS))
    posted = json.loads(request.body)
    assert alert.id in request.body.decode()  # a repeat can be told from a new alert
    assert posted["blocks"][0]["type"] == "header"


def test_posts_a_health_alert_as_its_own_message() -> None:
    alert = health_alert("ueba-silent", "cleared")
    with Receiver([OK]) as server:
        sink(server).deliver(alert)

    (request,) = server.requests
    assert json.loads(request.body) == health_message(alert)


def test_redelivery_from_the_outbox_posts_the_same_bytes() -> None:
    alert = alert_of([result_row()])
    health = health_alert()
    with Receiver(default=OK) as server:
        slack = sink(server)
        slack.deliver(alert)
        slack.deliver(Alert.from_json(alert.to_json()))
        slack.deliver(health)
        slack.deliver(HealthAlert.from_json(health.to_json()))

    bodies = [r.body for r in server.requests]
    assert bodies[0] == bodies[1]
    assert bodies[2] == bodies[3]


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, "invalid_payload"),
        (400, "user_not_found"),
        (403, "action_prohibited"),
        (403, "invalid_token"),
        (404, "channel_not_found"),
        (404, "no_service"),
        (410, "channel_is_archived"),
    ],
)
def test_slacks_rejections_are_permanent_and_not_retried(status: int, error: str) -> None:
    with (
        Receiver([Reply(status, body=error.encode())], default=OK) as server,
        pytest.raises(DeliveryError, match=rf"HTTP {status} .*not retried: {error}") as caught,
    ):
        sink(server).deliver(alert_of([result_row()]))

    assert caught.value.permanent is True
    assert len(server.requests) == 1
    assert str(caught.value).startswith("slack (127.0.0.1:")
    assert_clean(str(caught.value))


def test_rate_limited_is_retried_after_the_pause_slack_asks_for() -> None:
    pauses: list[float] = []
    with Receiver([Reply(429, headers={"Retry-After": "1"}, body=b"rate_limited"), OK]) as server:
        sink(server, pauses=pauses).deliver(alert_of([result_row()]))

    assert len(server.requests) == 2
    assert pauses == [1.0]
    assert server.requests[0].body == server.requests[1].body


def test_a_rollup_error_is_retried() -> None:
    with Receiver([Reply(500, body=b"rollup_error"), OK]) as server:
        sink(server).deliver(alert_of([result_row()]))

    assert len(server.requests) == 2


@pytest.mark.parametrize(
    "reply",
    [Reply(500, body=b"rollup_error"), Reply(429, headers={"Retry-After": "1"}, body=b"rate_limited")],
    ids=["rollup_error", "rate_limited"],
)
def test_a_failure_that_lasts_is_left_for_a_later_run(reply: Reply) -> None:
    with (
        Receiver(default=reply) as server,
        pytest.raises(DeliveryError, match="will be retried on a later run") as caught,
    ):
        sink(server, attempts=3).deliver(alert_of([result_row()]))

    assert caught.value.permanent is False
    assert len(server.requests) == 3
    assert_clean(str(caught.value))


@pytest.mark.parametrize(
    "replies",
    [
        [OK],
        [Reply(404, body=f"no_service for {PATH}".encode())],  # a server echoing the URL
        [Reply(500, body=PATH.encode()), Reply(500, body=PATH.encode()), Reply(500, body=PATH.encode())],
        [Reply(429, headers={"Retry-After": "999"})],
    ],
    ids=["delivered", "404-echo", "500-echo", "429-too-long"],
)
def test_the_webhook_url_stays_out_of_errors_logs_and_repr(
    debug_logs: pytest.LogCaptureFixture, replies: list[Reply]
) -> None:
    with Receiver(replies) as server:
        slack = sink(server)
        try:
            slack.deliver(alert_of([result_row()]))
            error = ""
        except DeliveryError as failure:
            error = str(failure)

    assert_clean(error)
    assert_clean(debug_logs.text)
    assert_clean(repr(slack))
    assert repr(slack) == f"SlackSink(name='slack', host='127.0.0.1:{server.base_url.rsplit(':', 1)[1]}')"


def test_repr_shows_name_and_host_only() -> None:
    slack = SlackSink(
        f"https://hooks.slack.com{PATH}", transport=HttpTransport(), name="slack-soc", setting="MFA_SLACK_WEBHOOK_URL"
    )

    assert repr(slack) == "SlackSink(name='slack-soc', host='hooks.slack.com')"
    assert slack.name == "slack-soc"
    assert isinstance(slack, Sink)


@pytest.mark.parametrize(
    "url",
    [f"http://hooks.slack.com{PATH}", f"hooks.slack.com{PATH}", f"https://hooks.slack.com{PATH}\n"],
    ids=["plain-http", "no-scheme", "line-break"],
)
def test_a_bad_url_is_refused_naming_the_setting_not_the_url(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^MFA_SLACK_WEBHOOK_URL: ") as caught:
        SlackSink(url, transport=HttpTransport())

    assert_clean(str(caught.value))


def test_a_link_left_out_is_logged_without_its_url(debug_logs: pytest.LogCaptureFixture) -> None:
    alert = alert_of([result_row("x" * 3000 + "@contoso.com")])
    with Receiver([OK]) as server:
        sink(server).deliver(alert)

    assert "a link is over Slack's 3000 characters of a text: left out" in debug_logs.text
    assert "xxxxxxxxxx" not in debug_logs.text
