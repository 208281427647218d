// mfa-rejected: the Sentinel rule "MFA Rejected by User" as a timer-triggered Python function on
// Azure Functions Flex Consumption, running as one user-assigned managed identity with least
// privilege. No connection strings, no shared keys, no registry modules (restorable offline).
//
// Deploy (docs/deploy.md):
//   az deployment group create -g <rg> -f infra/main.bicep -p @infra/main.parameters.json \
//     -p secretsOfficerPrincipalId=<your object id>   (to set the delivery secrets afterwards)
//
// The app settings below are the product's settings (shared/settings.py is the source of truth;
// tests/infra/test_main_bicep.py fails when the two disagree) plus the Functions host's own.

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------
// Parameters: where things go
// ---------------------------------------------------------------------------------------------

@description('Short name used to derive every resource name (letters, digits, hyphens).')
@minLength(2)
@maxLength(20)
param baseName string = 'mfarejected'

@description('Region of every resource in this resource group. It must offer Flex Consumption: az functionapp list-flexconsumption-locations.')
param location string = resourceGroup().location

@description('Function app name: global DNS name <name>.azurewebsites.net. Defaults to a unique name.')
@maxLength(60)
param functionAppName string = 'func-${baseName}-${uniqueString(resourceGroup().id, baseName)}'

@description('Tags applied to every resource.')
param tags object = {}

// ---------------------------------------------------------------------------------------------
// Parameters: the target Sentinel workspace (read only; often in another resource group)
// ---------------------------------------------------------------------------------------------

@description('Subscription id of the Sentinel (Log Analytics) workspace to read. Defaults to this deployment\'s subscription.')
param targetWorkspaceSubscriptionId string = subscription().subscriptionId

@description('Resource group of the Sentinel (Log Analytics) workspace to read.')
param targetWorkspaceResourceGroup string

@description('Name of the Sentinel (Log Analytics) workspace to read.')
param targetWorkspaceName string

// ---------------------------------------------------------------------------------------------
// Parameters: more workspaces (regional workspaces, or an MSSP's customers through Lighthouse)
// ---------------------------------------------------------------------------------------------

@description('Name of the target workspace in LOG_ANALYTICS_WORKSPACE_ID when additionalWorkspaces is not empty (letters, digits, ".", "_", "-"; starts with a letter or digit). Defaults to targetWorkspaceName.')
@minLength(1)
@maxLength(63)
param targetWorkspaceLabel string = targetWorkspaceName

// Each entry: { name, subscriptionId?, resourceGroup, workspaceName, grantAccess?, workspaceId? }.
// grantAccess (default true): this deployment grants the identity the same three-table custom role
// on that workspace as on the target, and reads its workspace id (GUID) from it. false: for a
// workspace in another tenant delegated through Azure Lighthouse, whose delegation grants the role
// (a template cannot assign roles in another tenant nor read the workspace there): workspaceId, the
// workspace's GUID, is then required, and subscriptionId/resourceGroup/workspaceName only document it.
// 800: the most copies one Bicep loop may deploy.
@description('More Sentinel (Log Analytics) workspaces to read: [{ name, subscriptionId?, resourceGroup, workspaceName, grantAccess? (default true), workspaceId? (required when grantAccess is false) }]. name is its label in LOG_ANALYTICS_WORKSPACE_ID (unique; letters, digits, ".", "_", "-"; at most 63 characters). Empty: the target workspace only.')
@maxLength(800)
param additionalWorkspaces array = []

// ---------------------------------------------------------------------------------------------
// Parameters: how workspaces are evaluated
// ---------------------------------------------------------------------------------------------

// queue: the timer enqueues one message per workspace into a Storage queue of the function's own
// account and the queue-triggered MfaRejectedWorker evaluates each, across instances (up to
// maximumInstanceCount). The template then creates the queue and its poison queue and grants the
// identity Storage Queue Data Contributor on those two queues only.
@description('MFA_FANOUT: "inline" (the timer evaluates every workspace itself) or "queue" (one Storage queue message per workspace, evaluated by MfaRejectedWorker).')
@allowed([
  'inline'
  'queue'
])
param fanout string = 'inline'

@description('MFA_WORKSPACE_CONCURRENCY: how many workspaces one instance evaluates at once (1-256).')
@minValue(1)
@maxValue(256)
param workspaceConcurrency int = 16

// ---------------------------------------------------------------------------------------------
// Parameters: hosting
// ---------------------------------------------------------------------------------------------

@description('Python version in functionAppConfig.runtime: the version the code is tested on.')
@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

