"""The JSON Lines pre-filter only skips lines whose rows provably fail the rule's filters."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.candidates import Candidates, is_rejected_mfa
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SCHEMAS, SIGNIN_TABLE, Row
from shared.serialise import jsonable
from shared.sources import raw_prefilter
from shared.sources.values import normalise_row
from tests.builders import DECLINED, behavior, identity, signin
from tests.strategies import behaviors, identities, signins

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
# Any JSON value, so that cells of the wrong type (numbers, bools, objects) are covered too.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**7), 10**7)
    | st.floats(allow_nan=False, allow_infinity=False)
    | unicode_text,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(unicode_text, children, max_size=3),
    max_leaves=4,
)
# Declined and fraud texts that match without the plain ASCII words: ı and ſ upper-case to I and S.
SNEAKY_DETAILS = [
    "MFA den\u0131ed; u\u017fer decl\u0131ned the authent\u0131cat\u0131on",
    DECLINED.upper(),
    "MFA denied; Fraud Code entered",
    ["fraud"],
    {"why": "user-reported-FRAUD"},
    "fraudulent",
    "MFA denied; user declined the authentication.",
]
NUMBERS_THAT_ARE_500121 = ["500121", "500121.0", "5.00121e5", "5001210E-1", "500120.99999999999999", "0.500121e+6"]


def _writers(data: Any) -> list[bytes]:
    return [
        json.dumps(data, ensure_ascii=True).encode(),
        json.dumps(data, ensure_ascii=False).encode(),
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
        # JSON whitespace other than spaces around the colon: tab and carriage return.
        json.dumps(data, ensure_ascii=False, separators=(" ,\t", "\r :\t ")).encode(),
    ]


def _lines(row: dict) -> list[bytes]:
    # The same row as different writers put it on a line: ASCII-escaped or raw UTF-8, compact or spaced.
    return _writers(jsonable(row))


def _read(line: bytes, table: str) -> Row | None:
    """The row on ``line`` as the reader would normalise it; None when reading it fails (an error, not a row)."""
    try:
        return normalise_row(json.loads(line), SCHEMAS[table])
    except ValueError:
        return None


def _assert_marks_cover(line_filter: raw_prefilter.RawFilter, lines: list[bytes]) -> None:
    """Every line ``may_match`` keeps holds a mark, in a block that does not start at 0."""
    prefix = b'{"before": 1}\n'
    buffer = prefix + b"".join(line + b"\n" for line in lines)
    marks = line_filter.marks(buffer, len(prefix), len(buffer))
    if marks is None:
        return
    assert marks == sorted(marks)
    assert all(len(prefix) <= mark < len(buffer) for mark in marks)
    start = len(prefix)
    for line in lines:
        end = start + len(line)
        if line_filter.may_match(line):
            assert any(start <= mark < end for mark in marks), line
        start = end + 1


@settings(max_examples=300, deadline=None)
@given(signins(), unicode_text)
def test_a_skipped_signin_line_never_holds_a_rejected_mfa_row(row: dict, noise: str) -> None:
    row = row | {"UserDisplayName": noise}
    for line in _lines(row):
        if not raw_prefilter.signin_line_may_match(line):
            assert not is_rejected_mfa(row)


@settings(max_examples=300, deadline=None)
@given(st.lists(signins(), min_size=1, max_size=5), identities(), behaviors(), unicode_text)
def test_skipped_identity_and_behavior_lines_never_hold_a_candidate_row(rejected, ident, behav, upn) -> None:
    ident = ident | {"AccountUPN": upn if upn else ident["AccountUPN"]}
    candidates = Candidates.from_signins([r for r in rejected if is_rejected_mfa(r)])
    for line in _lines(ident):
        if not raw_prefilter.identity_line_filter(candidates)(line):
            assert not candidates.may_enrich(ident)
    for line in _lines(behav):
        if not raw_prefilter.behavior_line_filter(candidates)(line):
            assert not candidates.may_score(behav)


def test_kelvin_sign_upn_is_parsed_because_it_lowers_to_ascii() -> None:
    candidates = Candidates.from_signins([signin("kim@x.com")])
    row = identity("\u212aim@x.com")
    assert candidates.may_enrich(row)
    line = json.dumps(jsonable(row), ensure_ascii=False).encode()
    assert raw_prefilter.identity_line_filter(candidates)(line)


def test_irrelevant_lines_are_skipped() -> None:
    success = json.dumps(jsonable(signin(result_type="0", status={"errorCode": 0}))).encode()
    assert not raw_prefilter.signin_line_may_match(success)
    candidates = Candidates.from_signins([signin("john@x.com", ip="1.2.3.4")])
    other_ip = json.dumps(jsonable(behavior("john", ip="5.6.7.8"))).encode()
    assert not raw_prefilter.behavior_line_filter(candidates)(other_ip)
    other_user = json.dumps(jsonable(identity("ann@x.com"))).encode()
    assert not raw_prefilter.identity_line_filter(candidates)(other_user)


@settings(max_examples=300, deadline=None)
@given(
    signins(),
    st.one_of(st.sampled_from(["500121", 500121, 500121.0, "0", "500121 ", 5001210]), json_values),
    st.one_of(st.sampled_from(SNEAKY_DETAILS), json_values),
    st.sampled_from(["object", "text", "other"]),
)
def test_a_skipped_signin_line_never_holds_a_rejected_mfa_row_whatever_the_cell_types(
    row: dict, result_type: Any, details: Any, status_form: str
) -> None:
    status: Any = {"errorCode": 500121, "additionalDetails": details}
    if status_form == "text":
        status = json.dumps(status)  # a dynamic column given as JSON text
    elif status_form == "other":
        status = details
    row = row | {"ResultType": result_type, "Status": status}
    lines = _lines(row)
    for line in lines:
        read = _read(line, SIGNIN_TABLE)
        if not raw_prefilter.signin_line_may_match(line):
            assert read is None or not is_rejected_mfa(read)
    _assert_marks_cover(raw_prefilter.SIGNIN_FILTER, lines)


@pytest.mark.parametrize("number", NUMBERS_THAT_ARE_500121)
def test_a_numeric_result_type_in_any_notation_is_parsed(number: str) -> None:
    # "5.00121e5" holds no "500121", yet tostring of it is "500121": the line must be parsed.
    line = ('{"ResultType": ' + number + ', "Status": {"additionalDetails": "' + DECLINED + '"}}').encode()
    assert is_rejected_mfa(normalise_row(json.loads(line), SCHEMAS[SIGNIN_TABLE]))
    assert raw_prefilter.signin_line_may_match(line)
    _assert_marks_cover(raw_prefilter.SIGNIN_FILTER, [line])


def test_a_500121_line_with_other_details_is_skipped() -> None:
    line = json.dumps(jsonable(signin(details="MFA denied; user did not respond"))).encode()
    assert b"500121" in line
    assert not raw_prefilter.signin_line_may_match(line)


def test_dotless_i_and_long_s_declines_are_parsed() -> None:
    sneaky = "MFA den\u0131ed; u\u017fer decl\u0131ned the authent\u0131cat\u0131on"
    row = signin(details=sneaky)
    line = json.dumps(jsonable(row), ensure_ascii=False).encode()
    assert is_rejected_mfa(row)
    assert b"declined" not in line.lower()
    assert raw_prefilter.signin_line_may_match(line)


def test_only_dotless_i_and_long_s_upper_case_to_ascii_letters() -> None:
    # The proof for "=~": kql.toupper maps a character to its upper case when that is one character.
    code_points = (c for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    found = {chr(c) for c in code_points if len(chr(c).upper()) == 1 and chr(c).upper().isascii()}
    assert found == {"\u0131", "\u017f"}
    assert "ned the authent" in DECLINED


def test_no_character_outside_ascii_matches_a_letter_of_fraud_ignoring_case() -> None:
    # The proof for "has": kql.has matches the term with re.IGNORECASE.
    letters = re.compile("[fraud]", re.IGNORECASE)
    code_points = (c for c in range(0x80, sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)
    assert [hex(c) for c in code_points if letters.fullmatch(chr(c))] == []


@settings(max_examples=300, deadline=None)
@given(
    st.lists(signins(), min_size=1, max_size=5),
    identities(),
    st.one_of(unicode_text, json_values),
)
def test_a_skipped_identity_line_never_holds_a_candidate_row_whatever_the_cell_type(rejected, ident, upn) -> None:
    candidates = Candidates.from_signins([r for r in rejected if is_rejected_mfa(r)])
    line_filter = raw_prefilter.identity_line_filter(candidates)
    lines = _lines(ident | {"AccountUPN": upn})
    for line in lines:
        read = _read(line, IDENTITY_TABLE)
        if not line_filter.may_match(line):
            assert read is None or not candidates.may_enrich(read)
    _assert_marks_cover(line_filter, lines)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(signins(), min_size=1, max_size=5),
    behaviors(),
    st.one_of(st.sampled_from(["203.0.113.7", "203.0.113.8", ""]), json_values),
    st.one_of(st.sampled_from(["john", "ann", "", "a"]), json_values),
    st.booleans(),
)
def test_a_skipped_behavior_line_never_holds_a_candidate_row_whatever_the_cell_types(
    rejected, behav, ip, name, drop_name
) -> None:
    candidates = Candidates.from_signins([r for r in rejected if is_rejected_mfa(r)])
    line_filter = raw_prefilter.behavior_line_filter(candidates)
    row = behav | {"SourceIPAddress": ip, "UserName": name}
    if drop_name:
        del row["UserName"]
    lines = _lines(row)
    for line in lines:
        read = _read(line, BEHAVIOR_TABLE)
        if not line_filter.may_match(line):
            assert read is None or not candidates.may_score(read)
    _assert_marks_cover(line_filter, lines)


def test_a_shared_ip_of_another_user_is_skipped() -> None:
    candidates = Candidates.from_signins([signin("john@x.com", ip="1.2.3.4")])
    line_filter = raw_prefilter.behavior_line_filter(candidates)
    colleague = json.dumps(jsonable(behavior("ann", ip="1.2.3.4"))).encode()
    assert not line_filter.may_match(colleague)
    assert line_filter.may_match(json.dumps(jsonable(behavior("john", ip="1.2.3.4"))).encode())


def test_a_sign_in_without_a_user_name_makes_the_ip_decide() -> None:
    # "@x.com" has the name "", which a UEBA row without UserName also has.
    candidates = Candidates.from_signins([signin("@x.com", ip="1.2.3.4")])
    row = {k: v for k, v in behavior("", ip="1.2.3.4").items() if k != "UserName"}
    line = json.dumps(jsonable(row)).encode()
    assert candidates.may_score(normalise_row(json.loads(line), SCHEMAS[BEHAVIOR_TABLE]))
    assert raw_prefilter.behavior_line_filter(candidates).may_match(line)


def test_cells_written_as_numbers_are_parsed_when_a_candidate_looks_like_a_number() -> None:
    candidates = Candidates.from_signins([signin("100@x.com", ip="100")])
    ueba = b'{"ActivityType": "LogOn", "SourceIPAddress": 1e2, "UserName": "100", "TimeGenerated": null}'
    assert candidates.may_score(normalise_row(json.loads(ueba), SCHEMAS[BEHAVIOR_TABLE]))
    assert raw_prefilter.behavior_line_filter(candidates).may_match(ueba)
    candidates = Candidates.from_signins([signin("100", ip="1.2.3.4")])
    ident = b'{"AccountUPN": 1e2, "TimeGenerated": null}'
    assert candidates.may_enrich(normalise_row(json.loads(ident), SCHEMAS[IDENTITY_TABLE]))
    assert raw_prefilter.identity_line_filter(candidates).may_match(ident)


def test_a_user_name_written_as_a_number_is_parsed_when_a_candidate_name_looks_like_one() -> None:
    candidates = Candidates.from_signins([signin("100@x.com", ip="1.2.3.4")])
    ueba = b'{"ActivityType": "LogOn", "SourceIPAddress": "1.2.3.4", "UserName": 100, "TimeGenerated": null}'
    assert candidates.may_score(normalise_row(json.loads(ueba), SCHEMAS[BEHAVIOR_TABLE]))
    assert raw_prefilter.behavior_line_filter(candidates).may_match(ueba)


def test_a_lone_surrogate_written_raw_is_compared_as_json_loads_decodes_it() -> None:
    # json.loads decodes bytes with "surrogatepass": raw ED A0 80 is the lone surrogate U+D800.
    candidates = Candidates.from_signins([signin("john@x.com", ip="\ud800")])
    ueba = b'{"ActivityType": "LogOn", "SourceIPAddress": "\xed\xa0\x80", "UserName": "john", "TimeGenerated": null}'
    assert candidates.may_score(normalise_row(json.loads(ueba), SCHEMAS[BEHAVIOR_TABLE]))
    line_filter = raw_prefilter.behavior_line_filter(candidates)
    assert line_filter.may_match(ueba)
    _assert_marks_cover(line_filter, [ueba])


def test_a_candidate_without_a_upn_parses_every_identity_line() -> None:
    candidates = Candidates.from_signins([signin("", ip="1.2.3.4")])
    line = b'{"TimeGenerated": "2026-11-28T09:00:00Z", "Tags": []}'
    assert candidates.may_enrich(normalise_row(json.loads(line), SCHEMAS[IDENTITY_TABLE]))
    assert raw_prefilter.identity_line_filter(candidates).may_match(line)


def test_escaped_lines_are_always_parsed() -> None:
    line = b'{"ResultType": "\\u0035\\u0030\\u0030\\u0031\\u0032\\u0031"}'
    assert json.loads(line)["ResultType"] == "500121"
    assert raw_prefilter.signin_line_may_match(line)


def test_every_needle_comes_from_the_rules_constants() -> None:
    """A changed constant in shared.candidates moves its needle (or fails the import): the fast path
    can never look for text the rule no longer asks for."""
    from shared import candidates  # noqa: PLC0415  (the constants, by name, beside the needles)

    assert str(candidates.MFA_DENIED_RESULT_TYPE).encode() == raw_prefilter._RESULT_TYPE_TEXT
    assert candidates.FRAUD_TERM.encode() == raw_prefilter._FRAUD
    assert raw_prefilter._DECLINED_RUN.decode() in candidates.DECLINED_DETAILS.lower()
    assert not set(raw_prefilter._DECLINED_RUN.decode()) & {"i", "s"}
    assert all(raw_prefilter._LOGON.decode() in kind for kind in candidates.LOGON_ACTIVITY_TYPES)
    assert raw_prefilter._DECLINED_RUN == b"ned the authent"  # the run the docstring's proof names
