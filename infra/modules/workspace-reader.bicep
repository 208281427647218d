// Grants the function's identity read access to the target (Sentinel) Log Analytics workspace.
//
// Deployed as a module because the workspace usually lives in another resource group, often in
// another subscription: main.bicep sets
// `scope: resourceGroup(targetWorkspaceSubscriptionId, targetWorkspaceResourceGroup)`.
// Deleting the function's resource group does NOT remove this assignment (docs/deploy.md, "Remove").

targetScope = 'resourceGroup'

@description('Name of the Log Analytics workspace that holds SigninLogs, IdentityInfo and BehaviorAnalytics (the Sentinel workspace).')
param workspaceName string

@description('Object (principal) id of the user-assigned identity the function runs as.')
param principalId string

// Built-in role "Log Analytics Reader": read all monitoring data, the least role that can query
// the three tables. Role ids are the same in every subscription and cloud.
var logAnalyticsReaderRoleId = '73c42c96-874c-492b-b04d-ab87d138a893'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  // principalId (not the identity's resource id) is in the name: a re-created identity with the
  // same name gets a new principal, and must not collide with the orphaned old assignment.
  name: guid(workspace.id, principalId, logAnalyticsReaderRoleId)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsReaderRoleId)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mfa-rejected: query SigninLogs, IdentityInfo and BehaviorAnalytics'
  }
}

@description('The workspace id (GUID) the Log Analytics query API takes: the LOG_ANALYTICS_WORKSPACE_ID setting.')
output customerId string = workspace.properties.customerId

@description('Resource id of the role assignment; delete it when removing the deployment.')
output roleAssignmentId string = workspaceReader.id
