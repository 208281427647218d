"""What one run did, as one structured record: counted while the run goes, logged once at its end."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from shared.instants import format_instant
from shared.models import Window


@dataclass(slots=True)
class RunReport:
    """What one run did: logged as one structured record (Application Insights custom dimensions)."""

    windows_evaluated: list[Window] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)
    candidates: int = 0
    result_rows: int = 0
    reevaluated: list[Window] = field(default_factory=list)  # windows evaluated again (MFA_LATE_DATA)
    late_rows: int = 0  # result rows found only by a re-evaluation
    late_alerts: int = 0
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
    health: dict[str, str] = field(default_factory=dict)  # condition -> "raised" or "ok", after the run
    health_alerts: int = 0  # conditions raised or cleared by this run
    skipped: Window | None = None
    error: str | None = None
    durations: dict[str, float] = field(default_factory=dict)
    workspace: str = ""  # the workspace's name, when the deployment names its workspaces
    workspace_id: str = ""

    @property
    def failed(self) -> bool:
        return self.error is not None

    def fail(self, message: str) -> None:
        self.error = message if self.error is None else f"{self.error}; {message}"

    def dimensions(self) -> dict[str, object]:
        named = {"workspace": self.workspace, "workspace_id": self.workspace_id} if self.workspace else {}
        return named | {
            "windows_evaluated": len(self.windows_evaluated),
            "first_window_start": format_instant(self.windows_evaluated[0].start) if self.windows_evaluated else "",
            "last_window_end": format_instant(self.windows_evaluated[-1].end) if self.windows_evaluated else "",
            "rows_signinlogs": self.rows_read.get("SigninLogs", 0),
            "rows_identityinfo": self.rows_read.get("IdentityInfo", 0),
            "rows_behavioranalytics": self.rows_read.get("BehaviorAnalytics", 0),
            "candidates": self.candidates,
            "result_rows": self.result_rows,
            "windows_reevaluated": len(self.reevaluated),
            "late_rows": self.late_rows,
            "late_alerts": self.late_alerts,
            "suppressed": self.suppressed,
            "alerts": self.alerts,
            "delivered": self.delivered,
            "delivered_alerts": self.delivered_alerts,
            "retried": self.retried,
            "deferred": self.deferred,
            "dead": self.dead,
            "unrouted": self.unrouted,
            "conflicts": self.conflicts,
            "health_alerts": self.health_alerts,
            **{f"health_{name.replace('-', '_')}": held for name, held in self.health.items()},
            "skipped_start": format_instant(self.skipped.start) if self.skipped else "",
            "skipped_end": format_instant(self.skipped.end) if self.skipped else "",
            "error": self.error or "",
            **{f"seconds_{name}": round(value, 3) for name, value in self.durations.items()},
        }
