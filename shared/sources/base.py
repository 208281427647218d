"""The one protocol every data source implements."""

from __future__ import annotations

from typing import Protocol

from shared.models import ReadRequest, Tables


class DataSource(Protocol):
    def read(self, request: ReadRequest) -> Tables:
        """Return the rows of SigninLogs, IdentityInfo and BehaviorAnalytics for the request's windows.

        Raises ``InputError`` for bad fixture data and ``SourceError`` when complete data could not
        be had; never returns partial data as if it were complete.
        """
        ...

    def close(self) -> None:
        """Release what the source holds (HTTP connections, credentials); nothing for files."""
        ...
