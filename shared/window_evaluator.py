"""One window, evaluated: read the three tables, run the rule, keep the rows not decided before and
not suppressed, build alerts, and record them with the window in one commit.

The commit (``StateStore.commit_window``) puts the alerts into the outbox, marks the rows decided
(alerted on or suppressed) and the window as evaluated, records the suppression times and moves the
checkpoint in one step, so a crash or a lost race can never leave a window alerted but not
remembered, or remembered but not alerted.

Late data (MFA_LATE_DATA): a window is evaluated again by later runs until one runs at or after its
``late_horizon``, reading the same ranges as of that run's clock, so rows whose sign-in or UEBA data
arrived since can now match. Only result rows not decided before for that window go out (row
identity: ``shared.alerts.ROW_KEY_COLUMNS``), as alerts marked late; a row once sent is never sent
again, whatever its new scores or enrichment. The windows evaluated again in one run are read
together, in one read.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.alerts import Alert, build_alerts, row_key
from shared.detection import detect
from shared.errors import SourceError, StateConflictError
from shared.health_conditions import SINCE, seen_key
from shared.instants import format_instant
from shared.models import ReadRequest, Row, Tables, Window, WorkspaceTag
from shared.run_report import RunReport
from shared.settings import Settings
from shared.sources.base import DataSource
from shared.state.base import Checkpoint, NewItem, StateStore
from shared.window_plan import late_horizon

logger = logging.getLogger(__name__)

# The key under which the evaluator keeps the time before which every window has had its last
# evaluation: a run evaluates again only windows ending after it, and it moves on only when the
# run's re-evaluations succeeded, so a failed one is tried again by the next run.
FINAL_BEFORE = "late_final_before"


@dataclass
class WindowEvaluator:
    """Evaluates windows for a run; ``sink_names`` are the outbox lanes each alert is recorded for."""

    settings: Settings
    source: DataSource
    state: StateStore
    sink_names: Sequence[str]
    workspace: WorkspaceTag | None = None  # a named workspace: its alerts name it and carry its GUID in the id

    def evaluate(
        self, window: Window, *, expected: Checkpoint | None, now: datetime, report: RunReport, commit: bool
    ) -> Checkpoint | None:
        """Evaluate ``window`` and record its alerts. With ``commit``, the checkpoint moves from
        ``expected`` to the window's end and the new checkpoint is returned (None: another runner
        committed first, nothing was recorded); without, the checkpoint stays (backfill).

        Raises ``SourceError`` (naming the window) when the data cannot be read: nothing is recorded.
        """
        request = self._request(window, now=now, measure=commit)
        tables = self._read(request, what=f"window {window}", report=report)
        rows = self._new_rows(window, tables, report=report)
        report.result_rows += len(rows)
        health = self._health_marks(window, tables) if commit else {}
        checkpoint = self._decide(
            window, rows, expected=expected, now=now, report=report, commit=commit, late=False, health=health
        )
        if checkpoint is not None or not commit:
            report.windows_evaluated.append(window)
        return checkpoint

    def evaluate_due(
        self, windows: Sequence[Window], *, expected: Checkpoint | None, now: datetime, report: RunReport
    ) -> Checkpoint | None:
        """Evaluate the consecutive ``windows`` (oldest first) from one read, then record and commit each
        in order, as ``evaluate`` with ``commit`` would: a run catching up on many windows sends three
        queries (and three health counts), not three per window. Returns the last checkpoint, or None if
        another runner committed first (what was committed before that stays).

        Raises ``SourceError`` (naming the windows) when the data cannot be read: nothing is recorded.
        """
        if len(windows) <= 1:
            for window in windows:
                expected = self.evaluate(window, expected=expected, now=now, report=report, commit=True)
            return expected
        request = self._spanning(windows, now=now, measure=True)
        tables = self._read(request, what=f"windows {request.signins}", report=report)
        # The newest rows seen over all of them; recorded with the first window, whose start is the baseline.
        health = self._health_marks(windows[0], tables)
        for window in windows:
            rows = self._new_rows(window, tables.within(self._request(window, now=now)), report=report)
            report.result_rows += len(rows)
            expected = self._decide(
                window, rows, expected=expected, now=now, report=report, commit=True, late=False, health=health
            )
            if expected is None:
                return None
            report.windows_evaluated.append(window)
            health = {}
        return expected

    def evaluate_again(self, windows: Sequence[Window], *, now: datetime, report: RunReport) -> None:
        """Evaluate again, for late data, those of ``windows`` that were evaluated before and whose
        last evaluation was before their late horizon; alerts only rows not decided before, marked late.
        One read serves them all. Raises ``SourceError`` naming the windows when it fails."""
        due = [window for window in windows if self._again_due(window)]
        if due:
            self._evaluate_again(due, now=now, report=report)
        settings = self.settings
        self.state.remember_alerted(FINAL_BEFORE, now - settings.ingestion_delay - settings.late_data)

    def _evaluate_again(self, due: Sequence[Window], *, now: datetime, report: RunReport) -> None:
        request = self._spanning(due, now=now)
        what = f"windows {request.signins} (evaluated again for late data)"
        tables = self._read(request, what=what, report=report)
        for window in due:
            rows = self._new_rows(window, tables.within(self._request(window, now=now)), report=report)
            report.late_rows += len(rows)
            self._decide(window, rows, expected=None, now=now, report=report, commit=False, late=True)
            report.reevaluated.append(window)

    def _again_due(self, window: Window) -> bool:
        last = self.state.last_alerted(window_marker(window))  # None: never evaluated (skipped, before the first run)
        settings = self.settings
        horizon = late_horizon(window, ingestion_delay=settings.ingestion_delay, late_data=settings.late_data)
        return last is not None and last < horizon

    def _spanning(self, windows: Sequence[Window], *, now: datetime, measure: bool = False) -> ReadRequest:
        """One read serving each of the consecutive ``windows``: what ``_request`` reads for each, in one
        (``Tables.within`` gives each window its part)."""
        span = Window(windows[0].start, windows[-1].end)
        identities = Window(min(span.start, windows[0].end - self.settings.identity_lookback), span.end)
        return ReadRequest(signins=span, identities=identities, behaviors=span, as_of=now, measure=measure)

    def _request(self, window: Window, *, now: datetime, measure: bool = False) -> ReadRequest:
        lookback = self.settings.identity_lookback
        return ReadRequest.evaluating(window, identity_lookback=lookback, as_of=now, measure=measure)

    def _health_marks(self, window: Window, tables: Tables) -> dict[str, datetime]:
        """What the window's measure says for health (``shared.health_conditions``): the newest row of
        each table seen, and the baseline (the first window measured) if there is none yet."""
        marks = {seen_key(table): latest for table, latest in tables.latest.items() if latest is not None}
        if tables.latest and self.state.last_alerted(SINCE) is None:
            marks[SINCE] = window.start
        return marks

    def _read(self, request: ReadRequest, *, what: str, report: RunReport) -> Tables:
        try:
            tables = self.source.read(request)
        except SourceError as error:
            raise SourceError(f"{what}: {error}") from None
        for table, count in tables.scanned.items():
            report.rows_read[table] = report.rows_read.get(table, 0) + count
        report.candidates += len(tables.signins)
        return tables

    def _new_rows(self, window: Window, tables: Tables, *, report: RunReport) -> list[Row]:
        """The rule's result rows for ``window``, without those decided before for it."""
        cutoff = self.settings.risk_score_cutoff
        rows = detect(tables.signins, tables.identities, tables.behaviors, risk_score_cutoff=cutoff)
        return [row for row in rows if self.state.last_alerted(row_marker(window, row)) is None]

    def _decide(
        self,
        window: Window,
        rows: list[Row],
        *,
        expected: Checkpoint | None,
        now: datetime,
        report: RunReport,
        commit: bool,
        late: bool,
        health: dict[str, datetime] | None = None,
    ) -> Checkpoint | None:
        """Suppress, build the alerts and record everything in one step (see ``_record``), with the
        window's health marks."""
        kept = self._unsuppressed(rows, window=window, report=report)
        alerts = build_alerts(kept, window=window, detected_at=now, grouping=self.settings.alert_grouping)
        if late:
            alerts = [alert.found_late(now - window.end) for alert in alerts]
        if self.workspace is not None:
            alerts = [alert.in_workspace(self.workspace) for alert in alerts]
        checkpoint = self._record(window, rows, kept, alerts, expected=expected, now=now, commit=commit, health=health)
        if checkpoint is None and commit:
            report.conflicts += 1
            return None
        report.alerts += len(alerts)
        report.late_alerts += len(alerts) if late else 0
        kind = "evaluated again for late data" if late else "evaluated"
        logger.info("window %s %s: %d new result row(s), %d alert(s)", window, kind, len(kept), len(alerts))
        return checkpoint

    def _record(
        self,
        window: Window,
        rows: list[Row],
        kept: list[Row],
        alerts: list[Alert],
        *,
        expected: Checkpoint | None,
        now: datetime,
        commit: bool,
        health: dict[str, datetime] | None,
    ) -> Checkpoint | None:
        items = [
            NewItem(alert_id=alert.id, sink=sink, payload=payload, created_at=now)
            for alert in alerts
            for payload in (alert.to_json(),)
            for sink in self.sink_names
        ]
        # Remembered in the same step as the alerts: the rows decided (alerted on or suppressed), so
        # a re-evaluation never decides them again; when the window was last evaluated; and
        # (MFA_SUPPRESSION) when each user and IP was last alerted on.
        alerted = {row_marker(window, row): window.end for row in rows} | {window_marker(window): now}
        if self.settings.suppression:
            alerted |= {suppression_key(row): window.end for row in kept}
        alerted |= health or {}
        if not commit:
            self.state.add_items(items, alerted=alerted)
            return expected
        try:
            return self.state.commit_window(window_end=window.end, items=items, expected=expected, alerted=alerted)
        except StateConflictError as error:
            logger.warning("window %s: another runner committed it first; nothing recorded (%s)", window, error)
            return None

    def _unsuppressed(self, rows: list[Row], *, window: Window, report: RunReport) -> list[Row]:
        """``rows`` without those whose user and IP were alerted on less than MFA_SUPPRESSION before
        this window's end."""
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


def suppression_key(row: Row) -> str:
    """User + IP, hashed so that any UPN or IP text is a safe storage key."""
    return "ui_" + _digest(f"{row['UserPrincipalName']}\x00{row['FailedIPAddress']}")


def row_marker(window: Window, row: Row) -> str:
    """The key that says this result row was decided for this window: alerted on, or suppressed
    (its identity: ``row_key``)."""
    return "row_" + _digest(f"{format_instant(window.start)}\x00{format_instant(window.end)}\x00{row_key(row)}")


def window_marker(window: Window) -> str:
    """The key under which the clock of the window's last evaluation is kept."""
    return "win_" + _digest(f"{format_instant(window.start)}\x00{format_instant(window.end)}")


def _digest(text: str) -> str:
    # surrogatepass: any str hashes (a lone surrogate from the data included), the same as before for the rest.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:40]
