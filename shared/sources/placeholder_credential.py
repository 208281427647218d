"""A token credential for a loopback Log Analytics endpoint, which checks no token.

``LogAnalyticsSource`` uses it only for ``http://127.0.0.1:…``, ``http://localhost:…`` and
``http://[::1]:…`` (the endpoints for which the settings allow plain http): the loopback workspace
of the tests, or a local emulator. Any other endpoint gets ``DefaultAzureCredential``, so this can
never stand in for a real identity.
"""

from __future__ import annotations

import time
from typing import Any

from azure.core.credentials import AccessToken

TOKEN_LIFETIME_SECONDS = 3600


class PlaceholderCredential:
    """A ``TokenCredential`` that hands out one fixed, meaningless token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("loopback-placeholder-token", int(time.time()) + TOKEN_LIFETIME_SECONDS)
