metadata description = 'Keyless OpenAI gateway: a Flex Consumption function app that reaches Azure OpenAI with its managed identity only.'

// ---------------------------------------------------------------------------------------------------
// General
// ---------------------------------------------------------------------------------------------------

@description('Name of the environment (azd sets it); seeds the unique suffix of every resource name.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Azure region of the function app, its storage and monitoring.')
param location string = resourceGroup().location

@description('Tags applied to every resource.')
param tags { *: string } = {}

// ---------------------------------------------------------------------------------------------------
// Function app
// ---------------------------------------------------------------------------------------------------

@description('Name of the function app (its host name is NAME.azurewebsites.net); empty for a generated unique name.')
@maxLength(60)
param functionAppName string = ''

@description('Which managed identity the app uses for storage, monitoring and Azure OpenAI. UserAssigned also sets AZURE_CLIENT_ID.')
@allowed([
  'UserAssigned'
  'SystemAssigned'
])
param identityType string = 'UserAssigned'

@description('Memory of each Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Most instances the app scales out to. Caller limits are per instance unless sharedCallerLimits is true, so this also bounds the total rate.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for the HTTP trigger group (billed while idle); 0 for none.')
@minValue(0)
@maxValue(100)
param alwaysReadyHttpInstances int = 0

@description('Days Log Analytics keeps the app\'s logs.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

// ---------------------------------------------------------------------------------------------------
// Azure OpenAI
// ---------------------------------------------------------------------------------------------------

@description('Name of an existing Azure OpenAI account to use; empty to create a new account.')
param existingOpenAiAccountName string = ''

@description('Resource group of the existing account (same subscription); empty for this resource group.')
param existingOpenAiResourceGroupName string = ''

@description('Name of a new Azure OpenAI account (also its globally unique subdomain); empty for a generated unique name.')
@maxLength(64)
param openAiAccountName string = ''

@description('Azure region of a new Azure OpenAI account; the model must be offered there.')
param openAiLocation string = location

@description('Whether a new Azure OpenAI account is reachable from public networks.')
@allowed([
  'Enabled'
  'Disabled'
])
param openAiPublicNetworkAccess string = 'Enabled'

@description('Deployment the gateway calls by default (AZURE_OPENAI_DEPLOYMENT): created in a new account, or the name of one in an existing account.')
@minLength(1)
@maxLength(64)
param openAiDeploymentName string = 'gpt-5.4-mini'

@description('Model of the deployment created in a new account: a chat model (GA, not Legacy or Deprecated).')
param openAiModelName string = 'gpt-5.4-mini'

@description('Model version of the deployment created in a new account; empty for the default version, which Azure keeps current (auto-update to default). A pinned version moves to the default when it retires.')
param openAiModelVersion string = ''

@description('SKU of the deployment created in a new account, such as GlobalStandard, DataZoneStandard or Standard.')
param openAiDeploymentSkuName string = 'GlobalStandard'

@description('Capacity of the deployment created in a new account, in thousands of tokens per minute.')
@minValue(1)
param openAiDeploymentCapacity int = 50

@description('Azure OpenAI data-plane API version the gateway calls (AZURE_OPENAI_API_VERSION): v1 (the v1 API), or a dated version such as 2024-10-21.')
param openAiApiVersion string = 'v1'

@description('Deployments callers may choose with "model" (AZURE_OPENAI_ALLOWED_DEPLOYMENTS); the default deployment is always included.')
param openAiAllowedDeployments string[] = []

// ---------------------------------------------------------------------------------------------------
// Access for people and tools
// ---------------------------------------------------------------------------------------------------

@description('Principal (object) id that also gets Cognitive Services OpenAI User, for local development with az login; defaults to whoever deploys, empty for none.')
param developerPrincipalId string = deployer().objectId

@description('Kind of developerPrincipalId: User for a person, ServicePrincipal for a CI identity, Group for a group (DEVELOPER_PRINCIPAL_TYPE in main.bicepparam).')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param developerPrincipalType string = 'User'

@description('Grant the app read access to the subscription-wide model catalog (GET /api/catalog/models) through a custom role holding only Microsoft.CognitiveServices/locations/models/read. Needs permission to create role definitions.')
param grantModelCatalogRead bool = false

// ---------------------------------------------------------------------------------------------------
// Callers
// ---------------------------------------------------------------------------------------------------

@description('How callers authenticate (AUTH_MODE): entra validates an Entra ID bearer token; anonymous lets anyone who can reach the app spend the quota and is accepted only with allowAnonymousCallers.')
@allowed([
  'entra'
  'anonymous'
])
param callerAuthMode string = 'entra'

@description('Confirms that callerAuthMode anonymous is intended: the app becomes an open proxy to Azure OpenAI.')
param allowAnonymousCallers bool = false

@description('Tenant whose tokens callers present (AUTH_TENANT_ID); defaults to the deployment\'s tenant.')
param authTenantId string = tenant().tenantId

@description('Application (client) ID of the API app registration callers get tokens for (AUTH_CLIENT_ID): the audience of v2 tokens. Required in entra mode.')
param authClientId string = ''

@description('Application id URI of that registration (AUTH_APP_ID_URI), the audience of v1 tokens; empty for api://<authClientId>.')
param authAppIdUri string = ''

@description('Delegated scope every signed-in user\'s token must carry (AUTH_REQUIRED_SCOPE).')
@minLength(1)
param authRequiredScope string = 'access_as_user'

@description('App role every caller token must carry (AUTH_REQUIRED_ROLE); empty for none. App-only (client-credentials) tokens are accepted only when it is set.')
param authRequiredRole string = ''

@description('Browser origins allowed to call the app (platform CORS), such as https://app.contoso.com. A wildcard is refused.')
param corsAllowedOrigins string[] = []

// ---------------------------------------------------------------------------------------------------
// Per-caller limits (per instance, or shared with sharedCallerLimits)
// ---------------------------------------------------------------------------------------------------

@description('Count the per-caller limits in Azure Managed Redis shared by every instance (LIMITS_STORE=redis), reached with the app\'s managed identity and no access key; false counts them in each instance\'s memory and creates no Redis.')
param sharedCallerLimits bool = false

@description('SKU of the Azure Managed Redis cluster created when sharedCallerLimits is true; Balanced_B0, the smallest Balanced size, is ample for counters that expire within minutes.')
param limitsStoreSkuName string = 'Balanced_B0'

@description('Requests per minute per caller (LIMIT_REQUESTS_PER_MINUTE); 0 for no limit.')
@minValue(0)
@maxValue(1000000)
param limitRequestsPerMinute int = 60

@description('Tokens per minute per caller, by the usage Azure OpenAI reports (LIMIT_TOKENS_PER_MINUTE); 0 for no limit.')
@minValue(0)
@maxValue(100000000)
param limitTokensPerMinute int = 60000

@description('Completion cap of every upstream request, and the largest max_tokens a caller may ask for (LIMIT_MAX_TOKENS).')
@minValue(1)
@maxValue(1000000)
param limitMaxTokens int = 4096

@description('Hosted Responses tools callers may use, by type, such as web_search (RESPONSES_ALLOWED_HOSTED_TOOLS); empty for function tools only. Hosted tools act with the app\'s identity.')
param responsesAllowedHostedTools string[] = []

@description('Concurrent streams per caller (LIMIT_CONCURRENT_STREAMS); 0 for no limit.')
@minValue(0)
@maxValue(10000)
param limitConcurrentStreams int = 4

@description('Completion tokens per choice reserved when a request is admitted, before its real usage is known (LIMIT_EXPECTED_COMPLETION_TOKENS).')
@minValue(1)
@maxValue(1000000)
param limitExpectedCompletionTokens int = 256

// ---------------------------------------------------------------------------------------------------
// Derived values
// ---------------------------------------------------------------------------------------------------

var resourceToken = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName })
var userAssigned = identityType == 'UserAssigned'
var useExistingOpenAi = !empty(existingOpenAiAccountName)
var openAiResourceGroupName = useExistingOpenAi && !empty(existingOpenAiResourceGroupName)
  ? existingOpenAiResourceGroupName
  : resourceGroup().name
