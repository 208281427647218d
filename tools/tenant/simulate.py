"""The tenant's activity over time: sign-ins, what UEBA makes of them, and identity snapshots.

Rows come out per table in time order, one minute of activity at a time, so memory stays bounded
by a minute's worth of rows whatever the total. Each table draws from its own ``Random`` so the
tables stay reproducible independently of the output format.
"""

from __future__ import annotations

import heapq
from bisect import bisect
from collections.abc import Iterator, Sequence
from itertools import accumulate
from random import Random
from typing import Any, TypeVar

from tools.tenant import catalog, planted
from tools.tenant.catalog import Outcome
from tools.tenant.formats import Segment
from tools.tenant.params import TenantParams
from tools.tenant.population import Network, Population, User, build
from tools.tenant.rows import RowFactory
from tools.tenant.schema import BEHAVIOR, IDENTITY, SIGNIN, TABLES

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

# InvestigationPriority 0..10: most activity scores 0-2; an attacker's activity scores high.
NORMAL_PRIORITY = tuple(accumulate((55, 22, 12, 5, 2, 1.5, 1, 0.6, 0.4, 0.3, 0.2)))
ANOMALOUS_PRIORITY = tuple(accumulate((2, 2, 3, 6, 10, 12, 12, 12, 10, 8, 6)))

T = TypeVar("T")