// The timer is a singleton (a blob lease in AzureWebJobsStorage): one instance runs it whatever
// the limit. This is a ceiling on scale-out, not a reservation, and costs nothing when idle.
// 40 is accepted by every Flex stamp: older platform docs give 40 as the lowest allowed value,
// current ones give 1.
@description('Flex Consumption scale-out ceiling (maximumInstanceCount).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

// Geo-redundant by default: the storage account holds the checkpoint and the outbox, whose
// loss would lose alerts. Standard_LRS is enough for a trial.
@description('Replication of the function\'s storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSku string = 'Standard_GRS'

@description('Memory of each instance (instanceMemoryMB). 2048 is the platform default; one hour of sign-in logs can be large.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// ---------------------------------------------------------------------------------------------
// Parameters: audit logs
// ---------------------------------------------------------------------------------------------

// Default: the function's own workspace (log-<baseName>, this resource group), which the deployer
// can always write to. Sending them to the Sentinel workspace instead needs its resource id here
// and, for the deployer, Microsoft.OperationalInsights/workspaces/sharedKeys/action on it (e.g.
// Log Analytics Contributor); they are then billed as Sentinel ingestion.
@description('Resource id of the Log Analytics workspace that receives the Key Vault audit logs and the storage blob and table logs (diagnostic settings). Empty: the function\'s own workspace, log-<baseName>.')
param diagnosticsWorkspaceId string = ''

// ---------------------------------------------------------------------------------------------
// Parameters: delivery secrets (stored in Key Vault; the app settings only reference them)
// ---------------------------------------------------------------------------------------------

@description('Deliver alerts to Microsoft Teams (Workflows webhook). The URL is read from Key Vault secret "mfa-teams-webhook-url".')
param deliverToTeams bool = true

@description('Deliver alerts to a generic signed webhook. URL and signing secret are read from Key Vault secrets "mfa-webhook-url" and "mfa-webhook-secret".')
param deliverToWebhook bool = false

@description('Teams Workflows webhook URL (carries a signature: a secret). Empty: set it later with az keyvault secret set.')
@secure()
param teamsWebhookUrl string = ''

@description('Generic webhook URL. Empty: set it later with az keyvault secret set.')
@secure()
param webhookUrl string = ''

@description('Standard Webhooks signing secret (whsec_...). Empty: set it later with az keyvault secret set.')
@secure()
param webhookSecret string = ''

@description('Optional object id of a user, group or pipeline that may set the secrets later (Key Vault Secrets Officer on this vault only). Empty: no such grant.')
param secretsOfficerPrincipalId string = ''

@description('Principal type of secretsOfficerPrincipalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param secretsOfficerPrincipalType string = 'User'

@description('Days a deleted vault stays recoverable. Purge protection is on: a deleted vault cannot be purged sooner.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionDays int = 90

// ---------------------------------------------------------------------------------------------
// Parameters: native destinations (Slack, PagerDuty, Jira Cloud, ServiceNow)
// ---------------------------------------------------------------------------------------------

// One switch per destination. On: its secrets become Key Vault references and its other settings
// take the parameters below. Off: every setting of it is empty (not configured), whatever is given.
// A secret given here is stored in Key Vault; empty: set it later with az keyvault secret set.

@description('Deliver alerts to Slack (incoming webhook). The URL is read from Key Vault secret "mfa-slack-webhook-url".')
param deliverToSlack bool = false

@description('Slack incoming-webhook URL (carries a token: a secret). Empty: set it later with az keyvault secret set.')
@secure()
param slackWebhookUrl string = ''

@description('Deliver alerts to PagerDuty (Events API v2). The routing key is read from Key Vault secret "mfa-pagerduty-routing-key".')
param deliverToPagerDuty bool = false

@description('PagerDuty Events API v2 integration (routing) key, 32 letters and digits. Empty: set it later with az keyvault secret set.')
@secure()
param pagerDutyRoutingKey string = ''

@description('MFA_PAGERDUTY_URL: the Events API v2 endpoint (EU service region: https://events.eu.pagerduty.com/v2/enqueue).')
param pagerDutyUrl string = 'https://events.pagerduty.com/v2/enqueue'

@description('Deliver alerts as Jira Cloud issues. jiraUrl, jiraProject and jiraEmail are then required; the API token is read from Key Vault secret "mfa-jira-api-token".')
param deliverToJira bool = false

@description('MFA_JIRA_URL: the Jira Cloud site, e.g. https://example.atlassian.net.')
param jiraUrl string = ''

@description('MFA_JIRA_PROJECT: key of the project the issues are created in, e.g. SEC.')
param jiraProject string = ''

@description('MFA_JIRA_ISSUE_TYPE: issue type of the created issues (a type of that project).')
param jiraIssueType string = 'Task'

@description('MFA_JIRA_EMAIL: email address of the Atlassian account the API token belongs to.')
param jiraEmail string = ''

@description('Jira API token of that account. Empty: set it later with az keyvault secret set.')
@secure()
param jiraApiToken string = ''

@description('Deliver alerts as ServiceNow records. serviceNowUrl is then required, and one credential: serviceNowUser (basic; password from Key Vault secret "mfa-servicenow-password") or serviceNowClientId (OAuth client credentials; secret from "mfa-servicenow-client-secret"), not both.')
param deliverToServiceNow bool = false

@description('MFA_SERVICENOW_URL: the instance, e.g. https://example.service-now.com.')
param serviceNowUrl string = ''

@description('MFA_SERVICENOW_TABLE: table the records are created in.')
param serviceNowTable string = 'incident'

@description('MFA_SERVICENOW_USER: user for basic authentication. Empty: OAuth (serviceNowClientId).')
param serviceNowUser string = ''

@description('Password of serviceNowUser. Empty: set it later with az keyvault secret set.')
@secure()
param serviceNowPassword string = ''

@description('MFA_SERVICENOW_CLIENT_ID: OAuth client id (client credentials grant). Empty: basic authentication (serviceNowUser).')
param serviceNowClientId string = ''

@description('OAuth client secret of serviceNowClientId. Empty: set it later with az keyvault secret set.')
@secure()
param serviceNowClientSecret string = ''

// ---------------------------------------------------------------------------------------------
// Parameters: alerts on the function itself (runs stopped, or failing)
// ---------------------------------------------------------------------------------------------

@description('Deploy the two log search alert rules on the function\'s own run records (no run finished in 2 hours; the last 3 runs failed) and their action group. false: none of them.')
param runHealthAlerts bool = true

@description('Email addresses notified when a run-health alert fires or resolves. May be empty.')
param runHealthAlertEmails array = []

// Not read from Key Vault: an action group's webhook receiver takes the URL itself, and a template
// can read a secret only into a module parameter, only from a vault that already exists with
// enabledForTemplateDeployment on (this one keeps it off). The URL is stored in the action group,
// where anyone with read access to it can read it back; see docs/deploy.md.
@description('Webhook notified when a run-health alert fires or resolves (Azure Monitor common alert schema), e.g. a Teams Workflows URL whose flow reads that schema. Carries a signature: a secret. Empty: no webhook receiver.')
@secure()
param runHealthWebhookUrl string = ''

@description('Severity of the run-health alerts (0 critical ... 4 verbose). 1 (error): without runs there is no detection at all.')
@allowed([
  0
  1
  2
  3
  4
])
param runHealthAlertSeverity int = 1

// ---------------------------------------------------------------------------------------------
// Parameters: detection and delivery settings (defaults equal the code's defaults)
// ---------------------------------------------------------------------------------------------

@description('MFA_SCHEDULE: NCRONTAB, six fields, UTC. Default: hourly at minute 5.')
param schedule string = '0 5 * * * *'

@description('MFA_LOOKBACK: length of each evaluated window (ISO 8601 duration, whole minutes).')
param lookback string = 'PT1H'

@description('MFA_INGESTION_DELAY: how far windows are shifted back so late-ingested sign-ins are included.')
param ingestionDelay string = 'PT5M'

@description('MFA_MAX_CATCHUP: the longest stretch of missed windows a run catches up on.')
param maxCatchup string = 'P1D'

@description('MFA_IDENTITY_LOOKBACK: IdentityInfo lookback (at least MFA_LOOKBACK).')
param identityLookback string = 'PT1H'

@description('MFA_RISK_SCORE_CUTOFF: BehaviorAnalytics InvestigationPriority cutoff (0-10).')
@minValue(0)
@maxValue(10)
param riskScoreCutoff int = 3

@description('MFA_ALERT_GROUPING: one alert per window ("single") or per result row ("per-row").')
@allowed([
  'single'
  'per-row'
])
param alertGrouping string = 'single'

@description('MFA_SUPPRESSION: suppress repeats of the same alert for this long (PT0S: off).')
param suppression string = 'PT0S'

@description('MFA_LATE_DATA: re-evaluate each window until this long after its end, alerting on rows whose sign-in or UEBA data arrived late (PT0S: evaluate once, as Sentinel does).')
param lateData string = 'PT2H'

@description('MFA_NO_DATA_AFTER: raise the signins-silent health alert when SigninLogs has had no rows for this long.')
param noDataAfter string = 'PT3H'

@description('MFA_LA_ENDPOINT: Log Analytics query endpoint (sovereign clouds: https://api.loganalytics.us, https://api.loganalytics.azure.cn).')
// environment() has no Log Analytics query endpoint, so the public cloud's is the default here.
#disable-next-line no-hardcoded-env-urls
param logAnalyticsEndpoint string = 'https://api.loganalytics.io'

@description('MFA_LA_SERVER_TIMEOUT: server-side query timeout in seconds (1-600).')
@minValue(1)
@maxValue(600)
param logAnalyticsServerTimeout int = 180

@description('MFA_ALLOW_NO_SINK: run with no destination configured (alerts wait in the outbox until one is); otherwise every run fails with a settings error until a webhook is set.')
param allowNoSink bool = false

@description('MFA_HTTP_TIMEOUT: seconds one webhook delivery may take in all (connect, send, answer, retries within the run).')
@minValue(1)
@maxValue(120)
param httpTimeout int = 10

@description('MFA_MAX_DELIVERY_ATTEMPTS: attempts (one per run) before an alert is recorded as dead.')
@minValue(1)
@maxValue(100)
param maxDeliveryAttempts int = 12

@description('MFA_STATE_TABLE: Azure Table holding the checkpoint and the outbox (created here).')
param stateTableName string = 'MfaRejectedState'

// ---------------------------------------------------------------------------------------------
// Names and constants
// ---------------------------------------------------------------------------------------------

var suffix = uniqueString(resourceGroup().id, baseName)
var compactName = take(toLower(replace(baseName, '-', '')), 9)
var storageAccountName = 'st${compactName}${suffix}'
var keyVaultName = 'kv${compactName}${suffix}'
var deploymentContainerName = 'app-package'

// MFA_FANOUT=queue: the queue of one message per workspace, and the poison queue the Functions host
// moves a message to after maxDequeueCount failed attempts (its name is fixed: <queue>-poison).
var fanoutToQueue = fanout == 'queue'
var fanoutQueueName = 'mfa-rejected-workspaces'
var fanoutPoisonQueueName = '${fanoutQueueName}-poison'

// The extra workspaces this deployment grants access to, and those an Azure Lighthouse delegation
// grants (listed with their workspaceId).
var grantedWorkspaces = filter(additionalWorkspaces, workspace => (workspace.?grantAccess) ?? true)
var delegatedWorkspaces = filter(additionalWorkspaces, workspace => !((workspace.?grantAccess) ?? true))
var manyWorkspaces = !empty(additionalWorkspaces)

var teamsWebhookSecretName = 'mfa-teams-webhook-url'
var webhookUrlSecretName = 'mfa-webhook-url'
var webhookSigningSecretName = 'mfa-webhook-secret'
var slackWebhookSecretName = 'mfa-slack-webhook-url'
var pagerDutyRoutingKeySecretName = 'mfa-pagerduty-routing-key'
var jiraApiTokenSecretName = 'mfa-jira-api-token'
var serviceNowPasswordSecretName = 'mfa-servicenow-password'
var serviceNowClientSecretName = 'mfa-servicenow-client-secret'

// Built-in role definition ids (the same in every subscription and cloud).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
}

// ---------------------------------------------------------------------------------------------
// Identity: the one principal the function runs as, for everything
// ---------------------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: 'id-${baseName}'
  location: location
  tags: tags
}

// ---------------------------------------------------------------------------------------------
// Storage: host state (timer lease, keys), the deployment package, the product's state table
// ---------------------------------------------------------------------------------------------

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Entra ID only: no account keys, no SAS signed with them, no connection strings.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 7
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 7
    }
  }
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: {
    publicAccess: 'None'
  }
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: storage
  name: 'default'
}

