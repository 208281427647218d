"""One window, evaluated: read the three tables, run the rule, drop suppressed rows, build alerts,
and record them with the window in one commit.

The commit (``StateStore.commit_window``) puts the alerts into the outbox, the suppression times
of the rows alerted on, and the checkpoint's move in one step, so a crash or a lost race can
never leave a window alerted but not remembered, or remembered but not alerted.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from shared.alerts import build_alerts
from shared.detection import detect
from shared.errors import SourceError, StateConflictError
from shared.models import ReadRequest, Row, Window
from shared.run_report import RunReport
from shared.settings import Settings
from shared.sources.base import DataSource
from shared.state.base import Checkpoint, NewItem, StateStore

logger = logging.getLogger(__name__)


@dataclass
class WindowEvaluator:
    """Evaluates windows for a run; ``sink_names`` are the outbox lanes each alert is recorded for."""

    settings: Settings
    source: DataSource
    state: StateStore
    sink_names: Sequence[str]

    def evaluate(
        self, window: Window, *, expected: Checkpoint | None, now: datetime, report: RunReport, commit: bool
    ) -> Checkpoint | None:
        """Evaluate ``window`` and record its alerts. With ``commit``, the checkpoint moves from
        ``expected`` to the window's end and the new checkpoint is returned (None: another runner
        committed first, nothing was recorded); without, the checkpoint stays (backfill).

        Raises ``SourceError`` (naming the window) when the data cannot be read: nothing is recorded.
        """
        settings = self.settings
        request = ReadRequest.evaluating(window, identity_lookback=settings.identity_lookback)
        try:
            tables = self.source.read(request)
        except SourceError as error:
            raise SourceError(f"window {window}: {error}") from None
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
            for sink in self.sink_names
        ]
        # MFA_SUPPRESSION: the rows alerted on are remembered in the same step as their alerts.
        alerted = {suppression_key(row): window.end for row in rows} if settings.suppression else {}
        if commit:
            try:
                checkpoint = self.state.commit_window(
                    window_end=window.end, items=items, expected=expected, alerted=alerted
                )
            except StateConflictError as error:
                report.conflicts += 1
                logger.warning("window %s: another runner committed it first; nothing recorded (%s)", window, error)
                return None
        else:
            self.state.add_items(items, alerted=alerted)
            checkpoint = expected
        report.windows_evaluated.append(window)
        report.alerts += len(alerts)
        logger.info("window %s: %d result row(s), %d alert(s)", window, len(rows), len(alerts))
        return checkpoint

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
    # surrogatepass: any str hashes (a lone surrogate from the data included), the same as before for the rest.
    material = f"{row['UserPrincipalName']}\x00{row['FailedIPAddress']}".encode("utf-8", "surrogatepass")
    return "ui_" + hashlib.sha256(material).hexdigest()[:40]
