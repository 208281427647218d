"""Health alerts for sink, dispatch and document tests, built directly (the runner's side makes the real ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.health import HealthAlert, health_id
from shared.health_document import CONDITIONS
from shared.models import Window
from tests.sinks.rows import DETECTED_AT

STATES = ("raised", "cleared")
SINCE = datetime(2026, 11, 28, 6, 12, 40, tzinfo=UTC)
LAST_SEEN = datetime(2026, 11, 28, 6, 12, 40, tzinfo=UTC)
SKIPPED = Window(datetime(2026, 11, 20, 9, 0, tzinfo=UTC), datetime(2026, 11, 27, 9, 0, tzinfo=UTC))

_TEXT = {
    "signins-silent": (
        "No SigninLogs rows for 3 h 52 min",
        "The rule sees no sign-ins, so it cannot alert: check the Entra ID diagnostic setting that sends "
        "SigninLogs to the workspace, and the workspace's daily cap.",
    ),
    "ueba-silent": (
        "No BehaviorAnalytics LogOn/FailedLogOn rows for 24 h while SigninLogs had rows",
        "Without UEBA scores no rejection passes the score cutoff: check that UEBA is enabled in Sentinel "
        "with the Entra ID sign-in data source.",
    ),
    "identity-silent": (
        "No IdentityInfo rows for 24 h",
        "Alerts still fire but carry no roles or groups: check the UEBA IdentityInfo sync.",
    ),
    "unevaluated": (
        "Sign-in time since 2026-11-28T06:00:00Z is NOT evaluated yet",
        "The last failure: Log Analytics refused the SigninLogs query (HTTP 403 InsufficientAccessError).",
    ),
    "skipped": (
        "7 days of sign-in time were not evaluated",
        "The run was behind by more than MFA_MAX_CATCHUP, so it skipped ahead: no alert was raised for "
        "rejections in this sign-in time.",
    ),
}


def health_alert(
    condition: str = "signins-silent",
    state: str = "raised",
    *,
    with_range: bool | None = None,
    delay: timedelta | None = None,
    last_seen: datetime | None = LAST_SEEN,
) -> HealthAlert:
    """One health alert; ``skipped`` carries its range unless ``with_range=False``."""
    summary, detail = _TEXT[condition]
    if state == "cleared":
        summary = f"Cleared: {summary[0].lower()}{summary[1:]} no more"
    has_range = condition == "skipped" if with_range is None else with_range
    return HealthAlert(
        id=health_id(condition, state, SINCE),
        condition=condition,  # type: ignore[arg-type]
        state=state,  # type: ignore[arg-type]
        level="info" if condition == "identity-silent" else "warning",
        summary=summary,
        detail=detail,
        since=SINCE,
        last_seen=None if condition == "skipped" else last_seen,
        detected_at=DETECTED_AT,
        range=SKIPPED if has_range else None,
        delay=delay,
    )


def every_health_alert() -> dict[str, HealthAlert]:
    """Each condition x state, by name (``signins-silent-raised``...)."""
    return {f"{c}-{s}": health_alert(c, s) for c in CONDITIONS for s in STATES}