resource stateTable 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = {
  parent: tableService
  name: stateTableName
}

// MFA_FANOUT=queue only. Both queues are created here: the identity's queue role is scoped to these
// two queues, not the account, so the host could not create the poison queue itself.
resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = if (fanoutToQueue) {
  parent: storage
  name: 'default'
}

resource fanoutQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = if (fanoutToQueue) {
  parent: queueService
  name: fanoutQueueName
}

resource fanoutPoisonQueue 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = if (fanoutToQueue) {
  parent: queueService
  name: fanoutPoisonQueueName
}

// ---------------------------------------------------------------------------------------------
// Monitoring: the function's own telemetry (not the Sentinel workspace)
// ---------------------------------------------------------------------------------------------

resource functionLogs 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: 'log-${baseName}'
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: 'appi-${baseName}'
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: functionLogs.id
    IngestionMode: 'LogAnalytics'
    // Ingestion only with an Entra token (Monitoring Metrics Publisher), not the instrumentation key.
    DisableLocalAuth: true
  }
}

// ---------------------------------------------------------------------------------------------
// Key Vault: the webhook URLs (they carry signatures or tokens), the signing secret and the
// destinations' credentials
// ---------------------------------------------------------------------------------------------

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }
}

// Created only when a value is given: an empty secret would be resolved and read as "unset".
resource teamsWebhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(teamsWebhookUrl)) {
  parent: keyVault
  name: teamsWebhookSecretName
  properties: {
    value: teamsWebhookUrl
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource webhookUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookUrl)) {
  parent: keyVault
  name: webhookUrlSecretName
  properties: {
    value: webhookUrl
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource webhookSigningSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(webhookSecret)) {
  parent: keyVault
  name: webhookSigningSecretName
  properties: {
    value: webhookSecret
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource slackWebhookSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(slackWebhookUrl)) {
  parent: keyVault
  name: slackWebhookSecretName
  properties: {
    value: slackWebhookUrl
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource pagerDutyRoutingKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(pagerDutyRoutingKey)) {
  parent: keyVault
  name: pagerDutyRoutingKeySecretName
  properties: {
    value: pagerDutyRoutingKey
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource jiraApiTokenSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(jiraApiToken)) {
  parent: keyVault
  name: jiraApiTokenSecretName
  properties: {
    value: jiraApiToken
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource serviceNowPasswordSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(serviceNowPassword)) {
  parent: keyVault
  name: serviceNowPasswordSecretName
  properties: {
    value: serviceNowPassword
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

resource serviceNowClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(serviceNowClientSecret)) {
  parent: keyVault
  name: serviceNowClientSecretName
  properties: {
    value: serviceNowClientSecret
    contentType: 'text/plain'
    attributes: {
      enabled: true
    }
  }
}

// Versionless secret URIs: a secret set or rotated later is picked up when references refresh.
var secretUriPrefix = '${keyVault.properties.vaultUri}secrets/'
var teamsWebhookReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${teamsWebhookSecretName})'
var webhookUrlReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${webhookUrlSecretName})'
var webhookSigningReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${webhookSigningSecretName})'
var slackWebhookReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${slackWebhookSecretName})'
var pagerDutyRoutingKeyReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${pagerDutyRoutingKeySecretName})'
var jiraApiTokenReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${jiraApiTokenSecretName})'
var serviceNowPasswordReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${serviceNowPasswordSecretName})'
var serviceNowClientSecretReference = '@Microsoft.KeyVault(SecretUri=${secretUriPrefix}${serviceNowClientSecretName})'

