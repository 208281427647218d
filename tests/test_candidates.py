"""The pre-filter and semi-join are transparent: dropping what they drop never changes the result."""

from __future__ import annotations

from hypothesis import given, settings

from shared.candidates import Candidates, is_rejected_mfa
from shared.detection import detect
from tests.builders import behavior, identity, signin
from tests.strategies import tables


def _canonical(rows: list[dict]) -> list[str]:
    # Arrays compare as sets and tie order is unspecified: compare sorted canonical rows.
    return sorted(repr({k: sorted(map(repr, v)) if isinstance(v, list) else v for k, v in row.items()}) for row in rows)


@settings(max_examples=400, deadline=None)
@given(tables, tables.map(lambda t: t[2][:5]))
def test_detect_over_kept_rows_equals_detect_over_all_rows(data, extra_behaviors) -> None:
    signins, identities, behaviors = data
    behaviors = behaviors + extra_behaviors
    for cutoff in (0, 3):
        everything = detect(signins, identities, behaviors, risk_score_cutoff=cutoff)
        rejected = [row for row in signins if is_rejected_mfa(row)]
        candidates = Candidates.from_signins(rejected)
        kept = detect(
            rejected,
            [row for row in identities if candidates.may_enrich(row)],
            [row for row in behaviors if candidates.may_score(row)],
            risk_score_cutoff=cutoff,
        )
        assert _canonical(kept) == _canonical(everything)


def test_candidates_are_lower_cased_upns_and_ip_name_pairs() -> None:
    candidates = Candidates.from_signins([signin("John.Doe@X.com", ip="1.2.3.4"), signin("ann@y.com", ip="5.6.7.8")])
    assert candidates.upns == {"john.doe@x.com", "ann@y.com"}
    assert candidates.ip_names == {("1.2.3.4", "john.doe"), ("5.6.7.8", "ann")}


def test_may_enrich_compares_lower_cased_account_upn() -> None:
    candidates = Candidates.from_signins([signin("john@x.com")])
    assert candidates.may_enrich(identity("JOHN@X.COM"))
    assert not candidates.may_enrich(identity("john@y.com"))


def test_may_score_applies_the_subquery_filters_and_exact_pairs() -> None:
    candidates = Candidates.from_signins([signin("john@x.com", ip="1.2.3.4")])
    assert candidates.may_score(behavior("john", ip="1.2.3.4"))
    assert not candidates.may_score(behavior("John", ip="1.2.3.4"))
    assert not candidates.may_score(behavior("john", ip="1.2.3.5"))
    assert not candidates.may_score(behavior("john", ip="1.2.3.4", activity="logon"))


def test_no_rejections_means_no_candidates() -> None:
    assert not Candidates.from_signins([])
