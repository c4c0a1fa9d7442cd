/**
 * An echo server whose metrics Prometheus scrapes:
 * `npx tsx examples/metrics.ts --port 9000 --metrics-port 9100`, then
 * `curl 127.0.0.1:9100/metrics`. The app's own prom-client registry serves `/metrics` over
 * node:http, and `registerMetrics` adds riptide's to it
 * (`riptide_connections_open`, `riptide_received_bytes_total`...). Port 0 picks free ports;
 * the line it prints names the ones bound. Ctrl-C stops it cleanly.
 */
import { createServer } from 'node:http'
import { once } from 'node:events'
import { parseArgs } from 'node:util'
import { Registry } from 'prom-client'
import { serve } from 'riptide'
import { registerMetrics } from 'riptide/prometheus'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '9000' },
      'metrics-port': { type: 'string', default: '9100' },
      host: { type: 'string', default: '127.0.0.1' },
    },
  })
  const engine = await serve(`tcp://${values.host}:${values.port}`, {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  const registry = new Registry()
  registerMetrics(engine, registry)
  const http = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') {
      res.writeHead(404).end()
      return
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500).end(String(err)),
    )
  })
  http.listen(Number(values['metrics-port']), values.host)
  await once(http, 'listening')
  const address = http.address()
  const metricsPort = typeof address === 'object' && address !== null ? address.port : 0
  console.log(`riptide echo on ${values.host}:${engine.port}, metrics on http://${values.host}:${metricsPort}/metrics`)
  const stop = () => {
    http.close()
    void engine.stop()
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