// ServiceNow takes one credential: the one whose identity is given. Referencing the other one's
// secret, never set, would leave an unresolved reference in its setting, which the app refuses.
var serviceNowBasicAuth = deliverToServiceNow && !empty(serviceNowUser)
var serviceNowOAuth = deliverToServiceNow && !empty(serviceNowClientId)

// ---------------------------------------------------------------------------------------------
// Role assignments: exactly what the function needs, scoped to the one resource that needs it
// ---------------------------------------------------------------------------------------------

// AzureWebJobsStorage (timer lease, host keys) and the deployment package container.
resource storageBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identity.id, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// MFA_STATE=table: checkpoint, outbox and dedup records. On the state table only, not the account
// (table-scoped data roles: https://learn.microsoft.com/azure/storage/tables/assign-azure-role-data-access).
// The Functions host would also write its own "diagnostic events" to tables of this account; with
// an identity it needs Storage Table Data Contributor on the account for that, so the template
// turns the feature off (AzureWebJobsFeatureFlags below) rather than grant it.
resource storageTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(stateTable.id, identity.id, roles.storageTableDataContributor)
  scope: stateTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// MFA_FANOUT=queue: the timer sends one message per workspace, MfaRejectedWorker receives and deletes
// them, and the host moves a message that keeps failing to the poison queue. On each of the two
// queues only, not the account (queue-scoped data roles:
// https://learn.microsoft.com/azure/storage/queues/assign-azure-role-data-access).
resource fanoutQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (fanoutToQueue) {
  name: guid(fanoutQueue.id, identity.id, roles.storageQueueDataContributor)
  scope: fanoutQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource fanoutPoisonQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (fanoutToQueue) {
  name: guid(fanoutPoisonQueue.id, identity.id, roles.storageQueueDataContributor)
  scope: fanoutPoisonQueue
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Entra-authenticated telemetry (APPLICATIONINSIGHTS_AUTHENTICATION_STRING; local auth is off).
resource appInsightsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identity.id, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault references in the app settings (keyVaultReferenceIdentity is this identity).
resource keyVaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, identity.id, roles.keyVaultSecretsUser)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

// Optional: lets an operator set the secrets later (RBAC vaults grant Owners no data access).
resource keyVaultSecretsOfficer 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(secretsOfficerPrincipalId)) {
  name: guid(keyVault.id, secretsOfficerPrincipalId, roles.keyVaultSecretsOfficer)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: secretsOfficerPrincipalId
    principalType: secretsOfficerPrincipalType
  }
}

