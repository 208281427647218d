"""Fixture times moved to the present, for local emulation (MFA_FIXTURES_TIME_SHIFT=latest).

A recorded tenant-hour (``sample_data/``) lies in the past, so a timer running at the real clock
(``func start``) would evaluate today's hours against it and never alert. ``TimeShiftedSource``
moves every datetime of every table by one ``shift``, chosen by ``shift_to`` so that the
``lookback``-long period holding the fixtures' latest rejected-MFA sign-in becomes the window the
run evaluates last. Relative times are kept exactly (the rule's windows, joins and lookbacks see
the same data), and a request is answered by reading the fixtures' own times (the request, its
``as_of`` included, moved back by the shift), so the result is ``detect`` over the recorded hour, at
today's times; a late-arriving row (``_ingested``) arrives as late after it as it did.

Only for fixtures: the settings refuse it with the live source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.instants import format_instant
from shared.models import BEHAVIOR_TABLE, IDENTITY_TABLE, SCHEMAS, SIGNIN_TABLE, ReadRequest, Row, Tables, Window
from shared.sources.base import DataSource

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_COLUMNS = {table: [c for c, t in schema.items() if t == "datetime"] for table, schema in SCHEMAS.items()}


def shift_to(source: DataSource, *, window_end: datetime, lookback: timedelta) -> timedelta:
    """The shift that makes the period holding ``source``'s latest rejected-MFA sign-in end at
    ``window_end``. Periods are ``lookback`` long, counted from the Unix epoch (hours for PT1H), so
    a recorded hour stays one window. No rejected-MFA sign-in at all: no shift (nothing to alert on).
    """
    signins = source.read(ReadRequest.same(None)).signins
    latest = max((row["TimeGenerated"] for row in signins if row["TimeGenerated"] is not None), default=None)
    if latest is None:
        logger.info("MFA_FIXTURES_TIME_SHIFT: no rejected-MFA sign-in in the fixtures; times are not moved")
        return timedelta(0)
    period_end = _EPOCH + ((latest - _EPOCH) // lookback + 1) * lookback
    shift = window_end - period_end
    logger.info(
        "MFA_FIXTURES_TIME_SHIFT=latest: fixture times moved by %s (their period %s is the window ending %s)",
        shift,
        Window(period_end - lookback, period_end),
        format_instant(window_end),
    )
    return shift


@dataclass(frozen=True, slots=True)
class TimeShiftedSource:
    """A ``DataSource`` whose rows are ``inner``'s with every datetime moved by ``shift``."""

    inner: DataSource
    shift: timedelta

    def read(self, request: ReadRequest) -> Tables:
        back = ReadRequest(
            signins=self._moved(request.signins, -self.shift),
            identities=self._moved(request.identities, -self.shift),
            behaviors=self._moved(request.behaviors, -self.shift),
            # The clock moves back too: a fixture row that had arrived by then (``_ingested``) is
            # read, as if its arrival time were moved with the rest.
            as_of=None if request.as_of is None else request.as_of - self.shift,
            measure=request.measure,
        )
        tables = self.inner.read(back)
        return Tables(
            signins=[self._row(SIGNIN_TABLE, row) for row in tables.signins],
            identities=[self._row(IDENTITY_TABLE, row) for row in tables.identities],
            behaviors=[self._row(BEHAVIOR_TABLE, row) for row in tables.behaviors],
            scanned=tables.scanned,
            latest={table: None if moment is None else moment + self.shift for table, moment in tables.latest.items()},
        )

    def close(self) -> None:
        self.inner.close()

    @staticmethod
    def _moved(window: Window | None, by: timedelta) -> Window | None:
        return None if window is None else Window(window.start + by, window.end + by)

    def _row(self, table: str, row: Row) -> Row:
        moved = dict(row)
        for column in _TIME_COLUMNS[table]:
            if moved.get(column) is not None:
                moved[column] = moved[column] + self.shift
        return moved
