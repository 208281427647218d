"""How the ServiceNow sink signs its Table API calls: basic authentication, or an OAuth 2.0
client-credentials token (inbound client credentials exist since the Washington DC release).

A token comes from ``POST {instance}/oauth_token.do`` (form ``grant_type=client_credentials``,
``client_id``, ``client_secret``) and is cached until shortly before ``expires_in`` runs out; the
sink drops it when a Table API call answers 401 (the instance revoked it or restarted) and asks
once for a new one. The password, the client secret, the tokens and the Basic header value are
secrets: each call hands them to the transport (``secrets=``) so no message shows them, and no
``repr`` here shows anything but the kind of authentication.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final, Protocol
from urllib.parse import urlencode

from shared.display import printable
from shared.errors import ConfigError, DeliveryError
from shared.sinks.transport import HttpTransport

logger = logging.getLogger(__name__)

# A token is renewed this long before the instance says it expires (at most half its lifetime), so a
# call never starts with a token that runs out on the way.
EXPIRY_MARGIN: Final = 60.0
RETIRED_KEPT: Final = 4

BASIC_HINT: Final = (
    "check MFA_SERVICENOW_USER and MFA_SERVICENOW_PASSWORD, and that the user is active and not locked out"
)
OAUTH_HINT: Final = (
    "check MFA_SERVICENOW_CLIENT_ID and MFA_SERVICENOW_CLIENT_SECRET (System OAuth > Application Registry), "
    "that the system property glide.oauth.inbound.client.credential.grant_type.enabled is true, and that the "
    "OAuth entity names an active OAuth Application User"
)


@dataclass(frozen=True, slots=True)
class Authorization:
    """The header for one call, the secrets to redact from what it may say, and whether the token was
    taken from the cache (only then can a 401 be cured by fetching a new one)."""

    headers: dict[str, str]
    secrets: tuple[str, ...]
    cached: bool = False

    def __repr__(self) -> str:
        return "Authorization([redacted])"


class Credentials(Protocol):
    hint: str  # which settings to check when the instance refuses them
    user_setting: str  # who acts in ServiceNow, as a setting to look up

    def authorize(self) -> Authorization: ...

    def forget(self) -> None:
        """Drop a cached token (the instance answered 401 to it)."""
        ...


class BasicAuth:
    """HTTP basic authentication as the integration user (``Authorization: Basic base64(user:password)``)."""

    hint = BASIC_HINT
    user_setting = "the user MFA_SERVICENOW_USER"

    def __init__(self, user: str, password: str) -> None:
        if not user or not password:
            raise ConfigError("MFA_SERVICENOW_USER: set both MFA_SERVICENOW_USER and MFA_SERVICENOW_PASSWORD")
        if ":" in user:  # RFC 7617: a user id with a colon cannot be sent
            raise ConfigError("MFA_SERVICENOW_USER: must not contain a colon (:)")
        encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        header = f"Basic {encoded}"
        self._authorization = Authorization({"authorization": header}, (header, encoded, password))

    def __repr__(self) -> str:
        return "BasicAuth([redacted])"

    def authorize(self) -> Authorization:
        return self._authorization

    def forget(self) -> None:
        pass  # nothing cached: a refused password stays refused


class ClientCredentials:
    """An OAuth client-credentials token, fetched when needed and reused until shortly before expiry."""

    hint = OAUTH_HINT
    user_setting = "the OAuth Application User of MFA_SERVICENOW_CLIENT_ID"

    def __init__(self, *, url: str, client_id: str, client_secret: str, transport: HttpTransport, label: str) -> None:
        if not client_id or not client_secret:
            raise ConfigError(
                "MFA_SERVICENOW_CLIENT_ID: set both MFA_SERVICENOW_CLIENT_ID and MFA_SERVICENOW_CLIENT_SECRET"
            )
        self._token_url = f"{url}/oauth_token.do"
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        self._form = urlencode(form)
        self._secret = client_secret
        self._transport = transport
        self._clock: Callable[[], float] = transport.clock
        self._label = label
        self._lock = threading.Lock()
        self._token: str | None = None
        self._renew_at = 0.0
        # Tokens given up stay redacted for a while: an answer to a later call may still quote one.
        self._retired: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return "ClientCredentials([redacted])"

    def authorize(self) -> Authorization:
        with self._lock:
            cached = self._token is not None and self._clock() < self._renew_at
            if not cached:
                self._retire()
                self._token, self._renew_at = self._fetch()
            token = self._token
            assert token is not None
            secrets = (token, self._secret, *self._retired)
        return Authorization({"authorization": f"Bearer {token}"}, secrets, cached=cached)

    def forget(self) -> None:
        with self._lock:
            self._retire()

    def _retire(self) -> None:
        if self._token is not None:
            self._retired = (self._token, *self._retired)[:RETIRED_KEPT]
        self._token = None

    def _fetch(self) -> tuple[str, float]:
        """A new token and when to renew it; ``DeliveryError`` naming the settings to check if refused."""
        asked_at = self._clock()
        try:
            answer = self._transport.request(
                "POST",
                self._token_url,
                body=self._form.encode("ascii"),
                headers={"content-type": "application/x-www-form-urlencoded", "accept": "application/json"},
                label=f"{self._label} OAuth token",
                secrets=(self._secret, self._form),
                read=True,
            )
        except DeliveryError as error:  # what the server said may hold control characters: escaped
            hint = f"; {OAUTH_HINT}" if error.permanent else ""
            raise DeliveryError(printable(str(error)) + hint, permanent=error.permanent) from None
        data = answer.json(label=f"{self._label} OAuth token")
        token = data.get("access_token") if isinstance(data, dict) else None
        lifetime = data.get("expires_in") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or any(char.isspace() for char in token):
            raise DeliveryError(f"{self._label}: the OAuth token answer has no usable access_token", permanent=False)
        try:  # without a usable lifetime the token serves this call only
            seconds = max(float(lifetime), 0.0) if lifetime is not None else 0.0
        except (TypeError, ValueError):
            seconds = 0.0
        logger.info("%s: got an OAuth token valid for %d s", self._label, int(seconds))
        return token, asked_at + seconds - min(EXPIRY_MARGIN, seconds / 2)
