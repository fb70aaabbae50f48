metadata description = 'An Azure Monitor workbook over the gateway\'s telemetry: tokens per caller, top callers, time to first chunk, 429s by cause.'

@description('Azure region of the workbook.')
param location string

@description('Tags applied to the workbook.')
param tags { *: string }

@description('Name of the Application Insights component the workbook queries.')
param appInsightsName string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// NOTE: the same queries as the README's operations section; metrics come from customMetrics, percentiles
// from spans in dependencies (Application Insights keeps only sum, count, min and max of a histogram).
var tokensPerCallerPerDay = '''
customMetrics
| where name == "gen_ai.client.token.usage"
| summarize tokens = sum(valueSum) by day = bin(timestamp, 1d), caller = tostring(customDimensions["gateway.caller"]),
    deployment = tostring(customDimensions["gen_ai.request.model"]), tokenType = tostring(customDimensions["gen_ai.token.type"])
| order by day desc, tokens desc
'''

var topCallers = '''
dependencies
| where isnotempty(customDimensions["gateway.request_id"])
| extend tokens = toint(customDimensions["gen_ai.usage.input_tokens"]) + toint(customDimensions["gen_ai.usage.output_tokens"])
| summarize tokens = sum(tokens), requests = count() by caller = tostring(customDimensions["gateway.caller"])
| top 10 by tokens
'''

var timeToFirstChunk = '''
dependencies
| where isnotempty(customDimensions["gen_ai.response.time_to_first_chunk"])
| summarize p95_seconds = percentile(todouble(customDimensions["gen_ai.response.time_to_first_chunk"]), 95), streams = count()
    by deployment = tostring(customDimensions["gen_ai.request.model"])
'''

var throttledByCause = '''
customMetrics
| where name == "gateway.requests.throttled"
| summarize throttled = sum(valueSum) by bin(timestamp, 1h), cause = tostring(customDimensions["gateway.throttle.cause"])
| render timechart
'''

var panels = [
  {
    title: 'Tokens per caller per day'
    query: tokensPerCallerPerDay
    visualization: 'table'
  }
  {
    title: 'Top callers by tokens'
    query: topCallers
    visualization: 'table'
  }
  {
    title: 'p95 time to first chunk by deployment (seconds)'
    query: timeToFirstChunk
    visualization: 'table'
  }
  {
    title: '429s by cause'
    query: throttledByCause
    visualization: 'timechart'
  }
]

var workbook = {
  version: 'Notebook/1.0'
  items: concat(
    [
      {
        type: 1
        content: {
          json: '## Keyless OpenAI gateway: usage\nCallers appear as the hash their request log lines carry; `other` folds callers beyond 100 per instance and 12 hours.'
        }
        name: 'intro'
      }
    ],
    map(panels, panel => {
      type: 3
      content: {
        version: 'KqlItem/1.0'
        query: trim(panel.query)
        size: 0
        title: panel.title
        timeContext: {
          durationMs: 604800000
        }
        queryType: 0
        resourceType: 'microsoft.insights/components'
        visualization: panel.visualization
      }
      name: panel.title
    })
  )
  fallbackResourceIds: [
    appInsights.id
  ]
}

resource usage 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsights.id, 'gateway-usage-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Keyless OpenAI gateway usage (${appInsightsName})'
    category: 'workbook'
    sourceId: appInsights.id
    serializedData: string(workbook)
    version: 'Notebook/1.0'
  }
}

@description('Resource id of the workbook.')
output workbookId string = usage.id
