"""The JSON Lines pre-filter only skips lines whose rows provably fail the rule's filters."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.candidates import Candidates, is_rejected_mfa
from shared.serialise import jsonable
from shared.sources import raw_prefilter
from tests.builders import behavior, identity, signin
from tests.strategies import behaviors, identities, signins

unicode_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)


def _lines(row: dict) -> list[bytes]:
    # The same row as different writers put it on a line: ASCII-escaped or raw UTF-8, compact or spaced.
    data = jsonable(row)
    return [
        json.dumps(data, ensure_ascii=True).encode(),
        json.dumps(data, ensure_ascii=False).encode(),
        json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode(),
    ]


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


def test_escaped_lines_are_always_parsed() -> None:
    line = b'{"ResultType": "\\u0035\\u0030\\u0030\\u0031\\u0032\\u0031"}'
    assert json.loads(line)["ResultType"] == "500121"
    assert raw_prefilter.signin_line_may_match(line)
