"""Rows as lists of segments: the realistic column values of each table, cached where they repeat."""

from __future__ import annotations

from base64 import urlsafe_b64encode
from random import Random
from typing import Any

from tools.tenant import catalog, schema
from tools.tenant.catalog import App, Device, Outcome
from tools.tenant.formats import Segment
from tools.tenant.population import Network, Population, User, new_guid
from tools.tenant.wide import WideColumns, authentication_details, mfa_detail

NO_RISK = ("none", "none", "none", "none", [], False)
AT_RISK = ("unfamiliarFeatures", "medium", "medium", "atRisk", ["unfamiliarFeatures"], True)

NORMAL_INSIGHTS = {
    "FirstTimeUserConnectedFromCountry": "False",
    "FirstTimeUserConnectedViaISP": "False",
    "FirstTimeUserUsedApp": "False",
    "CountryUncommonlyConnectedFromAmongPeers": "False",
    "ISPUncommonlyUsedAmongPeers": "False",
}
ANOMALOUS_INSIGHTS = {
    "FirstTimeUserConnectedFromCountry": "True",
    "FirstTimeUserConnectedViaISP": "True",
    "FirstTimeUserUsedApp": "False",
    "CountryUncommonlyConnectedFromAmongPeers": "True",
    "ISPUncommonlyUsedAmongPeers": "True",
}


def _token(rng: Random) -> str:
    # UniqueTokenIdentifier: 16 random bytes in URL-safe base64 without padding (22 characters).
    return urlsafe_b64encode(rng.randbytes(16))[:22].decode()


def _authentication_details(outcome: Outcome) -> list[dict[str, Any]]:
    status = outcome.status if isinstance(outcome.status, dict) else {}
    details = status.get("additionalDetails", "")
    first = {
        "authenticationMethod": "Password",
        "succeeded": outcome.result_type not in ("50126",),
        "authenticationStepResultDetail": "Correct password" if outcome.result_type != "50126" else "Invalid password",
        "authenticationStepRequirement": "Primary authentication",
    }
    if outcome.requirement != "multiFactorAuthentication":
        return [first]
    second = {
        "authenticationMethod": "Mobile app notification",
        "succeeded": outcome.result_type == "0",
        "authenticationStepResultDetail": details or "MFA successfully completed",
        "authenticationStepRequirement": "Multifactor authentication",
    }
    return [first, second]


