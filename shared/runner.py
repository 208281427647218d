"""The scheduled job: plan windows from the checkpoint, evaluate each, record alerts, deliver them.

Promises (tests/test_runner.py and tests/test_runner_simulation.py hold each to account):
- no gap: windows tile sign-in time from the checkpoint on, each ``lookback`` long, oldest first;
  what lies beyond ``max_catchup`` is recorded as skipped and logged as an error, never dropped
  silently;
- no duplicate: a window is evaluated only if the checkpoint is before it, and its alerts go into
  the outbox under stable ids, inserted only if absent, in the same step that moves the checkpoint
  (optimistic concurrency: a runner that loses the race writes nothing);
- no loss: alerts are recorded in the outbox before anything is sent (under ``unrouted`` when no
  sink is configured), then ``shared.dispatch`` delivers them; failures are retried on later runs
  and dead alerts are reported, never dropped;
- a source failure, or any other error while evaluating, leaves the checkpoint where it was and
  fails the run with the cause; what the outbox holds is still delivered.
"""

from __future__ import annotations

import hashlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.alerts import build_alerts
from shared.detection import detect
from shared.dispatch import UNROUTED, OutboxDispatcher
from shared.errors import MfaRejectedError, SourceError, StateConflictError
from shared.models import ReadRequest, Row, Window
from shared.redaction import Redactor
from shared.settings import Settings
from shared.sinks.base import Sink
from shared.sources.base import DataSource
from shared.state.base import Checkpoint, NewItem, StateStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Plan:
    """The windows a run evaluates, and the sign-in time it gives up on (beyond the catch-up bound)."""

    windows: tuple[Window, ...]
    skipped: Window | None = None


def window_end(now: datetime, *, ingestion_delay: timedelta) -> datetime:
    """``now - ingestion delay``, truncated to the minute: the latest time a window may end."""
    end = now - ingestion_delay
    return end.replace(second=0, microsecond=0)


