"""infra/main.bicep and its module, read as data: the deployment's security and wiring invariants,
and the app settings against the settings module (shared/settings.py is the source of truth)."""

from __future__ import annotations

import json
import re
import tomllib
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings, load_settings, setting_names
from tests.infra.bicep_tree import Template, UnresolvedError, load, render
from tests.infra.delivery_secrets import SECRET_SETTINGS

ROLE_IDS = {
    "Log Analytics Reader": "73c42c96-874c-492b-b04d-ab87d138a893",
    "Storage Blob Data Owner": "b7e6dc6d-f1e8-4753-8033-0f276bb0955b",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
    "Key Vault Secrets Officer": "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
}

# Settings of the code that the template deliberately does not set, and why.
LEFT_TO_DEFAULT = {
    "MFA_FIXTURES_DIR": "local fixture files only; in Azure MFA_SOURCE is loganalytics",
    "MFA_FIXTURES_TIME_SHIFT": "local emulation of fixtures only; refused with MFA_SOURCE=loganalytics",
    "AzureWebJobsStorage": (
        "a connection string (it would carry the account key); in Azure the host and the state store "
        "use the identity-based AzureWebJobsStorage__* settings by design, and shared keys are disabled"
    ),
}

# App settings read by the Functions host or the Application Insights agent, not by shared/settings.py.
PLATFORM_SETTINGS = {
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "AzureWebJobsFeatureFlags",
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}

# Where the template's value differs from the code's default on purpose (the code defaults to a
# local run).
AZURE_VALUES = {"MFA_SOURCE": "loganalytics", "MFA_STATE": "table"}

IDENTITY_CLIENT_ID = "identity.properties.clientId"
IDENTITY_PRINCIPAL_ID = "identity.properties.principalId"

# The custom role on the Sentinel workspace: read it and query these three tables, nothing more.
SENTINEL_READER_ACTIONS = [
    "Microsoft.OperationalInsights/workspaces/read",
    "Microsoft.OperationalInsights/workspaces/query/read",
    "Microsoft.OperationalInsights/workspaces/query/SigninLogs/read",
    "Microsoft.OperationalInsights/workspaces/query/IdentityInfo/read",
    "Microsoft.OperationalInsights/workspaces/query/BehaviorAnalytics/read",
]

STORAGE_LOG_CATEGORIES = ["StorageRead", "StorageWrite", "StorageDelete"]


def app_settings(template: Template) -> dict[str, Any]:
    """Setting name -> value node, from the function app's siteConfig.appSettings."""
    entries = template.resource("functionApp")["properties"]["siteConfig"]["appSettings"]
    names = [entry["name"] for entry in entries]
    assert len(names) == len(set(names)), f"app settings listed twice: {sorted(n for n in names if names.count(n) > 1)}"
    return {entry["name"]: entry["value"] for entry in entries}


def settings_drift(bicep_settings: set[str], code_settings: set[str]) -> list[str]:
    """Every disagreement between the template's app settings and the settings module."""
    problems = [
        f"{name}: read by shared/settings.py but not set in infra/main.bicep (set it, or add it to "
        "LEFT_TO_DEFAULT with the reason)"
        for name in sorted(code_settings - bicep_settings - LEFT_TO_DEFAULT.keys())
    ]
    problems += [
        f"{name}: set in infra/main.bicep but read by nothing (not in shared/settings.py nor a platform setting)"
        for name in sorted(bicep_settings - code_settings - PLATFORM_SETTINGS)
    ]
    problems += [
        f"{name}: listed in LEFT_TO_DEFAULT but not a setting of shared/settings.py"
        for name in sorted(LEFT_TO_DEFAULT.keys() - code_settings)
    ]
    problems += [
        f"{name}: listed in LEFT_TO_DEFAULT but set in infra/main.bicep"
        for name in sorted(LEFT_TO_DEFAULT.keys() & bicep_settings)
    ]
    return problems


def role_assignments(template: Template) -> dict[str, dict[str, Any]]:
    return template.of_type("Microsoft.Authorization/roleAssignments")


