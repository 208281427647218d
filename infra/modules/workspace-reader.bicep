// Grants the function's identity read access to exactly the three tables the rule reads in the
// target (Sentinel) Log Analytics workspace, and nothing else in it.
//
// Deployed as a module because the workspace usually lives in another resource group, often in
// another subscription: main.bicep sets
// `scope: resourceGroup(targetWorkspaceSubscriptionId, targetWorkspaceResourceGroup)`.
// Deleting the function's resource group does NOT remove the role assignment nor the role
// definition created here (docs/deploy.md, "Remove").

targetScope = 'resourceGroup'

@description('Name of the Log Analytics workspace that holds SigninLogs, IdentityInfo and BehaviorAnalytics (the Sentinel workspace).')
param workspaceName string

@description('Object (principal) id of the user-assigned identity the function runs as.')
param principalId string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// Table-level read access, as a custom role. The built-in Log Analytics Reader would let the
// function read every table of the Sentinel workspace (and all monitoring data).
//
// `actions`, not `dataActions`: the documented custom role for table-level read access lists
// workspaces/read, workspaces/query/read and one workspaces/query/<Table>/read per table in the
// role's "Actions" ("Legacy method of setting table-level read access",
// https://learn.microsoft.com/azure/azure-monitor/logs/manage-access#legacy-method-of-setting-table-level-read-access;
// now also https://learn.microsoft.com/azure/azure-monitor/logs/manage-table-access). Microsoft now
// recommends "granular RBAC" instead: the data action workspaces/tables/data/read plus an ABAC
// condition on the table name in the assignment
// (https://learn.microsoft.com/azure/azure-monitor/logs/granular-rbac-log-analytics). The legacy
// role keeps the whole grant in one reviewable list of actions, with no condition language.
var readerActions = [
  'Microsoft.OperationalInsights/workspaces/read'
  'Microsoft.OperationalInsights/workspaces/query/read'
  'Microsoft.OperationalInsights/workspaces/query/SigninLogs/read'
  'Microsoft.OperationalInsights/workspaces/query/IdentityInfo/read'
  'Microsoft.OperationalInsights/workspaces/query/BehaviorAnalytics/read'
]

// One definition per workspace, shared by every deployment that reads it (same name, same
// content: a redeploy updates it in place). Role names are unique in the tenant, hence the hash.
var readerRoleName = guid(workspace.id, 'mfa-rejected', 'sentinel-table-reader')

// Assignable scopes may be management groups, subscriptions or resource groups, not single
// resources (https://learn.microsoft.com/azure/role-based-access-control/role-definitions#assignablescopes):
// the workspace's resource group. The assignment below is on the workspace itself.
resource readerRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: readerRoleName
  properties: {
    roleName: 'mfa-rejected Sentinel reader (${workspaceName}, ${uniqueString(workspace.id)})'
    description: 'mfa-rejected: query only SigninLogs, IdentityInfo and BehaviorAnalytics in Log Analytics workspace ${workspaceName}.'
    type: 'CustomRole'
    permissions: [
      {
        actions: readerActions
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
    assignableScopes: [
      resourceGroup().id
    ]
  }
}

resource workspaceReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  // principalId (not the identity's resource id) is in the name: a re-created identity with the
  // same name gets a new principal, and must not collide with the orphaned old assignment.
  name: guid(workspace.id, principalId, readerRoleName)
  scope: workspace
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRole.name)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mfa-rejected: query SigninLogs, IdentityInfo and BehaviorAnalytics'
  }
}

@description('The workspace id (GUID) the Log Analytics query API takes: the LOG_ANALYTICS_WORKSPACE_ID setting.')
output customerId string = workspace.properties.customerId

@description('Resource id of the workspace.')
output workspaceResourceId string = workspace.id

@description('Resource id of the role assignment; delete it when removing the deployment.')
output roleAssignmentId string = workspaceReader.id

@description('Resource id of the custom role definition; delete it after its last assignment.')
output roleDefinitionId string = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', readerRole.name)

@description('Display name of the custom role.')
output roleName string = readerRole.properties.roleName
