metadata description = 'Azure Managed Redis for the shared per-caller limits: one TLS-only database that accepts Microsoft Entra ID and no access key.'

// Sources for the properties below: the Microsoft.Cache/redisEnterprise 2025-07-01 REST API specification
// (Azure/azure-rest-api-specs, specification/redisenterprise/resource-manager/Microsoft.Cache/RedisEnterprise/
// stable/2025-07-01/redisenterprise.json, and its RedisEnterpriseCreate and RedisEnterpriseDatabasesCreate
// examples) and the template reference learn.microsoft.com/azure/templates/microsoft.cache/redisenterprise.

@description('Azure region of the cluster; Azure Managed Redis is not offered in every region.')
param location string

@description('Tags applied to the cluster.')
param tags { *: string }

@description('Name of the cluster; its host name is NAME.REGION.redis.azure.net.')
@minLength(1)
@maxLength(60)
param name string

@description('SKU of the cluster, such as Balanced_B0 or Balanced_B1.')
param skuName string

// NOTE: the Azure Managed Redis database port (LIMITS_REDIS_PORT); the service listens on 10000 with TLS.
var port = 10000

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: skuName
  }
  properties: {
    // NOTE: 1.2 is the highest value the 2025-07-01 API accepts; 1.0 and 1.1 are obsolete there.
    minimumTlsVersion: '1.2'
    // NOTE: required from 2025-07-01 on. The app runs on Flex Consumption without a virtual network here, so it
    // reaches the cluster over public networks; every connection still needs TLS and an Entra token.
    publicNetworkAccess: 'Enabled'
    // NOTE: a replica keeps the counters through maintenance and failover; without it the SLA does not apply.
    highAvailability: 'Enabled'
  }

  resource database 'databases' = {
    // NOTE: a cluster serves one database, and it must be named default.
    name: 'default'
    properties: {
      clientProtocol: 'Encrypted'
      port: port
      // NOTE: the app uses a single-endpoint (non-cluster) node-redis client, which the Enterprise policy serves
      // through its proxy; OSS clustering would need a cluster-aware client to follow MOVED redirects
      // (learn.microsoft.com/azure/redis/choose-clustering-policy). Either way a script's keys must share one
      // hash slot, which the caller's hash tag guarantees. The policy cannot be changed without recreating
      // the database.
      clusteringPolicy: 'EnterpriseCluster'
      // NOTE: every key expires by itself within minutes. An evicted counter would silently reset a caller's
      // limit; with NoEviction a full store answers writes with an error, which the limiter logs and handles
      // with LIMITS_REDIS_FAIL_MODE.
      evictionPolicy: 'NoEviction'
      accessKeysAuthentication: 'Disabled'
    }
  }
}

@description('Name of the cluster.')
output name string = cluster.name

@description('Host name clients connect to (LIMITS_REDIS_HOST).')
output hostName string = cluster.properties.hostName

@description('TCP port of the database (LIMITS_REDIS_PORT).')
output port int = port
