"""infra/main.bicep with many workspaces and the queue fan-out: the additional workspaces get the same
custom role as the target (or, delegated through Azure Lighthouse, are listed with their GUID), the
LOG_ANALYTICS_WORKSPACE_ID value the deployment builds is one the code reads, and MFA_FANOUT=queue gets
its two queues with a queue-scoped role each, and nothing on the account."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from shared.settings import Settings, load_settings, setting_names
from shared.workspaces import parse_workspace_list
from tests.infra.bicep_tree import Template, load, render
from tests.infra.delivery_secrets import DEPLOY_TIME, deployed_settings
from tests.infra.test_main_bicep import IDENTITY_PRINCIPAL_ID, ROLE_IDS, app_settings, role_assignments, role_id

QUEUE_TYPE = "Microsoft.Storage/storageAccounts/queueServices/queues"
TARGET_GUID = DEPLOY_TIME["workspaceReader.outputs.customerId"]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in setting_names():
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def list_template(main_template: Template) -> Template:
    return load(main_template.path.parent / "modules" / "workspace-list.bicep")


def module_loop(template: Template, symbol: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(loop description, body) of a module declared with a for-loop."""
    config = template.modules[symbol]["config"]
    assert "loop_type" in config, f"{symbol} is not a loop"
    return config["loop_type"], config["config"]


def code_default(attribute: str) -> Any:
    return Settings.model_fields[attribute].default


def code_bounds(attribute: str) -> tuple[int, int]:
    metadata = Settings.model_fields[attribute].metadata
    lower = next(item.ge for item in metadata if hasattr(item, "ge"))
    upper = next(item.le for item in metadata if hasattr(item, "le"))
    return lower, upper


# --- settings ---------------------------------------------------------------------------------


def test_fanout_and_concurrency_settings_take_their_parameters(main_template: Template) -> None:
    settings = app_settings(main_template)
    assert settings["MFA_FANOUT"] == "fanout"
    assert main_template.decorators("fanout")["allowed"] == ["inline", "queue"]
    assert main_template.resolve("fanout") == code_default("fanout") == "inline"
    assert render(settings["MFA_WORKSPACE_CONCURRENCY"]) == "string(workspaceConcurrency)"
    assert main_template.resolve("workspaceConcurrency") == code_default("workspace_concurrency") == 16
    decorators = main_template.decorators("workspaceConcurrency")
    assert (decorators["min_value"], decorators["max_value"]) == code_bounds("workspace_concurrency") == (1, 256)


def test_workspaces_file_is_unset_and_the_queue_is_the_code_default(main_template: Template) -> None:
    settings = app_settings(main_template)
    # A workspaces file ships in the package: its path is set after the deployment (docs/deploy.md).
    assert settings["MFA_WORKSPACES_FILE"] == ""
    assert settings["MFA_FANOUT_QUEUE"] == "fanoutQueueName"
    assert main_template.resolve("fanoutQueueName") == code_default("fanout_queue")


def test_queue_endpoint_is_the_function_accounts(main_template: Template) -> None:
    settings = app_settings(main_template)
    assert settings["AzureWebJobsStorage__queueServiceUri"] == (
        "https://${storage.name}.queue.${environment().suffixes.storage}"
    )
    assert deployed_settings(main_template, {})["AzureWebJobsStorage__queueServiceUri"] == (
        "https://stmfarejected0000000000000.queue.core.windows.net"
    )


def test_one_workspace_keeps_the_single_guid_and_resource_id(main_template: Template) -> None:
    deployed = deployed_settings(main_template, {})
    assert deployed["LOG_ANALYTICS_WORKSPACE_ID"] == TARGET_GUID
    assert deployed["MFA_WORKSPACE_RESOURCE_ID"] == DEPLOY_TIME["workspaceReader.outputs.workspaceResourceId"]
    # The original one-GUID form: state and alert ids of earlier deployments stay as they were.
    [workspace] = parse_workspace_list(deployed["LOG_ANALYTICS_WORKSPACE_ID"])
    assert workspace.id == TARGET_GUID
    assert workspace.scoped is False


def test_many_workspaces_switch_the_settings_to_the_list(main_template: Template) -> None:
    assert render(main_template.variable("manyWorkspaces")) == "!empty(additionalWorkspaces)"
    settings = app_settings(main_template)
    workspace_id = settings["LOG_ANALYTICS_WORKSPACE_ID"]["operator"]["operands"]
    assert workspace_id["condition"] == "manyWorkspaces"
    assert render(workspace_id["true_value"]) == "workspaceList.outputs.value"
    resource_id = settings["MFA_WORKSPACE_RESOURCE_ID"]["operator"]["operands"]
    assert resource_id["condition"] == "manyWorkspaces"
    # One resource id cannot name several workspaces: theirs go in a workspaces file.
    assert resource_id["true_value"] == ""