var newOpenAiAccountName = empty(openAiAccountName) ? 'oai-${resourceToken}' : openAiAccountName
var resolvedOpenAiAccountName = useExistingOpenAi ? existingOpenAiAccountName : newOpenAiAccountName
var resolvedFunctionAppName = empty(functionAppName) ? 'func-api-${resourceToken}' : functionAppName
var deploymentContainerName = 'app-package'

// NOTE: anonymous callers must be asked for twice, and entra mode without the API's client id would deploy an
// app that refuses to start: both fail the deployment with a message that says what to set.
var apiClientId = toLower(trim(authClientId))
var effectiveCallerAuthMode = callerAuthMode == 'anonymous'
  ? (allowAnonymousCallers
      ? 'anonymous'
      : fail('callerAuthMode is anonymous but allowAnonymousCallers is false: anyone could spend the Azure OpenAI quota. Set allowAnonymousCallers to true to confirm, or use entra.'))
  : (empty(apiClientId)
      ? fail('authClientId is empty: entra caller authentication needs the API app registration\'s Application (client) ID (set AUTH_CLIENT_ID).')
      : (length(apiClientId) != 36 || length(split(apiClientId, '-')) != 5
          ? fail('authClientId must be the API app registration\'s Application (client) ID, a GUID; its api:// URI goes in authAppIdUri (AUTH_APP_ID_URI).')
          : 'entra'))