class _Weighted:
    """Fast weighted choice: one ``random()`` and a bisect."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = list(items)
        self.cum = list(accumulate(weights))
        self.total = self.cum[-1]

    def pick(self, rng: Random) -> Any:
        return self.items[bisect(self.cum, rng.random() * self.total)]


def _pick(rng: Random, items: Sequence[T]) -> T:
    # rng.choice costs several times more (rejection sampling); the bias of this is negligible.
    return items[int(rng.random() * len(items))]


def _priority(rng: Random, cum: tuple[float, ...]) -> int:
    return bisect(cum, rng.random() * cum[-1])


class Simulation:
    """Yields ``(table, segments)`` for every generated row; see ``rows``."""

    def __init__(self, params: TenantParams) -> None:
        self.params = params
        self.population: Population = build(params)
        self.factory = RowFactory(self.population, wide=params.wide, seed=params.seed)
        seed = params.seed
        self.signin_rng = Random(f"{seed}:{SIGNIN}")
        self.behavior_rng = Random(f"{seed}:{BEHAVIOR}")
        self.identity_rng = Random(f"{seed}:{IDENTITY}")
        self._heaps: dict[str, list[tuple[int, int, list[Segment]]]] = {table: [] for table in TABLES}
        self._seq = 0
        self._successes = _Weighted(catalog.SUCCESSES, [o.weight for o in catalog.SUCCESSES])
        self._failures = _Weighted(catalog.OTHER_FAILURES, [o.weight for o in catalog.OTHER_FAILURES])
        self._declines = _Weighted(catalog.DECLINES, [o.weight for o in catalog.DECLINES])
        self._frauds = _Weighted(catalog.FRAUD_REPORTS, [o.weight for o in catalog.FRAUD_REPORTS])
        self._apps = _Weighted(catalog.APPS, [a.weight for a in catalog.APPS])
        self._activities = _Weighted(catalog.OTHER_ACTIVITIES, [a.weight for a in catalog.OTHER_ACTIVITIES])

    # --- scheduling --------------------------------------------------------------------------

    def _push(self, table: str, time_ms: int, segments: list[Segment]) -> None:
        self._seq += 1
        heapq.heappush(self._heaps[table], (time_ms, self._seq, segments))

    def _due(self, before_ms: int) -> Iterator[tuple[str, list[Segment]]]:
        for table in TABLES:
            heap = self._heaps[table]
            while heap and heap[0][0] < before_ms:
                yield table, heapq.heappop(heap)[2]

    def rows(self) -> Iterator[tuple[str, list[Segment]]]:
        params = self.params
        if params.planted:
            for table, time_ms, segments in planted.rows(self.factory, self.population, params):
                self._push(table, time_ms, segments)
        per_hour = round(params.users * params.rate)
        for hour in range(params.hours):
            hour_ms = params.start_ms + hour * HOUR_MS
            self._schedule_identities(hour, hour_ms)
            base, extra = divmod(per_hour, 60)
            for minute in range(60):
                minute_ms = hour_ms + minute * MINUTE_MS
                count = base + (1 if minute < extra else 0)
                rng = self.signin_rng
                # int(random() * n) rather than randrange: see _pick.
                for time_ms in sorted([minute_ms + int(rng.random() * MINUTE_MS) for _ in range(count)]):
                    self._signin(time_ms)
                yield from self._due(minute_ms + MINUTE_MS)
        yield from self._due(params.end_ms)
        leftover = sum(len(heap) for heap in self._heaps.values())
        if leftover:  # every scheduled time is clamped inside the window
            raise AssertionError(f"{leftover} rows scheduled outside the window")

    # --- IdentityInfo ------------------------------------------------------------------------

    def _schedule_identities(self, hour: int, hour_ms: int) -> None:
        rng = self.identity_rng
        rate = self.params.identity_rate
        for user in self.population.users:
            if not user.synced_identity:
                continue
            # Everyone has a snapshot in the first hour; later hours refresh a share of users.
            if hour and rng.random() >= rate:
                continue
            time_ms = hour_ms + rng.randrange(HOUR_MS)
            variant = 1 if user.changes_at_ms is not None and time_ms >= user.changes_at_ms else 0
            account = self.factory.identity_account(user, variant)
            self._push(IDENTITY, time_ms, self.factory.identity(time_ms, account))

    # --- SigninLogs --------------------------------------------------------------------------

    def _signin(self, time_ms: int) -> None:
        params = self.params
        rng = self.signin_rng
        population = self.population
        user = population.users[bisect(population.cum_weights, rng.random() * population.cum_weights[-1])]
        roll = rng.random()
        burst = 0
        attacked = False
        if roll < params.decline_rate:
            outcome = self._declines.pick(rng)
            attacked = rng.random() < params.attacker_share
            burst = rng.choice((0, 0, 1, 1, 2, 3, 4)) if attacked else 0
        elif roll < params.decline_rate + params.fraud_rate:
            outcome = self._frauds.pick(rng)
            attacked = rng.random() < params.attacker_share
        elif roll < params.decline_rate + params.fraud_rate + params.failure_rate:
            outcome = self._failures.pick(rng)
            attacked = outcome.result_type == "50126" and rng.random() < 0.1  # password spray
        else:
            outcome = self._successes.pick(rng)
        upn = user.variant_upn if rng.random() < params.case_variant_rate else user.upn
        app = self._apps.pick(rng)
        if attacked:
            network = _pick(rng, population.attackers)
            device = _pick(rng, catalog.DEVICES)
        else:
            network = user.networks[0] if rng.random() < 0.6 else _pick(rng, user.networks)
            device = _pick(rng, user.devices)
        self._emit_signin(time_ms, user=user, upn=upn, outcome=outcome, app=app, device=device, network=network)
        # MFA fatigue: an attacker holding the password keeps pushing prompts that get declined.
        for _ in range(burst):
            time_ms += rng.randrange(15_000, 120_000)
            if time_ms >= params.end_ms:
                break
            self._emit_signin(time_ms, user=user, upn=upn, outcome=outcome, app=app, device=device, network=network)

    def _emit_signin(
        self,
        time_ms: int,
        *,
        user: User,
        upn: str,
        outcome: Outcome,
        app: catalog.App,
        device: catalog.Device,
        network: Network,
    ) -> None:
        segments = self.factory.signin(
            self.signin_rng, time_ms, user=user, upn=upn, outcome=outcome, app=app, device=device, network=network
        )
        self._push(SIGNIN, time_ms, segments)
        self._behaviors_for(time_ms, user, outcome, network)

    # --- BehaviorAnalytics -------------------------------------------------------------------

    def _behaviors_for(self, time_ms: int, user: User, outcome: Outcome, network: Network) -> None:
        params = self.params
        rng = self.behavior_rng
        factory = self.factory
        last_ms = params.end_ms - 1
        # UEBA records most anomalous sign-ins, and a share of ordinary ones.
        if rng.random() < (0.9 if network.anomalous else params.ueba_rate):
            activity_type = "LogOn" if outcome.result_type == "0" else "FailedLogOn"
            priority = _priority(rng, ANOMALOUS_PRIORITY if network.anomalous else NORMAL_PRIORITY)
            roll = rng.random()
            address = "" if roll < 0.02 else "-" if roll < 0.03 else network.address
            at_ms = min(time_ms + int(rng.random() * 2000), last_ms)
            self._push(
                BEHAVIOR,
                at_ms,
                factory.behavior(
                    factory.behavior_event(rng, at_ms, priority),
                    factory.activity(activity_type, "Sign-in", "Azure AD", anomalous=network.anomalous),
                    factory.behavior_user(user, user.ueba_name),
                    factory.source(address, network if address == network.address else None),
                ),
            )
        if rng.random() < params.other_activity_rate:
            activity = self._activities.pick(rng)
            roll = rng.random()
            address = "" if roll < 0.45 else "-" if roll < 0.7 else f"10.228.{rng.randrange(8)}.{rng.randrange(1, 64)}"
            at_ms = min(time_ms + int(rng.random() * 30_000), last_ms)
            self._push(
                BEHAVIOR,
                at_ms,
                factory.behavior(
                    factory.behavior_event(rng, at_ms, _priority(rng, NORMAL_PRIORITY)),
                    factory.activity(activity.activity_type, activity.action_type, activity.event_source),
                    factory.behavior_user(user, user.ueba_name),
                    factory.source(address, None),
                    factory.destination(_pick(rng, catalog.INTERNAL_HOSTS)),
                ),
            )
