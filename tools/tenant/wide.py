"""The bulky SigninLogs columns real rows carry (``--wide``): Conditional Access, processing details, ...

A real exported sign-in is 3-5 KB, most of it nested columns the rule never reads:
ConditionalAccessPolicies (every policy evaluated, with the rules it satisfied),
AuthenticationProcessingDetails, AuthenticationDetails with every step's method detail and
sequence numbers, NetworkLocationDetails, SessionLifetimePolicies, ... (their shapes follow the
portal export in docs/data.md and the SigninLogs reference). ``--wide`` adds them so that a replay
is measured on rows as bulky as a real tenant's.

Nothing here draws from the simulation's random streams: every value is a function of the row's
other segments (its outcome, app, network, risk) and of a catalog drawn once from its own stream.
So a wide tenant holds exactly the compact tenant's sign-ins, with the same ResultType, Status,
users, IPs and times: the rule's rows are planted the same way, and its result is the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from random import Random
from typing import Any, Final

from tools.tenant import schema
from tools.tenant.catalog import Outcome
from tools.tenant.formats import Segment
from tools.tenant.population import Population, new_guid


@dataclass(frozen=True, slots=True)
class Policy:
    """One Conditional Access policy of the tenant, as ConditionalAccessPolicies lists it."""

    name: str
    grant: tuple[str, ...]
    session: tuple[str, ...]
    scope: str  # "all": every app; "admin": the admin portals and tools only; "legacy": legacy clients only
    report_only: bool = False


# Two policies keep a row at the issue's ~3.7 KB; a large tenant lists a dozen or more, each ~330 bytes.
POLICIES: Final = (
    Policy("CA001: Require multifactor authentication for all users", ("Mfa",), (), "all"),
    Policy("CA005: Block access from outside allowed countries", ("Block",), (), "all"),
)
ADMIN_APPS: Final = frozenset({"Azure Portal", "Microsoft Azure CLI", "Microsoft Azure PowerShell"})


def authentication_details(outcome: Outcome) -> list[dict[str, Any]]:
    """AuthenticationDetails as a real export has them: every step with its method detail and sequence."""
    status = outcome.status if isinstance(outcome.status, dict) else {}
    details = status.get("additionalDetails", "")
    bad_password = outcome.result_type == "50126"
    steps = [
        {
            "authenticationMethod": "Password",
            "authenticationMethodDetail": "Password Hash Sync",
            "succeeded": not bad_password,
            "authenticationStepResultDetail": "Invalid password" if bad_password else "Correct password",
            "authenticationStepRequirement": "Primary authentication",
            "StatusSequence": 0,
            "RequestSequence": 1,
        }
    ]
    if outcome.requirement == "multiFactorAuthentication":
        steps.append(
            {
                "authenticationMethod": "Mobile app notification",
                "authenticationMethodDetail": "Microsoft Authenticator",
                "succeeded": outcome.result_type == "0",
                "authenticationStepResultDetail": details or "MFA successfully completed",
                "authenticationStepRequirement": "Multifactor authentication",
                "StatusSequence": 0 if outcome.result_type == "0" else 500121,
                "RequestSequence": 2,
            }
        )
    return steps


def mfa_detail(outcome: Outcome) -> dict[str, Any] | None:
    if outcome.requirement != "multiFactorAuthentication":
        return None
    return {"authMethod": "PhoneAppNotification", "authDetail": "Microsoft Authenticator"}


def _policy_result(policy: Policy, *, result_type: str, ca_status: str, mfa: bool, admin: bool) -> str:
    # Every client generated is a modern one, so the legacy-authentication block never applies.
    if policy.report_only:
        return "reportOnlyNotApplied"
    if ca_status == "notApplied" or policy.scope == "legacy" or (policy.scope == "admin" and not admin):
        return "notApplied"
    if "Block" in policy.grant:
        return "failure" if ca_status == "failure" else "notApplied"
    if "Mfa" in policy.grant:
        return ("success" if result_type == "0" else "failure") if mfa else "notApplied"
    return "success"


class WideColumns:
    """The wide segments of each sign-in, computed from its other segments and cached by what decides them."""

    def __init__(self, population: Population, *, seed: int) -> None:
        rng = Random(f"{seed}:wide")
        self.policy_ids = tuple(new_guid(rng) for _ in POLICIES)
        self.resource_tenant = population.home.tenant_id
        self.offices = frozenset(network.address for network in population.offices)
        self._service_principals: dict[str, str] = {}
        self._rng = rng
        self._segments: dict[tuple[Any, ...], Segment] = {}

    def segments(
        self, *, event: Segment, outcome: Segment, app: Segment, network: Segment, risk: Segment
    ) -> list[Segment]:
        """The per-row request segment and the cached bulky one, in schema order."""
        result_type, _, _, _, ca_status, requirement, _, _ = outcome.values
        name, _, _, resource_id, interactive, _ = app.values
        office = network.values[0] in self.offices
        risk_types = tuple(risk.values[4])
        key = (result_type, ca_status, requirement, name, resource_id, interactive, office, risk_types)
        bulky = self._segments.get(key)
        if bulky is None:
            bulky = self._segments[key] = self._bulky(key)
        request = Segment(schema.SIGNIN_WIDE_REQUEST, (event.values[3],), cached=False)
        return [request, bulky]

    def _bulky(self, key: tuple[Any, ...]) -> Segment:
        result_type, ca_status, requirement, name, resource_id, interactive, office, risk_types = key
        mfa = requirement == "multiFactorAuthentication"
        return Segment(
            schema.SIGNIN_WIDE,
            (
                self._policies(result_type=result_type, ca_status=ca_status, mfa=mfa, admin=name in ADMIN_APPS),
                [{"id": "urn:microsoft:req1", "detail": "previouslySatisfied"}] if mfa else [],
                _processing_details(interactive=interactive),
                [{"requirementProvider": "multiConditionalAccess", "detail": "Conditional Access"}] if mfa else [],
                _network_locations(office=office),
                _session_policies(mfa=mfa, succeeded=result_type == "0"),
                list(risk_types),
                self._service_principal(resource_id),
                self.resource_tenant,
                "1.0",
                "Microsoft.aadiam",
            ),
        )

    def _policies(self, *, result_type: str, ca_status: str, mfa: bool, admin: bool) -> list[dict[str, Any]]:
        policies = []
        for policy, policy_id in zip(POLICIES, self.policy_ids, strict=True):
            result = _policy_result(policy, result_type=result_type, ca_status=ca_status, mfa=mfa, admin=admin)
            applied = result in ("success", "failure")
            policies.append(
                {
                    "id": policy_id,
                    "displayName": policy.name,
                    "enforcedGrantControls": list(policy.grant) if applied else [],
                    "enforcedSessionControls": list(policy.session) if applied else [],
                    "result": result,
                    "conditionsSatisfied": 3 if applied else 1,
                    "conditionsNotSatisfied": 0 if applied else 2,
                    "includeRulesSatisfied": _include_rules(policy) if applied else [],
                    "excludeRulesSatisfied": [],
                }
            )
        return policies

    def _service_principal(self, resource_id: str) -> str:
        found = self._service_principals.get(resource_id)
        if found is None:
            found = self._service_principals[resource_id] = new_guid(Random(f"{self.resource_tenant}:{resource_id}"))
        return found


def _include_rules(policy: Policy) -> list[dict[str, str]]:
    application = "allApps" if policy.scope == "all" else "appId"
    users = "allUsers" if policy.scope == "all" else "roleId"
    return [
        {"conditionalAccessCondition": "application", "ruleSatisfied": application},
        {"conditionalAccessCondition": "users", "ruleSatisfied": users},
    ]


def _processing_details(*, interactive: bool) -> list[dict[str, str]]:
    details = [
        {"key": "Legacy TLS (TLS 1.0, 1.1, 3DES)", "value": "False"},
        {"key": "Is CAE Token", "value": "False"},
        {"key": "Root Key Type", "value": "Unknown"},
    ]
    if interactive:
        details.insert(0, {"key": "Login Hint Present", "value": "True"})
    return details


def _network_locations(*, office: bool) -> list[dict[str, Any]]:
    if not office:
        return []
    return [{"networkType": "trustedNamedLocation", "networkNames": ["Contoso offices"]}]


def _session_policies(*, mfa: bool, succeeded: bool) -> list[dict[str, str]]:
    if not (mfa and succeeded):
        return []
    return [
        {"expirationRequirement": "rememberMultifactorAuthenticationOnTrustedDevices", "detail": "Remember MFA"},
        {"expirationRequirement": "signInFrequencyPeriodicReauthentication", "detail": "Sign-in frequency"},
    ]