def plan_windows(
    *,
    checkpoint: datetime | None,
    now: datetime,
    lookback: timedelta,
    ingestion_delay: timedelta,
    max_catchup: timedelta,
) -> Plan:
    """Which windows to evaluate now.

    Without a checkpoint (the first run) only the latest window. With one, every whole window from
    the checkpoint on, each ``lookback`` long, oldest first, that has ended by ``now - delay``; if
    the checkpoint lies further back than ``max_catchup``, the oldest time is skipped (and reported)
    in whole windows, so the tiling stays aligned.
    """
    latest_end = window_end(now, ingestion_delay=ingestion_delay)
    if checkpoint is None:
        return Plan(windows=(Window(latest_end - lookback, latest_end),))
    start = checkpoint
    skipped: Window | None = None
    oldest_allowed = latest_end - max_catchup
    if start < oldest_allowed:
        whole_windows = -((start - oldest_allowed) // lookback)  # ceil((oldest_allowed - start) / lookback)
        resume = start + whole_windows * lookback
        skipped = Window(start, resume)
        start = resume
    windows: list[Window] = []
    while start + lookback <= latest_end:
        windows.append(Window(start, start + lookback))
        start += lookback
    return Plan(windows=tuple(windows), skipped=skipped)


def plan_for(settings: Settings, checkpoint: Checkpoint | None, *, now: datetime) -> Plan:
    """``plan_windows`` from a stored checkpoint, with the settings' lookback, delay and catch-up."""
    return plan_windows(
        checkpoint=checkpoint.end if checkpoint else None,
        now=now,
        lookback=settings.lookback,
        ingestion_delay=settings.ingestion_delay,
        max_catchup=settings.max_catchup,
    )


@dataclass(slots=True)
class RunReport:
    """What one run did: logged as one structured record (Application Insights custom dimensions)."""

    windows_evaluated: list[Window] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    result_rows: int = 0
    suppressed: int = 0
    alerts: int = 0
    delivered: int = 0  # deliveries (one alert to two sinks is two)
    delivered_alerts: int = 0  # distinct alerts delivered to at least one sink
    retried: int = 0
    deferred: int = 0
    dead: int = 0
    unrouted: int = 0
    by_sink: dict[str, Counter[str]] = field(default_factory=dict)  # sink -> outcome -> count
    conflicts: int = 0
    skipped: Window | None = None
    error: str | None = None
    durations: dict[str, float] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None

    def fail(self, message: str) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"

    def dimensions(self) -> dict[str, object]:
        return {
            "windows_evaluated": len(self.windows_evaluated),
            "first_window_start": self.windows_evaluated[0].start.isoformat() if self.windows_evaluated else "",
            "last_window_end": self.windows_evaluated[-1].end.isoformat() if self.windows_evaluated else "",
            "rows_signinlogs": self.rows_read.get("SigninLogs", 0),
            "rows_identityinfo": self.rows_read.get("IdentityInfo", 0),
            "rows_behavioranalytics": self.rows_read.get("BehaviorAnalytics", 0),
            "candidates": self.candidates,
            "result_rows": self.result_rows,
            "suppressed": self.suppressed,
            "alerts": self.alerts,
            "delivered": self.delivered,
            "delivered_alerts": self.delivered_alerts,
            "retried": self.retried,
            "deferred": self.deferred,
            "dead": self.dead,
            "unrouted": self.unrouted,
            "conflicts": self.conflicts,
            "skipped_start": self.skipped.start.isoformat() if self.skipped else "",
            "skipped_end": self.skipped.end.isoformat() if self.skipped else "",
            "error": self.error or "",
            **{f"seconds_{name}": round(value, 3) for name, value in self.durations.items()},
        }


@dataclass
class Runner:
    """One configured job. Everything external (source, sinks, state, clock) is passed in.

    Evaluation (windows, detection, suppression, the outbox commit) is here; delivery is the
    ``OutboxDispatcher``'s, built from ``sinks``. With no sinks, alerts are recorded under
    ``unrouted`` and wait for a sink to be configured.
    """

    settings: Settings
    source: DataSource
    sinks: Sequence[Sink]
    state: StateStore
    jitter: Callable[[], float] = field(default=random.random)
    on_window: Callable[[Window], None] | None = None  # progress callback (backfill)
    redact: Redactor = field(default_factory=Redactor)
    longest_delivery: timedelta = timedelta(0)

    def __post_init__(self) -> None:
        self.dispatcher = OutboxDispatcher(
            state=self.state,
            sinks=self.sinks,
            max_attempts=self.settings.max_delivery_attempts,
            late_after=self.settings.max_catchup,
            redact=self.redact,
            longest_delivery=self.longest_delivery,
            jitter=self.jitter,
        )
        self._sink_names = [sink.name for sink in self.sinks] or [UNROUTED]

    def run(self, *, now: datetime) -> RunReport:
        """Evaluate every window that is due, then deliver what the outbox holds."""
        report = RunReport()
        started = time.perf_counter()

        def evaluate() -> None:
            checkpoint = self.state.checkpoint()
            plan = plan_for(self.settings, checkpoint, now=now)
            if plan.skipped is not None:
                self._record_skip(plan.skipped, now=now, report=report)
            expected = checkpoint
            for window in plan.windows:
                expected = self._evaluate(window, expected=expected, now=now, report=report, commit=True)
                if expected is None:  # lost a race: the other runner owns the rest of this plan
                    return

        return self._finish(
            report, evaluate, now=now, started=started, failure="window not evaluated, checkpoint unchanged"
        )

    def backfill(self, windows: Sequence[Window], *, now: datetime) -> RunReport:
        """Evaluate given windows (older data, a re-check) without moving the checkpoint; alerts go
        to the outbox under their stable ids, so a window already alerted on sends nothing again."""
        report = RunReport()

        def evaluate() -> None:
            for window in windows:
                self._evaluate(window, expected=None, now=now, report=report, commit=False)

        return self._finish(report, evaluate, now=now, started=time.perf_counter(), failure="backfill stopped")

    def _finish(
        self, report: RunReport, evaluate: Callable[[], None], *, now: datetime, started: float, failure: str
    ) -> RunReport:
        """Evaluate, then deliver whatever happened (alerts recorded before a failure still go out), then log."""
        try:
            evaluate()
        except MfaRejectedError as error:
            report.fail(str(error))
            logger.error("%s: %s", failure, error)
        except Exception as error:  # a defect, or a value nothing foresaw: fail loudly, deliver anyway
            report.fail(f"unexpected {type(error).__name__}: {self.redact(str(error))}")
            logger.exception("%s: unexpected error", failure)
        report.durations["evaluate"] = time.perf_counter() - started
        self._deliver(now=now, report=report)
        report.durations["total"] = time.perf_counter() - started
        self._log(report)
        return report

    # --- evaluation ---------------------------------------------------------------------------

    def _evaluate(
        self, window: Window, *, expected: Checkpoint | None, now: datetime, report: RunReport, commit: bool
    ) -> Checkpoint | None:
        settings = self.settings
        request = ReadRequest.evaluating(window, identity_lookback=settings.identity_lookback)
        try:
            tables = self.source.read(request)
        except SourceError as error:
            raise SourceError(f"window {_span(window)}: {error}") from None
        for table, count in tables.scanned.items():
            report.rows_read[table] = report.rows_read.get(table, 0) + count
        report.candidates += len(tables.signins)
        rows = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=settings.risk_score_cutoff)
        report.result_rows += len(rows)
        rows = self._unsuppressed(rows, window=window, report=report)
        alerts = build_alerts(rows, window=window, detected_at=now, grouping=settings.alert_grouping)
        items = [
            NewItem(alert_id=alert.id, sink=sink, payload=alert.to_json(), created_at=now)
            for alert in alerts
            for sink in self._sink_names
        ]
        if commit:
            try:
                checkpoint = self.state.commit_window(window_end=window.end, items=items, expected=expected)
            except StateConflictError as error:
                report.conflicts += 1
                logger.warning(
                    "window %s: another runner committed it first; nothing recorded (%s)", _span(window), error
                )
                return None
        else:
            self.state.add_items(items)
            checkpoint = expected
        report.windows_evaluated.append(window)
        report.alerts += len(alerts)
        self._remember(rows, window=window)
        if self.on_window is not None:
            self.on_window(window)
        logger.info("window %s: %d result row(s), %d alert(s)", _span(window), len(rows), len(alerts))
        return checkpoint

    def _record_skip(self, skipped: Window, *, now: datetime, report: RunReport) -> None:
        reason = f"older than MFA_MAX_CATCHUP ({self.settings.max_catchup}) at {now.isoformat()}"
        self.state.record_skipped(start=skipped.start, end=skipped.end, reason=reason, at=now)
        report.skipped = skipped
        logger.error("sign-in time %s was NOT evaluated: %s; run `backfill` to evaluate it", _span(skipped), reason)

    # --- suppression (MFA_SUPPRESSION) ----------------------------------------------------------

    def _unsuppressed(self, rows: list[Row], *, window: Window, report: RunReport) -> list[Row]:
        period = self.settings.suppression
        if not period:
            return rows
        kept = []
        for row in rows:
            last = self.state.last_alerted(suppression_key(row))
            if last is not None and window.end - last < period:
                report.suppressed += 1
                continue
            kept.append(row)
        return kept

    def _remember(self, rows: list[Row], *, window: Window) -> None:
        if self.settings.suppression:
            for row in rows:
                self.state.remember_alerted(suppression_key(row), window.end)

    # --- delivery -----------------------------------------------------------------------------

    def _deliver(self, *, now: datetime, report: RunReport) -> None:
        started = time.perf_counter()
        try:
            tally = self.dispatcher.dispatch(now=now)
        except Exception as error:  # the state store failed before any lane started (deliveries never raise)
            kind = "" if isinstance(error, MfaRejectedError) else f"unexpected {type(error).__name__}: "
            report.fail(f"delivery: {kind}{self.redact(str(error))}")
            logger.error("delivery failed: %s", report.error)
        else:
            report.delivered += tally.delivered
            report.delivered_alerts += len(tally.delivered_alerts)
            report.retried += tally.retried
            report.deferred += tally.deferred
            report.dead += tally.dead
            report.unrouted += tally.unrouted
            report.by_sink = tally.by_sink
            for error in tally.errors:
                report.fail(error)
        report.durations["deliver"] = time.perf_counter() - started

    def _log(self, report: RunReport) -> None:
        # The fields go both into the message (the Functions host forwards only the message text to
        # Application Insights) and into ``extra`` (as custom dimensions, for OpenTelemetry exporters).
        level = logging.ERROR if report.failed or report.dead or report.skipped else logging.INFO
        if report.unrouted and level < logging.WARNING:
            level = logging.WARNING
        dimensions = report.dimensions()
        text = " ".join(f"{key}={value}" for key, value in dimensions.items() if value not in ("", None))
        logger.log(level, "run finished %s", text, extra={"custom_dimensions": dimensions, **dimensions})


def suppression_key(row: Row) -> str:
    """User + IP, hashed so that any UPN or IP text is a safe storage key."""
    # surrogatepass: any str hashes (a lone surrogate from the data included), the same as before for the rest.
    material = f"{row['UserPrincipalName']}\x00{row['FailedIPAddress']}".encode("utf-8", "surrogatepass")
    return "ui_" + hashlib.sha256(material).hexdigest()[:40]


def _span(window: Window) -> str:
    return f"[{window.start.isoformat()}, {window.end.isoformat()})"
