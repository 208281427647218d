"""docs/deploy.md agrees with infra/: its KQL parses and type-checks against Application Insights'
tables (Microsoft's Kusto language service), and the names it uses exist in the template."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness.kusto_check import KustoChecker, KustoCheckerError
from tests.infra.bicep_tree import Template

DOC = Path(__file__).resolve().parents[2] / "docs" / "deploy.md"

# The Application Insights (classic) columns the guide's queries use.
APP_INSIGHTS_SCHEMAS = {
    "traces": {
        "timestamp": "datetime",
        "message": "string",
        "severityLevel": "int",
        "itemType": "string",
        "customDimensions": "dynamic",
        "operation_Id": "string",
        "operation_Name": "string",
        "cloud_RoleName": "string",
    },
    "requests": {
        "timestamp": "datetime",
        "name": "string",
        "success": "bool",
        "resultCode": "string",
        "duration": "real",
        "operation_Id": "string",
        "customDimensions": "dynamic",
    },
    "exceptions": {
        "timestamp": "datetime",
        "type": "string",
        "outerMessage": "string",
        "innermostMessage": "string",
        "severityLevel": "int",
        "operation_Id": "string",
        "customDimensions": "dynamic",
    },
}


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def kusto_blocks(text: str) -> list[str]:
    return re.findall(r"```kusto\n(.*?)```", text, flags=re.DOTALL)


def test_kql_in_the_guide_parses_and_type_checks() -> None:
    queries = kusto_blocks(doc_text())
    assert len(queries) >= 3
    try:
        with KustoChecker(schemas=APP_INSIGHTS_SCHEMAS) as checker:
            results = checker.check(queries)
    except KustoCheckerError as error:
        pytest.fail(f"the KQL check needs node and node_modules: {error}", pytrace=False)
    for result in results:
        assert result.diagnostics == [], "\n".join(result.messages)
    run_records = results[0]
    assert run_records.columns is not None
    assert [name for name, _ in run_records.columns][:5] == [
        "timestamp",
        "windows_evaluated",
        "alerts",
        "delivered",
        "dead",
    ]
    assert dict(run_records.columns)["windows_evaluated"] == "int"


def test_guide_names_what_the_template_defines(main_template: Template) -> None:
    text = doc_text()
    used_outputs = set(re.findall(r"\$\(out (\w+)\)", text))
    assert used_outputs, "the guide reads no deployment output"
    assert used_outputs <= set(main_template.outputs), used_outputs - set(main_template.outputs)
    for symbol in ("teamsWebhookSecretName", "webhookUrlSecretName", "webhookSigningSecretName"):
        assert main_template.variable(symbol) in text, symbol
    for role_id in main_template.variable("roles").values():
        if role_id != "b86a8fe4-44ce-4948-aee5-eccb2c155cd7":  # the optional officer role, named only
            assert role_id in text, role_id
    assert "73c42c96-874c-492b-b04d-ab87d138a893" in text  # Log Analytics Reader (the module)
    for parameter in re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE):
        assert parameter in main_template.parameters, f"the guide documents an unknown parameter {parameter}"