// A custom role that can query only SigninLogs, IdentityInfo and BehaviorAnalytics, assigned on
// the target workspace, which may sit in another resource group or subscription.
module workspaceReader 'modules/workspace-reader.bicep' = {
  name: 'workspace-reader-${suffix}'
  scope: resourceGroup(targetWorkspaceSubscriptionId, targetWorkspaceResourceGroup)
  params: {
    workspaceName: targetWorkspaceName
    principalId: identity.properties.principalId
  }
}

// The same custom role on every additional workspace with grantAccess (the default), each in its
// own resource group and subscription, exactly as on the target.
module additionalWorkspaceReaders 'modules/workspace-reader.bicep' = [
  for (workspace, index) in grantedWorkspaces: {
    name: 'workspace-reader-${suffix}-${index}'
    scope: resourceGroup((workspace.?subscriptionId) ?? subscription().subscriptionId, workspace.resourceGroup)
    params: {
      workspaceName: workspace.workspaceName
      principalId: identity.properties.principalId
    }
  }
]

// LOG_ANALYTICS_WORKSPACE_ID for many workspaces: "label=GUID,..." with the target first, then the
// granted workspaces (their GUIDs read by the reader modules), then the delegated ones (their
// workspaceId). Built in a module: a Bicep variable loop cannot use module outputs, nor can a
// for-expression be an argument of join().
module workspaceList 'modules/workspace-list.bicep' = if (manyWorkspaces) {
  name: 'workspace-list-${suffix}'
  params: {
    targetLabel: targetWorkspaceLabel
    targetWorkspaceId: workspaceReader.outputs.customerId
    grantedWorkspaces: [
      for (workspace, index) in grantedWorkspaces: {
        name: workspace.name
        workspaceId: additionalWorkspaceReaders[index].outputs.customerId
      }
    ]
    delegatedWorkspaces: delegatedWorkspaces
  }
}

