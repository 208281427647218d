"""docs/deploy.md agrees with infra/: its KQL parses and type-checks against the tables it queries
(Microsoft's Kusto language service), and the names it uses exist in the template. The README sends
a deployer to it rather than contradict it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness.kusto_check import KustoChecker, KustoCheckerError
from tests.infra.bicep_tree import Template, load

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "deploy.md"
README = REPO / "README.md"

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


# The columns the guide's audit-log queries use, in the diagnostics workspace (not Application
# Insights): Key Vault's AuditEvent lands in AzureDiagnostics, storage logs in resource tables.
WORKSPACE_SCHEMAS = {
    "AzureDiagnostics": {
        "TimeGenerated": "datetime",
        "ResourceProvider": "string",
        "Category": "string",
        "OperationName": "string",
        "ResultSignature": "string",
        "httpStatusCode_d": "real",
        "CallerIPAddress": "string",
        "id_s": "string",
    },
    "StorageTableLogs": {
        "TimeGenerated": "datetime",
        "OperationName": "string",
        "StatusCode": "string",
        "AuthenticationType": "string",
        "RequesterObjectId": "string",
        "CallerIpAddress": "string",
    },
}


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def readme_deploy_section() -> str:
    text = README.read_text(encoding="utf-8")
    match = re.search(r"^## Deploy to Azure\n(.*?)(?=^## )", text, flags=re.DOTALL | re.MULTILINE)
    assert match, "README has no 'Deploy to Azure' section"
    return match.group(1)


def shell_commands(text: str) -> list[str]:
    """Every command of the markdown's sh/bash blocks, continuation lines joined."""
    commands: list[str] = []
    for block in re.findall(r"```(?:sh|bash)\n(.*?)```", text, flags=re.DOTALL):
        commands += [line.strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]
    return commands


def kusto_blocks(text: str) -> list[str]:
    return re.findall(r"```kusto\n(.*?)```", text, flags=re.DOTALL)


def test_kql_in_the_guide_parses_and_type_checks(kusto_checker: KustoChecker) -> None:
    queries = kusto_blocks(doc_text())
    assert len(queries) >= 3
    try:
        results = kusto_checker.check(queries, schemas=APP_INSIGHTS_SCHEMAS | WORKSPACE_SCHEMAS)
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
    # The custom role of the module: each of its actions, and the diagnostics parameter.
    reader = load(main_template.path.parent / "modules" / "workspace-reader.bicep")
    for action in reader.variable("readerActions"):
        assert f"`{action}`" in text, action
    assert "diagnosticsWorkspaceId" in text
    for parameter in re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE):
        assert parameter in main_template.parameters, f"the guide documents an unknown parameter {parameter}"


def test_guide_checks_that_other_tables_are_refused() -> None:
    text = doc_text()
    commands = " ".join(shell_commands(text))
    # Queried as the identity (a container instance carrying it), against the workspace: one of
    # the three tables, then another table that must answer 403.
    assert '--assign-identity "$(out identityResourceId)"' in commands
    assert "SigninLogs | take 1" in commands
    assert "SecurityEvent | take 1" in commands
    assert re.search(r"\b403\b", text)


def test_guide_fires_the_timer_on_the_templates_host_name() -> None:
    text = doc_text()
    assert "$(out functionAppHostName)" in text
    # No host name built from the app's name: apps with a unique default host name have another.
    assert not re.search(r"\$\{?\w+\}?\.azurewebsites\.net", text)
    assert any("https://$APP_HOST/admin/functions/MfaRejectedTimer" in line for line in shell_commands(text))


@pytest.mark.parametrize("source", ["README", "docs/deploy.md"])
def test_secrets_are_set_only_after_a_deploy_that_grants_secrets_officer(source: str) -> None:
    # A vault in RBAC mode refuses `az keyvault secret set` even to subscription Owners: whoever sets
    # a secret must be Key Vault Secrets Officer, which the deployment grants to
    # secretsOfficerPrincipalId. A guide that deploys must pass it before it sets a secret.
    text = readme_deploy_section() if source == "README" else doc_text()
    commands = shell_commands(text)
    deploys = [i for i, command in enumerate(commands) if command.startswith("az deployment group create")]
    sets = [i for i, command in enumerate(commands) if command.startswith("az keyvault secret set")]
    for index in deploys:
        assert "secretsOfficerPrincipalId=" in commands[index], commands[index]
    if sets:
        assert deploys, "a secret is set, but no deployment grants the right to"
        assert min(deploys) < min(sets), "a secret is set before any deployment grants the right"


def test_readme_sends_deployers_to_the_guide() -> None:
    section = readme_deploy_section()
    assert "(docs/deploy.md)" in section
    assert "secretsOfficerPrincipalId" in section
    # The README keeps no second, diverging copy of the steps.
    assert not [command for command in shell_commands(section) if command.startswith("az ")]
