"""The one protocol every sink implements (``shared.dispatch`` drives them)."""

from __future__ import annotations

from typing import Final, Protocol, runtime_checkable

from shared.documents import Deliverable

# A ticketing sink looks before it creates, and a clear may comment and label: no sink sends more
# requests than this for one delivery, each bounded by the transport's deadline (the outbox lease
# must outlast them all). The most: a Jira clear (its own label searched, its raise's issue
# searched, the comments read, a comment, a label) and a ServiceNow delivery whose OAuth token is
# refused once (token, look-up, new token, look-up again, create).
MAX_REQUESTS_PER_DELIVERY: Final = 5


@runtime_checkable
class Sink(Protocol):
    """Delivers alerts somewhere: rule alerts and health alerts alike (``Deliverable``). ``name`` is unique
    among the configured sinks (the outbox records delivery per sink name) and safe to show: it never
    contains a URL or secret."""

    name: str

    def deliver(self, alert: Deliverable) -> None:
        """Deliver one alert or raise ``DeliveryError`` (``permanent=True`` when retrying cannot help)."""
        ...