# --- the additional workspaces ----------------------------------------------------------------


def test_additional_workspaces_default_to_none(main_template: Template) -> None:
    assert main_template.resolve("additionalWorkspaces") == []
    assert main_template.parameters["additionalWorkspaces"]["type"] == "array"
    # The most copies one Bicep loop may deploy.
    assert main_template.decorators("additionalWorkspaces")["max_length"] == 800
    assert main_template.parameters["targetWorkspaceLabel"]["default"] == "targetWorkspaceName"
    assert main_template.decorators("targetWorkspaceLabel")["max_length"] == 63


def test_granted_and_delegated_workspaces_split_on_grant_access(main_template: Template) -> None:
    granted = main_template.variable("grantedWorkspaces")["function"]
    assert granted["type"] == "filter"
    assert granted["parameters"]["input_array"] == "additionalWorkspaces"
    assert (
        render(granted["parameters"]["expression"]["detail"]["expression"]) == "coalesce(workspace.grantAccess, true)"
    )
    delegated = main_template.variable("delegatedWorkspaces")["function"]
    assert delegated["parameters"]["input_array"] == "additionalWorkspaces"
    assert render(delegated["parameters"]["expression"]["detail"]["expression"]) == (
        "!coalesce(workspace.grantAccess, true)"
    )


def test_each_granted_workspace_gets_the_targets_reader_module(main_template: Template) -> None:
    module = main_template.modules["additionalWorkspaceReaders"]
    target = main_template.modules["workspaceReader"]
    assert module["detail"]["path"] == target["detail"]["path"] == "modules/workspace-reader.bicep"
    loop, body = module_loop(main_template, "additionalWorkspaceReaders")
    assert loop["detail"] == {"item_name": "workspace", "index_name": "index", "array_name": "grantedWorkspaces"}
    scope = body["scope"]["function"]
    assert scope["type"] == "resource_group"
    assert render(scope["parameters"]["subscription_id"]) == (
        "coalesce(workspace.subscriptionId, subscription().subscriptionId)"
    )
    assert render(scope["parameters"]["resource_group_name"]) == "workspace.resourceGroup"
    assert render(body["params"]["workspaceName"]) == "workspace.workspaceName"
    assert render(body["params"]["principalId"]) == IDENTITY_PRINCIPAL_ID
    # Unique deployment names, distinct from the target's.
    assert body["name"] == "workspace-reader-${suffix}-${index}"
    assert target["config"]["name"] == "workspace-reader-${suffix}"
    output = main_template.outputs["additionalWorkspaceReaderRoleAssignmentIds"]["value"]
    assert output["loop_type"]["detail"]["array_name"] == "grantedWorkspaces"
    assert render(output["config"]) == "index_accessor(additionalWorkspaceReaders, index).outputs.roleAssignmentId"


def test_workspace_list_module_gets_every_workspace(main_template: Template) -> None:
    assert main_template.modules["workspaceList"]["detail"]["path"] == "modules/workspace-list.bicep"
    config = main_template.modules["workspaceList"]["config"]
    assert render(config["condition"]) == "manyWorkspaces"
    params = config["config"]["params"]
    assert params["targetLabel"] == "targetWorkspaceLabel"
    assert render(params["targetWorkspaceId"]) == "workspaceReader.outputs.customerId"
    granted = params["grantedWorkspaces"]
    # The granted workspaces' GUIDs come from their reader modules, in the same order.
    assert granted["loop_type"]["detail"]["array_name"] == "grantedWorkspaces"
    assert render(granted["config"]["name"]) == "workspace.name"
    assert (
        render(granted["config"]["workspaceId"])
        == "index_accessor(additionalWorkspaceReaders, index).outputs.customerId"
    )
    # The delegated ones as given: their workspaceId (a cross-tenant workspace cannot be read).
    assert params["delegatedWorkspaces"] == "delegatedWorkspaces"