// ---------------------------------------------------------------------------------------------
// Audit logs: who read or changed a secret, the state table or the host's blobs
// ---------------------------------------------------------------------------------------------

var diagnosticsWorkspace = empty(diagnosticsWorkspaceId) ? functionLogs.id : diagnosticsWorkspaceId

// Key Vault data-plane operations (secret get/set/list, denied requests), table AzureDiagnostics.
resource keyVaultDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: keyVault
  properties: {
    workspaceId: diagnosticsWorkspace
    logs: [
      {
        category: 'AuditEvent'
        enabled: true
      }
    ]
  }
}

// Storage resource logs are set per service; they land in StorageTableLogs and StorageBlobLogs.
var storageLogs = [
  {
    category: 'StorageRead'
    enabled: true
  }
  {
    category: 'StorageWrite'
    enabled: true
  }
  {
    category: 'StorageDelete'
    enabled: true
  }
]

resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: tableService
  properties: {
    workspaceId: diagnosticsWorkspace
    logs: storageLogs
  }
}

// The host's own storage (host and timer leases, keys) and the deployment package. The host
// renews its blob leases all the time an instance runs: most of the volume.
resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'audit-to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: diagnosticsWorkspace
    logs: storageLogs
  }
}

// ---------------------------------------------------------------------------------------------
// Flex Consumption plan and the function app
// ---------------------------------------------------------------------------------------------

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${baseName}'
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: functionAppName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identity.id
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      // Flex Consumption rejects siteConfig.ftpsState (ARM error 51021; FTP is not offered on
      // Flex). FTP and SCM basic-auth publishing are switched off below instead.
      minTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        // Functions host: identity-based AzureWebJobsStorage (no connection string exists).
        {
          name: 'AzureWebJobsStorage__accountName'
          value: storage.name
        }
        {
          name: 'AzureWebJobsStorage__credential'
          value: 'managedidentity'
        }
        {
          name: 'AzureWebJobsStorage__clientId'
          value: identity.properties.clientId
        }
        // The state table's endpoint, built for whichever cloud this is deployed to.
        {
          name: 'AzureWebJobsStorage__tableServiceUri'
          value: 'https://${storage.name}.table.${environment().suffixes.storage}'
        }
        // The queue endpoint: MFA_FANOUT=queue sends to it, and MfaRejectedWorker's trigger reads it.
        {
          name: 'AzureWebJobsStorage__queueServiceUri'
          value: 'https://${storage.name}.queue.${environment().suffixes.storage}'
        }
        // The host's diagnostic events (AzureFunctionsDiagnosticEvents* tables) off: the identity
        // may use the state table only. They are copies of host errors that Application Insights
        // receives anyway (azure-functions-host PR #10996: a host without table access disables them).
        {
          name: 'AzureWebJobsFeatureFlags'
          value: 'DisableDiagnosticEventLogging'
        }
        // Application Insights with Entra authentication (local auth is disabled).
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: appInsights.properties.ConnectionString
        }
        {
          name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING'
          value: 'ClientId=${identity.properties.clientId};Authorization=AAD'
        }
        // DefaultAzureCredential picks this user-assigned identity.
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        // Source: the live Sentinel workspace.
        {
          name: 'MFA_SOURCE'
          value: 'loganalytics'
        }
        // One workspace: its GUID. Several: "label=GUID,label=GUID,..." (the target first).
        {
          name: 'LOG_ANALYTICS_WORKSPACE_ID'
          value: manyWorkspaces ? workspaceList.outputs.value : workspaceReader.outputs.customerId
        }
        // Its resource id (in its own subscription and resource group), only for the "Open the
        // query in Log Analytics" link alerts carry. It names one workspace: with several, each
        // workspace's resource id goes in a workspaces file (docs/workspaces.md).
        {
          name: 'MFA_WORKSPACE_RESOURCE_ID'
          value: manyWorkspaces ? '' : workspaceReader.outputs.workspaceResourceId
        }
        // A workspaces file is shipped in the deployment package; set its path afterwards.
        {
          name: 'MFA_WORKSPACES_FILE'
          value: ''
        }
        {
          name: 'MFA_WORKSPACE_CONCURRENCY'
          value: string(workspaceConcurrency)
        }
        {
          name: 'MFA_FANOUT'
          value: fanout
        }
        {
          name: 'MFA_FANOUT_QUEUE'
          value: fanoutQueueName
        }
        {
          name: 'MFA_LA_ENDPOINT'
          value: logAnalyticsEndpoint
        }
        {
          name: 'MFA_LA_SERVER_TIMEOUT'
          value: string(logAnalyticsServerTimeout)
        }
        // Schedule and windows.
        {
          name: 'MFA_SCHEDULE'
          value: schedule
        }
        {
          name: 'MFA_LOOKBACK'
          value: lookback
        }
        {
          name: 'MFA_INGESTION_DELAY'
          value: ingestionDelay
        }
        {
          name: 'MFA_MAX_CATCHUP'
          value: maxCatchup
        }
        {
          name: 'MFA_LATE_DATA'
          value: lateData
        }
        {
          name: 'MFA_NO_DATA_AFTER'
          value: noDataAfter
        }
        {
          name: 'MFA_IDENTITY_LOOKBACK'
          value: identityLookback
        }
        {
          name: 'MFA_RISK_SCORE_CUTOFF'
          value: string(riskScoreCutoff)
        }
        // Alerts and delivery: secrets are Key Vault references, never values. An empty value
        // means "not configured" (app settings cannot be deleted from a template).
        {
          name: 'MFA_ALERT_GROUPING'
          value: alertGrouping
        }
        {
          name: 'MFA_TEAMS_WEBHOOK_URL'
          value: deliverToTeams ? teamsWebhookReference : ''
        }
        {
          name: 'MFA_WEBHOOK_URL'
          value: deliverToWebhook ? webhookUrlReference : ''
        }
        {
          name: 'MFA_WEBHOOK_SECRET'
          value: deliverToWebhook ? webhookSigningReference : ''
        }
        // Native destinations: a switch off empties its destination's settings. The settings with
        // a default in the code always take their parameter: blank is not "unset" for them.
        {
          name: 'MFA_SLACK_WEBHOOK_URL'
          value: deliverToSlack ? slackWebhookReference : ''
        }
        {
          name: 'MFA_PAGERDUTY_ROUTING_KEY'
          value: deliverToPagerDuty ? pagerDutyRoutingKeyReference : ''
        }
        {
          name: 'MFA_PAGERDUTY_URL'
          value: pagerDutyUrl
        }
        {
          name: 'MFA_JIRA_URL'
          value: deliverToJira ? jiraUrl : ''
        }
        {
          name: 'MFA_JIRA_PROJECT'
          value: deliverToJira ? jiraProject : ''
        }
        {
          name: 'MFA_JIRA_ISSUE_TYPE'
          value: jiraIssueType
        }
        {
          name: 'MFA_JIRA_EMAIL'
          value: deliverToJira ? jiraEmail : ''
        }
        {
          name: 'MFA_JIRA_API_TOKEN'
          value: deliverToJira ? jiraApiTokenReference : ''
        }
        {
          name: 'MFA_SERVICENOW_URL'
          value: deliverToServiceNow ? serviceNowUrl : ''
        }
        {
          name: 'MFA_SERVICENOW_TABLE'
          value: serviceNowTable
        }
        {
          name: 'MFA_SERVICENOW_USER'
          value: deliverToServiceNow ? serviceNowUser : ''
        }
        {
          name: 'MFA_SERVICENOW_PASSWORD'
          value: serviceNowBasicAuth ? serviceNowPasswordReference : ''
        }
        {
          name: 'MFA_SERVICENOW_CLIENT_ID'
          value: deliverToServiceNow ? serviceNowClientId : ''
        }
        {
          name: 'MFA_SERVICENOW_CLIENT_SECRET'
          value: serviceNowOAuth ? serviceNowClientSecretReference : ''
        }
        {
          name: 'MFA_CONSOLE'
          value: 'false'
        }
        {
          name: 'MFA_ALLOW_NO_SINK'
          value: string(allowNoSink)
        }
        {
          name: 'MFA_HTTP_TIMEOUT'
          value: string(httpTimeout)
        }
        {
          name: 'MFA_MAX_DELIVERY_ATTEMPTS'
          value: string(maxDeliveryAttempts)
        }
        {
          name: 'MFA_SUPPRESSION'
          value: suppression
        }
        // State: Azure Table storage in the function's own account.
        {
          name: 'MFA_STATE'
          value: 'table'
        }
        {
          name: 'MFA_STATE_TABLE'
          value: stateTable.name
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
  // The host starts as soon as the site exists: grant its access first, so the timer lease,
  // telemetry and Key Vault references work on the first start.
  dependsOn: [
    deploymentContainer
    storageBlobOwner
    storageTableContributor
    appInsightsPublisher
    keyVaultSecretsUser
    fanoutQueueContributor
    fanoutPoisonQueueContributor
  ]
}

