/**
 * A secure chat over KCP: the server's key pair from `generateKeyPair()`, clients pinning its
 * public key (secure mode: Noise handshake, then authenticated encryption with replay
 * protection), FEC 10/3 to rebuild lost datagrams without waiting for a resend, and
 * "typing…" notices on the unreliable channel (lost ones are simply missed). Messages go
 * through a relay that drops 10 % of the datagrams each way (crate riptide-netsim;
 * `cargo build -p riptide-net-netsim` builds it, and this script does if it is missing).
 * Run: `node --import tsx examples/kcp-secure.ts [--loss 0.1]`; it exits by itself.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect, generateKeyPair, serve, type Conn, type KcpOptions } from 'riptide'

const kcp: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true }
const fec = { dataShards: 10, parityShards: 3 }

/** Starts the lossy relay in front of `upstream`; resolves with its port and a stop function. */
async function relay(upstream: number, loss: string): Promise<{ port: number; stop: () => void }> {
  const root = join(__dirname, '..')
  const bin = join(root, 'target', 'debug', 'riptide-relay')
  if (!existsSync(bin)) spawnSync('cargo', ['build', '-q', '-p', 'riptide-net-netsim', '--bin', 'riptide-relay'], { cwd: root, stdio: 'inherit' })
  const child = spawn(bin, ['--listen', '127.0.0.1:0', '--upstream', `127.0.0.1:${upstream}`, '--loss', loss, '--delay-min', '5', '--delay-max', '20'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolve) => child.stdout.once('data', (d: Buffer) => resolve(d.toString())))
  const { listen } = JSON.parse(line.split('\n')[0]) as { listen: string }
  return { port: Number(listen.split(':').pop()), stop: () => child.kill('SIGTERM') }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { loss: { type: 'string', default: '0.1' } } })
  // The server keeps the private key; clients get the public one (out of band, in real life).
  const { publicKey, privateKey } = generateKeyPair()
  const members = new Map<Conn, string>()
  const server = await serve(
    'kcp://127.0.0.1:0',
    {
      onTraffic(conn, line) {
        const text = Buffer.from(line).toString()
        if (text.startsWith('/nick ')) return void members.set(conn, text.slice(6))
        for (const m of members.keys()) if (m !== conn) m.write(`${members.get(conn)}: ${text}`)
      },
      // Unreliable: forward typing notices the same way, and never mind the lost ones.
      onUnreliable(conn, notice) {
        for (const m of members.keys()) if (m !== conn) m.send(`${members.get(conn)} ${Buffer.from(notice).toString()}`, { reliable: false })
      },
      onClose(conn) {
        members.delete(conn)
      },
    },
    { kcp, fec, secure: { privateKey } },
  )
  const link = await relay(server.port, values.loss)
  console.log(`secure chat on kcp://127.0.0.1:${server.port}, through a relay losing ${values.loss} each way (port ${link.port})`)
  console.log(`server public key ${Buffer.from(publicKey).toString('hex')}`)

  let done = false
  const names = ['ann', 'bob']
  const lines: Record<string, string[]> = { ann: [], bob: [] }
  const clients = await Promise.all(
    names.map((name) =>
      connect(
        `kcp://127.0.0.1:${link.port}`,
        {
          onTraffic(_conn, msg) {
            const text = Buffer.from(msg).toString()
            lines[name].push(text)
            console.log(`  [${name}] ${text}`)
          },
          onUnreliable(_conn, notice) {
            console.log(`  [${name}] (${Buffer.from(notice).toString()})`)
          },
          onClose(_conn, err) {
            if (err && !done) console.log(`  [${name}] closed: ${err.code}`)
          },
        },
        { kcp, fec, secure: { serverPublicKey: publicKey } },
      ),
    ),
  )
  clients.forEach((c, i) => c.write(`/nick ${names[i]}`))
  while (members.size < names.length) await sleep(10)

  const script: Array<[number, string]> = [
    [0, 'hi bob, is this channel safe?'],
    [1, 'only the server with the private key could answer our handshake'],
    [0, 'and a replayed or forged datagram is dropped'],
    [1, 'FEC fills the gaps the relay makes'],
  ]
  for (const [who, text] of script) {
    clients[who].send('is typing…', { reliable: false })
    await sleep(150)
    clients[who].write(text)
    await sleep(100)
  }
  const deadline = Date.now() + 15_000
  while (lines.ann.length + lines.bob.length < script.length && Date.now() < deadline) await sleep(20)
  const ok = lines.ann.length + lines.bob.length === script.length
  const stats = clients[0].kcpStats()
  console.log(`${ok ? 'every line arrived' : 'lines missing'}; ann's session: ${stats.retransmits + stats.fastRetransmits} resends, ` +
    `${stats.layers.fecRecovered} datagrams rebuilt by FEC, ${stats.layers.secureOpened} opened, ${stats.layers.secureUnauthenticated} rejected`)
  done = true
  for (const c of clients) c.close()
  link.stop()
  await server.stop()
  process.exitCode = ok ? 0 : 1
}

void main()
