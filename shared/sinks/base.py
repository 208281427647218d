"""The one protocol every sink implements (``shared.dispatch`` drives them)."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from shared.alerts import Alert


@runtime_checkable
class Sink(Protocol):
    """Delivers alerts somewhere. ``name`` is unique among the configured sinks (the outbox records
    delivery per sink name) and safe to show: it never contains a URL or secret."""

    name: str

    def deliver(self, alert: Alert) -> None:
        """Deliver one alert or raise ``DeliveryError`` (``permanent=True`` when retrying cannot help)."""
        ...
