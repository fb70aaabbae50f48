metadata description = 'A Node.js 22 function app on the Flex Consumption plan, hardened, with its app settings.'

@description('Azure region of the plan and the app.')
param location string

@description('Tags applied to the plan and the app.')
param tags { *: string }

@description('Name of the function app; also its default host name.')
param name string

@description('Name of the Flex Consumption plan.')
param planName string

@description('Which managed identity the app runs as.')
@allowed([
  'UserAssigned'
  'SystemAssigned'
])
param identityType string

@description('Resource id of the user-assigned identity; empty when identityType is SystemAssigned.')
param userAssignedIdentityId string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Most instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

@description('Instances of the HTTP trigger group kept warm; 0 for none.')
@minValue(0)
param alwaysReadyHttpInstances int

@description('Origins allowed to call the app from a browser.')
param corsAllowedOrigins string[]

@description('App settings, by name.')
param appSettings { *: string }

var userAssigned = identityType == 'UserAssigned'

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: userAssigned
    ? {
        type: 'UserAssigned'
        userAssignedIdentities: {
          '${userAssignedIdentityId}': {}
        }
      }
    : {
        type: 'SystemAssigned'
      }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    publicNetworkAccess: 'Enabled'
    // NOTE: Flex Consumption refuses siteConfig properties it does not support (ARM error 51021, e.g.
    // "FtpsState ... for Flex Consumption sites is invalid") and has no FTP endpoint to switch off.
    siteConfig: {
      minTlsVersion: '1.3'
      scmMinTlsVersion: '1.2'
      cors: {
        allowedOrigins: corsAllowedOrigins
        // NOTE: callers send a bearer token in a header, never cookies, so credentialed CORS stays off.
        supportCredentials: false
      }
      appSettings: [
        for setting in items(appSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: userAssigned
            ? {
                type: 'UserAssignedIdentity'
                userAssignedIdentityResourceId: userAssignedIdentityId
              }
            : {
                type: 'SystemAssignedIdentity'
              }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyHttpInstances > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyHttpInstances
              }
            ]
          : []
      }
      // NOTE: on Flex Consumption the runtime lives here; FUNCTIONS_WORKER_RUNTIME is not an app setting.
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

@description('Name of the function app.')
output name string = site.name

@description('Default host name of the function app.')
output defaultHostName string = site.properties.defaultHostName

@description('Principal id of the system-assigned identity; empty in user-assigned mode.')
output systemAssignedPrincipalId string = userAssigned ? '' : site.identity.principalId