var apiAppIdUri = empty(trim(authAppIdUri)) ? (empty(apiClientId) ? '' : 'api://${apiClientId}') : trim(authAppIdUri)

var trimmedCorsOrigins = map(corsAllowedOrigins, origin => trim(origin))
var checkedCorsOrigins = empty(filter(trimmedCorsOrigins, origin => contains(origin, '*') || empty(origin)))
  ? trimmedCorsOrigins
  : fail('corsAllowedOrigins may not contain a wildcard or an empty entry: list each browser origin, such as https://app.contoso.com.')

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2024-11-30' = if (userAssigned) {
  name: 'id-${resourceToken}'
  location: location
  tags: allTags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring-${resourceToken}'
  params: {
    location: location
    tags: allTags
    workspaceName: 'log-${resourceToken}'
    appInsightsName: 'appi-${resourceToken}'
    retentionInDays: logRetentionInDays
  }
}

module usageWorkbook 'modules/usageWorkbook.bicep' = {
  name: 'usage-workbook-${resourceToken}'
  params: {
    location: location
    tags: allTags
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage-${resourceToken}'
  params: {
    location: location
    tags: allTags
    name: 'st${resourceToken}'
    deploymentContainerName: deploymentContainerName
  }
}

module openAi 'modules/openAi.bicep' = if (!useExistingOpenAi) {
  name: 'openai-${resourceToken}'
  params: {
    location: openAiLocation
    tags: allTags
    name: newOpenAiAccountName
    publicNetworkAccess: openAiPublicNetworkAccess
    deploymentName: openAiDeploymentName
    modelName: openAiModelName
    modelVersion: openAiModelVersion
    deploymentSkuName: openAiDeploymentSkuName
    deploymentCapacity: openAiDeploymentCapacity
  }
}

module limitsStore 'modules/limitsStore.bicep' = if (sharedCallerLimits) {
  name: 'limits-store-${resourceToken}'
  params: {
    location: location
    tags: allTags
    name: 'redis-${resourceToken}'
    skuName: limitsStoreSkuName
  }
}

resource existingOpenAi 'Microsoft.CognitiveServices/accounts@2026-07-01' existing = if (useExistingOpenAi) {
  scope: resourceGroup(openAiResourceGroupName)
  name: existingOpenAiAccountName
}

var openAiEndpoint = useExistingOpenAi ? existingOpenAi!.properties.endpoint : openAi!.outputs.endpoint
var openAiAccountLocation = useExistingOpenAi ? existingOpenAi!.location : openAiLocation

var identityClientId = userAssigned ? identity!.properties.clientId : ''

// NOTE: the names below are the Functions platform's; the gateway's own settings follow, with exactly the
// names src/lib/config.ts reads. Identity-based storage needs accountName and credential (and clientId for
// a user-assigned identity): service URIs alone race the host at startup.
var platformSettings = union(
  {
    AzureWebJobsStorage__accountName: storage.outputs.name
    AzureWebJobsStorage__credential: 'managedidentity'
    APPLICATIONINSIGHTS_CONNECTION_STRING: monitoring.outputs.appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: userAssigned
      ? 'ClientId=${identityClientId};Authorization=AAD'
      : 'Authorization=AAD'
  },
  userAssigned ? { AzureWebJobsStorage__clientId: identityClientId } : {}
)

var gatewaySettings = union(
  {
    AZURE_OPENAI_ENDPOINT: openAiEndpoint
    AZURE_OPENAI_DEPLOYMENT: openAiDeploymentName
    AZURE_OPENAI_API_VERSION: openAiApiVersion
    AZURE_OPENAI_ALLOWED_DEPLOYMENTS: join(
      union([openAiDeploymentName], openAiAllowedDeployments),
      ','
    )
    AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
    AZURE_RESOURCE_GROUP: openAiResourceGroupName
    AZURE_OPENAI_ACCOUNT_NAME: resolvedOpenAiAccountName
    AZURE_LOCATION: openAiAccountLocation
    AZURE_TENANT_ID: tenant().tenantId
    AZURE_CREDENTIAL: 'managedidentity'
    AUTH_MODE: effectiveCallerAuthMode
    AUTH_TENANT_ID: authTenantId
    AUTH_REQUIRED_SCOPE: authRequiredScope
    LIMIT_REQUESTS_PER_MINUTE: string(limitRequestsPerMinute)
    LIMIT_TOKENS_PER_MINUTE: string(limitTokensPerMinute)
    LIMIT_MAX_TOKENS: string(limitMaxTokens)
    LIMIT_CONCURRENT_STREAMS: string(limitConcurrentStreams)
    LIMIT_EXPECTED_COMPLETION_TOKENS: string(limitExpectedCompletionTokens)
    RESPONSES_ALLOWED_HOSTED_TOOLS: join(responsesAllowedHostedTools, ',')
  },
  userAssigned ? { AZURE_CLIENT_ID: identityClientId } : {},
  empty(apiClientId) ? {} : { AUTH_CLIENT_ID: apiClientId, AUTH_APP_ID_URI: apiAppIdUri },
  empty(authRequiredRole) ? {} : { AUTH_REQUIRED_ROLE: authRequiredRole },
  // NOTE: TLS and Entra authentication are the app's defaults too; stated here so that the store is never reached
  // any other way. The Redis user is the identity's object id, which the token carries.
  sharedCallerLimits
    ? {
        LIMITS_STORE: 'redis'
        LIMITS_REDIS_HOST: limitsStore!.outputs.hostName
        LIMITS_REDIS_PORT: string(limitsStore!.outputs.port)
        LIMITS_REDIS_TLS: 'true'
        LIMITS_REDIS_AUTH: 'entra'
      }
    : {}
)

module functionApp 'modules/functionApp.bicep' = {
  name: 'function-app-${resourceToken}'
  params: {
    location: location
    tags: allTags
    name: resolvedFunctionAppName
    planName: 'plan-${resourceToken}'
    identityType: identityType
    userAssignedIdentityId: userAssigned ? identity.id : ''
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReadyHttpInstances: alwaysReadyHttpInstances
    corsAllowedOrigins: checkedCorsOrigins
    appSettings: union(platformSettings, gatewaySettings)
  }
}

// NOTE: each role module comes twice, one per identity type, so that with a user-assigned identity the roles
// are granted in parallel with the function app rather than after it: role propagation is what a fresh
// deployment waits for longest.
module hostAccessUserAssigned 'modules/hostAccess.bicep' = if (userAssigned) {
  name: 'host-access-${resourceToken}'
  params: {
    principalId: identity!.properties.principalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module hostAccessSystemAssigned 'modules/hostAccess.bicep' = if (!userAssigned) {
  name: 'host-access-system-${resourceToken}'
  params: {
    principalId: functionApp.outputs.systemAssignedPrincipalId
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

// NOTE: accountName comes from the module output for a new account, so the roles wait for it to exist.
var openAiAccessAccountName = useExistingOpenAi ? existingOpenAiAccountName : openAi!.outputs.name

module openAiAccessUserAssigned 'modules/openAiAccess.bicep' = if (userAssigned) {
  name: 'openai-access-${resourceToken}'
  scope: resourceGroup(openAiResourceGroupName)
  params: {
    accountName: openAiAccessAccountName
    appPrincipalId: identity!.properties.principalId
    developerPrincipalId: developerPrincipalId
    developerPrincipalType: developerPrincipalType
  }
}

module openAiAccessSystemAssigned 'modules/openAiAccess.bicep' = if (!userAssigned) {
  name: 'openai-access-system-${resourceToken}'
  scope: resourceGroup(openAiResourceGroupName)
  params: {
    accountName: openAiAccessAccountName
    appPrincipalId: functionApp.outputs.systemAssignedPrincipalId
    developerPrincipalId: developerPrincipalId
    developerPrincipalType: developerPrincipalType
  }
}

// NOTE: clusterName comes from the module output, so the access policy waits for the database to exist.
module limitsStoreAccessUserAssigned 'modules/limitsStoreAccess.bicep' = if (sharedCallerLimits && userAssigned) {
  name: 'limits-store-access-${resourceToken}'
  params: {
    clusterName: limitsStore!.outputs.name
    appPrincipalId: identity!.properties.principalId
  }
}

module limitsStoreAccessSystemAssigned 'modules/limitsStoreAccess.bicep' = if (sharedCallerLimits && !userAssigned) {
  name: 'limits-store-access-system-${resourceToken}'
  params: {
    clusterName: limitsStore!.outputs.name
    appPrincipalId: functionApp.outputs.systemAssignedPrincipalId
  }
}

module catalogReader 'modules/catalogReader.bicep' = if (grantModelCatalogRead) {
  name: 'catalog-reader-${resourceToken}'
  scope: subscription()
  params: {
    principalId: userAssigned ? identity!.properties.principalId : functionApp.outputs.systemAssignedPrincipalId
  }
}

// ---------------------------------------------------------------------------------------------------
// Outputs: what the next steps (publish, local settings, health check) need. Nothing secret.
// ---------------------------------------------------------------------------------------------------

@description('Name of the function app, for func azure functionapp publish.')
output FUNCTION_APP_NAME string = functionApp.outputs.name

@description('Base URL of the function app; OpenAI clients use FUNCTION_APP_URL/api as baseURL.')
output FUNCTION_APP_URL string = 'https://${functionApp.outputs.defaultHostName}'

@description('Resource group of the function app (the deployment\'s resource group).')
output AZURE_RESOURCE_GROUP string = resourceGroup().name

@description('Azure OpenAI endpoint (AZURE_OPENAI_ENDPOINT).')
output AZURE_OPENAI_ENDPOINT string = openAiEndpoint

@description('Default deployment (AZURE_OPENAI_DEPLOYMENT).')
output AZURE_OPENAI_DEPLOYMENT string = openAiDeploymentName

@description('Azure OpenAI account name (AZURE_OPENAI_ACCOUNT_NAME).')
output AZURE_OPENAI_ACCOUNT_NAME string = resolvedOpenAiAccountName

@description('Resource group of the Azure OpenAI account; the app setting AZURE_RESOURCE_GROUP takes this value.')
output AZURE_OPENAI_RESOURCE_GROUP string = openAiResourceGroupName

@description('Region of the Azure OpenAI account; the app setting AZURE_LOCATION takes this value.')
output AZURE_OPENAI_LOCATION string = openAiAccountLocation

@description('Client id of the app\'s user-assigned identity (its app setting AZURE_CLIENT_ID); empty with a system-assigned identity. Named apart from AZURE_CLIENT_ID so azd\'s environment does not hand it to local credentials.')
output APP_IDENTITY_CLIENT_ID string = identityClientId

@description('Tenant of the deployment (AZURE_TENANT_ID).')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Caller authentication mode in force (AUTH_MODE).')
output AUTH_MODE string = effectiveCallerAuthMode

@description('Client id of the API app registration (AUTH_CLIENT_ID): the audience of v2 caller tokens.')
output AUTH_CLIENT_ID string = apiClientId

@description('Application id URI of the API app registration (AUTH_APP_ID_URI): callers ask for AUTH_APP_ID_URI/access_as_user.')
output AUTH_APP_ID_URI string = apiAppIdUri

@description('Resource id of the custom model catalog reader role; empty when grantModelCatalogRead is false.')
output MODEL_CATALOG_ROLE_DEFINITION_ID string = grantModelCatalogRead ? catalogReader!.outputs.roleDefinitionId : ''
