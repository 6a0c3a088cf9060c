// Push log lines to a Loki endpoint with winston-loki, then exit.
// usage: node push.js URL KEY json|protobuf LINES_JSON
const winston = require('winston')
const LokiTransport = require('winston-loki')

const [url, key, mode, linesJson] = process.argv.slice(2)
const lines = JSON.parse(linesJson)
const transport = new LokiTransport({
  host: url,
  json: mode === 'json',
  batching: false,
  headers: { 'X-API-Key': key, 'X-Scope-OrgID': 'winston-stack' },
  labels: { service_name: 'chat-api', app: 'chat' },
  replaceTimestamp: false,
  onConnectionError: (err) => { console.error('connection error', err); process.exitCode = 2 }
})
const logger = winston.createLogger({ transports: [transport] })
for (const line of lines) {
  logger.log({ level: line.level, message: line.message, labels: line.labels || {} })
}
// batching: false sends each entry at once; give the requests time to complete.
setTimeout(() => { transport.close && transport.close(); process.exit() }, 1500)
