// examples/dns-tunnel end to end: a TCP connection through the tunnel client, as a KCP
// session inside DNS queries, through the lossy relay (5 % each way) to examples/dns with its
// tunnel zone, and on to a TCP echo server; dig still gets the ordinary zone meanwhile.
import test from 'ava'
import { readFileSync } from 'node:fs'
import net from 'node:net'
import { join } from 'node:path'
import { DnsTunnel, serve, type Engine } from 'riptide'
import { serveDns, type DnsServer } from '../examples/dns/dns-server'
import { serveTunnel, type TunnelServer } from '../examples/dns-tunnel/tunnel-server'
import { startTunnelClient, type TunnelClient } from '../examples/dns-tunnel/tunnel-client'
import { dig } from './dig'
import { randomBytes, readExactly, startRelay, until, type Relay } from './helpers'

const zone = readFileSync(join(__dirname, '..', 'examples', 'dns', 'example.zone'), 'utf8')

let echo: Engine
let tunnel: TunnelServer
let dns: DnsServer
let relay: Relay | undefined
let client: TunnelClient

test.before(async () => {
  echo = await serve('tcp://127.0.0.1:0', {
    onTraffic(conn, data) {
      conn.write(data)
    },
  })
  tunnel = await serveTunnel({ zone: 't.example.', target: `127.0.0.1:${echo.port}` })
  dns = await serveDns({ zone, port: 0, tunnel })
  relay = await startRelay(dns.port, ['--loss', '0.05', '--seed', '19'])
  client = await startTunnelClient({ zone: 't.example.', dns: `127.0.0.1:${relay.port}`, listen: '127.0.0.1:0' })
})

test.after.always(async () => {
  await client?.stop()
  await relay?.stop()
  await dns?.engine.stop()
  await tunnel?.stop()
  await echo?.stop()
})

/** Connects to the tunnel client's TCP port. */
function tunnelled(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(client.port, '127.0.0.1', () => resolve(s))
    s.once('error', reject)
  })
}

test.serial('256 KiB echo byte-exact through the DNS tunnel with the relay losing 5 % each way; dig is answered meanwhile', async (t) => {
  const payload = randomBytes(256, 256 * 1024)
  const socket = await tunnelled()
  const echoed = readExactly(socket, payload.length)
  socket.write(payload)
  // The ordinary zone is answered while the tunnel runs (dig straight at the server).
  const answers: string[][] = []
  let transferring = true
  const digs = (async () => {
    while (transferring) {
      answers.push((await dig(dns.port, 'www.example.test', 'A')).answers)
      answers.push((await dig(dns.port, '+tcp', 'example.test', 'MX')).answers)
    }
  })()
  const back = await echoed
  transferring = false
  await digs
  t.true(back.equals(payload), 'the echo is byte-exact')
  t.true(answers.length >= 2)
  for (const [i, a] of answers.entries()) t.is(a.length, i % 2 === 0 ? 1 : 2)
  t.deepEqual(answers[0], ['www.example.test. 3600 IN A 192.0.2.80'])
  const stats = tunnel.stats()
  t.true(stats.queries > 1000, `${stats.queries} tunnel queries`)
  t.is(stats.sessions, 1)
  t.true(client.stats().timeouts > 0, 'the relay lost queries or answers')
  socket.end()
  // The end travels as an empty frame: the server's session and its target connection close.
  await until(() => tunnel.stats().sessions === 0, 20_000)
  const lossy = relay!
  relay = undefined
  t.regex(await lossy.stop(), /lost/)
})

test.serial('dig sees the tunnel zone: a poll is an empty NOERROR TXT answer, a bad name NXDOMAIN', async (t) => {
  const codec = new DnsTunnel('t.example.')
  // A poll name, as the client builds it (dig sends its own query for it).
  const poll = codec.query(1, 'digclient', 7)
  const name = readName(poll)
  const ok = await dig(dns.port, name, 'TXT')
  t.is(ok.status, 'NOERROR')
  t.deepEqual(ok.answers, [])
  t.true(ok.flags.includes('aa'))
  const bad = await dig(dns.port, 'not-base32!.aaaaaai.abc.t.example', 'TXT')
  t.is(bad.status, 'NXDOMAIN')
  const a = await dig(dns.port, name, 'A')
  t.is(a.status, 'REFUSED')
})

/** The question name of a query message (labels from offset 12, no compression). */
function readName(message: Uint8Array): string {
  const labels: string[] = []
  for (let at = 12; message[at] !== 0; at += message[at] + 1) labels.push(Buffer.from(message.subarray(at + 1, at + 1 + message[at])).toString())
  return labels.join('.')
}
