"""One error root, with the few subclasses that callers handle differently."""

from __future__ import annotations


class MfaRejectedError(Exception):
    """Root of every error this product raises on purpose; its message is meant for a person."""


class InputError(MfaRejectedError):
    """Bad input data or arguments (a fixture file, a command-line value): the user must fix it.

    The command line maps it to exit code 2.
    """


class ConfigError(MfaRejectedError):
    """A setting is missing or invalid; the message names every bad setting."""


class SourceError(MfaRejectedError):
    """The data source could not return complete data: the window counts as not evaluated."""


class DeliveryError(MfaRejectedError):
    """A sink could not deliver an alert.

    ``permanent`` is True when retrying cannot help (an HTTP 4xx other than 408/429), so the
    outbox can stop retrying at once instead of waiting for the attempt bound.
    """

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        # The HTTP status the receiver answered, when it answered one (a sink explains what it means).
        self.status = status


class StateConflictError(MfaRejectedError):
    """Another runner changed the state first (optimistic concurrency lost): nothing was written."""


def describe(error: BaseException) -> str:
    """An error as a run reports it: ours speak for themselves; anything else is named by its type too."""
    return str(error) if isinstance(error, MfaRejectedError) else f"unexpected {type(error).__name__}: {error}"
