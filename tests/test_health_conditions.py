"""Health alerts over days of hourly runs on fixture files: "no data" is not "no match".

A SigninLogs gap of hours and a day without UEBA log-ons each give exactly one health alert when the
silence starts and one when it ends, through the outbox and the sinks, never suppressed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.errors import SourceError
from shared.health import HealthAlert
from shared.health_conditions import current_health
from shared.models import ReadRequest, Tables
from shared.runner import Runner
from shared.sources.fixtures import FixtureSource
from shared.state.sqlite import SqliteStateStore
from tests.runner_parts import RecordingSink, settings
from tests.test_cli import call

DAY0 = datetime(2026, 11, 16, tzinfo=UTC)
H = timedelta(hours=1)
IDENTITY = {
    "AccountUPN": "ann@contoso.com",
    "Tags": [],
    "GroupMembership": [],
    "AssignedRoles": [],
    "UserType": "Member",
    "IsAccountEnabled": True,
}
LOGON = {"ActivityType": "LogOn", "SourceIPAddress": "203.0.113.7", "UserName": "ann", "InvestigationPriority": 1}


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_tenant(directory: Path, *, hours: int, signin_gap: range = range(0), ueba_gap: range = range(0)) -> Path:
    """Successful sign-ins every 20 minutes, an IdentityInfo row and a UEBA log-on every hour; none in
    the given hours (counted from DAY0). A UEBA ResourceAccess row every hour, gap or not."""
    signins, identities, behaviors = [], [], []
    for hour in range(hours):
        start = DAY0 + hour * H
        if hour not in signin_gap:
            for minute in (0, 20, 40):
                signins.append(
                    {
                        "TimeGenerated": _stamp(start + timedelta(minutes=minute)),
                        "ResultType": "0",
                        "Status": {"errorCode": 0},
                        "UserPrincipalName": "ann@contoso.com",
                        "UserId": "u1",
                        "AADTenantId": "t1",
                        "IPAddress": "203.0.113.7",
                    }
                )
        identities.append(IDENTITY | {"TimeGenerated": _stamp(start + timedelta(minutes=1))})
        behaviors.append(
            LOGON | {"TimeGenerated": _stamp(start + timedelta(minutes=2)), "ActivityType": "ResourceAccess"}
        )
        if hour not in ueba_gap:
            behaviors.append(LOGON | {"TimeGenerated": _stamp(start + timedelta(minutes=3))})
    for table, rows in (("SigninLogs", signins), ("IdentityInfo", identities), ("BehaviorAnalytics", behaviors)):
        (directory / f"{table}.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return directory


@pytest.fixture
def state(tmp_path: Path) -> Iterator[SqliteStateStore]:
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


def hourly(directory: Path, state: SqliteStateStore, hours: int, **overrides: object) -> list[HealthAlert]:
    """Run on time every hour (twice each hour: a repeated run sends nothing twice); the health alerts delivered."""
    sink = RecordingSink()
    runner = Runner(
        settings=settings(**overrides), source=FixtureSource(directory), sinks=[sink], state=state, jitter=lambda: 0.5
    )
    for hour in range(1, hours + 1):
        for _ in range(2):
            report = runner.run(now=DAY0 + hour * H + timedelta(minutes=5))
            assert not report.failed, report.error
    assert set(sink.delivered.values()) == {1}
    delivered = [alert for alert in sink.alerts.values() if isinstance(alert, HealthAlert)]
    return sorted(delivered, key=lambda alert: alert.detected_at)


def test_an_hours_long_signin_gap_raises_once_and_clears_once(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=24, signin_gap=range(10, 15))  # no sign-in from 10:00 to 15:00
    alerts = hourly(data, state, 24)
    assert [(alert.condition, alert.state) for alert in alerts] == [
        ("signins-silent", "raised"),
        ("signins-silent", "cleared"),
    ]
    raised, cleared = alerts
    # The last sign-in was at 09:40; 3 h of silence are reached by the window ending 13:00.
    assert raised.since == DAY0 + timedelta(hours=9, minutes=40)
    assert raised.detected_at == DAY0 + timedelta(hours=13, minutes=5)
    assert raised.level == "warning"
    assert "SigninLogs has had no rows" in raised.summary
    # The window [15:00, 16:00) has sign-ins again: cleared by the 16:05 run.
    assert cleared.detected_at == DAY0 + timedelta(hours=16, minutes=5)
    assert cleared.since == raised.since
    assert current_health(state)["signins-silent"].active is False


def test_a_day_without_ueba_log_ons_raises_once_and_clears_once(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=60, ueba_gap=range(20, 47))  # 27 h without a LogOn
    alerts = hourly(data, state, 60, MFA_SUPPRESSION="P1D")  # health alerts are never suppressed
    assert [(alert.condition, alert.state) for alert in alerts] == [
        ("ueba-silent", "raised"),
        ("ueba-silent", "cleared"),
    ]
    raised, cleared = alerts
    assert raised.since == DAY0 + timedelta(hours=19, minutes=3)  # the last log-on; ResourceAccess does not count
    assert raised.detected_at == DAY0 + timedelta(hours=44, minutes=5)  # 24 h later, by the window ending 44:00
    assert cleared.detected_at == DAY0 + timedelta(hours=48, minutes=5)  # the window [47:00, 48:00) has a log-on


def test_status_of_health_is_in_the_run_record(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=8, signin_gap=range(2, 8))
    runner = Runner(settings=settings(), source=FixtureSource(data), sinks=[], state=state, jitter=lambda: 0.5)
    reports = [runner.run(now=DAY0 + hour * H + timedelta(minutes=5)) for hour in range(1, 9)]
    assert [report.health_alerts for report in reports] == [0, 0, 0, 0, 1, 0, 0, 0]
    assert reports[-1].health["signins-silent"] == "raised"
    assert reports[-1].dimensions()["health_signins_silent"] == "raised"
    assert reports[-1].dimensions()["health_ueba_silent"] == "ok"


def test_status_shows_the_conditions_raised_and_since_when(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=8, signin_gap=range(2, 8))
    hourly(data, state, 8)
    path = str(tmp_path / "state.sqlite3")
    code, out, _ = call("status", "--state", path)
    assert code == 0
    assert "Health: signins-silent RAISED since 2026-11-16T01:40:00Z" in out
    _, out, _ = call("status", "--state", path, "--format", "json")
    health = json.loads(out)["health"]
    assert health["signins-silent"] == {"state": "raised", "since": "2026-11-16T01:40:00Z"}
    assert health["ueba-silent"] == {"state": "ok"}


def test_identity_info_empty_for_a_day_is_an_info_alert(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=30)
    (data / "IdentityInfo.jsonl").write_text("", encoding="utf-8")
    alerts = hourly(data, state, 30)
    [raised] = alerts
    assert (raised.condition, raised.state, raised.level) == ("identity-silent", "raised", "info")
    # No row ever: silent since the first window measured (the first run's, from DAY0), for 24 h.
    assert raised.since == DAY0
    assert raised.detected_at == DAY0 + timedelta(hours=24, minutes=5)


class RefusingSource:
    """The fixture source behind a workspace that refuses some hours (a withdrawn delegation)."""

    def __init__(self, directory: Path, *, refused: range) -> None:
        self.inner = FixtureSource(directory)
        self.refused = refused
        self.hour = 0

    def read(self, request: ReadRequest) -> Tables:
        if self.hour in self.refused:
            raise SourceError("Log Analytics refused the SigninLogs query (HTTP 403 InsufficientAccessError)")
        return self.inner.read(request)

    def close(self) -> None:
        self.inner.close()


def refused_hourly(directory: Path, state: SqliteStateStore, hours: int, refused: range) -> list[HealthAlert]:
    source = RefusingSource(directory, refused=refused)
    sink = RecordingSink()
    runner = Runner(settings=settings(), source=source, sinks=[sink], state=state, jitter=lambda: 0.5)
    for hour in range(1, hours + 1):
        source.hour = hour
        for _ in range(2):  # a retried run changes nothing
            assert runner.run(now=DAY0 + hour * H + timedelta(minutes=5)).failed == (hour in refused)
    assert set(sink.delivered.values()) <= {1}  # each alert delivered once
    return sorted((a for a in sink.alerts.values() if isinstance(a, HealthAlert)), key=lambda a: a.detected_at)


def test_runs_failing_for_hours_raise_unevaluated_once_naming_the_failure_and_clear_on_catching_up(
    tmp_path: Path, state: SqliteStateStore
) -> None:
    data = write_tenant(tmp_path, hours=12)
    alerts = refused_hourly(data, state, 12, refused=range(4, 9))  # the runs at 04:05 .. 08:05 fail
    assert [(alert.condition, alert.state) for alert in alerts] == [
        ("unevaluated", "raised"),
        ("unevaluated", "cleared"),
    ]
    raised, cleared = alerts
    # The checkpoint stays at 03:00; the run at 06:05 is the first failing one 3 h (MFA_NO_DATA_AFTER) behind.
    assert (raised.since, raised.detected_at) == (DAY0 + 3 * H, DAY0 + 6 * H + timedelta(minutes=5))
    assert "Sign-in time since 2026-11-16T03:00:00Z is NOT evaluated yet" in raised.summary
    assert "HTTP 403 InsufficientAccessError" in raised.detail
    # 09:05 succeeds and catches up on 03:00-09:00: cleared, by the id its raise's since gives.
    assert cleared.detected_at == DAY0 + 9 * H + timedelta(minutes=5)
    assert cleared.raise_id == raised.id


def test_failing_hours_shorter_than_no_data_after_raise_nothing(tmp_path: Path, state: SqliteStateStore) -> None:
    data = write_tenant(tmp_path, hours=8)
    assert refused_hourly(data, state, 8, refused=range(3, 5)) == []


def test_a_stream_whose_first_runs_all_fail_raises_unevaluated_from_its_first_window(
    tmp_path: Path, state: SqliteStateStore
) -> None:
    data = write_tenant(tmp_path, hours=8)
    alerts = refused_hourly(data, state, 8, refused=range(1, 6))  # from the very first run
    assert [(alert.condition, alert.state) for alert in alerts] == [
        ("unevaluated", "raised"),
        ("unevaluated", "cleared"),
    ]
    assert alerts[0].since == DAY0  # the window the first run tried: 00:00-01:00
