"""The tenant's people, places and networks, drawn once from the seed.

Users carry what stays fixed about them (UPN and its stored case, ids, devices, usual IPs, how UEBA
spells their name); the simulation only picks among these per sign-in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import accumulate
from random import Random
from typing import Any

from tools.tenant import catalog
from tools.tenant.catalog import Place
from tools.tenant.params import TenantParams

DAY_MS = 86_400_000

# First octets of large public IPv4 allocations (never private, loopback or documentation ranges).
PUBLIC_FIRST_OCTETS = (20, 23, 31, 37, 40, 45, 51, 52, 62, 77, 78, 80, 81, 82, 85, 88, 91, 93, 95, 104, 109, 141)
IPV6_PREFIXES = ("2a02", "2a01", "2600", "2601", "2403", "2001:4860", "2a00", "2c0f")
OFFICE_SUBNETS = ("131.107.4", "167.220.2", "40.126.9", "20.190.133")


def new_guid(rng: Random) -> str:
    """A random version-4 GUID, lower case (as Entra writes them)."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    domain: str
    company: str


@dataclass(slots=True)
class Network:
    """One source IP address and where it geolocates."""

    address: str
    place: Place
    asn: int
    anomalous: bool = False  # an attacker's IP: UEBA rates its activity higher
    isp: str = "Microsoft Corporation"


@dataclass(slots=True)
class User:
    index: int
    upn: str  # the account's UPN as stored, in its original case
    display_name: str
    given_name: str
    surname: str
    user_id: str
    tenant: Tenant
    home_tenant: Tenant
    user_type: str  # Member or Guest
    department: str
    job_titles: tuple[str, str]  # before and after an (optional) profile change
    changes_at_ms: int | None
    manager: str
    groups: list[str]
    roles: list[str]
    tags: Any  # a list (dynamic) or a string, as the workspace holds it
    ueba_name: str  # BehaviorAnalytics UserName: the UPN prefix, usually lower case
    networks: list[Network]
    devices: list[catalog.Device]
    created_ms: int
    enabled: bool
    synced_identity: bool  # has IdentityInfo rows (accounts of other tenants do not)
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def variant_upn(self) -> str:
        """The UPN in another case, as some sign-ins carry it."""
        lower = self.upn.lower()
        if lower != self.upn:
            return lower
        local, _, domain = self.upn.partition("@")
        return ".".join(part.capitalize() for part in local.split(".")) + "@" + domain


@dataclass(slots=True)
class Population:
    workspace_id: str
    home: Tenant
    tenants: list[Tenant]
    users: list[User]
    cum_weights: list[float]
    attackers: list[Network]
    offices: list[Network]


def random_ipv4(rng: Random) -> str:
    first = rng.choice(PUBLIC_FIRST_OCTETS)
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def random_ipv6(rng: Random) -> str:
    prefix = rng.choice(IPV6_PREFIXES)
    groups = ":".join(f"{rng.randrange(0x10000):x}" for _ in range(7 - prefix.count(":")))
    return f"{prefix}:{groups}"


def _network(rng: Random, params: TenantParams, place: Place, *, anomalous: bool = False) -> Network:
    address = random_ipv6(rng) if rng.random() < params.ipv6_share else random_ipv4(rng)
    isp = rng.choice(("Comcast Cable", "Deutsche Telekom AG", "BT", "Verizon", "Vodafone", "Reliance Jio"))
    if anomalous:
        isp = rng.choice(("M247 Europe", "DigitalOcean", "OVH SAS", "Choopa LLC", "Hostinger"))
    return Network(address, place, rng.randrange(1000, 65000), anomalous, isp)


def _tags(rng: Random) -> Any:
    picked = [tag for tag in catalog.TAG_VALUES if rng.random() < 0.06]
    # Most workspaces hold Tags as a JSON array; some as a plain string (the reference schema).
    # An empty string is not generated: whether an empty cell is "" or null is format-dependent.
    if picked and rng.random() < 0.3:
        return picked[0]
    return picked


def _stored_case(rng: Random, upn: str) -> str:
    """How the account's UPN is stored: mostly lower case, else John.Doe@contoso.com or
    John.Doe@Contoso.com."""
    style = rng.random()
    if style <= 0.55:
        return upn
    name_part, _, domain = upn.partition("@")
    name_part = ".".join(p.capitalize() for p in name_part.split("."))
    return f"{name_part}@{domain.capitalize() if style > 0.85 else domain}"


@dataclass(frozen=True, slots=True)
class _Directory:
    """The tenants and networks users are drawn against."""

    home: Tenant
    partner: Tenant
    others: list[Tenant]
    offices: list[Network]


