metadata description = 'Log Analytics and workspace-based Application Insights that accept only Entra ID authenticated telemetry.'

@description('Azure region of the workspace and the Application Insights component.')
param location string

@description('Tags applied to every resource in this module.')
param tags { *: string }

@description('Name of the Log Analytics workspace.')
param workspaceName string

@description('Name of the Application Insights component.')
param appInsightsName string

@description('Days the workspace keeps logs.')
@minValue(30)
@maxValue(730)
param retentionInDays int

resource workspace 'Microsoft.OperationalInsights/workspaces@2026-03-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: retentionInDays
    features: {
      // NOTE: queries need Entra ID too; no shared workspace key is usable.
      disableLocalAuth: true
    }
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    // NOTE: with local auth off, the instrumentation key in the connection string cannot send telemetry
    // on its own: senders must present an Entra ID token (Monitoring Metrics Publisher).
    DisableLocalAuth: true
  }
}

@description('Name of the Application Insights component.')
output appInsightsName string = appInsights.name

@description('Application Insights connection string. Not a secret: local authentication is disabled.')
output appInsightsConnectionString string = appInsights.properties.ConnectionString
