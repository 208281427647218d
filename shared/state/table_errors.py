"""Azure SDK errors, as the Table state store reports them: one ``StateStorageError`` line naming the
table, what was being done, the HTTP status and what to do, never a key, SAS token or connection string.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from azure.core.exceptions import AzureError, HttpResponseError, ServiceRequestError, ServiceResponseError

from shared.state.base import StateStorageError

_TRANSPORT_PHRASES: Final = (
    ("connection refused", "connection refused (is the storage endpoint right, and is it running?)"),
    ("name or service not known", "host name not found"),
    ("nodename nor servname", "host name not found"),
    ("timed out", "timed out"),
    ("timeout", "timed out"),
    ("certificate", "TLS certificate rejected"),
)


@contextmanager
def storage_errors(doing: str, *, where: str) -> Iterator[None]:
    """Turn the SDK's errors into one ``StateStorageError`` naming the table ``where`` and HTTP status."""
    try:
        yield
    except AzureError as error:
        raise describe(error, doing=doing, where=where) from None


def describe(error: AzureError, *, doing: str, where: str) -> StateStorageError:
    if isinstance(error, HttpResponseError) and error.status_code is not None:
        status = error.status_code
        code = getattr(error, "error_code", None) or error.reason or ""
        code = getattr(code, "value", code)  # the SDK's TableErrorCode enum -> "TableNotFound"
        return StateStorageError(
            f"state table {where}: {doing} failed: HTTP {status} {code}{_hint(status, str(code))}",
            where=where,
            status=status,
        )
    # Transport errors quote the request URL, which may carry a SAS token: name the kind only.
    text = str(error).lower()
    if isinstance(error, ServiceRequestError | ServiceResponseError):
        kind = next(
            (phrase for marker, phrase in _TRANSPORT_PHRASES if marker in text), "the request could not be sent"
        )
    else:
        kind = type(error).__name__
    return StateStorageError(f"state table {where}: {doing} failed: {kind}", where=where)


def _hint(status: int, code: str) -> str:
    if status in (401, 403):
        return (
            "; the function's identity needs 'Storage Table Data Contributor' on the storage account "
            "(or the key / SAS in AzureWebJobsStorage is wrong or expired)"
        )
    if code == "TableNotFound":
        return "; the table does not exist and could not be created (create it, or let the identity create tables)"
    if status in (429, 500, 503):
        return "; storage is busy or unavailable, the next run retries"
    return ""


def table_missing(error: HttpResponseError) -> bool:
    """Whether a not-found (or similar) answer means the whole table is missing, not just one entity:
    callers that treat an absent entity as "none yet" must still raise for a missing table."""
    return getattr(error, "error_code", None) == "TableNotFound"
