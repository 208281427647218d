"""The one protocol every sink implements, and delivery of one alert to several sinks."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Protocol, runtime_checkable

from shared.alerts import Alert
from shared.errors import DeliveryError

logger = logging.getLogger(__name__)


@runtime_checkable
class Sink(Protocol):
    """Delivers alerts somewhere. ``name`` is unique among the configured sinks (the outbox records
    delivery per sink name) and safe to show: it never contains a URL or secret."""

    name: str

    def deliver(self, alert: Alert) -> None:
        """Deliver one alert or raise ``DeliveryError`` (``permanent=True`` when retrying cannot help)."""
        ...


def deliver_all(alert: Alert, sinks: Iterable[Sink]) -> dict[str, DeliveryError | None]:
    """Deliver ``alert`` to every sink; one sink failing never stops the others.

    Returns sink name -> None (delivered) or the ``DeliveryError`` it raised. An unexpected exception
    from a sink is reported as a transient ``DeliveryError`` naming only its type, since its message
    could quote a URL.
    """
    results: dict[str, DeliveryError | None] = {}
    for sink in sinks:
        if sink.name in results:
            raise ValueError(f"two sinks are named {sink.name!r}; sink names must be unique")
        try:
            sink.deliver(alert)
        except DeliveryError as error:
            logger.warning("alert %s not delivered to %s: %s", alert.id, sink.name, error)
            results[sink.name] = error
        except Exception as error:  # one broken sink must not stop the others
            failure = DeliveryError(f"{sink.name}: unexpected {type(error).__name__} while delivering")
            logger.error("alert %s not delivered to %s: %s", alert.id, sink.name, failure)
            results[sink.name] = failure
        else:
            logger.info("alert %s delivered to %s", alert.id, sink.name)
            results[sink.name] = None
    return results
