metadata description = 'Data access for the function app\'s identity to the shared limits store, through a Redis access policy assignment (not an Azure role).'

@description('Name of the Azure Managed Redis cluster in this resource group.')
param clusterName string

@description('Principal (object) id of the function app\'s managed identity; also its Redis user name.')
param appPrincipalId string

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' existing = {
  name: clusterName

  resource database 'databases' existing = {
    name: 'default'
  }
}

// NOTE: data access to Azure Managed Redis is granted on the database, not with Azure RBAC. "default" is the only
// access policy the 2025-07-01 API supports (Azure/azure-rest-api-specs redisenterprise 2025-07-01,
// AccessPolicyAssignmentProperties; example RedisEnterpriseAccessPolicyAssignmentCreateUpdate); it allows the
// data commands the limits scripts run. The Redis user name is the object id
// (learn.microsoft.com/azure/redis/entra-for-authentication). Assignment names allow only letters and digits,
// so the object id without its hyphens names it: one assignment per principal, stable across deployments.
resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2025-07-01' = {
  parent: cluster::database
  name: replace(appPrincipalId, '-', '')
  properties: {
    accessPolicyName: 'default'
    user: {
      objectId: appPrincipalId
    }
  }
}