// No basic-auth (user name and password) publishing at all: deploy with an Entra token.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: functionApp
  name: 'scm'
  properties: {
    allow: false
  }
}

// ---------------------------------------------------------------------------------------------
// Run health: alerts when the detection itself goes quiet (runHealthAlerts)
// ---------------------------------------------------------------------------------------------

// Every run ends with one record from the logger shared.runner: "run finished key=value ...", with
// "error=<text>" only when the run failed (shared/runner.py). The rules query them where
// docs/deploy.md does: scoped to the Application Insights component, whose "traces" table (column
// "message") holds this app's telemetry only. The same rows are AppTraces ("Message") in the
// workspace log-<baseName>, which also receives the audit logs; the component scope keeps the rules
// on the app's own telemetry and their queries identical to the guide's.
//
// Two rules rather than one query for both: each alert then says which condition holds, and each
// has the window it needs. Both are stateful (autoMitigate): one notification when an alert fires
// and one when it resolves, not one per evaluation. No managed identity: a rule queries its own
// scope with Azure Monitor's access; an identity is needed only for cross-resource queries.
var runRecordsQuery = 'traces\n| where message startswith "run finished "'

// (1) No run finished in 2 hours: the timer fires hourly (MFA_SCHEDULE), so a 2-hour window holds
// two runs. Fires when the query returns no row at all: the app stopped, the timer no longer fires,
// the host cannot start, or settings fail to load before a run begins (no record is written then).
var runSilenceWindow = 'PT2H'
var runSilenceQuery = '${runRecordsQuery}\n| project timestamp, message'

