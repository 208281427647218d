"""Building the Azure Table service client for the state from the settings (nothing here contacts it).

``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite) wins when
set, as in the Functions host; otherwise identity-based access to the account the settings name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient

from shared.errors import ConfigError

if TYPE_CHECKING:
    from shared.settings import Settings

TABLE_NAME_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")
ACCOUNT_NAME_PATTERN: Final = re.compile(r"[a-z0-9]{3,24}")

# Entra ID audiences for sovereign clouds; the SDK's default is the public cloud's.
_AUDIENCES: Final = {
    ".core.usgovcloudapi.net": "https://storage.azure.us",
    ".core.chinacloudapi.cn": "https://storage.azure.cn",
}


def check_table_name(name: str) -> None:
    if not TABLE_NAME_PATTERN.fullmatch(name) or name.lower() == "tables":
        raise ConfigError(
            f"MFA_STATE_TABLE: {name!r} is not a valid Azure Table name "
            "(3-63 letters and digits, starting with a letter, not 'tables')"
        )


def table_service_from_settings(
    settings: Settings, *, retry_total: int = 3, connection_timeout: float = 10.0, read_timeout: float = 30.0
) -> TableServiceClient:
    """The Table service client for the function's storage account.

    ``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite on
    127.0.0.1:10002) wins when set, as in the Functions host; otherwise the identity-based
    ``AzureWebJobsStorage__tableServiceUri`` or ``AzureWebJobsStorage__accountName`` with
    ``DefaultAzureCredential`` (``AZURE_CLIENT_ID`` picks a user-assigned identity; the client's
    ``credential`` is then that object, for the caller to close).
    Raises ``ConfigError`` naming the setting; nothing here contacts the service.
    """
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout,
    }
    secret = settings.storage_connection_string
    connection_string = secret.get_secret_value().strip() if secret is not None else ""
    if connection_string:
        return _from_connection_string(connection_string, options)
    endpoint, setting = _identity_endpoint(settings)
    # Imported here: azure-identity is only needed for identity-based access.
    from azure.identity import DefaultAzureCredential  # noqa: PLC0415

    credential = DefaultAzureCredential(managed_identity_client_id=settings.azure_client_id)
    host = urlsplit(endpoint).hostname or ""
    audience = next((value for suffix, value in _AUDIENCES.items() if host.endswith(suffix)), None)
    if audience is not None:
        options["audience"] = audience
    try:
        return TableServiceClient(endpoint, credential=credential, **options)
    except ValueError as error:
        credential.close()
        raise ConfigError(f"{setting}: unusable Table service endpoint {endpoint}: {error}") from None


def _identity_endpoint(settings: Settings) -> tuple[str, str]:
    """The Table service endpoint for identity-based access, and the setting that named it."""
    if settings.storage_table_service_uri:
        endpoint = settings.storage_table_service_uri.rstrip("/")
        parts = urlsplit(endpoint)
        if parts.scheme != "https" or not parts.hostname or parts.query:
            raise ConfigError(
                "AzureWebJobsStorage__tableServiceUri: must be the https URL of the Table service "
                f"(https://<account>.table.core.windows.net), got {parts.scheme}://{parts.hostname or ''}"
            )
        return endpoint, "AzureWebJobsStorage__tableServiceUri"
    if settings.storage_account_name:
        account = settings.storage_account_name
        if not ACCOUNT_NAME_PATTERN.fullmatch(account):
            raise ConfigError(
                f"AzureWebJobsStorage__accountName: {account!r} is not a storage account name "
                "(3-24 lowercase letters and digits)"
            )
        return f"https://{account}.table.core.windows.net", "AzureWebJobsStorage__accountName"
    raise ConfigError(
        "MFA_STATE=table needs the storage account: set AzureWebJobsStorage__accountName (managed identity), "
        "AzureWebJobsStorage__tableServiceUri, or AzureWebJobsStorage (a connection string; "
        "UseDevelopmentStorage=true for Azurite)"
    )


def _from_connection_string(connection_string: str, options: dict[str, Any]) -> TableServiceClient:
    try:
        return TableServiceClient.from_connection_string(connection_string, **options)
    except (ValueError, AzureError):
        # The SDK's message may quote parts of the string, and the string holds the account key.
        names = sorted({part.split("=", 1)[0].strip() for part in connection_string.split(";") if "=" in part})
        raise ConfigError(
            "AzureWebJobsStorage: not a usable storage connection string "
            f"(settings present: {', '.join(names) or 'none'}; expected AccountName and AccountKey, "
            "a SharedAccessSignature with TableEndpoint, or UseDevelopmentStorage=true)"
        ) from None
