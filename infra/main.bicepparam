using 'main.bicep'

// A typical deployment: a new Azure OpenAI account with one gpt-5.4-mini deployment, a user-assigned
// identity, Entra ID caller authentication and no browser origin yet. Values read from the environment
// work the same with the Azure CLI (export them first) and with azd (azd env set NAME VALUE).

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'openai-gateway')

// The API app registration callers request tokens for (docs/deployment.md creates it): its Application
// (client) ID, and its application id URI when that is not api://<client id>.
param authClientId = readEnvironmentVariable('AUTH_CLIENT_ID', '')
param authAppIdUri = readEnvironmentVariable('AUTH_APP_ID_URI', '')

// User when a person deploys, ServicePrincipal when a pipeline does (the deployer gets the OpenAI User role).
param developerPrincipalType = readEnvironmentVariable('DEVELOPER_PRINCIPAL_TYPE', 'User')

// Add each frontend origin here, such as 'https://app.contoso.com'; a wildcard is refused.
param corsAllowedOrigins = []

param identityType = 'UserAssigned'
param callerAuthMode = 'entra'
param openAiDeploymentName = 'gpt-5.4-mini'
param openAiModelName = 'gpt-5.4-mini'
param openAiModelVersion = ''
param openAiDeploymentSkuName = 'GlobalStandard'
param openAiDeploymentCapacity = 50
param grantModelCatalogRead = false

// true counts the per-caller limits in Azure Managed Redis shared by every instance (billed while it exists):
// export SHARED_CALLER_LIMITS=true, or azd env set SHARED_CALLER_LIMITS true.
param sharedCallerLimits = bool(readEnvironmentVariable('SHARED_CALLER_LIMITS', 'false'))
