"""What an analyst reads of an alert: one line per user and IP, duplicate rows merged, nothing dropped."""

from __future__ import annotations

from datetime import timedelta

from shared.alert_view import PRIVILEGED, counts, headline, items, lines
from tests.sinks.rows import WINDOW, alert_of, many_rows, result_row


def spelled_twice() -> list[dict]:
    """The rule's two rows for one user and IP: IdentityInfo holds the UPN in two spellings."""
    lower = result_row(roles=(), groups=("IT",))
    upper = {**result_row(roles=("Security Reader",), groups=("Finance",)), "AccountUPN": "John.Doe@contoso.com"}
    return [lower, upper]


def test_two_spellings_of_one_user_are_one_line_with_both_enrichments() -> None:
    (line,) = lines(alert_of(spelled_twice()))

    assert line.rows == 2
    by_spelling = {d.account_upn: dict(d.fields) for d in line.directory}
    assert set(by_spelling) == {"john.doe@contoso.com", "John.Doe@contoso.com"}
    assert by_spelling["john.doe@contoso.com"]["Groups"] == ("IT",)
    assert "Roles" not in by_spelling["john.doe@contoso.com"]
    assert by_spelling["John.Doe@contoso.com"]["Roles"] == ("Security Reader",)


def test_a_merged_line_spans_its_rows_times_and_keeps_the_highest_score() -> None:
    early = result_row(first=5, last=10, score=4)
    later = {**result_row(first=20, last=40, score=7), "AccountUPN": "John.Doe@contoso.com"}
    (line,) = lines(alert_of([early, later]))

    assert line.first == WINDOW.start + timedelta(minutes=5)
    assert line.last == WINDOW.start + timedelta(minutes=40)
    assert line.score == 7


def test_one_user_from_two_ips_is_two_lines_and_the_headline_counts_what_the_lines_show() -> None:
    alert = alert_of([result_row(ip="203.0.113.7"), result_row(ip="203.0.113.8"), *spelled_twice()])

    assert [(line.user, line.ip) for line in lines(alert)] == [
        ("john.doe@contoso.com", "203.0.113.7"),
        ("john.doe@contoso.com", "203.0.113.8"),
    ]
    assert counts(alert) == (1, 2)
    assert headline(alert).startswith("1 user rejected MFA prompts from 2 IP addresses")


def test_many_users_keep_their_order_and_count() -> None:
    alert = alert_of(many_rows(40))

    assert len(lines(alert)) == 40
    assert [line.user for line in lines(alert)] == list(dict.fromkeys(row["UserPrincipalName"] for row in alert.rows))


def test_vip_and_sensitive_tags_and_any_role_mark_a_user() -> None:
    tagged = {**result_row(roles=()), "Tags": ["Finance", "vip-exec", "Sensitive"]}
    (line,) = lines(alert_of([tagged]))
    assert line.marks == ("VIP", "Sensitive")

    (line,) = lines(alert_of([result_row(roles=("Global Administrator",))]))
    assert line.marks == (PRIVILEGED,)

    (line,) = lines(alert_of([result_row(roles=(), groups=("VIP lounge",))]))
    assert line.marks == (), "a group name is not a tag"


def test_a_user_without_a_directory_record_has_no_directory_lines() -> None:
    (line,) = lines(alert_of([result_row(matched=False)]))

    assert line.directory == ()
    assert line.marks == ()


def test_items_show_lists_scalars_and_nested_values_as_text() -> None:
    assert items(None) == ()
    assert items("") == ()
    assert items(["a", None, "", "b"]) == ("a", "b")
    assert items("Member") == ("Member",)
    assert items([{"k": 1}, 5]) == ('{"k": 1}', "5")
