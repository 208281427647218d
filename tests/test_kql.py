"""Each KQL primitive against a table of cases from docs/rule-semantics.md."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared import kql


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("fraud", True),
        ("Fraud", True),
        ("FRAUD", True),
        ("MFA denied; Fraud Code entered", True),
        ("MFA denied; user reported fraud", True),
        ("fraud_code", True),
        ("user-reported-fraud", True),
        ("fraud.", True),
        ("fraud-123", True),
        ("fraud/x", True),
        ("x@fraud", True),
        ("fraudulent", False),
        ("antifraud", False),
        ("fraud123", False),
        ("123fraud", False),
        ("fr aud", False),
        ("", False),
        ("fraudé", False),  # a Unicode letter continues the term
        ("éfraud", False),
    ],
)
def test_has_matches_whole_terms_ignoring_case(text: str, expected: bool) -> None:
    assert kql.has(text, "fraud") is expected


def test_has_with_empty_term_is_false() -> None:
    assert kql.has("anything", "") is False


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        ("MFA denied; user declined the authentication", True),
        ("mfa DENIED; USER declined the authentication", True),
        ("MFA denied; user declined the authentication ", False),  # trailing space
        ("MFA denied; user declined the authentication.", False),  # trailing period
        ("MFA denied;  user declined the authentication", False),  # doubled space
        ("MFA denied; user declined", False),  # not a substring test
        ("", False),
    ],
)
def test_equals_ci_is_whole_string_equality_ignoring_case(left: str, expected: bool) -> None:
    assert kql.equals_ci(left, "MFA denied; user declined the authentication") is expected


def test_equals_ci_folds_non_ascii_case() -> None:
    assert kql.equals_ci("ÅSA", "åsa")
    assert not kql.equals_ci("straße", "STRASSE")  # one character per character


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ""),
        ("MFA denied", "MFA denied"),  # a dynamic string: bare text, no quotes
        (500121, "500121"),
        (1.5, "1.5"),
        (2.0, "2"),
        (True, "true"),
        (False, "false"),
        ({"a": 1, "b": [1, "x"]}, '{"a":1,"b":[1,"x"]}'),  # compact JSON
        (["x", 2], '["x",2]'),
    ],
)
def test_tostring_of_dynamic_values(value: object, expected: str) -> None:
    assert kql.tostring(value) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ({"additionalDetails": "MFA denied"}, "MFA denied"),
        ({"AdditionalDetails": "MFA denied"}, None),  # key names are case-sensitive
        ({"errorCode": 500121}, None),  # missing key
        (None, None),  # null Status
        ("not an object", None),
        (["additionalDetails"], None),
    ],
)
def test_member_access_on_dynamic(status: object, expected: object) -> None:
    assert kql.member(status, "additionalDetails") == expected


@pytest.mark.parametrize(
    ("upn", "name", "suffix"),
    [
        ("john@contoso.com", "john", "contoso.com"),
        ("john", "john", ""),
        ("", "", ""),
        ("@x.com", "", "x.com"),
        ("a@b@c", "a", "b"),
        ("a@", "a", ""),
    ],
)
def test_split_part_before_first_and_between_first_and_second_at(upn: str, name: str, suffix: str) -> None:
    assert kql.split_part(upn, "@", 0) == name
    assert kql.split_part(upn, "@", 1) == suffix


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John.Doe@Contoso.COM", "john.doe@contoso.com"),
        ("ÅSA@X.SE", "åsa@x.se"),
        ("\u0130STANBUL", "istanbul"),  # OPEN: one character for one character
        ("", ""),
    ],
)
def test_tolower_maps_character_by_character(text: str, expected: str) -> None:
    assert kql.tolower(text) == expected
    assert len(kql.tolower(text)) == len(text)


def test_tolower_never_changes_length_for_any_code_point() -> None:
    changed = [ch for ch in map(chr, range(0x3000)) if len(kql.tolower(ch)) != 1 or len(kql.toupper(ch)) != 1]
    assert changed == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("500121", True),
        (500121, True),  # a fixture giving the number matches
        ("50012", False),
        ("", False),
        ("0", False),
        ("0500121", False),  # OPEN: non-canonical text does not match
        (" 500121", False),  # OPEN
        (None, False),
        (True, False),
    ],
)
def test_equals_long_compares_string_column_as_text(value: object, expected: bool) -> None:
    assert kql.equals_long(value, 500121) is expected


def test_isnotempty_drops_only_the_empty_string() -> None:
    assert not kql.isnotempty("")
    assert kql.isnotempty(" ")
    assert kql.isnotempty("-")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(4, True), (3, False), (None, False), (10, True), (0, False)],
)
def test_greater_than_cutoff_is_strict_and_null_is_dropped(value: int | None, expected: bool) -> None:
    assert kql.greater_than(value, 3) is expected


def test_min_and_max_skip_nulls() -> None:
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    t2 = datetime(2026, 1, 2, tzinfo=UTC)
    assert kql.min_skip_null([None, t2, t1]) == t1
    assert kql.max_skip_null([t1, None, t2]) == t2
    assert kql.min_skip_null([None, None]) is None
    assert kql.max_skip_null([]) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([["IT", "Contractors", "IT"]], ["IT", "Contractors"]),  # an array contributes its elements
        (["VIP"], ["VIP"]),  # a string contributes itself
        ([None], []),  # null is ignored
        ([["a"], None, ["b", "a"]], ["a", "b"]),
        ([[]], []),
        ([""], [""]),  # OPEN: "" is not null, so it is kept
        ([["1"], [1]], ["1", 1]),  # different dynamic types are different elements
        ([[{"k": 1}], [{"k": 1}]], [{"k": 1}]),
    ],
)
def test_make_set_flattens_arrays_ignores_nulls_and_deduplicates(values: list[object], expected: list[object]) -> None:
    assert kql.make_set(values) == expected


def test_make_set_stops_at_its_size_limit() -> None:
    assert kql.make_set([list(range(10))], 3) == [0, 1, 2]


def test_arg_max_keeps_latest_row_per_exact_key_and_null_loses() -> None:
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    t2 = datetime(2026, 1, 2, tzinfo=UTC)
    rows = [
        {"AccountUPN": "a@x", "TimeGenerated": t2, "v": "new"},
        {"AccountUPN": "a@x", "TimeGenerated": t1, "v": "old"},
        {"AccountUPN": "A@x", "TimeGenerated": None, "v": "only"},
        {"AccountUPN": "b@x", "TimeGenerated": None, "v": "null"},
        {"AccountUPN": "b@x", "TimeGenerated": t1, "v": "dated"},
    ]
    best = kql.arg_max(rows, by="AccountUPN", of="TimeGenerated")
    assert {k: r["v"] for k, r in best.items()} == {"a@x": "new", "A@x": "only", "b@x": "dated"}


def test_arg_max_tie_keeps_first_row_read_open_point() -> None:
    t1 = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [{"k": "a", "t": t1, "v": 1}, {"k": "a", "t": t1, "v": 2}]
    assert kql.arg_max(rows, by="k", of="t")["a"]["v"] == 1


def test_leftouter_join_fills_unmatched_rows_and_suffixes_duplicate_names() -> None:
    left = [{"K": "a", "X": 1}, {"K": "b", "X": 2}]
    right = [{"K": "a", "S": "s1", "D": [1]}, {"K": "a", "S": "s2", "D": None}]
    joined = kql.leftouter_join(
        left, right, left_columns=["K", "X"], right_columns={"K": "string", "S": "string", "D": "dynamic"}, on=["K"]
    )
    assert joined == [
        {"K": "a", "X": 1, "K1": "a", "S": "s1", "D": [1]},  # k matches give k rows
        {"K": "a", "X": 1, "K1": "a", "S": "s2", "D": None},
        {"K": "b", "X": 2, "K1": "", "S": "", "D": None},  # unmatched: "" for strings, null otherwise
    ]
    assert list(joined[2]) == ["K", "X", "K1", "S", "D"]


def test_leftouter_join_keys_are_case_sensitive_and_anded() -> None:
    left = [{"IP": "1.1.1.1", "N": "john"}]
    right = [{"IP": "1.1.1.1", "N": "John", "S": 9}, {"IP": "1.1.1.2", "N": "john", "S": 8}]
    joined = kql.leftouter_join(
        left, right, left_columns=["IP", "N"], right_columns={"IP": "string", "N": "string", "S": "int"}, on=["IP", "N"]
    )
    assert joined == [{"IP": "1.1.1.1", "N": "john", "IP1": "", "N1": "", "S": None}]


def test_suffix_takes_the_smallest_free_number() -> None:
    left = [{"A": 1, "A1": 2}]
    joined = kql.leftouter_join(left, [], left_columns=["A", "A1"], right_columns={"A": "int"}, on=["A"])
    assert list(joined[0]) == ["A", "A1", "A2"]


def test_project_away_removes_every_column_ending_in_the_suffix() -> None:
    assert kql.project_away_suffix([{"A": 1, "A1": 2, "B11": 3, "C": 4}], "1") == [{"A": 1, "C": 4}]


def test_sort_desc_puts_nulls_last_and_keeps_ties_stable() -> None:
    rows = [{"s": None, "i": 0}, {"s": 4, "i": 1}, {"s": 9, "i": 2}, {"s": 4, "i": 3}]
    assert [r["i"] for r in kql.sort_desc_nulls_last(rows, "s")] == [2, 1, 3, 0]


def test_null_of_string_is_empty_and_others_null() -> None:
    assert kql.null_of("string") == ""
    assert kql.null_of("dynamic") is None
    assert kql.null_of("int") is None
