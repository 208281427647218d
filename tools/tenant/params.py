"""What to generate: one frozen set of parameters, also the cache key for generated data."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

DEFAULT_START: Final = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class TenantParams:
    """Sizes and proportions of a synthetic tenant.

    Rates are per sign-in unless named otherwise. The defaults give the proportions of a real
    tenant: most sign-ins succeed, a few percent fail with other codes, a fraction of a percent
    are MFA declines or fraud reports.
    """

    seed: int = 1
    users: int = 1000
    hours: int = 1
    start: datetime = DEFAULT_START
    rate: float = 4.0  # sign-ins per user-hour
    decline_rate: float = 0.002  # ResultType 500121 "MFA denied; user declined the authentication"
    fraud_rate: float = 0.0005  # ResultType 500121 with a fraud report
    failure_rate: float = 0.045  # every other failure code, 500121 with other details included
    attacker_share: float = 0.5  # declines/fraud coming from an attacker's IP rather than the user's
    ueba_rate: float = 0.4  # sign-ins that UEBA also records as LogOn/FailedLogOn
    other_activity_rate: float = 0.3  # BehaviorAnalytics rows of other activity types, per sign-in
    identity_rate: float = 0.25  # IdentityInfo snapshots per user-hour after the first hour
    case_variant_rate: float = 0.08  # sign-ins whose UPN differs in case from the account's
    guest_share: float = 0.05
    other_tenant_share: float = 0.01
    ipv6_share: float = 0.2
    planted: bool = False  # add the planted edge cases of the bundled sample (sample_data/)
    wide: bool = False  # sign-ins carry the bulky columns of real ones (tools/tenant/wide.py): ~3.7 KB a row

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware (UTC)")
        if self.start.microsecond % 1000:
            raise ValueError("start must be a whole millisecond (generated times are milliseconds)")
        if self.users < 1 or self.hours < 1 or self.rate <= 0:
            raise ValueError("users and hours must be at least 1 and rate positive")
        shares = (self.decline_rate, self.fraud_rate, self.failure_rate)
        if any(not 0 <= s <= 1 for s in shares) or sum(shares) > 1:
            raise ValueError("decline, fraud and failure rates must be in [0, 1] and sum to at most 1")
        for name in ("attacker_share", "ueba_rate", "other_activity_rate", "identity_rate", "case_variant_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")
        for name in ("guest_share", "other_tenant_share", "ipv6_share"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1]")

    @property
    def start_ms(self) -> int:
        return (self.start - EPOCH) // timedelta(milliseconds=1)

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.hours * 3_600_000

    def with_(self, **changes: object) -> TenantParams:
        return replace(self, **changes)  # type: ignore[arg-type]

    def cache_key(self) -> str:
        """A short stable digest of every parameter (for caching generated data by parameters)."""
        fields = asdict(self)
        fields["start"] = self.start.isoformat()
        if not self.wide:
            del fields["wide"]  # so that the keys of data generated before --wide existed still hold
        text = json.dumps(fields, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


# The bundled sample (sample_data/): one realistic tenant-hour plus the planted edge cases.
SAMPLE_PARAMS: Final = TenantParams(
    seed=20261129,
    users=36,
    hours=1,
    rate=8.0,
    decline_rate=0.008,
    fraud_rate=0.003,
    failure_rate=0.06,
    planted=True,
)
