"""Building the Storage queue client for the fan-out (``shared.fanout``) from the settings; nothing here
contacts the service.

The same account and the same rules as the Functions host's ``connection: AzureWebJobsStorage``:
``AzureWebJobsStorage`` (a connection string, or ``UseDevelopmentStorage=true`` for Azurite) wins when
set; otherwise identity-based access through ``AzureWebJobsStorage__queueServiceUri`` or
``AzureWebJobsStorage__accountName`` (as ``shared.state.table_client`` does for the Table service).

Messages are base64 text (``TextBase64EncodePolicy``) because the Functions queue trigger decodes
base64 by default (``messageEncoding``): a message sent as plain text would fail to decode and end in
the poison queue without ever running.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from shared.errors import ConfigError
from shared.storage_account import (
    QUEUE_NAME_PATTERN,
    connection_string,
    identity_credential,
    identity_endpoint,
    unusable_connection_string,
)

if TYPE_CHECKING:
    from shared.settings import Settings

# The Functions host moves a message that failed maxDequeueCount times to "<queue>-poison".
POISON_SUFFIX: Final = "-poison"


def poison_queue_name(name: str) -> str:
    """``<name>-poison``, or ``ConfigError`` when that is no longer a queue name (over 63 characters)."""
    poison = name + POISON_SUFFIX
    if not QUEUE_NAME_PATTERN.fullmatch(poison):
        raise ConfigError(
            f"MFA_FANOUT_QUEUE: {name!r} is too long for its poison queue {poison!r} "
            f"(at most {63 - len(POISON_SUFFIX)} characters)"
        )
    return poison


def queue_client_from_settings(
    settings: Settings,
    *,
    name: str,
    retry_total: int = 3,
    connection_timeout: float = 10.0,
    read_timeout: float = 30.0,
) -> QueueClient:
    """The client of queue ``name`` in the function's storage account, sending and reading base64 text.

    With identity-based access the client's ``credential`` is a ``DefaultAzureCredential`` for the
    caller to close (``opened_queue`` does). Raises ``ConfigError`` naming the setting.
    """
    if not QUEUE_NAME_PATTERN.fullmatch(name):
        raise ConfigError(f"{name!r} is not a Storage queue name (3-63 lower-case letters, digits, single hyphens)")
    options: dict[str, Any] = {
        "retry_total": retry_total,
        "connection_timeout": connection_timeout,
        "read_timeout": read_timeout,
        "message_encode_policy": TextBase64EncodePolicy(),
        "message_decode_policy": TextBase64DecodePolicy(),
    }
    text = connection_string(settings)
    if text:
        try:
            return QueueClient.from_connection_string(text, name, **options)
        except (ValueError, AzureError):
            raise unusable_connection_string(text, endpoint_key="QueueEndpoint") from None
    endpoint = identity_endpoint(settings, service="queue", needed_by="MFA_FANOUT=queue")
    if endpoint.audience is not None:
        options["audience"] = endpoint.audience
    credential = identity_credential(settings)
    try:
        return QueueClient(endpoint.url, name, credential=credential, **options)
    except ValueError as error:
        credential.close()
        raise ConfigError(f"{endpoint.setting}: unusable Queue service endpoint {endpoint.url}: {error}") from None


@contextmanager
def opened_queue(settings: Settings, *, name: str) -> Iterator[QueueClient]:
    """``queue_client_from_settings`` for a ``with`` block: the client and a credential it made are closed."""
    client = queue_client_from_settings(settings, name=name)
    try:
        yield client
    finally:
        client.close()
        credential = getattr(client, "credential", None)
        if hasattr(credential, "close") and hasattr(credential, "get_token"):  # ours, not a shared key
            credential.close()


def create_if_absent(queue: QueueClient) -> None:
    """Create the queue unless it exists (the host creates only the poison queue)."""
    with contextlib.suppress(ResourceExistsError):
        queue.create_queue()


def describe_storage_error(error: BaseException) -> str:
    """A failed queue call for a message: the status and error code, never the request URL (a SAS
    connection string puts its signature in every URL) nor a key."""
    if isinstance(error, HttpResponseError):
        code = getattr(error, "error_code", None) or error.reason or ""
        return f"HTTP {error.status_code} {code}".strip()
    first = str(error).splitlines()[0] if str(error) else ""
    text = re.sub(r"\?\S*", "?…", first)
    text = re.sub(r"(?i)(AccountKey|SharedAccessSignature|sig)=[^;&\s]+", r"\1=…", text)
    return f"{type(error).__name__}: {text[:200]}"