def _user(
    rng: Random, params: TenantParams, *, index: int, local: str, names: tuple[str, str], where: _Directory
) -> User:
    given, surname = names
    roll = rng.random()
    tenant, home_tenant, user_type, synced = where.home, where.home, "Member", True
    if roll < params.other_tenant_share:
        tenant = home_tenant = rng.choice(where.others)
        synced = False  # another tenant's accounts have no IdentityInfo here
    elif roll < params.other_tenant_share + params.guest_share:
        home_tenant, user_type = where.partner, "Guest"
    if user_type == "Guest":
        upn = f"{local}_{where.partner.domain}#EXT#@contoso.onmicrosoft.com"
    else:
        upn = _stored_case(rng, f"{local}@{tenant.domain}")
    department = rng.choice(catalog.DEPARTMENTS)
    titles = catalog.JOB_TITLES[department]
    first_title = rng.choice(titles)
    changes_at = None
    if rng.random() < 0.1:
        changes_at = params.start_ms + rng.randrange(params.hours * 3_600_000)
    groups = ["All Employees" if user_type == "Member" else "All Company"]
    groups += [g for g in catalog.GROUPS[1:] if rng.random() < 0.25]
    roles = [r for r in catalog.PRIVILEGED_ROLES if rng.random() < 0.02]
    prefix = upn.partition("@")[0]
    ueba_name = prefix if rng.random() < 0.1 else prefix.lower()
    place = rng.choice(catalog.HOME_PLACES)
    networks = [rng.choice(where.offices)] if user_type == "Member" and rng.random() < 0.6 else []
    networks += [_network(rng, params, place) for _ in range(rng.randint(1, 2))]
    devices = rng.sample(catalog.DEVICES, rng.randint(1, 3))
    display = f"{catalog.DISPLAY_ACCENTS.get(given, given)} {catalog.DISPLAY_ACCENTS.get(surname, surname)}"
    return User(
        index=index,
        upn=upn,
        display_name=display,
        given_name=given,
        surname=surname,
        user_id=new_guid(rng),
        tenant=tenant,
        home_tenant=home_tenant,
        user_type=user_type,
        department=department,
        job_titles=(first_title, rng.choice(titles)),
        changes_at_ms=changes_at,
        manager=f"{rng.choice(catalog.FIRST_NAMES)} {rng.choice(catalog.LAST_NAMES)}",
        groups=groups,
        roles=roles,
        tags=_tags(rng),
        ueba_name=ueba_name,
        networks=networks,
        devices=devices,
        created_ms=params.start_ms - rng.randrange(30, 3000) * DAY_MS,
        enabled=rng.random() > 0.01,
        synced_identity=synced,
    )


def build(params: TenantParams) -> Population:
    rng = Random(f"{params.seed}:population")
    home = Tenant(new_guid(rng), "contoso.com", "Contoso Ltd.")
    partner = Tenant(new_guid(rng), "fabrikam.com", "Fabrikam, Inc.")
    others = [
        Tenant(new_guid(rng), "northwind.com", "Northwind Traders"),
        Tenant(new_guid(rng), "adatum.com", "A. Datum"),
    ]
    workspace_id = new_guid(rng)
    offices = [
        Network(f"{subnet}.{rng.randrange(2, 250)}", place, 8075)
        for subnet, place in zip(OFFICE_SUBNETS, catalog.HOME_PLACES, strict=False)
    ]
    offices.append(
        Network(f"2603:1030:{rng.randrange(0x10000):x}::{rng.randrange(1, 0xFFFF):x}", offices[0].place, 8075)
    )
    attackers = [_network(rng, params, rng.choice(catalog.FOREIGN_PLACES), anomalous=True) for _ in range(24)]
    where = _Directory(home, partner, others, offices)

    users: list[User] = []
    taken: set[str] = set()
    for index in range(params.users):
        names = (rng.choice(catalog.FIRST_NAMES), rng.choice(catalog.LAST_NAMES))
        local = ".".join(names).lower()
        if local in taken:
            local = f"{local}{index}"
        taken.add(local)
        users.append(_user(rng, params, index=index, local=local, names=names, where=where))
    # Some people sign in far more than others.
    weights = [rng.lognormvariate(0, 0.8) for _ in users]
    return Population(
        workspace_id=workspace_id,
        home=home,
        tenants=[home, partner, *others],
        users=users,
        cum_weights=list(accumulate(weights)),
        attackers=attackers,
        offices=offices,
    )
