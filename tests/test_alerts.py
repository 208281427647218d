"""Result rows -> alerts: grouping, stable ids, rule metadata, entity mappings, the JSON round trip."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from shared.alerts import RULE, SCHEMA, Alert, Entity, alert_id, build_alerts, row_entities, technique_url
from shared.errors import InputError
from shared.models import OUTPUT_COLUMNS, Window
from tests.sinks.rows import DETECTED_AT, WINDOW, alert_of, many_rows, result_row

# A copy of the published rule text (Microsoft Sentinel, "MFA Rejected by User" v2.0.4).
RULE_TEXT = Path(__file__).resolve().parent / "data" / "rule" / "mfa-rejected-by-user-v2.0.4.txt"


def test_single_grouping_gives_one_alert_holding_every_row() -> None:
    rows = [result_row("a@contoso.com", ip="203.0.113.1"), result_row("b@contoso.com", ip="203.0.113.2")]

    alerts = build_alerts(rows, window=WINDOW, detected_at=DETECTED_AT)

    assert len(alerts) == 1
    assert [r["UserPrincipalName"] for r in alerts[0].rows] == ["a@contoso.com", "b@contoso.com"]


def test_per_row_grouping_gives_one_alert_per_user_and_ip() -> None:
    rows = [result_row("a@contoso.com", ip="203.0.113.1"), result_row("a@contoso.com", ip="203.0.113.2")]

    alerts = build_alerts(rows, window=WINDOW, detected_at=DETECTED_AT, grouping="per-row")

    assert [(a.rows[0]["UserPrincipalName"], a.rows[0]["FailedIPAddress"]) for a in alerts] == [
        ("a@contoso.com", "203.0.113.1"),
        ("a@contoso.com", "203.0.113.2"),
    ]
    assert all(len(a.rows) == 1 for a in alerts)
    assert len({a.id for a in alerts}) == 2


@pytest.mark.parametrize("grouping", ["single", "per-row"])
def test_no_rows_give_no_alert(grouping: str) -> None:
    assert build_alerts([], window=WINDOW, detected_at=DETECTED_AT, grouping=grouping) == []


def test_unknown_grouping_is_an_input_error() -> None:
    with pytest.raises(InputError, match="grouping"):
        build_alerts([result_row()], window=WINDOW, detected_at=DETECTED_AT, grouping="per-user")  # type: ignore[arg-type]


def test_rows_are_ordered_as_the_rule_sorts_them() -> None:
    rows = [result_row("low@x.com", score=4), result_row("high@x.com", score=9), result_row("mid@x.com", score=6)]

    alert = alert_of(rows)

    assert [r["UEBARiskScore"] for r in alert.rows] == [9, 6, 4]


def test_alert_id_ignores_row_order_and_detection_time() -> None:
    rows = many_rows(5)

    first = alert_of(rows)
    (second,) = build_alerts(list(reversed(rows)), window=WINDOW, detected_at=DETECTED_AT + timedelta(hours=3))

    assert first.id == second.id


def test_alert_id_changes_with_the_window_and_the_rows() -> None:
    rows = many_rows(3)
    later = Window(WINDOW.start + timedelta(hours=1), WINDOW.end + timedelta(hours=1))

    base = alert_of(rows).id

    assert alert_id(rows, window=later) != base
    assert alert_of(rows[:2]).id != base
    assert alert_of([*rows[:2], result_row("other@contoso.com")]).id != base


def test_alert_id_ignores_late_enrichment_and_scores() -> None:
    # A re-run after IdentityInfo/BehaviorAnalytics rows arrived late must not become a second alert.
    before = result_row(score=5, roles=("Reader",))
    after = result_row(score=8, roles=("Reader", "Global Administrator"))

    assert alert_of([before]).id == alert_of([after]).id


def test_two_identityinfo_spellings_of_one_user_are_two_per_row_alerts() -> None:
    # docs/rule-semantics.md: IdentityInfo "John@x.com" and "john@x.com" emit the sign-in row twice.
    upper = {**result_row("john@x.com"), "AccountUPN": "John@x.com"}
    lower = result_row("john@x.com")

    alerts = build_alerts([upper, lower], window=WINDOW, detected_at=DETECTED_AT, grouping="per-row")

    assert len(alerts) == 2
    assert alerts[0].id != alerts[1].id


def test_alert_id_is_a_webhook_id_safe_token() -> None:
    assert re.fullmatch(r"msg_[0-9a-f]{32}", alert_of(many_rows(2)).id)


def test_alert_carries_the_rule_metadata() -> None:
    alert = alert_of([result_row()])

    assert alert.rule.id == "d99cf5c3-d660-436c-895b-8a8f8448da23"
    assert alert.rule.name == alert.title == "MFA Rejected by User"
    assert alert.rule.version == "2.0.4"
    assert alert.rule.severity == "Medium"
    assert alert.rule.tactics == ("InitialAccess",)
    assert alert.rule.techniques == ("T1078.004",)
    assert technique_url("T1078.004") == "https://attack.mitre.org/techniques/T1078/004/"
    assert alert.window == WINDOW
    assert alert.detected_at == DETECTED_AT


def test_description_is_the_rule_text() -> None:
    text = RULE_TEXT.read_text(encoding="utf-8")
    block = text.split("\ndescription: |\n", 1)[1].split("\nseverity:", 1)[0]

    assert RULE.description == block.strip().strip("'")


def test_rows_are_custom_details_with_all_sixteen_columns_in_order() -> None:
    alert = alert_of([result_row(), result_row(matched=False, ip="203.0.113.9")])

    assert all(tuple(row) == OUTPUT_COLUMNS for row in alert.rows)
    assert alert.rows[1]["AssignedRoles"] is None
    assert alert.rows[1]["AccountUPN"] == ""


def test_rows_are_copied_not_shared_with_the_caller() -> None:
    row = result_row()

    alert = alert_of([row])
    row["AssignedRoles"].append("Changed Later")

    assert alert.rows[0]["AssignedRoles"] == ["Global Administrator"]


def test_row_with_wrong_columns_is_an_input_error_naming_them() -> None:
    row = result_row()
    del row["UEBARiskScore"]
    row["Extra"] = 1

    with pytest.raises(InputError, match=r"result row 0: .*missing \['UEBARiskScore'\], extra \['Extra'\]"):
        alert_of([row])


def test_naive_time_in_a_row_is_an_input_error() -> None:
    row = {**result_row(), "StartTime": datetime(2026, 11, 28, 9, 10)}

    with pytest.raises(InputError, match="StartTime must be a timezone-aware datetime"):
        alert_of([row])


def test_entities_follow_the_rule_mappings() -> None:
    alert = alert_of([result_row("john.doe@contoso.com", ip="203.0.113.7", user_id="u-1")])

    assert alert.entities == (
        Entity("Account", (("FullName", "john.doe@contoso.com"), ("Name", "john.doe"), ("UPNSuffix", "contoso.com"))),
        Entity("Account", (("AadUserId", "u-1"),)),
        Entity("IP", (("Address", "203.0.113.7"),)),
    )


def test_entities_are_deduplicated_within_an_alert() -> None:
    rows = [
        result_row("a@contoso.com", ip="203.0.113.1"),
        result_row("a@contoso.com", ip="203.0.113.2"),
        result_row("b@contoso.com", ip="203.0.113.1", user_id="u-b"),
    ]

    alert = alert_of(rows)

    ips = [e.identifier("Address") for e in alert.entities if e.type == "IP"]
    accounts = [e.identifier("FullName") for e in alert.entities if e.identifier("FullName")]
    assert sorted(ips) == ["203.0.113.1", "203.0.113.2"]
    assert sorted(accounts) == ["a@contoso.com", "b@contoso.com"]
    assert len(alert.entities) == len(set(alert.entities)) == 6


def test_empty_identifiers_are_left_out_and_an_entity_without_any_is_dropped() -> None:
    # A UPN without "@": split gives no suffix, so UPNSuffix is "" — left out, as Sentinel does.
    row = {**result_row("svc-scanner", user_id=""), "UPNSuffix": ""}

    entities = row_entities(row)

    assert entities == [
        Entity("Account", (("FullName", "svc-scanner"), ("Name", "svc-scanner"))),
        Entity("IP", (("Address", "203.0.113.7"),)),
    ]


def test_json_round_trip_is_exact() -> None:
    rows = [*many_rows(3), result_row("ünïcode@contoso.com", matched=False, ip="2001:db8::1")]
    rows[0]["Tags"] = [{"nested": ["x", 1]}, "VIP"]
    rows[1]["StartTime"] = rows[1]["StartTime"] + timedelta(microseconds=123456)
    alert = alert_of(rows)

    text = alert.to_json()
    again = Alert.from_json(text)

    assert again == alert
    assert again.to_json() == text
    assert "ünïcode" in text  # UTF-8 text, not \u escapes


def test_json_document_is_the_versioned_payload() -> None:
    document = json.loads(alert_of([result_row()]).to_json())

    assert document["schema"] == SCHEMA == "mfa-rejected.alert/v1"
    assert document["window"] == {"start": "2026-11-28T09:00:00Z", "end": "2026-11-28T10:00:00Z"}
    assert document["detectedAt"] == "2026-11-28T10:05:30Z"
    assert document["rows"][0]["StartTime"] == "2026-11-28T09:10:00Z"
    assert document["entities"][2] == {"type": "IP", "identifiers": {"Address": "203.0.113.7"}}


def test_times_in_other_zones_are_stored_in_utc() -> None:
    detected = datetime(2026, 11, 28, 11, 5, 30, tzinfo=UTC).astimezone()  # local zone of the machine
    (alert,) = build_alerts([result_row()], window=WINDOW, detected_at=detected)

    assert alert.detected_at.tzinfo == UTC
    assert json.loads(alert.to_json())["detectedAt"] == "2026-11-28T11:05:30Z"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ("[]", "expected a JSON object"),
        ('{"schema": "mfa-rejected.alert/v0"}', "schema is 'mfa-rejected.alert/v0'"),
        ('{"schema": "mfa-rejected.alert/v1", "id": "msg_1"}', "alert document 'msg_1': malformed"),
    ],
)
def test_bad_alert_documents_are_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        Alert.from_json(text)


def test_alert_ids_are_pinned() -> None:
    # Computed before the time formatter moved to shared.instants: the id material must not change,
    # or every alert in a live outbox would be delivered a second time under a new id.
    fraction = Window(WINDOW.start + timedelta(microseconds=250000), WINDOW.end)

    assert alert_of([result_row()]).id == "msg_46a46795deaf1d802170e22aef04426b"
    assert alert_of(many_rows(3)).id == "msg_139440b3b410c9a54815056b637fc944"
    assert alert_id([result_row()], window=fraction) == "msg_5d03179dc8b98c65c98499c1765d8da3"
