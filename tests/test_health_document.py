"""The health alert document (``mfa-rejected.health/v1``): the published JSON Schema is the generated one,
every kind of health alert validates against it and reads back to the same text, and an outbox payload
is read as the document its ``schema`` names (``shared.documents.read_document``)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from shared.alerts import Alert
from shared.documents import read_document
from shared.errors import InputError
from shared.health import HealthAlert
from shared.health_document import CONDITIONS, SCHEMA, json_schema, json_schema_text
from tests.sinks.health_alerts import STATES, health_alert
from tests.sinks.rows import alert_of, result_row

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "docs" / "health-payload.v1.schema.json"

KINDS = [
    pytest.param(condition, state, with_range, delay, id=f"{condition}-{state}-{label}")
    for condition in CONDITIONS
    for state in STATES
    for with_range, delay, label in (
        (None, None, "plain"),
        (True, None, "range"),
        (False, timedelta(hours=26, minutes=4, seconds=9), "delayed"),
        (True, timedelta(seconds=0), "range-delayed"),
    )
]


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(PUBLISHED.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def test_the_published_schema_is_the_generated_one() -> None:
    # Regenerate with `make schema` (python -m shared.health_document --schema > docs/...).
    assert PUBLISHED.read_text(encoding="utf-8") == json_schema_text()


def test_the_command_line_prints_the_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.health_document", "--schema"],
        cwd=REPO,
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=True,
    )
    assert done.stdout == json_schema_text()


def test_the_schema_is_valid_draft_2020_12_and_names_the_payload() -> None:
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "urn:mfa-rejected:schema:health:v1"
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert schema["properties"]["condition"]["enum"] == list(CONDITIONS)
    assert schema["dependentRequired"] == {"delayed": ["delaySeconds"]}


@pytest.mark.parametrize(("condition", "state", "with_range", "delay"), KINDS)
def test_each_kind_validates_and_reads_back_to_the_same_text(
    condition: str, state: str, with_range: bool | None, delay: timedelta | None
) -> None:
    alert = health_alert(condition, state, with_range=with_range, delay=delay)
    text = alert.to_json()
    document = json.loads(text)

    validator().validate(document)
    assert HealthAlert.from_json(text) == alert
    assert HealthAlert.from_json(text).to_json() == text
    assert ("range" in document) == (alert.range is not None)
    assert ("delayed" in document) == ("delaySeconds" in document) == (delay is not None)


def test_a_health_alert_with_no_row_seen_yet_has_a_null_last_seen() -> None:
    document = json.loads(health_alert(last_seen=None).to_json())

    validator().validate(document)
    assert document["lastSeen"] is None


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.update(condition="cpu-hot"),
        lambda d: d.update(id="msg_" + "0" * 32),
        lambda d: d.update(state="lost"),
        lambda d: d.update(delayed=True),
        lambda d: d.pop("since"),
    ],
)
def test_the_schema_and_the_reader_reject_a_malformed_document(change) -> None:
    document = json.loads(health_alert().to_json())
    change(document)

    with pytest.raises(jsonschema.ValidationError):
        validator().validate(document)
    with pytest.raises(InputError, match=r"^health alert document .*: malformed \(\w+"):
        HealthAlert.from_json(json.dumps(document))


def test_read_document_tells_the_two_documents_apart() -> None:
    alert = alert_of([result_row()])
    health = health_alert("ueba-silent", "cleared")

    assert read_document(alert.to_json()) == alert
    assert isinstance(read_document(alert.to_json()), Alert)
    assert read_document(health.to_json()) == health
    assert isinstance(read_document(health.to_json()), HealthAlert)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"schema":"mfa-rejected.alert/v2","id":"msg_1"}',
            "stored document 'msg_1': unknown schema 'mfa-rejected.alert/v2'",
        ),
        ('{"id":"x"}', "stored document 'x': unknown schema None"),
        ('{"schema":["mfa-rejected.health/v1"]}', r"unknown schema \['mfa-rejected.health/v1'\]"),
        ('{"schema":"' + "x" * 500 + '"}', "unknown schema 'x{78}…"),
        ("[1]", "stored document: expected a JSON object, got list"),
        ("{", "stored document: not JSON"),
    ],
)
def test_read_document_refuses_anything_else_by_name(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as caught:
        read_document(text)

    assert len(str(caught.value)) < 300


def test_read_document_keeps_the_malformed_document_message() -> None:
    document = json.loads(health_alert().to_json())
    document["state"] = "lost"

    with pytest.raises(InputError, match=r"health alert document .*: malformed"):
        read_document(json.dumps(document))


def test_a_skipped_range_that_ends_before_it_starts_is_a_malformed_document_not_a_crash() -> None:
    document = json.loads(health_alert("skipped", "raised").to_json())
    document["range"] = {"start": document["range"]["end"], "end": document["range"]["start"]}

    with pytest.raises(InputError, match=r"health alert document 'hlt_\w+': malformed \(window end .* is not after"):
        read_document(json.dumps(document))