class RowFactory:
    """Builds the segments of each kind of row for one population; one factory per generation run."""

    def __init__(self, population: Population, *, wide: bool = False, seed: int = 0) -> None:
        self.population = population
        workspace = population.workspace_id
        # --wide: the bulky columns, computed from each row's other segments (no draw from its streams).
        self.wide = WideColumns(population, seed=seed) if wide else None
        self.signin_head = Segment(schema.SIGNIN_HEAD, (workspace, "Azure AD"))
        tail = ("Sign-in activity", "SignInLogs", "Microsoft.aadiam", "Microsoft.aadiam", "4", "AzureAD")
        if wide:
            self.signin_tail = Segment(schema.SIGNIN_WIDE_TAIL, (*tail, "SigninLogs"))
        else:
            self.signin_tail = Segment(schema.SIGNIN_TAIL, (*tail, [], "SigninLogs"))
        self.identity_head = Segment(schema.IDENTITY_HEAD, (workspace, "IdentityInfo"))
        self.behavior_head = Segment(schema.BEHAVIOR_HEAD, (workspace,))
        self.behavior_tail = Segment(schema.BEHAVIOR_TAIL, ("", "BehaviorAnalytics", ""))
        self.no_destination = Segment(schema.BEHAVIOR_DESTINATION, ("", "", ""))
        self.risk = {
            False: Segment(schema.SIGNIN_RISK, NO_RISK),
            True: Segment(schema.SIGNIN_RISK, AT_RISK),
        }
        self.apps = {app: self._app(app) for app in catalog.APPS}
        self._outcomes: dict[int, tuple[Outcome, Segment]] = {}
        self._networks: dict[str, Segment] = {}
        self._sources: dict[str, Segment] = {}
        self._activities: dict[tuple[str, str, str, bool], Segment] = {}
        self._destinations: dict[str, Segment] = {}

    # --- SigninLogs --------------------------------------------------------------------------

    @staticmethod
    def _app(app: App) -> Segment:
        return Segment(
            schema.SIGNIN_APP,
            (app.name, app.app_id, app.resource, app.resource_id, app.interactive, "none"),
        )

    def outcome(self, outcome: Outcome) -> Segment:
        # Keyed by identity (Status is a dict, so outcomes are not hashable); the outcome is kept
        # alive beside its segment so that its id cannot be reused.
        entry = self._outcomes.get(id(outcome))
        if entry is None:
            entry = self._outcomes[id(outcome)] = (outcome, self.outcome_segment(outcome))
        return entry[1]

    def outcome_segment(self, outcome: Outcome, *, cached: bool = True) -> Segment:
        mfa = outcome.requirement == "multiFactorAuthentication"
        if self.wide is not None:  # the same Status; the steps and MFA detail as bulky as real ones
            steps, detail = authentication_details(outcome), mfa_detail(outcome)
        else:
            steps, detail = _authentication_details(outcome), {"authMethod": "PhoneAppNotification"} if mfa else None
        return Segment(
            schema.SIGNIN_OUTCOME,
            (
                outcome.result_type,
                "SUCCESS" if outcome.result_type == "0" else "None",
                outcome.description,
                outcome.status,
                outcome.conditional_access,
                outcome.requirement,
                steps,
                detail,
            ),
            cached=cached,
        )

    def signin_user(self, user: User, upn: str) -> Segment:
        key = ("signin", upn)
        segment = user.cache.get(key)
        if segment is None:
            segment = user.cache[key] = self.signin_user_segment(user, upn)
        return segment

    @staticmethod
    def signin_user_segment(user: User, upn: str, *, cached: bool = True) -> Segment:
        tenant = user.tenant.tenant_id
        return Segment(
            schema.SIGNIN_USER,
            (
                upn,
                user.display_name,
                user.user_id,
                tenant,
                user.user_type,
                user.home_tenant.tenant_id,
                f"/tenants/{tenant}/providers/Microsoft.aadiam",
                upn,
                "b2bCollaboration" if user.user_type == "Guest" else "none",
            ),
            cached=cached,
        )

    def device(self, user: User, device: Device) -> Segment:
        key = ("device", device)
        segment = user.cache.get(key)
        if segment is None:
            rng = Random(f"{user.user_id}:{device.operating_system}:{device.browser}")
            joined = bool(device.trust_type)
            host = f"{user.given_name.upper()[:3]}-{device.operating_system[:3].upper()}-{rng.randrange(100, 999)}"
            detail: dict[str, Any] = {
                "deviceId": new_guid(rng) if joined else "",
                "displayName": host if joined else "",
                "operatingSystem": device.operating_system,
                "browser": device.browser,
            }
            if joined:
                detail |= {"isCompliant": device.managed, "isManaged": device.managed, "trustType": device.trust_type}
            segment = user.cache[key] = Segment(schema.SIGNIN_DEVICE, (device.client_app, detail, device.user_agent))
        return segment

    def network(self, network: Network) -> Segment:
        segment = self._networks.get(network.address)
        if segment is None:
            segment = self._networks[network.address] = self.network_segment(network)
        return segment

    @staticmethod
    def network_segment(network: Network, *, cached: bool = True) -> Segment:
        place = network.place
        details = {
            "city": place.city,
            "state": place.state,
            "countryOrRegion": place.country,
            "geoCoordinates": {"latitude": place.latitude, "longitude": place.longitude},
        }
        return Segment(
            schema.SIGNIN_NETWORK,
            (network.address, place.country, details, network.asn),
            cached=cached,
        )

    def signin_event(self, rng: Random, time_ms: int) -> Segment:
        return Segment(
            schema.SIGNIN_EVENT,
            (
                time_ms,
                time_ms - int(rng.random() * 90_000),
                new_guid(rng),
                new_guid(rng),
                _token(rng),
                0,
                20 + int(rng.random() * 380),
            ),
            cached=False,
        )

    def signin(
        self,
        rng: Random,
        time_ms: int,
        *,
        user: User,
        upn: str,
        outcome: Outcome,
        app: App,
        device: Device,
        network: Network,
    ) -> list[Segment]:
        return self.signin_row(
            event=self.signin_event(rng, time_ms),
            outcome=self.outcome(outcome),
            user=self.signin_user(user, upn),
            app=self.apps[app],
            device=self.device(user, device),
            network=self.network(network),
            risk=self.risk[network.anomalous],
        )

    def signin_row(
        self,
        *,
        event: Segment,
        outcome: Segment,
        user: Segment,
        app: Segment,
        device: Segment,
        network: Segment,
        risk: Segment,
    ) -> list[Segment]:
        if self.wide is None:
            return [self.signin_head, event, outcome, user, app, device, network, risk, self.signin_tail]
        bulky = self.wide.segments(event=event, outcome=outcome, app=app, network=network, risk=risk)
        return [self.signin_head, event, outcome, user, app, device, network, risk, *bulky, self.signin_tail]

    # --- IdentityInfo ------------------------------------------------------------------------

    def identity_account(self, user: User, variant: int) -> Segment:
        key = ("identity", variant)
        segment = user.cache.get(key)
        if segment is None:
            segment = user.cache[key] = self.identity_account_segment(user, variant)
        return segment

    @staticmethod
    def identity_account_segment(
        user: User,
        variant: int,
        *,
        upn: str | None = None,
        tags: Any = ...,
        groups: Any = ...,
        roles: Any = ...,
        user_type: str | None = None,
        cached: bool = True,
    ) -> Segment:
        upn = user.upn if upn is None else upn
        name, _, domain = upn.partition("@")
        if tags is ...:
            tags = user.tags
            if variant and isinstance(tags, list):  # the profile change also touched the tags
                tags = [*tags, "Reviewed"]
        return Segment(
            schema.IDENTITY_ACCOUNT,
            (
                user.user_id,
                upn,
                name,
                domain,
                user.display_name,
                user.tenant.tenant_id,
                user.created_ms,
                user.given_name,
                user.surname,
                user.job_titles[variant],
                user.department,
                user.manager,
                user.networks[-1].place.city,
                user.networks[-1].place.state,
                user.networks[-1].place.country,
                user.tenant.company,
                tags,
                user.groups if groups is ... else groups,
                user.roles if roles is ... else roles,
                user.user_type if user_type is None else user_type,
                user.enabled,
                [],
                "Low" if not user.roles else "Medium",
                "None",
                "High" if user.roles else "Low",
                "AzureActiveDirectory",
                "IdentityInfo",
            ),
            cached=cached,
        )

    def identity(self, time_ms: int, account: Segment) -> list[Segment]:
        return [self.identity_head, Segment(schema.IDENTITY_EVENT, (time_ms,), cached=False), account]

    # --- BehaviorAnalytics -------------------------------------------------------------------

    def behavior_event(self, rng: Random, time_ms: int, priority: int | None) -> Segment:
        return Segment(
            schema.BEHAVIOR_EVENT,
            (new_guid(rng), time_ms, time_ms + 40_000 + int(rng.random() * 80_000), priority),
            cached=False,
        )

    def activity(self, activity_type: str, action: str, source: str, *, anomalous: bool = False) -> Segment:
        key = (activity_type, action, source, anomalous)
        segment = self._activities.get(key)
        if segment is None:
            insights = dict(ANOMALOUS_INSIGHTS if anomalous else NORMAL_INSIGHTS)
            if source != "Azure AD":
                insights = {
                    "LastTimeUserPerformedAction": "11/27/2026 00:00:00",
                    "UncommonHighVolumeOfActions": "False",
                }
            native = {"Azure AD": "SigninLogs"}.get(source, source)
            segment = self._activities[key] = Segment(
                schema.BEHAVIOR_ACTIVITY, (activity_type, action, source, "Microsoft", native, insights)
            )
        return segment

    def behavior_user(self, user: User, name: str) -> Segment:
        key = ("ueba", name)
        segment = user.cache.get(key)
        if segment is None:
            insights = {
                "AccountDisplayName": user.display_name,
                "AccountDomain": user.tenant.domain.partition(".")[0],
                "AccountObjectID": user.user_id,
                "IsDormantAccount": "False",
                "IsNewAccount": "False",
            }
            upn = user.upn.lower()
            segment = user.cache[key] = Segment(schema.BEHAVIOR_USER, (name, upn, insights))
        return segment

    def source(self, address: str, network: Network | None) -> Segment:
        segment = self._sources.get(address)
        if segment is None:
            insights: dict[str, Any] = {}
            country = ""
            if network is not None:
                country = network.place.country
                insights = {"ISP": network.isp, "ThreatIntelIndicatorType": "Botnet" if network.anomalous else None}
                insights = {k: v for k, v in insights.items() if v is not None}
            segment = self._sources[address] = Segment(schema.BEHAVIOR_SOURCE, (address, country, "", insights))
        return segment

    def destination(self, host: str) -> Segment:
        segment = self._destinations.get(host)
        if segment is None:
            segment = self._destinations[host] = Segment(
                schema.BEHAVIOR_DESTINATION, ("", "", f"{host}.corp.contoso.com")
            )
        return segment

    def behavior(
        self,
        event: Segment,
        activity: Segment,
        user: Segment,
        source: Segment,
        destination: Segment | None = None,
    ) -> list[Segment]:
        return [
            self.behavior_head,
            event,
            activity,
            user,
            source,
            destination or self.no_destination,
            self.behavior_tail,
        ]
