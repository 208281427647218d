"""Which health conditions hold after a run, and which changed: raised once when one starts, cleared
once when it ends (``shared.health`` is the alert they become).

What a condition needs is kept as times under named keys in the state's ``SuppressionLog`` (each
key keeps the later of its times), written in the same step as the window or the health alerts:

    health_since           the start of the first window measured (the baseline before any row is seen)
    health_seen_<table>    the newest TimeGenerated seen of SigninLogs, IdentityInfo, BehaviorAnalytics log-ons
    health_raised_<cond>   the clock of the run that raised <cond>
    health_cleared_<cond>  the clock of the run that cleared it (active: raised later than cleared)
    health_from_<cond>     since when <cond> held, as its raise said (its clear's id is built from it)

Silence is measured in sign-in time from the checkpoint, as windows are, so a catch-up run decides
exactly as the hourly runs would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from shared.health import HealthAlert, health_id
from shared.health_document import CONDITIONS, Condition
from shared.instants import format_instant
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SIGNIN_TABLE, Window
from shared.settings import Settings
from shared.state.base import SuppressionLog
from shared.window_plan import window_end

DAY: Final = timedelta(hours=24)
_MAX_FAILURE: Final = 500  # of a run's error in the unevaluated alert's detail
SINCE: Final = "health_since"


def seen_key(table: str) -> str:
    return f"health_seen_{table}"


@dataclass(frozen=True, slots=True)
class Standing:
    """One condition as stored: active or not, and since when it held (for an active one)."""

    active: bool
    since: datetime | None


def standing(marks: SuppressionLog, condition: str) -> Standing:
    raised = marks.last_alerted(f"health_raised_{condition}")
    cleared = marks.last_alerted(f"health_cleared_{condition}")
    active = raised is not None and (cleared is None or raised > cleared)
    return Standing(active=active, since=marks.last_alerted(f"health_from_{condition}") if active else None)


def current_health(marks: SuppressionLog) -> dict[str, Standing]:
    """Every condition's standing, for ``status`` and the run record."""
    return {condition: standing(marks, condition) for condition in CONDITIONS}


@dataclass(frozen=True, slots=True)
class Change:
    """A health alert and the marks that record it, to be written in one step."""

    alert: HealthAlert
    marks: dict[str, datetime]


def changes(
    marks: SuppressionLog,
    settings: Settings,
    *,
    end: datetime,
    now: datetime,
    skipped: Window | None,
    caught_up: bool,
    failure: str | None = None,
    scheduled: bool = True,
) -> list[Change]:
    """The conditions that started or ended as of the checkpoint ``end``, as health alerts.

    ``skipped``: time this run left unevaluated (each range raises its own alert); ``caught_up``: this
    run evaluated windows without skipping any, which clears ``skipped``; ``failure``: why this run
    could not evaluate (its error), for ``unevaluated``, which only a scheduled run (not a backfill of
    old time, at a clock of its own) raises or clears.
    """
    found = _unevaluated(marks, settings, end=end, now=now, failure=failure) if scheduled else []
    baseline = marks.last_alerted(SINCE)
    if baseline is None:
        if skipped is not None:
            found.append(_raise("skipped", skipped.start, now=now, last_seen=None, span=skipped))
        return found
    seen = {table: marks.last_alerted(seen_key(table)) for table in (SIGNIN_TABLE, IDENTITY_TABLE, BEHAVIOR_TABLE)}
    signins_from = seen[SIGNIN_TABLE] or baseline
    ueba_from = seen[BEHAVIOR_TABLE] or baseline
    identity_from = seen[IDENTITY_TABLE] + settings.identity_lookback if seen[IDENTITY_TABLE] else baseline
    signins_flowing = seen[SIGNIN_TABLE] is not None and end - seen[SIGNIN_TABLE] < DAY
    silent = {
        "signins-silent": (end - signins_from >= settings.no_data_after, signins_from, seen[SIGNIN_TABLE]),
        # Raised only while sign-ins flow (else signins-silent says it all); cleared only by a log-on.
        "ueba-silent": (end - ueba_from >= DAY, ueba_from, seen[BEHAVIOR_TABLE]),
        "identity-silent": (end - identity_from >= DAY, identity_from, seen[IDENTITY_TABLE]),
    }
    for condition, (holds, since, last_seen) in silent.items():
        now_standing = standing(marks, condition)
        if holds and not now_standing.active and (condition != "ueba-silent" or signins_flowing):
            found.append(_raise(condition, since, now=now, last_seen=last_seen))
        elif not holds and now_standing.active:
            found.append(_clear(condition, now_standing.since or since, now=now, last_seen=last_seen))
    if skipped is not None:
        found.append(_raise("skipped", skipped.start, now=now, last_seen=None, span=skipped))
    elif caught_up and (skip := standing(marks, "skipped")).active:
        found.append(_clear("skipped", skip.since or end, now=now, last_seen=None))
    return found


