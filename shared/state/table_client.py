"""Building the Azure Table service client for the state from the settings (nothing here contacts it).

``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite) wins when
set, as in the Functions host; otherwise identity-based access to the account the settings name.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from azure.core.exceptions import AzureError
from azure.data.tables import TableServiceClient

from shared.errors import ConfigError
from shared.storage_account import (
    connection_string,
    identity_credential,
    identity_endpoint,
    unusable_connection_string,
)

if TYPE_CHECKING:
    from shared.settings import Settings

TABLE_NAME_PATTERN: Final = re.compile(r"[A-Za-z][A-Za-z0-9]{2,62}")


def check_table_name(name: str) -> None:
    if not TABLE_NAME_PATTERN.fullmatch(name) or name.lower() == "tables":
        raise ConfigError(
            f"MFA_STATE_TABLE: {name!r} is not a valid Azure Table name "
            "(3-63 letters and digits, starting with a letter, not 'tables')"
        )


def table_service_from_settings(
    settings: Settings, *, retry_total: int = 3, connection_timeout: float = 10.0, read_timeout: float = 30.0
) -> TableServiceClient:
    """The Table service client for the function's storage account (``shared.storage_account`` says
    how it is reached). With identity-based access the client's ``credential`` is a
    ``DefaultAzureCredential`` for the caller to close. Raises ``ConfigError`` naming the setting;
    nothing here contacts the service.
    """
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout,
    }
    text = connection_string(settings)
    if text:
        try:
            return TableServiceClient.from_connection_string(text, **options)
        except (ValueError, AzureError):
            raise unusable_connection_string(text, endpoint_key="TableEndpoint") from None
    endpoint = identity_endpoint(settings, service="table", needed_by="MFA_STATE=table")
    if endpoint.audience is not None:
        options["audience"] = endpoint.audience
    credential = identity_credential(settings)
    try:
        return TableServiceClient(endpoint.url, credential=credential, **options)
    except ValueError as error:
        credential.close()
        raise ConfigError(f"{endpoint.setting}: unusable Table service endpoint {endpoint.url}: {error}") from None
