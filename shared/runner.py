"""The scheduled job: plan windows from the checkpoint, evaluate each, then deliver what the outbox holds.

Promises (tests/test_runner.py and tests/test_runner_simulation.py hold each to account):
- no gap: windows tile sign-in time from the checkpoint on, each ``lookback`` long, oldest first
  (``shared.window_plan``); what lies beyond ``max_catchup`` is recorded as skipped and logged as
  an error, never dropped silently;
- no duplicate: a window is evaluated only if the checkpoint is before it, and its alerts go into
  the outbox under stable ids, inserted only if absent, in the same step that moves the checkpoint
  and remembers the suppression times (``shared.window_evaluator``; optimistic concurrency: a
  runner that loses the race writes nothing);
- no loss: alerts are recorded in the outbox before anything is sent (under ``unrouted`` when no
  sink is configured), then ``shared.dispatch`` delivers them; failures are retried on later runs
  and dead alerts are reported, never dropped;
- a source failure, or any other error while evaluating, leaves the checkpoint where it was and
  fails the run with the cause; what the outbox holds is still delivered.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from shared.dispatch import UNROUTED, OutboxDispatcher, lease_for
from shared.errors import MfaRejectedError, describe
from shared.health_conditions import changes, current_health
from shared.instants import format_instant
from shared.models import Window, WorkspaceTag
from shared.redaction import Redactor
from shared.run_report import RunReport
from shared.settings import Settings
from shared.sinks.base import Sink
from shared.sources.base import DataSource
from shared.state.base import NewItem, StateStorageError, StateStore
from shared.window_evaluator import FINAL_BEFORE, WindowEvaluator
from shared.window_plan import plan_for

logger = logging.getLogger(__name__)

# The start of the window a stream's first run attempted, kept until its first window is committed:
# a stream whose first runs fail (a workspace not yet readable) later catches up from there.
FIRST_START = "first_window_start"


@dataclass
class Runner:
    """One configured job. Everything external (source, sinks, state, clock) is passed in.

    The ``WindowEvaluator`` evaluates and records each window; the ``OutboxDispatcher``, built
    from ``sinks``, delivers. With no sinks, alerts are recorded under ``unrouted`` and wait for a
    sink to be configured. The runner orders the two and keeps the run record.
    """

    settings: Settings
    source: DataSource
    sinks: Sequence[Sink]
    state: StateStore
    jitter: Callable[[], float] = field(default=random.random)
    redact: Redactor = field(default_factory=Redactor)
    longest_delivery: timedelta = timedelta(0)
    workspace: WorkspaceTag | None = None  # a named workspace: alerts and health alerts name it
    # What is wrong before the run starts but does not stop it (a workspace's own destinations
    # unusable: its alerts wait in its outbox): the run is evaluated and delivered, and fails with it.
    problem: str | None = None

    def __post_init__(self) -> None:
        self._state_failed = False
        self.evaluator = WindowEvaluator(
            settings=self.settings,
            source=self.source,
            state=self.state,
            sink_names=[sink.name for sink in self.sinks] or [UNROUTED],
            workspace=self.workspace,
        )
        self.dispatcher = outbox_dispatcher(
            self.settings,
            state=self.state,
            sinks=self.sinks,
            redact=self.redact,
            longest_delivery=self.longest_delivery,
            jitter=self.jitter,
        )

    def run(self, *, now: datetime) -> RunReport:
        """Evaluate every window that is due, then deliver what the outbox holds."""
        report = self._new_report()
        started = time.perf_counter()

        def evaluate() -> None:
            checkpoint = self.state.checkpoint()
            first = None if checkpoint is not None else self.state.last_alerted(FIRST_START)
            plan = plan_for(
                self.settings,
                checkpoint,
                now=now,
                final_before=self.state.last_alerted(FINAL_BEFORE),
                first_start=first,
            )
            if checkpoint is None and first is None and plan.windows:
                # Before reading: if this first run fails, the next one starts from this same window.
                self.state.remember_alerted(FIRST_START, plan.windows[0].start)
            if plan.skipped is not None:
                self._record_skip(plan.skipped, now=now, report=report)
            if self.evaluator.evaluate_due(plan.windows, expected=checkpoint, now=now, report=report) is None:
                return  # lost a race: the other runner owns the rest of this plan
            # After the new windows, so that trouble re-reading an old window never holds up the checkpoint.
            self.evaluator.evaluate_again(plan.again, now=now, report=report)

        return self._finish(
            report,
            evaluate,
            now=now,
            started=started,
            failure="window not evaluated, checkpoint unchanged",
            scheduled=True,
        )

    def backfill(
        self, windows: Sequence[Window], *, now: datetime, on_window: Callable[[Window], None] | None = None
    ) -> RunReport:
        """Evaluate given windows (older data, a re-check) without moving the checkpoint; alerts go
        to the outbox under their stable ids, so a window already alerted on sends nothing again.
        ``on_window`` is called after each window is recorded (progress)."""
        report = self._new_report()

        def evaluate() -> None:
            for window in windows:
                self.evaluator.evaluate(window, expected=None, now=now, report=report, commit=False)
                if on_window is not None:
                    on_window(window)

        return self._finish(
            report, evaluate, now=now, started=time.perf_counter(), failure="backfill stopped", scheduled=False
        )

    def _finish(
        self,
        report: RunReport,
        evaluate: Callable[[], None],
        *,
        now: datetime,
        started: float,
        failure: str,
        scheduled: bool,
    ) -> RunReport:
        """Evaluate, then deliver whatever happened (alerts recorded before a failure still go out), then log."""
        try:
            evaluate()
        except MfaRejectedError as error:
            self._state_failed = isinstance(error, StateStorageError)
            report.fail(str(error))
            logger.error("%s%s: %s", self._named(), failure, error)
        except Exception as error:  # a defect, or a value nothing foresaw: fail loudly, deliver anyway
            report.fail(self.redact(describe(error)))
            logger.exception("%s%s: unexpected error", self._named(), failure)
        self._watch_health(now=now, report=report, scheduled=scheduled)
        report.durations["evaluate"] = time.perf_counter() - started
        self._deliver(now=now, report=report)
        report.durations["total"] = time.perf_counter() - started
        self._note_run(now=now, report=report)
        log_report(report)
        return report

    def _new_report(self) -> RunReport:
        report = RunReport()
        if self.workspace is not None:
            report = RunReport(workspace=self.workspace.name, workspace_id=self.workspace.id)
        if self.problem is not None:
            report.fail(self.problem)
            logger.error("%s%s", self._named(), self.problem)
        return report

    def _note_run(self, *, now: datetime, report: RunReport) -> None:
        """Keep how this run ended in the state, for `status` (a workspace's last error); a state that
        could not be read is left exactly as it was found."""
        if self._state_failed:
            return
        try:
            self.state.record_run(at=now, error=report.error or "")
        except Exception as error:  # the run's own outcome stands; the note is for people
            report.fail(f"recording the run: {self.redact(describe(error))}")
            logger.error("%srecording the run failed: %s", self._named(), error)

    def _watch_health(self, *, now: datetime, report: RunReport, scheduled: bool) -> None:
        """Raise or clear health conditions (``shared.health_conditions``) as of the checkpoint: each
        change goes into the outbox for every sink, with the marks that record it, in one step."""
        try:
            checkpoint = self.state.checkpoint()
            # Before the first window is committed, the window the first run tried: a stream whose
            # first runs all fail is as blind as one whose checkpoint stopped.
            end = checkpoint.end if checkpoint is not None else self.state.last_alerted(FIRST_START)
            if end is not None:
                caught_up = bool(report.windows_evaluated) and report.skipped is None
                found = changes(
                    self.state,
                    self.settings,
                    end=end,
                    now=now,
                    skipped=report.skipped,
                    caught_up=caught_up,
                    failure=report.error,
                    scheduled=scheduled,
                )
                for change in found:
                    alert = change.alert if self.workspace is None else change.alert.in_workspace(self.workspace)
                    payload = alert.to_json()
                    items = [NewItem(alert.id, sink, payload, now) for sink in self.evaluator.sink_names]
                    self.state.add_items(items, alerted=change.marks)
                    report.health_alerts += 1
                    logger.warning("health: %s%s %s: %s", self._named(), alert.condition, alert.state, alert.summary)
            report.health = {
                name: "raised" if held.active else "ok" for name, held in current_health(self.state).items()
            }
        except Exception as error:  # health must never stop delivery; the run says what went wrong
            report.fail(f"health: {self.redact(describe(error))}")
            logger.error("%shealth check failed: %s", self._named(), report.error)

    def _named(self) -> str:
        """``workspace contoso: `` before a message about one workspace; nothing for the one-workspace form."""
        return "" if self.workspace is None else f"workspace {self.workspace.name}: "

    def _record_skip(self, skipped: Window, *, now: datetime, report: RunReport) -> None:
        reason = f"older than MFA_MAX_CATCHUP ({self.settings.max_catchup}) at {format_instant(now)}"
        self.state.record_skipped(start=skipped.start, end=skipped.end, reason=reason, at=now)
        report.skipped = skipped
        logger.error(
            "%ssign-in time %s was NOT evaluated: %s; run `backfill` to evaluate it", self._named(), skipped, reason
        )

    def _deliver(self, *, now: datetime, report: RunReport) -> None:
        deliver_into(report, self.dispatcher, now=now, redact=self.redact, named=self._named())


def outbox_dispatcher(
    settings: Settings,
    *,
    state: StateStore,
    sinks: Sequence[Sink],
    redact: Redactor,
    longest_delivery: timedelta,
    jitter: Callable[[], float] = random.random,
) -> OutboxDispatcher:
    """The dispatcher of ``state``'s outbox to ``sinks``, with the settings' attempts and delay bound."""
    return OutboxDispatcher(
        state=state,
        sinks=sinks,
        max_attempts=settings.max_delivery_attempts,
        late_after=settings.max_catchup,
        redact=redact,
        lease=lease_for(longest_delivery),
        longest_delivery=longest_delivery,
        jitter=jitter,
    )


def deliver_into(
    report: RunReport, dispatcher: OutboxDispatcher, *, now: datetime, redact: Redactor, named: str = ""
) -> None:
    """Deliver what is due and count it in ``report``; a state store failing is the report's error."""
    started = time.perf_counter()
    try:
        tally = dispatcher.dispatch(now=now)
    except Exception as error:  # the state store failed before any lane started (deliveries never raise)
        report.fail(f"delivery: {redact(describe(error))}")
        logger.error("%sdelivery failed: %s", named, report.error)
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


def log_report(report: RunReport) -> None:
    """The run record: one per run, as every run ends."""
    # One record per run from this logger ("shared.runner", as docs/deploy.md queries it). The fields
    # go both into the message (the Functions host forwards only the message text to Application
    # Insights) and into ``extra`` (as custom dimensions, for OpenTelemetry exporters).
    level = logging.ERROR if report.failed or report.dead or report.skipped else logging.INFO
    if report.unrouted and level < logging.WARNING:
        level = logging.WARNING
    dimensions = report.dimensions()
    text = " ".join(f"{key}={value}" for key, value in dimensions.items() if value not in ("", None))
    logger.log(level, "run finished %s", text, extra={"custom_dimensions": dimensions, **dimensions})