def _unevaluated(
    marks: SuppressionLog, settings: Settings, *, end: datetime, now: datetime, failure: str | None
) -> list[Change]:
    """``unevaluated``: the windows due lag ``end`` by MFA_NO_DATA_AFTER or more, because every run since
    failed (a run that succeeds evaluates up to now). Raised once with the failure; cleared on catching up."""
    behind = window_end(now, ingestion_delay=settings.ingestion_delay) - end >= settings.no_data_after
    held = standing(marks, "unevaluated")
    if behind and failure and not held.active:  # raised by a failed run; a run that lost a race is not one
        return [_raise("unevaluated", end, now=now, last_seen=None, failure=failure)]
    if not behind and held.active:
        return [_clear("unevaluated", held.since or end, now=now, last_seen=None)]
    return []


_TEXT: Final[dict[str, tuple[str, str, str]]] = {
    # condition: (level, what it means, what to check)
    "signins-silent": (
        "warning",
        "SigninLogs has had no rows for {silence}: this detection cannot see sign-ins, so no alert is not no attack.",
        "Check the Microsoft Entra ID data connector in Sentinel and the tenant's diagnostic setting that sends "
        "SignInLogs to this workspace.",
    ),
    "ueba-silent": (
        "warning",
        "BehaviorAnalytics has had no LogOn/FailedLogOn rows for {silence} while SigninLogs had rows: this rule "
        "needs UEBA scores and cannot alert at all.",
        "Check that UEBA is enabled in Sentinel (Settings > Entity behavior analytics) with Microsoft Entra ID as "
        "a data source.",
    ),
    "identity-silent": (
        "info",
        "IdentityInfo has had no rows within MFA_IDENTITY_LOOKBACK for {silence}: alerts still fire, but without "
        "tags, groups and roles.",
        "Check UEBA's identity sync; IdentityInfo is refreshed in full about every 14 days, so MFA_IDENTITY_LOOKBACK "
        "should be P14D.",
    ),
    "unevaluated": (
        "warning",
        "Sign-in time since {since} is NOT evaluated yet: every run for {silence} failed to evaluate it, so this "
        "detection is blind there until a run succeeds (it then catches up).",
        "The last failure: {failure}. Check the identity's access to the workspace (a withdrawn Lighthouse "
        "delegation or role), the endpoint, and throttling; `python -m shared status` shows the last error.",
    ),
    "skipped": (
        "warning",
        "Sign-in time {span} was NOT evaluated: it lay beyond MFA_MAX_CATCHUP when the detection ran again.",
        "Run `python -m shared backfill --from {start} --to {end}` to evaluate it; find why runs stopped (the "
        "'no run finished' Azure Monitor alert, the function's logs).",
    ),
}


def _raise(
    condition: Condition,
    since: datetime,
    *,
    now: datetime,
    last_seen: datetime | None,
    span: Window | None = None,
    failure: str = "",
) -> Change:
    level, what, check = _TEXT[condition]
    values = {
        "silence": f"at least {_hours(now - since)}",
        "span": str(span),
        "since": format_instant(since),
        "failure": failure if len(failure) <= _MAX_FAILURE else failure[: _MAX_FAILURE - 1] + "…",
    }
    if span is not None:
        values |= {"start": format_instant(span.start), "end": format_instant(span.end)}
    alert = HealthAlert(
        id=health_id(condition, "raised", since if span is None else span.start),
        condition=condition,
        state="raised",
        level=level,  # type: ignore[arg-type]  # one of Level, from the table above
        summary=what.format(**values),
        detail=check.format(**values),
        since=since,
        last_seen=last_seen,
        detected_at=now,
        range=span,
    )
    marks = {f"health_raised_{condition}": now, f"health_from_{condition}": since}
    return Change(alert=alert, marks=marks)


def _clear(condition: Condition, since: datetime, *, now: datetime, last_seen: datetime | None) -> Change:
    level, _, _ = _TEXT[condition]
    alert = HealthAlert(
        id=health_id(condition, "cleared", since),
        condition=condition,
        state="cleared",
        level=level,  # type: ignore[arg-type]
        summary=f"Cleared: {condition} no longer holds (it held from {format_instant(since)}).",
        detail="The data flows again; alerts that depend on it fire as usual.",
        since=since,
        last_seen=last_seen,
        detected_at=now,
    )
    return Change(alert=alert, marks={f"health_cleared_{condition}": now})


def _hours(span: timedelta) -> str:
    hours = int(span.total_seconds() // 3600)
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"
