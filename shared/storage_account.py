"""The function's storage account (AzureWebJobsStorage) as the Functions host reads it, for any of its
services: the Table service (the state) and the Queue service (the fan-out). Nothing here contacts it.

``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite) wins when
set; otherwise identity-based access through ``AzureWebJobsStorage__<service>ServiceUri`` or
``AzureWebJobsStorage__accountName`` with ``DefaultAzureCredential`` (``AZURE_CLIENT_ID`` picks a
user-assigned identity).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal
from urllib.parse import urlsplit

from shared.errors import ConfigError

if TYPE_CHECKING:
    from azure.identity import DefaultAzureCredential

    from shared.settings import Settings

Service = Literal["table", "queue"]
ACCOUNT_NAME_PATTERN: Final = re.compile(r"[a-z0-9]{3,24}")
# A Storage queue name: 3-63 lower-case letters, digits and single hyphens, not at either end.
QUEUE_NAME_PATTERN: Final = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")

# Entra ID audiences for sovereign clouds; the SDK's default is the public cloud's.
_AUDIENCES: Final = {
    ".core.usgovcloudapi.net": "https://storage.azure.us",
    ".core.chinacloudapi.cn": "https://storage.azure.cn",
}


@dataclass(frozen=True)
class IdentityEndpoint:
    """Where identity-based access goes: the service's URL, the setting that named it, the token audience."""

    url: str
    setting: str
    audience: str | None


def connection_string(settings: Settings) -> str:
    """``AzureWebJobsStorage`` without surrounding blanks; "" when unset (identity-based access then)."""
    secret = settings.storage_connection_string
    return secret.get_secret_value().strip() if secret is not None else ""


def identity_endpoint(settings: Settings, *, service: Service, needed_by: str) -> IdentityEndpoint:
    """The ``service`` endpoint for identity-based access; ``ConfigError`` naming the setting (and
    ``needed_by``, the setting that asked for the service, when none is set)."""
    setting = f"AzureWebJobsStorage__{service}ServiceUri"
    uri = (getattr(settings, f"storage_{service}_service_uri") or "").strip()
    if uri:
        url = uri.rstrip("/")
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname or parts.query:
            raise ConfigError(
                f"{setting}: must be the https URL of the {service.title()} service "
                f"(https://<account>.{service}.core.windows.net), got {parts.scheme}://{parts.hostname or ''}"
            )
    elif settings.storage_account_name:
        account = settings.storage_account_name
        if not ACCOUNT_NAME_PATTERN.fullmatch(account):
            raise ConfigError(
                f"AzureWebJobsStorage__accountName: {account!r} is not a storage account name "
                "(3-24 lowercase letters and digits)"
            )
        url, setting = f"https://{account}.{service}.core.windows.net", "AzureWebJobsStorage__accountName"
    else:
        raise ConfigError(
            f"{needed_by} needs the storage account: set AzureWebJobsStorage__accountName (managed identity), "
            f"{setting}, or AzureWebJobsStorage (a connection string; UseDevelopmentStorage=true for Azurite)"
        )
    host = urlsplit(url).hostname or ""
    audience = next((value for suffix, value in _AUDIENCES.items() if host.endswith(suffix)), None)
    return IdentityEndpoint(url=url, setting=setting, audience=audience)


def identity_credential(settings: Settings) -> DefaultAzureCredential:
    """The credential for identity-based access, for the caller to close."""
    # Imported here: azure-identity is only needed for identity-based access.
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    return DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)


def unusable_connection_string(text: str, *, endpoint_key: str) -> ConfigError:
    """The error for a connection string the SDK refused, naming only which of its settings are present:
    the SDK's own message may quote parts of it, and it holds the account key."""
    names = sorted({part.split("=", 1)[0].strip() for part in text.split(";") if "=" in part})
    return ConfigError(
        "AzureWebJobsStorage: not a usable storage connection string "
        f"(settings present: {', '.join(names) or 'none'}; expected AccountName and AccountKey, "
        f"a SharedAccessSignature with {endpoint_key}, or UseDevelopmentStorage=true)"
    )
