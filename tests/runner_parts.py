"""Parts for runner tests: settings, an in-memory data source and sinks that record what they get.

The in-memory source and the recording sinks implement the product's one-method protocols
(``DataSource``, ``Sink``); they stand in for Log Analytics and webhooks only where the test is
about scheduling, not about those parts (which have their own tests against real servers).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from shared.alerts import Alert
from shared.candidates import Candidates, is_rejected_mfa
from shared.errors import DeliveryError, SourceError
from shared.models import ReadRequest, Row, Tables, Window
from shared.settings import Settings, load_settings
from tests.builders import behavior, signin


def settings(**overrides: Any) -> Settings:
    base = {"MFA_SOURCE": "fixtures", "MFA_CONSOLE": False, "MFA_STATE": "unused"}
    return load_settings(**(base | overrides))


@dataclass
class MemorySource:
    """Rows held in memory, limited to each table's window as the fixture source does."""

    signins: list[Row]
    behaviors: list[Row]
    identities: list[Row] = field(default_factory=list)
    fail: Callable[[ReadRequest], str | None] = lambda request: None
    reads: list[ReadRequest] = field(default_factory=list)
    before_read: Callable[[], None] | None = None
    closed: bool = False

    def read(self, request: ReadRequest) -> Tables:
        self.reads.append(request)
        if self.before_read is not None:
            self.before_read()
        reason = self.fail(request)
        if reason:
            raise SourceError(reason)
        visible = partial(_arrived, request.as_of)
        signins = [r for r in visible(self.signins) if _within(request.signins, r) and is_rejected_mfa(r)]
        candidates = Candidates.from_signins(signins)
        return Tables(
            signins=signins,
            identities=[
                r for r in visible(self.identities) if _within(request.identities, r) and candidates.may_enrich(r)
            ],
            behaviors=[r for r in visible(self.behaviors) if _within(request.behaviors, r) and candidates.may_score(r)],
            scanned={"SigninLogs": len(self.signins)},
        )

    def close(self) -> None:
        self.closed = True


def _arrived(as_of: datetime | None, rows: list[Row]) -> list[Row]:
    """The rows in the workspace at ``as_of``: a row with an ``_ingested`` time after it has not arrived
    yet (as the fixture source reads that column); the column itself is not part of the row."""
    return [
        {column: value for column, value in row.items() if column != "_ingested"}
        for row in rows
        if as_of is None or row.get("_ingested") is None or row["_ingested"] <= as_of
    ]


def _within(window: Window | None, row: Row) -> bool:
    return window is None or window.contains(row["TimeGenerated"])


@dataclass
class RecordingSink:
    """Counts deliveries per alert id; ``fail`` decides, per attempt, whether to raise instead."""

    name: str = "recorder"
    fail: Callable[[Alert], DeliveryError | BaseException | None] = lambda alert: None
    delivered: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    alerts: dict[str, Alert] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, alert: Alert) -> None:
        with self.lock:
            self.attempts[alert.id] += 1
        problem = self.fail(alert)
        if problem is not None:
            raise problem
        with self.lock:
            self.delivered[alert.id] += 1
            self.alerts[alert.id] = alert


def rejections_every_hour(start: datetime, hours: int, *, minute: int = 17) -> tuple[list[Row], list[Row]]:
    """One MFA decline per hour by a different user, each with a UEBA score that alerts."""
    signins, behaviors = [], []
    for hour in range(hours):
        moment = start + timedelta(hours=hour, minutes=minute)
        user = f"user{hour}"
        row = signin(f"{user}@contoso.com", ip=f"198.51.100.{hour % 250}")
        signins.append(row | {"TimeGenerated": moment})
        behaviors.append(behavior(user, ip=f"198.51.100.{hour % 250}", score=8) | {"TimeGenerated": moment})
    return signins, behaviors
