metadata description = 'Cognitive Services OpenAI User on an Azure OpenAI account, new or existing, in the account\'s own resource group.'

@description('Name of the Azure OpenAI account in this module\'s resource group.')
param accountName string

@description('Principal (object) id of the function app\'s managed identity.')
param appPrincipalId string

@description('Principal (object) id of a developer or CI identity that also gets the role; empty for none.')
param developerPrincipalId string

@description('Kind of the developer principal.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param developerPrincipalType string

// NOTE: chat and account-level reads (deployments, models) for /api/models, and nothing that lists keys
// or writes deployments: not Cognitive Services User, not Contributor.
var cognitiveServicesOpenAiUser = '5e0bd9bd-7b93-4f28-af87-19fc36ad61bd'

resource account 'Microsoft.CognitiveServices/accounts@2026-07-01' existing = {
  name: accountName
}

resource appRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account.id, appPrincipalId, cognitiveServicesOpenAiUser)
  scope: account
  properties: {
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
  }
}

resource developerRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(developerPrincipalId)) {
  name: guid(account.id, developerPrincipalId, cognitiveServicesOpenAiUser)
  scope: account
  properties: {
    principalId: developerPrincipalId
    principalType: developerPrincipalType
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', cognitiveServicesOpenAiUser)
  }
}

@description('Endpoint of the account, such as https://NAME.openai.azure.com/.')
output endpoint string = account.properties.endpoint

@description('Azure region of the account.')
output location string = account.location