// (2) The last 3 runs all failed. The window is wide enough to hold 3 hourly runs with room to spare;
// fewer than 3 runs in it is left to rule (1). A failed run carries " error=" (other fields never
// end in "error", and the leading space keeps a future "x_error=" field from matching).
var runFailureCount = 3
var runFailureWindow = 'PT6H'
var runFailureQuery = '${runRecordsQuery}\n| top ${runFailureCount} by timestamp desc\n| summarize runs = count(), failed = countif(message contains " error=")\n| where runs == ${runFailureCount} and failed == runs'

// Evaluated every 15 minutes: an alert at most 15 minutes after its condition holds (the silence
// alert about 2 h 15 min after the last run), and a resolution soon after runs succeed again.
var runHealthEvaluationFrequency = 'PT15M'

var runHealthWebhookReceiver = {
  name: 'webhook'
  serviceUri: runHealthWebhookUrl
  useCommonAlertSchema: true
}
var runHealthWebhookReceivers = empty(runHealthWebhookUrl) ? [] : [runHealthWebhookReceiver]
var runHealthHasReceivers = !(empty(runHealthAlertEmails) && empty(runHealthWebhookUrl))

// Only with a receiver: without one, the alerts still show in Azure Monitor > Alerts.
resource runHealthActionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (runHealthAlerts && runHealthHasReceivers) {
  name: 'ag-${baseName}-run-health'
  // Action groups are global resources.
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'mfa-rejected'
    enabled: true
    emailReceivers: [
      for (address, index) in runHealthAlertEmails: {
        name: 'email-${index}'
        emailAddress: address
        useCommonAlertSchema: true
      }
    ]
    webhookReceivers: runHealthWebhookReceivers
  }
}

var runHealthActionGroups = runHealthHasReceivers ? [runHealthActionGroup.id] : []

resource runSilenceAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = if (runHealthAlerts) {
  name: 'alert-${baseName}-no-run'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'mfa-rejected: no run finished in 2 hours'
    description: 'The function ${functionAppName} logged no "run finished" record in the last 2 hours although its timer runs hourly: MFA-rejected detection is not running. Check the app (started?), its invocations and its host logs in ${appInsights.name}.'
    severity: runHealthAlertSeverity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: runHealthEvaluationFrequency
    windowSize: runSilenceWindow
    criteria: {
      allOf: [
        {
          query: runSilenceQuery
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: runHealthActionGroups
    }
  }
}

resource runFailureAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = if (runHealthAlerts) {
  name: 'alert-${baseName}-runs-failing'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'mfa-rejected: the last 3 runs failed'
    description: 'The last 3 "run finished" records of the function ${functionAppName} all carry error=: detection or delivery keeps failing. The error text is in the records (${appInsights.name}, traces).'
    severity: runHealthAlertSeverity
    enabled: true
    scopes: [
      appInsights.id
    ]
    evaluationFrequency: runHealthEvaluationFrequency
    windowSize: runFailureWindow
    criteria: {
      allOf: [
        {
          query: runFailureQuery
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: runHealthActionGroups
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (used by docs/deploy.md)
// ---------------------------------------------------------------------------------------------

output functionAppName string = functionApp.name
output functionAppHostName string = functionApp.properties.defaultHostName
output identityClientId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output identityResourceId string = identity.id
output keyVaultName string = keyVault.name
output storageAccountName string = storage.name
output applicationInsightsName string = appInsights.name
output logAnalyticsWorkspaceId string = workspaceReader.outputs.customerId
output targetWorkspaceResourceId string = workspaceReader.outputs.workspaceResourceId
output workspaceReaderRoleAssignmentId string = workspaceReader.outputs.roleAssignmentId
output workspaceReaderRoleDefinitionId string = workspaceReader.outputs.roleDefinitionId
output workspaceReaderRoleName string = workspaceReader.outputs.roleName
// The role assignments on the additional workspaces with grantAccess (delete them on removal).
output additionalWorkspaceReaderRoleAssignmentIds array = [
  for (workspace, index) in grantedWorkspaces: additionalWorkspaceReaders[index].outputs.roleAssignmentId
]
output diagnosticsWorkspaceResourceId string = diagnosticsWorkspace
