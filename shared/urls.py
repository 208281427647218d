"""The one check of a URL the product sends to: a webhook, the Log Analytics endpoint."""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

import httpx

LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "localhost", "::1"})


def is_loopback_url(url: str) -> bool:
    """True for http(s)://127.0.0.1, localhost or [::1]: the only hosts allowed without TLS."""
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


def check_http_url(url: str, *, secret: bool) -> httpx.URL:
    """The one check of a URL the product sends to (a webhook, the Log Analytics endpoint): ``url``
    as httpx will send to it, or ``ValueError`` saying what is wrong. It must be absolute https,
    or plain http to a loopback host (local runs and tests). With ``secret`` (webhook URLs carry
    their credential), a message shows the host at most, never the URL."""
    if url.startswith("@Microsoft.KeyVault("):
        # App Service leaves the reference text in place when it cannot resolve it.
        raise ValueError(
            "is an unresolved Key Vault reference: set the secret in the vault, and check that the app's identity "
            "has Key Vault Secrets User on it"
        )
    for position, char in enumerate(url):
        if char.isspace() or not char.isprintable():
            raise ValueError(
                f"contains a space or control character (U+{ord(char):04X}) at character {position + 1}; "
                "was a line break pasted with it?"
            )
    try:
        parsed = httpx.URL(url)
    except Exception as error:  # httpx.InvalidURL, or an IDNA error for a malformed host name
        raise ValueError(f"is not a URL that can be sent to ({type(error).__name__})") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError("must be an absolute https URL such as https://host/path (plain http only for loopback hosts)")
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError(f"port {parsed.port} is out of range (1-65535)")
    if parsed.scheme != "https" and parsed.host not in LOOPBACK_HOSTS:
        shown_as = f"host {parsed.host}" if secret else url
        raise ValueError(f"must use https (plain http only for loopback hosts), got {shown_as}")
    return parsed
