"""The alert document's model: the published JSON Schema is generated from it, and it reads and writes
the very documents ``Alert.to_json`` produced before the model existed."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import jsonschema
import pytest

from shared.alert_document import SCHEMA, AlertDocument, json_schema, json_schema_text
from shared.alerts import RULE, Alert
from shared.errors import InputError
from tests.sinks.rows import alert_of, many_rows, result_row

REPO = Path(__file__).resolve().parents[1]
PUBLISHED = REPO / "docs" / "webhook-payload.v1.schema.json"


def test_the_published_schema_is_the_generated_one() -> None:
    # Regenerate with `make schema` (python -m shared.alert_document --schema > docs/...).
    assert PUBLISHED.read_text(encoding="utf-8") == json_schema_text()


def test_the_command_line_prints_the_schema() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "shared.alert_document", "--schema"],
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
    assert schema["$id"] == "urn:mfa-rejected:schema:alert:v1"
    assert schema["properties"]["schema"]["const"] == SCHEMA
    assert schema["additionalProperties"] is True
    assert schema["dependentRequired"] == {"delayed": ["delaySeconds"], "late": ["lateSeconds"]}
    assert set(schema["$defs"]["RowDocument"]["required"]) == set(result_row())
    assert schema["$defs"]["RuleDocument"]["properties"]["id"]["const"] == RULE.id


def test_a_delayed_payload_validates_and_drops_no_field() -> None:
    validator = jsonschema.Draft202012Validator(json_schema(), format_checker=jsonschema.FormatChecker())
    alert = alert_of(many_rows(2)).delayed(timedelta(hours=2, minutes=3))
    document = json.loads(alert.to_json())

    validator.validate(document)
    assert (document["delayed"], document["delaySeconds"]) == (True, 7380)
    assert list(document) == [
        "schema", "id", "rule", "window", "detectedAt", "entities", "rows", "delayed", "delaySeconds"
    ]  # fmt: skip
    assert "delayed" not in json.loads(alert_of(many_rows(2)).to_json())


def test_a_time_with_a_fraction_keeps_its_digits_and_one_without_has_none() -> None:
    row = result_row()
    row["StartTime"] = row["StartTime"] + timedelta(microseconds=250000)
    document = json.loads(alert_of([row]).to_json())

    assert document["rows"][0]["StartTime"] == "2026-11-28T09:10:00.250000Z"
    assert document["rows"][0]["EndTIme"] == "2026-11-28T09:12:00Z"


def test_the_model_reads_a_document_the_way_the_alert_does() -> None:
    alert = alert_of(many_rows(3))
    document = AlertDocument.model_validate_json(alert.to_json())

    assert Alert.from_document(document) == alert
    assert document.dump() == alert.to_dict()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["rows"][0].pop("EndTIme"), r"rows\.0\.EndTIme: Field required"),
        (lambda d: d["rows"][0].update(Extra=1), r"rows\.0\.Extra: Extra inputs are not permitted"),
        (lambda d: d["window"].update(start="2026-11-28T09:00:00"), r"window\.start: .*no timezone"),
        (lambda d: d.update(delayed=True), "delayed without delaySeconds"),
        (lambda d: d["rows"][0].update(UEBARiskScore="5"), r"rows\.0\.UEBARiskScore: Input should be a valid integer"),
    ],
)
def test_a_malformed_document_is_an_input_error_naming_the_field(change, message: str) -> None:
    document = json.loads(alert_of([result_row()]).to_json())
    change(document)

    with pytest.raises(InputError, match=f"alert document 'msg_[0-9a-f]{{32}}': malformed .*{message}"):
        Alert.from_json(json.dumps(document))


def test_times_in_other_offsets_are_read_as_utc() -> None:
    alert = alert_of([result_row()])
    document = json.loads(alert.to_json())
    document["detectedAt"] = "2026-11-28T12:05:30+02:00"

    assert Alert.from_json(json.dumps(document)).detected_at == alert.detected_at