def role_id(template: Template, body: dict[str, Any]) -> str:
    """The built-in role id a role assignment grants, through subscriptionResourceId(...)."""
    definition = body["properties"]["roleDefinitionId"]["function"]
    assert definition["type"] == "subscription_resource_id"
    assert definition["parameters"]["resource_type"] == "Microsoft.Authorization/roleDefinitions"
    reference = definition["parameters"]["resource_name_1"]
    if isinstance(reference, str):
        return template.resolve(reference)
    accessor = reference["operator"]["operands"]
    return template.variable(accessor["operand_1"])[accessor["operand_2"]]


# --- parsing ----------------------------------------------------------------------------------


def test_every_bicep_file_parses(infra_dir: Path) -> None:
    files = sorted(infra_dir.rglob("*.bicep"))
    assert {path.relative_to(infra_dir).as_posix() for path in files} >= {
        "main.bicep",
        "modules/workspace-reader.bicep",
        "modules/workspace-list.bicep",
    }
    for path in files:
        template = load(path)
        # workspace-list.bicep only computes a value: an output, no resource.
        assert template.resources or template.outputs, f"{path} declares no resource and no output"


def test_no_registry_modules(main_template: Template) -> None:
    # Registry (br:) and template-spec (ts:) modules cannot be restored offline.
    for symbol, module in main_template.modules.items():
        assert module["type"] == "local", f"module {symbol} is {module['type']}, not a local file"
        assert (main_template.path.parent / module["detail"]["path"]).is_file()


# --- hosting ----------------------------------------------------------------------------------


def test_plan_is_flex_consumption_fc1(main_template: Template) -> None:
    plan = main_template.resource("plan")
    assert main_template.resources["plan"]["type"] == "Microsoft.Web/serverfarms"
    assert plan["sku"] == {"tier": "FlexConsumption", "name": "FC1"}
    assert plan["properties"]["reserved"] is True  # Linux
    site = main_template.resource("functionApp")
    assert site["kind"] == "functionapp,linux"
    assert render(site["properties"]["serverFarmId"]) == "plan.id"


def test_runtime_is_the_python_the_code_is_tested_on(main_template: Template, infra_dir: Path) -> None:
    runtime = main_template.resource("functionApp")["properties"]["functionAppConfig"]["runtime"]
    assert runtime["name"] == "python"
    pyproject = tomllib.loads((infra_dir.parent / "pyproject.toml").read_text(encoding="utf-8"))
    tested = pyproject["tool"]["ruff"]["target-version"]  # e.g. "py311"
    expected = f"{tested[2]}.{tested[3:]}"
    assert expected == "3.11"
    assert main_template.resolve(runtime["version"]) == expected
    assert main_template.decorators(runtime["version"])["allowed"] == [expected]


def test_scale_settings_fit_a_singleton_timer(main_template: Template) -> None:
    scale = main_template.resource("functionApp")["properties"]["functionAppConfig"]["scaleAndConcurrency"]
    maximum = scale["maximumInstanceCount"]
    # 40: the lowest value every Flex stamp accepts (older docs: minimum 40; current docs: 1).
    assert main_template.resolve(maximum) == 40
    assert main_template.decorators(maximum)["min_value"] >= 1
    assert main_template.decorators(maximum)["max_value"] <= 1000
    memory = scale["instanceMemoryMB"]
    assert main_template.resolve(memory) == 2048
    assert set(main_template.decorators(memory)["allowed"]) <= {512, 2048, 4096}


def test_deployment_package_is_read_with_the_user_assigned_identity(main_template: Template) -> None:
    storage = main_template.resource("functionApp")["properties"]["functionAppConfig"]["deployment"]["storage"]
    assert storage["type"] == "blobContainer"
    assert storage["value"] == "${storage.properties.primaryEndpoints.blob}${deploymentContainerName}"
    assert storage["authentication"]["type"] == "UserAssignedIdentity"
    assert render(storage["authentication"]["userAssignedIdentityResourceId"]) == "identity.id"
    container = main_template.resource("deploymentContainer")
    assert container["name"] == "deploymentContainerName"
    assert container["properties"]["publicAccess"] == "None"


