/**
 * Chat over KCP through a lossy link: a `kcp://` chat server, a user-space relay that drops
 * 10 % of datagrams each way (crate riptide-netsim; `cargo build -p riptide-net-netsim` builds
 * it), and three clients that each say a few lines. Every client must see every line, in
 * order, despite the loss: KCP retransmits. Run: `npx tsx examples/kcp-chat.ts [--loss 0.1]`.
 */
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect, serve, type Conn, type KcpOptions } from 'riptide'

/** Game-style settings (KCP's "turbo" preset): fast retransmit, no congestion window. */
const kcp: KcpOptions = { nodelay: true, interval: 10, resend: 2, nc: true }

/** Starts the relay in front of `upstream`; resolves with its port and a stop function. */
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

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { loss: { type: 'string', default: '0.1' }, lines: { type: 'string', default: '5' } } })
  const members = new Set<Conn>()
  const server = await serve(
    'kcp://127.0.0.1:0',
    {
      onOpen(conn) {
        members.add(conn)
      },
      // Message mode: each onTraffic is one whole line a client wrote.
      onTraffic(conn, line) {
        const text = Buffer.from(line).toString()
        if (text === 'join') return // a client's first message: it opens the session
        for (const m of members) m.write(`${conn.remotePort}: ${text}`)
      },
      onClose(conn) {
        members.delete(conn)
      },
    },
    { kcp },
  )
  const link = await relay(server.port, values.loss)
  console.log(`chat server on kcp://127.0.0.1:${server.port}, relay (loss ${values.loss}) on ${link.port}`)

  const names = ['ann', 'bob', 'cyd']
  const lines = Number(values.lines)
  const expected = names.length * lines
  const seen = new Map<string, string[]>()
  const clients = await Promise.all(
    names.map((name) =>
      connect(
        `kcp://127.0.0.1:${link.port}`,
        {
          onTraffic(_conn, msg) {
            const list = seen.get(name) ?? []
            list.push(Buffer.from(msg).toString())
            seen.set(name, list)
          },
        },
        { kcp },
      ),
    ),
  )
  // KCP clients speak first (the server learns a session from its first segment).
  for (const c of clients) c.write('join')
  while (members.size < names.length) await new Promise((r) => setTimeout(r, 10))
  for (let i = 0; i < lines; i++) {
    clients.forEach((c, n) => c.write(`${names[n]} says line ${i}`))
    await new Promise((r) => setTimeout(r, 50))
  }
  const deadline = Date.now() + 15000
  while ([...seen.values()].reduce((n, l) => n + l.length, 0) < expected * names.length && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20))
  }
  for (const name of names) {
    const got = seen.get(name) ?? []
    console.log(`${name} received ${got.length}/${expected} lines; last: ${got[got.length - 1] ?? '(none)'}`)
  }
  for (const c of clients) c.close()
  link.stop()
  await server.stop()
  const complete = names.every((n) => (seen.get(n)?.length ?? 0) === expected)
  if (!complete) {
    console.error('some lines were lost')
    process.exitCode = 1
  }
}

void main()
