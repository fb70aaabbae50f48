metadata description = 'A new Azure OpenAI account that accepts only Entra ID tokens, with one model deployment.'

@description('Azure region of the account; the model must be offered there.')
param location string

@description('Tags applied to the account.')
param tags { *: string }

@description('Name of the account; also its custom subdomain, so it must be globally unique.')
@minLength(2)
@maxLength(64)
param name string

@description('Whether the account is reachable from public networks.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string

@description('Name of the model deployment the gateway calls.')
param deploymentName string

@description('Model to deploy.')
param modelName string

@description('Model version to deploy; empty for the version Azure makes the default, kept current by Azure.')
param modelVersion string

@description('Deployment SKU, such as GlobalStandard or Standard.')
param deploymentSkuName string

@description('Deployment capacity in thousands of tokens per minute.')
@minValue(1)
param deploymentCapacity int

resource account 'Microsoft.CognitiveServices/accounts@2026-07-01' = {
  name: name
  location: location
  tags: tags
  kind: 'OpenAI'
  sku: {
    name: 'S0'
  }
  properties: {
    // NOTE: a custom subdomain is what makes Entra ID token authentication possible.
    customSubDomainName: name
    disableLocalAuth: true
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

resource deployment 'Microsoft.CognitiveServices/accounts/deployments@2026-07-01' = {
  parent: account
  name: deploymentName
  sku: {
    name: deploymentSkuName
    capacity: deploymentCapacity
  }
  properties: {
    // NOTE: without a version Azure assigns the model's default and, with OnceNewDefaultVersionAvailable, moves
    // the deployment along with it, so a redeploy never asks for a retired version. A pinned version moves to
    // the default only when it expires.
    model: union(
      {
        format: 'OpenAI'
        name: modelName
      },
      empty(modelVersion) ? {} : { version: modelVersion }
    )
    versionUpgradeOption: empty(modelVersion) ? 'OnceNewDefaultVersionAvailable' : 'OnceCurrentVersionExpired'
  }
}

@description('Name of the account.')
output name string = account.name

@description('Endpoint of the account, such as https://NAME.openai.azure.com/.')
output endpoint string = account.properties.endpoint

@description('Name of the model deployment.')
output deploymentName string = deployment.name
