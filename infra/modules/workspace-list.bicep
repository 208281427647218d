// LOG_ANALYTICS_WORKSPACE_ID for many workspaces: "label=GUID,label=GUID,..." (shared/workspaces.py
// reads it). A module rather than a variable of main.bicep: the GUIDs of the granted workspaces are
// outputs of the reader modules, which a Bicep variable loop cannot use; a module's parameters can.
// Deploys no resource.

targetScope = 'resourceGroup'

@description('Label of the target workspace (targetWorkspaceLabel).')
param targetLabel string

@description('Workspace id (GUID) of the target workspace.')
param targetWorkspaceId string

@description('The additional workspaces this deployment granted access to: [{ name, workspaceId }].')
param grantedWorkspaces array

@description('The additional workspaces delegated through Azure Lighthouse: [{ name, workspaceId, ... }]. A missing workspaceId fails the deployment.')
param delegatedWorkspaces array

var target = {
  name: targetLabel
  workspaceId: targetWorkspaceId
}

var workspaces = concat([target], grantedWorkspaces, delegatedWorkspaces)

var pairs = [for workspace in workspaces: '${workspace.name}=${workspace.workspaceId}']

@description('The value of LOG_ANALYTICS_WORKSPACE_ID: label=GUID pairs, the target first.')
output value string = join(pairs, ',')
