"""What a Log Analytics failure means, in one message: the HTTP status and the service's own error
code and innermost message, the credential that could not get a token, a response that cannot be read.

Every message names the table and the window (or the workspace and the identity) and never quotes
a token or a request header.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.monitor.query import LogsQueryPartialResult

from shared.models import Window

if TYPE_CHECKING:
    from shared.sources.loganalytics import LogAnalyticsSource

E = TypeVar("E", bound=BaseException)

# The role infra/ assigns (infra/modules/workspace-reader.bicep): query access to the rule's three
# tables only. Log Analytics Reader also works, but reads every table of the workspace.
READER_ROLES: Final = (
    'the "mfa-rejected Sentinel reader" custom role that infra/ assigns (it may query only SigninLogs, '
    "IdentityInfo and BehaviorAnalytics), or Log Analytics Reader"
)


def unreadable_message(table: str, window: Window, error: BaseException) -> str:
    if isinstance(error, RecursionError):
        reason = "JSON nested too deeply to parse (RecursionError)"
    else:
        reason = f"{type(error).__name__}: {first_line(error)}"
    return (
        f"Log Analytics sent a response to the {table} query for {window} that cannot be read ({reason}); "
        "the window is not evaluated"
    )


def first_line(error: BaseException) -> str:
    text = str(getattr(error, "message", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def auth_failure(error: HttpResponseError) -> ClientAuthenticationError | None:
    """The credential's failure behind ``error``, if no HTTP response was had (a 401 has one)."""
    if error.status_code is not None:
        return None
    return context_of(error, ClientAuthenticationError)


def context_of(error: BaseException, kind: type[E]) -> E | None:
    """``error`` or the first exception of type ``kind`` along its cause and context, if any."""
    seen: BaseException | None = error
    for _ in range(8):  # a short, bounded walk along the exception context
        if seen is None:
            return None
        if isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def auth_message(source: LogAnalyticsSource, error: ClientAuthenticationError) -> str:
    identity = (
        f"the user-assigned identity {source.client_id} (AZURE_CLIENT_ID)"
        if source.client_id
        else "the function's managed identity (AZURE_CLIENT_ID selects a user-assigned one)"
    )
    return (
        f"Log Analytics: could not get a token for {source.endpoint}: in Azure this uses {identity}; "
        "locally, sign in with `az login` as someone who may query the workspace "
        f"(--verbose shows each credential tried): {first_line(error)}"
    )


def http_message(source: LogAnalyticsSource, table: str, error: HttpResponseError) -> str:
    status = error.status_code
    code, inner = _service_error(error)
    what = f"HTTP {status}" + (f" {code}" if code else "")
    if status in (401, 403):
        return (
            f"Log Analytics refused the {table} query ({what}): the identity lacks read access on workspace "
            f"{source.workspace_id}; grant it, on the workspace, {READER_ROLES}" + (f" ({inner})" if inner else "")
        )
    if status == 400:
        return f"Log Analytics rejected the {table} query ({what}): {inner or first_line(error)}"
    attempts = f"gave up after {source.retry_total + 1} attempts"
    detail = f": {inner}" if inner else ""
    if status == 429:
        return f"Log Analytics throttled the {table} query ({what}); {attempts}{detail}"
    if status in (408, 504):
        timeout = f"server timeout {source.server_timeout} s"
        return f"Log Analytics timed out on the {table} query ({what}, {timeout}); {attempts}{detail}"
    if status is not None and status >= 500:
        return f"Log Analytics failed the {table} query with a server error ({what}); {attempts}{detail}"
    return f"Log Analytics answered the {table} query with {what}{detail}"


def _service_error(error: HttpResponseError) -> tuple[str | None, str | None]:
    """The service's error code and its innermost message, from the documented error body."""
    try:
        body = json.loads(error.response.text()) if error.response is not None else None
    except (ValueError, AttributeError, RecursionError):
        return None, None
    node = body.get("error") if isinstance(body, dict) else None
    if not isinstance(node, dict):
        return None, None
    code = node.get("code") if isinstance(node.get("code"), str) else None
    messages = list(_messages(node))
    return code, messages[-1] if messages else None


def _messages(node: Mapping[str, Any]) -> Iterable[str]:
    # Outermost to innermost along "innererror", then any "details" entries.
    while isinstance(node, Mapping):
        if isinstance(node.get("message"), str) and node["message"]:
            yield node["message"]
        for detail in node.get("details") or ():
            if isinstance(detail, Mapping):
                yield from _messages(detail)
        node = node.get("innererror")


def partial_reason(result: LogsQueryPartialResult) -> str:
    error = result.partial_error
    if error is None:
        return "no error details"
    messages = [m for m in (error.message,) if m]
    for detail in error.details or ():
        if isinstance(detail, Mapping):
            messages.extend(_messages(detail))
    code = f"{error.code}: " if error.code else ""
    return code + (messages[-1] if messages else "no message")
