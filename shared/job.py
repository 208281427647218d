"""Assemble the job from settings: the one place that turns configuration into parts.

The timer function and ``python -m shared run`` both call ``run_scheduled``, so they run exactly
the same thing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TextIO

from shared.runner import Runner, RunReport
from shared.settings import Settings
from shared.sinks.factory import build_sinks
from shared.sources.factory import build_source
from shared.state import open_state

logger = logging.getLogger(__name__)


@contextmanager
def assembled(settings: Settings, *, stream: TextIO | None = None) -> Iterator[Runner]:
    """A runner wired from ``settings``; its state store is closed on exit."""
    # The Azure SDK logs every HTTP request at INFO: in Application Insights that would bury the
    # run records. Its warnings and errors still come through.
    logging.getLogger("azure").setLevel(logging.WARNING)
    source = build_source(settings)
    sinks = build_sinks(settings, stream=stream)
    if not sinks:
        logger.warning(
            "no sink is configured (MFA_TEAMS_WEBHOOK_URL, MFA_WEBHOOK_URL, MFA_CONSOLE): alerts are "
            "recorded in the outbox but delivered nowhere"
        )
    state = open_state(settings)
    try:
        yield Runner(settings=settings, source=source, sinks=sinks, state=state)
    finally:
        state.close()
        close = getattr(source, "close", None)
        if close is not None:
            close()


def run_scheduled(settings: Settings, *, now: datetime, stream: TextIO | None = None) -> RunReport:
    """One scheduled run: every due window, then delivery."""
    with assembled(settings, stream=stream) as runner:
        return runner.run(now=now)
