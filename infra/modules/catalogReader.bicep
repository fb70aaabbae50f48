metadata description = 'Read access to the subscription-wide model catalog (locations/{region}/models) and nothing else.'

targetScope = 'subscription'

@description('Principal (object) id of the function app\'s managed identity.')
param principalId string

// NOTE: the region catalog is a subscription-scoped read that no account-scoped role covers. Reader would
// work but reads every resource in the subscription; this role holds the one action the catalog needs.
var catalogReadAction = 'Microsoft.CognitiveServices/locations/models/read'

resource catalogReaderRole 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  // NOTE: one definition per subscription, shared by every gateway deployed in it; role names are unique
  // per tenant, hence the subscription id in the name.
  name: guid(subscription().id, catalogReadAction)
  properties: {
    roleName: 'OpenAI gateway model catalog reader (${subscription().subscriptionId})'
    description: 'Lists the models Azure OpenAI offers in a region.'
    type: 'CustomRole'
    assignableScopes: [
      subscription().id
    ]
    permissions: [
      {
        actions: [
          catalogReadAction
        ]
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource catalogReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, catalogReaderRole.id)
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: catalogReaderRole.id
  }
}

@description('Resource id of the custom role definition.')
output roleDefinitionId string = catalogReaderRole.id
