"""Which document an outbox payload is: a rule alert (``mfa-rejected.alert/v1``) or a health alert
(``mfa-rejected.health/v1``). Both go through the same outbox and the same sinks (``Deliverable``)."""

from __future__ import annotations

import json
from typing import TypeAlias

from shared.alert_document import SCHEMA as ALERT_SCHEMA
from shared.alerts import Alert
from shared.errors import InputError
from shared.health import HealthAlert
from shared.health_document import SCHEMA as HEALTH_SCHEMA

# What a sink delivers.
Deliverable: TypeAlias = Alert | HealthAlert

_READERS = {ALERT_SCHEMA: Alert.from_dict, HEALTH_SCHEMA: HealthAlert.from_dict}


def read_document(text: str) -> Deliverable:
    """The alert ``text`` (an outbox payload) holds, by its ``"schema"``; ``InputError`` when it is not JSON,
    not an object, of another schema, or malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"stored document: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"stored document: expected a JSON object, got {type(data).__name__}")
    schema = data.get("schema")
    reader = _READERS.get(schema) if isinstance(schema, str) else None
    if reader is None:
        raise InputError(
            f"stored document {_clipped(data.get('id'))}: unknown schema {_clipped(schema)} "
            f"(expected {ALERT_SCHEMA!r} or {HEALTH_SCHEMA!r})"
        )
    return reader(data)


def _clipped(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:79] + "…"
