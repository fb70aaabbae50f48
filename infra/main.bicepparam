using 'main.bicep'

// A typical deployment: a new Azure OpenAI account with one gpt-4.1-mini deployment, a user-assigned
// identity, Entra ID caller authentication and no browser origin yet. Values read from the environment
// work the same with the Azure CLI (export them first) and with azd (azd env set NAME VALUE).

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'openai-gateway')

// The API app registration callers request tokens for: its application id URI (api://...) or client id.
param authAudience = readEnvironmentVariable('AUTH_AUDIENCE', '')

// Add each frontend origin here, such as 'https://app.contoso.com'; a wildcard is refused.
param corsAllowedOrigins = []

param identityType = 'UserAssigned'
param callerAuthMode = 'entra'
param openAiDeploymentName = 'gpt-4.1-mini'
param openAiModelName = 'gpt-4.1-mini'
param openAiModelVersion = '2025-04-14'
param openAiDeploymentSkuName = 'GlobalStandard'
param openAiDeploymentCapacity = 50
param grantModelCatalogRead = false