def list_value(list_template: Template, params: dict[str, Any]) -> str:
    """The module's output for ``params``, evaluated from its parse tree (its only constructs)."""
    target = list_template.variable("target")
    assert target == {"name": "targetLabel", "workspaceId": "targetWorkspaceId"}
    concat = list_template.variable("workspaces")["function"]
    assert concat["type"] == "concat"
    assert list(concat["parameters"].values()) == [["target"], "grantedWorkspaces", "delegatedWorkspaces"]
    workspaces = [{key: params[name] for key, name in target.items()}]
    workspaces += params["grantedWorkspaces"] + params["delegatedWorkspaces"]
    pairs = list_template.variable("pairs")
    assert pairs["loop_type"]["detail"] == {"item_name": "workspace", "array_name": "workspaces"}
    assert pairs["config"] == "${workspace.name}=${workspace.workspaceId}"
    assert render(list_template.outputs["value"]["value"]) == "join(pairs, ,)"
    return ",".join(f"{workspace['name']}={workspace['workspaceId']}" for workspace in workspaces)


def test_list_value_is_labelled_guids_the_code_reads(list_template: Template, clean_environment: None) -> None:
    assert not list_template.resources  # a value only
    fabrikam, contoso = str(uuid.uuid4()), str(uuid.uuid4()).upper()
    value = list_value(
        list_template,
        {
            "targetLabel": "law-sentinel",
            "targetWorkspaceId": TARGET_GUID,
            "grantedWorkspaces": [{"name": "emea.regional", "workspaceId": fabrikam}],
            "delegatedWorkspaces": [
                {
                    "name": "contoso",
                    "workspaceId": contoso,
                    "resourceGroup": "rg",
                    "workspaceName": "law",
                    "grantAccess": False,
                }
            ],
        },
    )
    assert value == f"law-sentinel={TARGET_GUID},emea.regional={fabrikam},contoso={contoso}"
    assert re.fullmatch(
        r"([A-Za-z0-9][\w.-]{0,62}=[0-9a-fA-F-]{36})(,[A-Za-z0-9][\w.-]{0,62}=[0-9a-fA-F-]{36})*", value
    )
    workspaces = parse_workspace_list(value)
    assert [(workspace.name, workspace.id) for workspace in workspaces] == [
        ("law-sentinel", TARGET_GUID),
        ("emea.regional", fabrikam),
        ("contoso", contoso.lower()),
    ]
    assert all(workspace.scoped for workspace in workspaces)
    settings = load_settings(
        MFA_SOURCE="loganalytics",
        LOG_ANALYTICS_WORKSPACE_ID=value,
        MFA_WORKSPACE_RESOURCE_ID="",
        MFA_ALLOW_NO_SINK="true",
    )
    assert settings.workspaces == workspaces


# --- queue fan-out ----------------------------------------------------------------------------


def test_queue_and_poison_queue_exist_only_for_the_queue_fanout(main_template: Template) -> None:
    assert render(main_template.variable("fanoutToQueue")) == "equals(fanout, queue)"
    queues = main_template.of_type(QUEUE_TYPE)
    assert set(queues) == {"fanoutQueue", "fanoutPoisonQueue"}
    assert {symbol: body["name"] for symbol, body in queues.items()} == {
        "fanoutQueue": "fanoutQueueName",
        "fanoutPoisonQueue": "fanoutPoisonQueueName",
    }
    assert main_template.resolve("fanoutQueueName") == "mfa-rejected-workspaces"
    # The host moves a message that failed maxDequeueCount times to <queue>-poison.
    assert main_template.variable("fanoutPoisonQueueName") == "${fanoutQueueName}-poison"
    for symbol, body in queues.items():
        assert main_template.condition(symbol) == "fanoutToQueue", symbol
        assert body["parent"] == "queueService", symbol
    assert main_template.condition("queueService") == "fanoutToQueue"
    assert main_template.resource("queueService") == {"parent": "storage", "name": "default"}


def test_queue_roles_are_on_the_two_queues_only(main_template: Template) -> None:
    queue_roles = {
        symbol: body
        for symbol, body in role_assignments(main_template).items()
        if role_id(main_template, body) == ROLE_IDS["Storage Queue Data Contributor"]
    }
    assert {symbol: body["scope"] for symbol, body in queue_roles.items()} == {
        "fanoutQueueContributor": "fanoutQueue",
        "fanoutPoisonQueueContributor": "fanoutPoisonQueue",
    }
    for symbol, body in queue_roles.items():
        assert main_template.condition(symbol) == "fanoutToQueue", symbol
        assert render(body["properties"]["principalId"]) == IDENTITY_PRINCIPAL_ID, symbol
    assert main_template.variable("roles")["storageQueueDataContributor"] == ROLE_IDS["Storage Queue Data Contributor"]
    # Granted before the host starts, so MfaRejectedWorker's trigger can read its queue at once.
    depends_on = main_template.resource("functionApp")["dependsOn"]
    assert {"fanoutQueueContributor", "fanoutPoisonQueueContributor"} <= set(depends_on)
