/**
 * The DNS tunnel's client: TCP connections to `--listen` travel as KCP sessions inside DNS
 * queries to `--dns`, whose server (examples/dns/server.ts with `--tunnel-zone`) forwards them
 * to its `--tunnel-target`. `npx tsx examples/dns-tunnel/client.ts --dns 127.0.0.1:5353
 * --zone t.example. --listen 127.0.0.1:2222`. See README.md here.
 */
import { parseArgs } from 'node:util'
import { startTunnelClient } from './tunnel-client'

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dns: { type: 'string', default: '127.0.0.1:5353' },
      zone: { type: 'string', default: 't.example.' },
      listen: { type: 'string', default: '127.0.0.1:2222' },
    },
  })
  const client = await startTunnelClient({ dns: values.dns, zone: values.zone, listen: values.listen })
  console.log(`riptide dns tunnel: tcp://${values.listen.replace(/:\d+$/, '')}:${client.port} through ${values.zone} at ${values.dns}`)
  const stop = () => void client.stop()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

void main()
