metadata description = 'Data-plane roles the Functions host needs: blob, queue and table storage for its own state and package, telemetry publishing.'

@description('Principal (object) id of the function app\'s managed identity.')
param principalId string

@description('Name of the host storage account in this resource group.')
param storageAccountName string

@description('Name of the Application Insights component in this resource group.')
param appInsightsName string

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb'

resource storage 'Microsoft.Storage/storageAccounts@2026-04-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// NOTE: AzureWebJobsStorage__accountName points the host at the account's blob, queue and table endpoints, so
// it gets all three roles, as Microsoft's Flex Consumption template function-app-flex-managed-identities grants.
var hostStorageRoles = [storageBlobDataOwner, storageQueueDataContributor, storageTableDataContributor]

resource storageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in hostStorageRoles: {
    name: guid(storage.id, principalId, role)
    scope: storage
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    }
  }
]

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
  }
}
