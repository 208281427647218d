"""Hand-placed rows for the bundled sample: each case is one of docs/rule-semantics.md's "consequences
that surprise people", spelled as real rows of all three tables.

The people are the Microsoft 365 demo-tenant names, so they never collide with generated users.
``CASES`` says what each case must produce; ``tests/test_generate_tenant.py`` checks the rows are
there and ``tests/test_duckdb_rule.py`` checks the rule's result on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from random import Random
from typing import Any, Final

from tools.tenant import catalog
from tools.tenant.catalog import MFA_FAILED, Outcome, failure
from tools.tenant.formats import Segment
from tools.tenant.params import TenantParams
from tools.tenant.population import Network, Population, Tenant, User, new_guid
from tools.tenant.rows import RowFactory
from tools.tenant.schema import BEHAVIOR, BEHAVIOR_SOURCE, BEHAVIOR_USER, IDENTITY, SIGNIN

PlantedRow = tuple[str, int, list[Segment]]


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    upns: tuple[str, ...]  # lower-cased sign-in UPNs involved
    alert_rows: int  # result rows the rule must produce for this case
    why: str


CASES: Final = (
    Case("score_3_does_not_alert", ("lee.gu@contoso.com",), 0, "UEBA max 3 is not > 3"),
    Case(
        "score_4_alerts",
        ("megan.bowen@contoso.com",),
        1,
        "UEBA max 4 > 3; the 4 is logged 40 minutes after the decline (max over the window); Tags a string",
    ),
    Case(
        "ueba_username_case_misses",
        ("adele.vance@contoso.com",),
        0,
        "UEBA UserName 'Adele.Vance' never equals Name 'adele.vance'",
    ),
    Case(
        "activity_type_case_sensitive",
        ("alex.wilber@contoso.com",),
        0,
        "ActivityType 'logon' / 'FailedLogon' are not in ('FailedLogOn', 'LogOn')",
    ),
    Case(
        "identity_case_groups_two_rows",
        ("diego.siciliani@contoso.com",),
        2,
        "IdentityInfo 'Diego.Siciliani@...' and 'diego.siciliani@...' are two groups with one join key",
    ),
    Case(
        "prefix_two_domains_share_score",
        ("isaiah.langer@contoso.com", "isaiah.langer@fabrikam.com"),
        2,
        "Name is the UPN prefix: both domains match UEBA 'isaiah.langer' on one IP; fabrikam has no IdentityInfo",
    ),
    Case(
        "status_without_additional_details",
        ("johanna.lorenz@contoso.com",),
        0,
        "no additionalDetails key, a Status that is a string, a key spelled 'AdditionalDetails'",
    ),
    Case("fraudulent_is_not_a_term", ("lidia.holloway@contoso.com",), 0, "'fraudulent' does not have the term 'fraud'"),
    Case(
        "declined_not_whole_string",
        ("lynne.robbins@contoso.com",),
        0,
        "a trailing period or a doubled space breaks =~",
    ),
    Case(
        "declined_other_case_alerts",
        ("nestor.wilke@contoso.com",),
        1,
        "=~ ignores case; GroupMembership holds a duplicate",
    ),
    Case(
        "upn_case_variants_merge",
        ("patti.fernandez@contoso.com",),
        1,
        "'Patti.Fernandez@' and 'patti.fernandez@' sign-ins merge into one row; the other IP has no UEBA",
    ),
    Case(
        "no_ueba_on_that_ip",
        ("pradeep.gupta@contoso.com",),
        0,
        "UEBA scores the user 9 on another IP only: the join acts as an inner join",
    ),
    Case("ip_text_must_match", ("grady.archie@contoso.com",), 0, "UEBA writes the IPv6 address in upper case"),
    Case(
        "result_type_must_be_500121",
        ("joni.sherman@contoso.com",),
        0,
        "the declined text under ResultType 50074",
    ),
)

DECLINED = catalog.DECLINED
ATTACKER_PLACE = catalog.FOREIGN_PLACES[0]


class _Planter:
    def __init__(self, factory: RowFactory, population: Population, params: TenantParams) -> None:
        self.factory = factory
        self.population = population
        self.start_ms = params.start_ms
        self.rng = Random(f"{params.seed}:planted")
        self.rows: list[PlantedRow] = []
        self.fabrikam = next(t for t in population.tenants if t.domain == "fabrikam.com")

    def at(self, minute: int, second: float) -> int:
        return self.start_ms + minute * 60_000 + round(second * 1000)

    def user(self, upn: str, *, tenant: Tenant | None = None, tags: Any = (), groups: Any = None) -> User:
        given, _, rest = upn.partition(".")
        surname = rest.partition("@")[0]
        home = self.population.home if tenant is None else tenant
        return User(
            index=-1,
            upn=upn,
            display_name=f"{given.capitalize()} {surname.capitalize()}",
            given_name=given.capitalize(),
            surname=surname.capitalize(),
            user_id=new_guid(self.rng),
            tenant=home,
            home_tenant=home,
            user_type="Member",
            department="Sales",
            job_titles=("Account Executive", "Sales Manager"),
            changes_at_ms=None,
            manager="Megan Bowen",
            groups=["All Employees", "VPN Users"] if groups is None else groups,
            roles=[],
            tags=list(tags) if isinstance(tags, tuple) else tags,
            ueba_name=upn.partition("@")[0].lower(),
            networks=[Network("131.107.4.20", catalog.HOME_PLACES[0], 8075)],
            devices=[catalog.DEVICES[0]],
            created_ms=self.start_ms - 400 * 86_400_000,
            enabled=True,
            synced_identity=tenant is None,
        )

    def signin(
        self,
        time_ms: int,
        user: User,
        address: str,
        *,
        details: str | None = DECLINED,
        upn: str | None = None,
        outcome: Outcome | None = None,
    ) -> None:
        if outcome is None:
            outcome = failure(500121, MFA_FAILED, 1, details)
        network = Network(address, ATTACKER_PLACE, 9009, anomalous=True, isp="M247 Europe")
        factory = self.factory
        segments = factory.signin_row(
            event=factory.signin_event(self.rng, time_ms),
            outcome=factory.outcome_segment(outcome, cached=False),
            user=factory.signin_user_segment(user, user.upn if upn is None else upn, cached=False),
            app=factory.apps[catalog.APPS[1]],
            device=factory.device(user, catalog.DEVICES[3]),
            network=factory.network_segment(network, cached=False),
            risk=factory.risk[True],
        )
        self.rows.append((SIGNIN, time_ms, segments))

    def ueba(
        self,
        time_ms: int,
        user: User,
        address: str,
        priority: int | None,
        *,
        name: str | None = None,
        activity: str = "FailedLogOn",
    ) -> None:
        factory = self.factory
        name = user.ueba_name if name is None else name
        insights = {"AccountDisplayName": user.display_name, "AccountObjectID": user.user_id}
        self.rows.append(
            (
                BEHAVIOR,
                time_ms,
                factory.behavior(
                    factory.behavior_event(self.rng, time_ms, priority),
                    factory.activity(activity, "Sign-in", "Azure AD", anomalous=True),
                    Segment(BEHAVIOR_USER, (name, user.upn.lower(), insights), cached=False),
                    Segment(BEHAVIOR_SOURCE, (address, "RU", "", {}), cached=False),
                ),
            )
        )

    def identity(self, time_ms: int, user: User, *, upn: str | None = None, variant: int = 0, **kw: Any) -> None:
        account = self.factory.identity_account_segment(user, variant, upn=upn, cached=False, **kw)
        self.rows.append((IDENTITY, time_ms, self.factory.identity(time_ms, account)))


def _score_3_does_not_alert(p: _Planter) -> None:
    at = p.at
    lee = p.user("lee.gu@contoso.com")
    p.identity(at(1, 2.5), lee)
    p.signin(at(7, 12.345), lee, "203.0.113.10")
    p.signin(at(8, 40.12), lee, "203.0.113.10")
    p.ueba(at(7, 13.0), lee, "203.0.113.10", 1)
    p.ueba(at(8, 41.5), lee, "203.0.113.10", 3)


def _score_4_alerts(p: _Planter) -> None:
    at = p.at
    megan = p.user("megan.bowen@contoso.com", tags="VIP", groups=["All Employees", "Finance"])
    p.identity(at(2, 11.0), megan)
    p.signin(at(14, 3.25), megan, "198.51.100.23")
    p.ueba(at(14, 4.0), megan, "198.51.100.23", 2, activity="LogOn")
    p.ueba(at(54, 30.0), megan, "198.51.100.23", 4)


def _ueba_username_case_misses(p: _Planter) -> None:
    at = p.at
    adele = p.user("Adele.Vance@contoso.com")
    adele.ueba_name = "Adele.Vance"
    p.identity(at(3, 0.75), adele)
    p.signin(at(16, 45.5), adele, "198.51.100.77", details="MFA denied; Fraud Code entered")
    p.ueba(at(16, 46.25), adele, "198.51.100.77", 9)


def _activity_type_case_sensitive(p: _Planter) -> None:
    at = p.at
    alex = p.user("alex.wilber@contoso.com")
    p.identity(at(3, 30.0), alex)
    p.signin(at(18, 5.0), alex, "198.51.100.80")
    p.ueba(at(18, 6.0), alex, "198.51.100.80", 9, activity="logon")
    p.ueba(at(18, 6.5), alex, "198.51.100.80", 8, activity="FailedLogon")


def _identity_case_groups_two_rows(p: _Planter) -> None:
    at = p.at
    diego = p.user("Diego.Siciliani@contoso.com")
    p.identity(at(4, 10.0), diego, tags=["Finance-Restricted"], groups=["All Employees"])
    p.identity(at(35, 10.0), diego, variant=1, tags=["VIP", "Finance-Restricted"], groups=["All Employees", "Finance"])
    p.identity(
        at(20, 0.0), diego, upn="diego.siciliani@contoso.com", tags=[], groups=["Contractors"], user_type="Guest"
    )
    p.signin(at(22, 15.5), diego, "2001:db8:5::a")
    p.ueba(at(22, 16.0), diego, "2001:db8:5::a", 6, name="diego.siciliani")


def _prefix_two_domains_share_score(p: _Planter) -> None:
    at = p.at
    isaiah = p.user("isaiah.langer@contoso.com")
    isaiah_fabrikam = p.user("isaiah.langer@fabrikam.com", tenant=p.fabrikam)
    p.identity(at(5, 5.0), isaiah)
    p.signin(at(25, 1.0), isaiah, "2001:db8:4::17")
    p.signin(at(26, 30.0), isaiah_fabrikam, "2001:db8:4::17", details="MFA denied; user reported fraud")
    p.ueba(at(25, 2.0), isaiah, "2001:db8:4::17", 7)


def _status_without_additional_details(p: _Planter) -> None:
    at = p.at
    johanna = p.user("johanna.lorenz@contoso.com")
    p.identity(at(5, 40.0), johanna)
    no_details = Outcome("500121", MFA_FAILED, {"errorCode": 500121, "failureReason": MFA_FAILED}, "notApplied", "", 1)
    as_text = Outcome("500121", MFA_FAILED, DECLINED, "notApplied", "multiFactorAuthentication", 1)
    wrong_key = Outcome("500121", MFA_FAILED, {"errorCode": 500121, "AdditionalDetails": DECLINED}, "notApplied", "", 1)
    p.signin(at(28, 0.5), johanna, "198.51.100.90", outcome=no_details)
    p.signin(at(29, 0.5), johanna, "198.51.100.90", outcome=as_text)
    p.signin(at(30, 0.5), johanna, "198.51.100.90", outcome=wrong_key)
    p.ueba(at(28, 1.0), johanna, "198.51.100.90", 9)


def _fraudulent_is_not_a_term(p: _Planter) -> None:
    at = p.at
    lidia = p.user("lidia.holloway@contoso.com")
    p.identity(at(6, 0.0), lidia)
    p.signin(at(31, 12.0), lidia, "198.51.100.95", details="MFA denied; fraudulent activity suspected")
    p.ueba(at(31, 13.0), lidia, "198.51.100.95", 8)


def _declined_not_whole_string(p: _Planter) -> None:
    at = p.at
    lynne = p.user("lynne.robbins@contoso.com")
    p.identity(at(6, 30.0), lynne)
    p.signin(at(33, 3.0), lynne, "198.51.100.99", details=DECLINED + ".")
    p.signin(at(33, 50.0), lynne, "198.51.100.99", details=DECLINED.replace("; ", ";  "))
    p.ueba(at(33, 4.0), lynne, "198.51.100.99", 8)


def _declined_other_case_alerts(p: _Planter) -> None:
    at = p.at
    nestor = p.user("Nestor.Wilke@Contoso.com", groups=["IT", "Contractors", "IT"])
    p.identity(at(7, 0.0), nestor, roles=["Helpdesk Administrator"])
    p.signin(at(37, 20.0), nestor, "198.51.100.110", details=DECLINED.upper())
    p.ueba(at(37, 21.0), nestor, "198.51.100.110", 5)


def _upn_case_variants_merge(p: _Planter) -> None:
    at = p.at
    patti = p.user("Patti.Fernandez@contoso.com")
    p.identity(at(5, 0.0), patti, tags=["Old"])
    p.identity(at(50, 0.0), patti, variant=1, tags=["VIP"])
    p.signin(at(20, 0.0), patti, "198.51.100.120", details="MFA denied; user reported fraud")
    p.signin(at(41, 0.0), patti, "198.51.100.120", upn="patti.fernandez@contoso.com")
    p.signin(at(42, 0.0), patti, "198.51.100.121")
    p.ueba(at(20, 1.0), patti, "198.51.100.120", 10)


def _no_ueba_on_that_ip(p: _Planter) -> None:
    at = p.at
    pradeep = p.user("pradeep.gupta@contoso.com")
    p.identity(at(8, 0.0), pradeep)
    for second in (5.0, 65.0, 140.0, 230.0):
        p.signin(at(44, second), pradeep, "198.51.100.200")
    p.ueba(at(12, 0.0), pradeep, "131.107.4.20", 9, activity="LogOn")


def _ip_text_must_match(p: _Planter) -> None:
    at = p.at
    grady = p.user("grady.archie@contoso.com")
    p.identity(at(8, 30.0), grady)
    p.signin(at(46, 10.0), grady, "2001:db8:7::5")
    p.ueba(at(46, 11.0), grady, "2001:DB8:7::5", 9)


def _result_type_must_be_500121(p: _Planter) -> None:
    at = p.at
    joni = p.user("joni.sherman@contoso.com")
    p.identity(at(9, 0.0), joni)
    strong = failure(50074, "Strong Authentication is required.", 1, DECLINED)
    p.signin(at(48, 0.0), joni, "198.51.100.130", outcome=strong)
    p.ueba(at(48, 1.0), joni, "198.51.100.130", 9)


# In the order of CASES; the order fixes the random ids drawn, so keep it.
_PLANTERS: Final = (
    _score_3_does_not_alert,
    _score_4_alerts,
    _ueba_username_case_misses,
    _activity_type_case_sensitive,
    _identity_case_groups_two_rows,
    _prefix_two_domains_share_score,
    _status_without_additional_details,
    _fraudulent_is_not_a_term,
    _declined_not_whole_string,
    _declined_other_case_alerts,
    _upn_case_variants_merge,
    _no_ueba_on_that_ip,
    _ip_text_must_match,
    _result_type_must_be_500121,
)


def rows(factory: RowFactory, population: Population, params: TenantParams) -> Iterator[PlantedRow]:
    """Every planted row as ``(table, time_ms, segments)``; all inside the first hour."""
    planter = _Planter(factory, population, params)
    for plant in _PLANTERS:
        plant(planter)
    yield from planter.rows
