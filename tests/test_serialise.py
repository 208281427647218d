"""``json_text``: JSON text for any value from data, lone surrogates included, that always encodes to
UTF-8 and reads back as the same value; and every product output built on it (result rows, the
alert document, the Teams message)."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.alerts import Alert, alert_id, build_alerts
from shared.serialise import json_text, rows_to_json
from shared.sinks.teams_card import message_body, teams_message
from tests.sinks.rows import DETECTED_AT, WINDOW, result_row

LONE = ["\ud800", "\udbff", "\udc00", "\udfff"]
any_text = st.text(st.one_of(st.characters(), st.sampled_from(LONE), st.sampled_from(["\x00", "\x1f", "\x7f"])))
text_without_surrogates = st.text(st.characters(exclude_categories=("Cs",)))


def json_values(text: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text)
    return st.recursive(scalars, lambda inner: st.one_of(st.lists(inner), st.dictionaries(text, inner)), max_leaves=20)


def _joined(text: str) -> str:
    """``text`` with each high surrogate directly followed by a low one read as the character they
    stand for, as every JSON reader reads the two escapes."""
    pair = re.compile("[\ud800-\udbff][\udc00-\udfff]")
    return pair.sub(lambda match: match.group().encode("utf-16-le", "surrogatepass").decode("utf-16-le"), text)


@given(json_values(text_without_surrogates), st.sampled_from([None, 2]))
def test_text_without_surrogates_is_exactly_json_dumps(value: Any, indent: int | None) -> None:
    assert json_text(value, indent=indent) == json.dumps(value, ensure_ascii=False, indent=indent)
    assert json_text(value, separators=(",", ":")) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(any_text)
def test_any_string_encodes_to_utf8_and_reads_back(text: str) -> None:
    written = json_text(text)
    written.encode("utf-8")
    assert json.loads(written) == _joined(text)
    if _joined(text) == text:
        assert json.loads(written) == text


@given(json_values(any_text))
def test_any_value_encodes_to_utf8_and_reads_back(value: Any) -> None:
    written = json_text(value, indent=1)
    written.encode("utf-8")
    assert json.loads(written) == json.loads(json.dumps(value))  # what ensure_ascii JSON gives: the same escapes


def test_lone_surrogates_are_written_as_escapes_and_other_text_as_it_is() -> None:
    assert json_text({"k\ud800": "a\udfff\x00é😀\x7f"}) == '{"k\\ud800": "a\\udfff\\u0000é😀\x7f"}'
    # The inherent edge: two code points that form a pair read back as the one character.
    assert json.loads(json_text("\ud83d\ude00")) == "😀"
    assert json.loads(json_text("\ude00\ud83d")) == "\ude00\ud83d"


def test_rows_to_json_carries_every_hostile_value() -> None:
    rows = [{"UserPrincipalName": "a\ud800\x00b", "When": DETECTED_AT, "Tags": ["\udc00", "\x1b"]}]
    text = rows_to_json(rows)
    text.encode("utf-8")
    assert json.loads(text) == [
        {"UserPrincipalName": "a\ud800\x00b", "When": "2026-11-28T10:05:30Z", "Tags": ["\udc00", "\x1b"]}
    ]


HOSTILE_ROW = result_row("jo\ud800hn\x00\x1b@x\udfff.com", ip="1.2.3.4\x7f\udc00", roles=("r\ud800", "\x00"))


def test_the_alert_document_encodes_and_reads_back_with_hostile_values() -> None:
    [alert] = build_alerts([HOSTILE_ROW, result_row()], window=WINDOW, detected_at=DETECTED_AT)
    text = alert.to_json()
    text.encode("utf-8")
    again = Alert.from_json(text)
    assert again.to_json() == text
    assert again.rows == alert.rows
    assert {row["UserPrincipalName"] for row in again.rows} == {
        "jo\ud800hn\x00\x1b@x\udfff.com",
        "john.doe@contoso.com",
    }


def test_the_alert_document_is_unchanged_for_text_without_surrogates() -> None:
    [alert] = build_alerts([result_row("zoë@exämple.com"), result_row()], window=WINDOW, detected_at=DETECTED_AT)
    assert alert.to_json() == json.dumps(alert.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def test_alert_ids_are_stable_and_hostile_values_have_one() -> None:
    assert alert_id([result_row()], window=WINDOW) == "msg_46a46795deaf1d802170e22aef04426b"
    assert alert_id([result_row("jo\ud800hn@x.com", ip="1.2.3.4\x00")], window=WINDOW) == (
        "msg_027ff0ed2a473ae54218aef997a456aa"
    )


def test_the_teams_message_is_utf8_json_with_hostile_values() -> None:
    [alert] = build_alerts([HOSTILE_ROW, result_row()], window=WINDOW, detected_at=DETECTED_AT)
    message = teams_message(alert)
    body = message_body(message)
    assert json.loads(body.decode("utf-8")) == message
    assert b"jo\\\\ud800hn\\\\x00\\\\x1b@x\\\\udfff.com" in body


def test_the_teams_message_body_is_unchanged_for_text_without_surrogates() -> None:
    [alert] = build_alerts([result_row("zoë@exämple.com")], window=WINDOW, detected_at=DETECTED_AT)
    message = teams_message(alert)
    assert message_body(message) == json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