def test_site_runs_as_the_user_assigned_identity_only(main_template: Template) -> None:
    site = main_template.resource("functionApp")
    assert site["identity"]["type"] == "UserAssigned"  # no system-assigned identity
    assert list(site["identity"]["userAssignedIdentities"]) == ["'${identity.id}'"]
    assert render(site["properties"]["keyVaultReferenceIdentity"]) == "identity.id"
    assert main_template.resources["identity"]["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"


def test_site_is_https_only_with_tls_1_2(main_template: Template) -> None:
    properties = main_template.resource("functionApp")["properties"]
    assert properties["httpsOnly"] is True
    assert properties["siteConfig"]["minTlsVersion"] == "1.2"


def test_ftp_and_basic_auth_publishing_are_off(main_template: Template) -> None:
    site_config = main_template.resource("functionApp")["properties"]["siteConfig"]
    # Flex Consumption rejects siteConfig.ftpsState (ARM 51021): FTP is not offered at all.
    assert "ftpsState" not in site_config
    policies = main_template.of_type("Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {body["name"]: body["properties"]["allow"] for body in policies.values()} == {"ftp": False, "scm": False}
    assert {body["parent"] for body in policies.values()} == {"functionApp"}


def test_no_flex_deprecated_settings(main_template: Template) -> None:
    # Settings and siteConfig properties that Flex Consumption replaces or rejects.
    deprecated = {
        "FUNCTIONS_WORKER_RUNTIME",
        "FUNCTIONS_EXTENSION_VERSION",
        "WEBSITE_RUN_FROM_PACKAGE",
        "WEBSITE_CONTENTSHARE",
        "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
        "SCM_DO_BUILD_DURING_DEPLOYMENT",
        "ENABLE_ORYX_BUILD",
        "WEBSITE_TIME_ZONE",
    }
    assert not deprecated & app_settings(main_template).keys()
    site_config = main_template.resource("functionApp")["properties"]["siteConfig"]
    assert not {"linuxFxVersion", "alwaysOn", "ftpsState", "use32BitWorkerProcess", "netFrameworkVersion"} & set(
        site_config
    )


# --- storage, monitoring, secrets -------------------------------------------------------------


def test_storage_is_entra_only_https_only_and_private(main_template: Template) -> None:
    properties = main_template.resource("storage")["properties"]
    assert properties["allowSharedKeyAccess"] is False
    assert properties["allowBlobPublicAccess"] is False
    assert properties["minimumTlsVersion"] == "TLS1_2"
    assert properties["supportsHttpsTrafficOnly"] is True
    assert properties["defaultToOAuthAuthentication"] is True


def test_storage_and_key_vault_names_are_valid(main_template: Template) -> None:
    # Backs the checkov skip of CKV_AZURE_43: 'st'/'kv' + at most 9 + uniqueString's 13 characters.
    assert render(main_template.variable("compactName")) == "take(to_lower(replace(baseName, -, )), 9)"
    assert render(main_template.variable("suffix")) == "unique_string(resource_group().id, baseName)"
    assert main_template.variable("storageAccountName") == "st${compactName}${suffix}"
    assert main_template.variable("keyVaultName") == "kv${compactName}${suffix}"
    assert main_template.resource("storage")["name"] == "storageAccountName"
    assert main_template.resource("keyVault")["name"] == "keyVaultName"
    longest = "st" + "m" * 9 + "0" * 13
    assert re.fullmatch(r"[a-z0-9]{3,24}", longest)


def test_no_shared_keys_anywhere(infra_dir: Path) -> None:
    for path in sorted(infra_dir.rglob("*.bicep")):
        text = path.read_text(encoding="utf-8")
        for forbidden in ("listKeys(", "AccountKey=", "SharedAccessSignature", "InstrumentationKey="):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_host_storage_settings_are_identity_based(main_template: Template) -> None:
    settings = app_settings(main_template)
    assert "AzureWebJobsStorage" not in settings
    assert render(settings["AzureWebJobsStorage__accountName"]) == "storage.name"
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert render(settings["AzureWebJobsStorage__clientId"]) == IDENTITY_CLIENT_ID
    assert render(settings["AZURE_CLIENT_ID"]) == IDENTITY_CLIENT_ID
    assert (
        settings["AzureWebJobsStorage__tableServiceUri"]
        == "https://${storage.name}.table.${environment().suffixes.storage}"
    )


def test_application_insights_uses_entra_auth_and_its_own_workspace(main_template: Template) -> None:
    insights = main_template.resource("appInsights")["properties"]
    assert insights["DisableLocalAuth"] is True
    assert render(insights["WorkspaceResourceId"]) == "functionLogs.id"
    workspace = main_template.resources["functionLogs"]
    assert workspace["type"] == "Microsoft.OperationalInsights/workspaces"
    assert workspace["existing"] is False  # its own workspace, not the Sentinel one
    settings = app_settings(main_template)
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identity.properties.clientId};Authorization=AAD"
    )
    assert render(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"]) == "appInsights.properties.ConnectionString"


def test_key_vault_is_rbac_only_with_purge_protection(main_template: Template) -> None:
    properties = main_template.resource("keyVault")["properties"]
    assert properties["enableRbacAuthorization"] is True
    assert properties["enableSoftDelete"] is True
    assert properties["enablePurgeProtection"] is True
    retention = properties["softDeleteRetentionInDays"]
    assert main_template.decorators(retention)["min_value"] >= 7
    assert "accessPolicies" not in properties


@pytest.mark.parametrize(
    ("resource", "secret_name", "parameter"),
    [(entry.resource, entry.secret_name, entry.parameter) for entry in SECRET_SETTINGS],
)
def test_secrets_are_created_only_when_given(
    main_template: Template, resource: str, secret_name: str, parameter: str
) -> None:
    body = main_template.resource(resource)
    assert main_template.condition(resource) == f"!empty({parameter})"
    assert body["parent"] == "keyVault"
    assert main_template.resolve(body["name"]) == secret_name
    assert body["properties"]["value"] == parameter
    # Backs the checkov skip of CKV_AZURE_114 (it cannot see inside conditional resources).
    assert body["properties"]["contentType"] == "text/plain"
    assert main_template.decorators(parameter).get("secure") is True
    assert main_template.resolve(parameter) == ""


# The switch is the destination's (deliverTo...), or for ServiceNow the switch and the credential given.
@pytest.mark.parametrize(
    ("setting", "switch", "secret_name"),
    [(entry.setting, entry.condition, entry.secret_name) for entry in SECRET_SETTINGS],
)
def test_secret_settings_are_key_vault_references(
    main_template: Template, setting: str, switch: str, secret_name: str
) -> None:
    operands = app_settings(main_template)[setting]["operator"]["operands"]
    assert operands["condition"] == switch
    assert operands["false_value"] == ""  # blank means "not configured" to the settings module
    reference = main_template.variable(operands["true_value"])
    prefix = "@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${"
    assert reference.startswith(prefix)
    assert reference.endswith("})")
    assert main_template.resolve(reference[len(prefix) : -2]) == secret_name
    # Versionless URI: a secret set or rotated later is picked up.
    assert main_template.variable("secretUriPrefix") == "${keyVault.properties.vaultUri}secrets/"


def test_no_secret_value_reaches_an_app_setting(main_template: Template) -> None:
    secure = {name for name in main_template.parameters if main_template.decorators(name).get("secure")}
    # runHealthWebhookUrl goes to the run-health action group only (tests/infra/test_run_health_alerts.py).
    assert secure == {entry.parameter for entry in SECRET_SETTINGS} | {"runHealthWebhookUrl"}
    for name, value in app_settings(main_template).items():
        text = render(value)
        assert not any(re.search(rf"\b{parameter}\b", text) for parameter in secure), name


# --- role assignments -------------------------------------------------------------------------


def test_identity_has_exactly_the_expected_roles(main_template: Template) -> None:
    # symbol -> (scope, role, deployment condition)
    expected = {
        "storageBlobOwner": ("storage", "Storage Blob Data Owner", None),
        "storageTableContributor": ("stateTable", "Storage Table Data Contributor", None),
        "appInsightsPublisher": ("appInsights", "Monitoring Metrics Publisher", None),
        "keyVaultSecretsUser": ("keyVault", "Key Vault Secrets User", None),
        # MFA_FANOUT=queue: each of the two queues, not the account (tests/infra/test_many_workspaces.py).
        "fanoutQueueContributor": ("fanoutQueue", "Storage Queue Data Contributor", "fanoutToQueue"),
        "fanoutPoisonQueueContributor": ("fanoutPoisonQueue", "Storage Queue Data Contributor", "fanoutToQueue"),
    }
    granted = {
        symbol: body
        for symbol, body in role_assignments(main_template).items()
        if render(body["properties"]["principalId"]) == IDENTITY_PRINCIPAL_ID
    }
    assert set(granted) == set(expected), "the identity must get these roles and no others"
    for symbol, (scope, role, condition) in expected.items():
        body = granted[symbol]
        assert body["scope"] == scope, symbol
        assert role_id(main_template, body) == ROLE_IDS[role], symbol
        assert body["properties"]["principalType"] == "ServicePrincipal", symbol
        assert main_template.condition(symbol) == condition, symbol
        # Deterministic name: the scope, the identity and the granted role.
        name = body["name"]["function"]
        assert name["type"] == "guid", symbol
        granted_role = body["properties"]["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
        assert [render(value) for value in name["parameters"].values()] == [
            f"{scope}.id",
            "identity.id",
            render(granted_role),
        ], symbol


def test_optional_secrets_officer_is_limited_to_the_vault(main_template: Template) -> None:
    body = main_template.resource("keyVaultSecretsOfficer")
    assert main_template.condition("keyVaultSecretsOfficer") == "!empty(secretsOfficerPrincipalId)"
    assert body["scope"] == "keyVault"
    assert role_id(main_template, body) == ROLE_IDS["Key Vault Secrets Officer"]
    assert main_template.resolve("secretsOfficerPrincipalId") == ""


def test_workspace_reader_module_targets_the_sentinel_workspace(main_template: Template) -> None:
    module = main_template.modules["workspaceReader"]
    assert module["detail"]["path"] == "modules/workspace-reader.bicep"
    scope = module["config"]["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert scope["parameters"] == {
        "subscription_id": "targetWorkspaceSubscriptionId",
        "resource_group_name": "targetWorkspaceResourceGroup",
    }
    params = module["config"]["params"]
    assert params["workspaceName"] == "targetWorkspaceName"
    assert render(params["principalId"]) == IDENTITY_PRINCIPAL_ID
    # The target's GUID alone, unless additionalWorkspaces lists more (tests/infra/test_many_workspaces.py).
    assert render(app_settings(main_template)["LOG_ANALYTICS_WORKSPACE_ID"]) == (
        "manyWorkspaces ? workspaceList.outputs.value : workspaceReader.outputs.customerId"
    )


def test_workspace_reader_defines_a_three_table_custom_role(reader_template: Template) -> None:
    assert reader_template.tree["globals"]["scope"]["value"] == "resourceGroup"
    workspace = reader_template.resources["workspace"]
    assert workspace["type"] == "Microsoft.OperationalInsights/workspaces"
    assert workspace["existing"] is True
    definitions = reader_template.of_type("Microsoft.Authorization/roleDefinitions")
    assert list(definitions) == ["readerRole"]
    role = definitions["readerRole"]
    assert reader_template.condition("readerRole") is None
    # Deterministic name: one definition per workspace, updated in place by every redeploy.
    assert role["name"] == "readerRoleName"
    assert (
        render(reader_template.variable("readerRoleName")) == "guid(workspace.id, mfa-rejected, sentinel-table-reader)"
    )
    properties = role["properties"]
    assert properties["type"] == "CustomRole"
    # Role names are unique in a tenant: the workspace's hash keeps two workspaces of one name apart.
    assert properties["roleName"] == "mfa-rejected Sentinel reader (${workspaceName}, ${uniqueString(workspace.id)})"
    # Table-level read access is granted with `actions` (Azure Monitor's documented custom role).
    [permissions] = properties["permissions"]
    assert permissions["actions"] == "readerActions"
    assert reader_template.variable("readerActions") == SENTINEL_READER_ACTIONS
    assert permissions["notActions"] == []
    assert permissions["dataActions"] == []
    assert permissions["notDataActions"] == []
    assert not any("*" in action for action in SENTINEL_READER_ACTIONS)
    # Custom roles cannot be made assignable on a single resource: the workspace's resource group.
    assert [render(scope) for scope in properties["assignableScopes"]] == ["resource_group().id"]


def test_workspace_reader_assigns_the_custom_role_on_the_workspace(reader_template: Template) -> None:
    (symbol, body), *others = role_assignments(reader_template).items()
    assert not others
    assert symbol == "workspaceReader"
    assert body["scope"] == "workspace"
    assert render(body["properties"]["roleDefinitionId"]) == (
        "subscription_resource_id(Microsoft.Authorization/roleDefinitions, readerRole.name)"
    )
    assert body["properties"]["principalId"] == "principalId"
    assert body["properties"]["principalType"] == "ServicePrincipal"
    assert render(body["name"]) == "guid(workspace.id, principalId, readerRoleName)"
    outputs = {name: render(output["value"]) for name, output in reader_template.outputs.items()}
    assert outputs == {
        "customerId": "workspace.properties.customerId",
        "workspaceResourceId": "workspace.id",
        "roleAssignmentId": "workspaceReader.id",
        "roleDefinitionId": "subscription_resource_id(Microsoft.Authorization/roleDefinitions, readerRole.name)",
        "roleName": "readerRole.properties.roleName",
    }


def test_no_built_in_role_reads_the_whole_sentinel_workspace(infra_dir: Path) -> None:
    # Log Analytics Reader (or Reader, Contributor...) would read every table of the workspace.
    for path in sorted(infra_dir.rglob("*.bicep")):
        text = path.read_text(encoding="utf-8")
        assert ROLE_IDS["Log Analytics Reader"] not in text, path.name
        assert "workspaces/query/*" not in text, path.name


def test_state_table_role_is_on_the_state_table_only(main_template: Template) -> None:
    body = main_template.resource("storageTableContributor")
    assert body["scope"] == "stateTable"
    assert main_template.resources["stateTable"]["type"] == "Microsoft.Storage/storageAccounts/tableServices/tables"
    table_roles = [
        symbol
        for symbol, assignment in role_assignments(main_template).items()
        if role_id(main_template, assignment) == ROLE_IDS["Storage Table Data Contributor"]
    ]
    assert table_roles == ["storageTableContributor"]
    # The host's diagnostic events would need table rights on the whole account: they are off.
    assert app_settings(main_template)["AzureWebJobsFeatureFlags"] == "DisableDiagnosticEventLogging"


# --- audit logs -------------------------------------------------------------------------------


def diagnostic_settings(template: Template) -> dict[str, dict[str, Any]]:
    return template.of_type("Microsoft.Insights/diagnosticSettings")


@pytest.mark.parametrize(
    ("symbol", "scope", "categories"),
    [
        ("keyVaultDiagnostics", "keyVault", ["AuditEvent"]),
        ("tableDiagnostics", "tableService", STORAGE_LOG_CATEGORIES),
        ("blobDiagnostics", "blobService", STORAGE_LOG_CATEGORIES),
    ],
)
def test_audit_logs_go_to_the_diagnostics_workspace(
    main_template: Template, symbol: str, scope: str, categories: list[str]
) -> None:
    body = diagnostic_settings(main_template)[symbol]
    assert main_template.condition(symbol) is None
    assert body["scope"] == scope
    assert body["properties"]["workspaceId"] == "diagnosticsWorkspace"
    logs = body["properties"]["logs"]
    logs = main_template.variable(logs) if isinstance(logs, str) else logs
    assert [entry["category"] for entry in logs] == categories
    assert all(entry["enabled"] is True for entry in logs)


def test_every_diagnostic_setting_is_tested(main_template: Template) -> None:
    assert set(diagnostic_settings(main_template)) == {"keyVaultDiagnostics", "tableDiagnostics", "blobDiagnostics"}


def test_diagnostics_workspace_defaults_to_the_functions_own(main_template: Template) -> None:
    assert main_template.resolve("diagnosticsWorkspaceId") == ""
    assert render(main_template.variable("diagnosticsWorkspace")) == (
        "empty(diagnosticsWorkspaceId) ? functionLogs.id : diagnosticsWorkspaceId"
    )
    assert render(main_template.outputs["diagnosticsWorkspaceResourceId"]["value"]) == "diagnosticsWorkspace"


# --- app settings against shared/settings.py --------------------------------------------------


def test_app_settings_name_exactly_the_code_settings(main_template: Template) -> None:
    assert settings_drift(set(app_settings(main_template)), set(setting_names())) == []


def test_renaming_a_setting_on_either_side_is_caught(main_template: Template, tmp_path: Path) -> None:
    renamed = tmp_path / "main.bicep"
    text = main_template.path.read_text(encoding="utf-8")
    assert text.count("'MFA_LOOKBACK'") == 1
    renamed.write_text(text.replace("'MFA_LOOKBACK'", "'MFA_LOOK_BACK'"), encoding="utf-8")
    drift = settings_drift(set(app_settings(load(renamed))), set(setting_names()))
    assert any(line.startswith("MFA_LOOKBACK:") for line in drift)
    assert any(line.startswith("MFA_LOOK_BACK:") for line in drift)

    code = {"MFA_WINDOW" if name == "MFA_LOOKBACK" else name for name in setting_names()}
    drift = settings_drift(set(app_settings(main_template)), code)
    assert any(line.startswith("MFA_LOOKBACK:") for line in drift)
    assert any(line.startswith("MFA_WINDOW:") for line in drift)


def test_azure_specific_values(main_template: Template) -> None:
    settings = app_settings(main_template)
    for name, value in AZURE_VALUES.items():
        assert main_template.resolve(settings[name]) == value
    assert main_template.resolve(settings["MFA_SCHEDULE"]) == "0 5 * * * *"
    assert main_template.resolve(settings["MFA_CONSOLE"]) == "false"
    assert render(settings["MFA_STATE_TABLE"]) == "stateTable.name"
    table = main_template.resource("stateTable")
    assert main_template.resolve(table["name"]) == "MfaRejectedState"
    assert table["parent"] == "tableService"


def test_template_defaults_pass_validation_and_equal_the_code_defaults(
    main_template: Template, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)
    resolved: dict[str, str] = {}
    for name, value in app_settings(main_template).items():
        if name in PLATFORM_SETTINGS:
            continue
        try:
            resolved[name] = main_template.resolve(value)
        except UnresolvedError:
            continue  # a resource property or module output: checked by the tests above
    assert {"MFA_LOOKBACK", "MFA_SUPPRESSION", "MFA_LA_SERVER_TIMEOUT", "MFA_CONSOLE"} <= resolved.keys()
    # Deploy-time values, replaced by what Azure will supply.
    deploy_time = {"LOG_ANALYTICS_WORKSPACE_ID": str(uuid.uuid4()), "AZURE_CLIENT_ID": str(uuid.uuid4())}
    settings = load_settings(**resolved, **deploy_time)
    assert settings.source == "loganalytics"
    assert settings.uses_table_state
    assert settings.suppression == timedelta(0)
    attributes = {(field.alias or key): key for key, field in Settings.model_fields.items()}
    for name, text in resolved.items():
        if name in AZURE_VALUES:
            assert text == AZURE_VALUES[name]
            continue
        attribute = attributes[name]
        default = Settings.model_fields[attribute].default
        assert getattr(settings, attribute) == default, f"{name}={text!r} differs from the code default"


# --- the example parameters file --------------------------------------------------------------


def test_example_parameters_fit_the_template(main_template: Template, infra_dir: Path) -> None:
    document = json.loads((infra_dir / "main.parameters.example.json").read_text(encoding="utf-8"))
    given = set(document["parameters"])
    assert given <= set(main_template.parameters), f"unknown parameters: {given - set(main_template.parameters)}"
    required = {name for name, body in main_template.parameters.items() if body.get("default") is None}
    assert required == {"targetWorkspaceResourceGroup", "targetWorkspaceName"}
    assert required <= given
    # Secrets never go into a parameters file in the repository.
    secure = {name for name in main_template.parameters if main_template.decorators(name).get("secure")}
    assert not secure & given
