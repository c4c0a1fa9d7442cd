// Upgrade in place and socket activation (docs/deploy.md): a riptide process hands its
// listening sockets to a new one (LISTEN_FDS), which serves them once ready, and the old one
// drains. Each generation is __test__/fixtures/upgrade-server.ts in its own process. The
// scenarios count every echo (connect errors, resets, short or wrong echoes are failures) and
// print `N passed, N failed`.
//
// Full size of the load scenario: RIPTIDE_UPGRADE_ROUNDS=10 RIPTIDE_UPGRADE_RATE=1000 (the
// defaults); smaller numbers keep the same shape on a busy machine.
import test, { type ExecutionContext } from 'ava'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { connect, generateKeyPair, ready, serve, startedByUpgrade, inheritedSockets, type Conn, type UpgradeOptions } from 'riptide'
import { freePort } from './redis-servers'

const FIXTURE = join(__dirname, 'fixtures', 'upgrade-server.ts')
const ROUNDS = Number(process.env.RIPTIDE_UPGRADE_ROUNDS ?? '10')
const RATE = Number(process.env.RIPTIDE_UPGRADE_RATE ?? '1000')

/** The shared stdout of every generation, as lines, with waiters on them. */
class Generations {
  readonly lines: string[] = []
  readonly #waiters: Array<{ match: RegExp; resolve: (m: RegExpMatchArray) => void }> = []
  readonly first: ChildProcess

  constructor(command: string, args: string[], env: Record<string, string> = {}, fds: number[] = []) {
    this.first = spawn(command, args, { cwd: __dirname, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit', ...fds] })
    let rest = ''
    this.first.stdout!.on('data', (d: Buffer) => {
      rest += d.toString()
      const parts = rest.split('\n')
      rest = parts.pop()!
      for (const line of parts) this.#line(line)
    })
  }

  #line(line: string): void {
    this.lines.push(line)
    for (let i = 0; i < this.#waiters.length; i++) {
      const w = this.#waiters[i]!
      const m = line.match(w.match)
      if (m !== null) {
        this.#waiters.splice(i--, 1)
        w.resolve(m)
      }
    }
  }

  /** The first line (past or future) matching `match`, within `ms`. */
  wait(match: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    for (const line of this.lines) {
      const m = line.match(match)
      if (m !== null) return Promise.resolve(m)
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no line matching ${match} in ${ms} ms; got:\n${this.lines.join('\n')}`)), ms)
      this.#waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) })
    })
  }
}

/** Starts generation 0 of the fixture on `urls`. */
function startServer(urls: string[], env: Record<string, string> = {}): Generations {
  return new Generations(process.execPath, ['--import', 'tsx', FIXTURE, ...urls], env)
}

/** Signals `pid` if it still runs. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig)
  } catch {
    // Already gone.
  }
}

/** One connection: sends 16 random bytes, expects them back, closes. Rejects on any failure. */
function echoOnce(connectTo: net.NetConnectOpts, payload = randomBytes(16)): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(connectTo)
    const chunks: Buffer[] = []
    let got = 0
    const timer = setTimeout(() => s.destroy(new Error('no echo in 10 s')), 10_000)
    s.once('connect', () => s.write(payload))
    s.on('data', (d: Buffer) => {
      chunks.push(d)
      got += d.length
      if (got >= payload.length) {
        clearTimeout(timer)
        s.destroy()
        const back = Buffer.concat(chunks)
        if (back.equals(payload)) resolve(back)
        else reject(new Error('echo mismatch'))
      }
    })
    s.once('error', (err) => (clearTimeout(timer), reject(err)))
    s.once('close', () => {
      clearTimeout(timer)
      if (got < payload.length) reject(new Error(`closed after ${got} of ${payload.length} bytes`))
    })
  })
}

/** Asks which generation serves: "who\n" answered with "<generation> <pid>\n". */
function who(connectTo: net.NetConnectOpts): Promise<{ generation: number; pid: number }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(connectTo, () => s.write('who\n'))
    let text = ''
    s.on('data', (d: Buffer) => {
      text += d.toString()
      if (text.endsWith('\n')) {
        s.destroy()
        const [generation, pid] = text.trim().split(' ').map(Number)
        resolve({ generation: generation!, pid: pid! })
      }
    })
    s.once('error', reject)
  })
}

/** Opens `rate` echo connections a second until stopped; counts outcomes. */
function load(port: number, rate: number) {
  const failures = new Map<string, number>()
  const counts = { passed: 0, failed: 0 }
  const pending = new Set<Promise<void>>()
  const perTick = Math.max(1, Math.round(rate / 100))
  const timer = setInterval(() => {
    for (let i = 0; i < perTick; i++) {
      const p = echoOnce({ host: '127.0.0.1', port }).then(
        () => void counts.passed++,
        (err: Error & { code?: string }) => {
          counts.failed++
          const key = err.code ?? err.message
          failures.set(key, (failures.get(key) ?? 0) + 1)
        },
      )
      pending.add(p)
      void p.then(() => pending.delete(p))
    }
  }, 10)
  return {
    counts,
    failures,
    async stop(): Promise<void> {
      clearInterval(timer)
      await Promise.all(pending)
    },
  }
}

/** Upgrades generation `pid` by SIGHUP; resolves with the new pid once the old one exited. */
async function upgradeOnce(g: Generations, pid: number): Promise<number> {
  signal(pid, 'SIGHUP')
  const [, child] = await g.wait(new RegExp(`^upgraded ${pid} (\\d+)$`))
  await g.wait(new RegExp(`^ready ${child} `))
  await g.wait(new RegExp(`^exited ${pid} `))
  return Number(child)
}

/** Runs `rounds` upgrades under load on one TCP port, then checks the last generation serves. */
async function upgradesUnderLoad(t: ExecutionContext, env: Record<string, string>, rounds: number): Promise<void> {
  const port = await freePort()
  const g = startServer([`tcp://127.0.0.1:${port}`], env)
  let pid = 0
  let gen: ReturnType<typeof load> | undefined
  try {
    pid = Number((await g.wait(/^ready (\d+) 0 /))[1])
    gen = load(port, RATE)
    // Load before, between and after the upgrades.
    await new Promise((r) => setTimeout(r, 300))
    for (let i = 0; i < rounds; i++) pid = await upgradeOnce(g, pid)
    await new Promise((r) => setTimeout(r, 300))
    await gen.stop()
    const last = await who({ host: '127.0.0.1', port })
    t.log(`${rounds} upgrades at ${RATE} conn/s: ${gen.counts.passed} passed, ${gen.counts.failed} failed ${JSON.stringify(Object.fromEntries(gen.failures))}`)
    t.is(gen.counts.failed, 0)
    t.true(gen.counts.passed > 0)
    t.deepEqual(last, { generation: rounds, pid })
  } catch (err) {
    t.log(`failed: ${String(err)}`)
    throw err
  } finally {
    await gen?.stop()
    signal(pid, 'SIGTERM')
    signal(g.first.pid!, 'SIGTERM')
  }
}

test('upgrade options are checked, one upgrade runs at a time, and a stopped engine has none', async (t) => {
  // This test process was not started by an upgrade and inherited nothing.
  t.false(startedByUpgrade())
  t.deepEqual(inheritedSockets(), [])
  t.false(ready())
  const engine = await serve('tcp://127.0.0.1:0', {})
  try {
    const bad: unknown[] = [{ bogus: 1 }, { timeout: -1 }, { timeout: Infinity }, { drainTimeout: 'x' }, { args: 'node' }, { args: [1] }, { execPath: '' }, { env: null }, { cwd: 3 }, null, 7]
    for (const options of bad) {
      await t.throwsAsync(engine.upgrade(options as UpgradeOptions), { code: 'ERR_INVALID_ARG_VALUE' }, JSON.stringify(options))
    }
    // A program that exits at once: the first upgrade fails, and a second one during it is refused.
    const first = engine.upgrade({ execPath: process.execPath, args: ['-e', 'setTimeout(() => process.exit(3), 200)'] })
    await t.throwsAsync(engine.upgrade(), { code: 'ERR_UPGRADE_FAILED', message: /already under way/ })
    await t.throwsAsync(first, { code: 'ERR_UPGRADE_FAILED', message: /code 3/ })
    // A program that cannot be started.
    await t.throwsAsync(engine.upgrade({ execPath: '/nonexistent/riptide-upgrade' }), { code: 'ERR_UPGRADE_FAILED' })
    t.true(engine.running)
  } finally {
    await engine.stop()
  }
  await t.throwsAsync(engine.upgrade(), { code: 'ERR_ENGINE_STOPPED' })
})

test.serial('upgrade in place on one port with no balancer, under load: 0 failed', async (t) => {
  t.timeout(180_000)
  await upgradesUnderLoad(t, {}, ROUNDS)
})

test.serial('upgrade in place with 2 reusePort reactors hands over every socket: 0 failed', async (t) => {
  t.timeout(120_000)
  await upgradesUnderLoad(t, { UPGRADE_REACTORS: '2', UPGRADE_REUSE_PORT: '1' }, Math.min(ROUNDS, 3))
})

test.serial('a new process that dies or hangs before it is ready leaves the old one serving', async (t) => {
  t.timeout(60_000)
  const port = await freePort()
  const g = startServer([`tcp://127.0.0.1:${port}`])
  let pid = 0
  const checks = { passed: 0, failed: 0 }
  const check = (ok: boolean) => (ok ? checks.passed++ : checks.failed++)
  let gen: ReturnType<typeof load> | undefined
  try {
    pid = Number((await g.wait(/^ready (\d+) 0 /))[1])
    gen = load(port, 200)
    // Exits before it is ready.
    signal(pid, 'SIGUSR2')
    await g.wait(new RegExp(`^upgrade-failed ${pid} ERR_UPGRADE_FAILED$`))
    check((await who({ host: '127.0.0.1', port })).pid === pid)
    // Never ready: killed at the timeout.
    signal(pid, 'SIGUSR1')
    const failed = g.lines.filter((l) => l.startsWith('upgrade-failed')).length
    await g.wait(new RegExp(`^upgrade-failed ${pid} ERR_UPGRADE_FAILED$`))
    while (g.lines.filter((l) => l.startsWith('upgrade-failed')).length === failed) await new Promise((r) => setTimeout(r, 20))
    check((await who({ host: '127.0.0.1', port })).pid === pid)
    // And a good upgrade still works afterwards.
    pid = await upgradeOnce(g, pid)
    check((await who({ host: '127.0.0.1', port })).generation === 1)
    await gen.stop()
    check(gen.counts.failed === 0)
    t.log(`failed upgrades: ${checks.passed} passed, ${checks.failed} failed; load ${gen.counts.passed} passed, ${gen.counts.failed} failed`)
    t.is(checks.failed, 0)
  } finally {
    await gen?.stop()
    signal(pid, 'SIGTERM')
    signal(g.first.pid!, 'SIGTERM')
  }
})

test.serial('TCP, Unix and UDP listeners are handed over together', async (t) => {
  t.timeout(60_000)
  const port = await freePort()
  const udpPort = await freePort()
  const path = join(mkdtempSync(join(tmpdir(), 'riptide-upgrade-')), 's.sock')
  const g = startServer([`tcp://127.0.0.1:${port}`, `unix://${path}`, `udp://127.0.0.1:${udpPort}`])
  let pid = 0
  const checks = { passed: 0, failed: 0 }
  const check = (ok: boolean) => (ok ? checks.passed++ : checks.failed++)
  try {
    pid = Number((await g.wait(/^ready (\d+) 0 /))[1])
    pid = await upgradeOnce(g, pid)
    const ready = await g.wait(new RegExp(`^ready ${pid} 1 (\\d+) (\\w+) \\d+$`))
    check(ready[1] === '3' && ready[2] === 'true')
    // The old process left the socket file to the new one.
    check(existsSync(path))
    check((await who({ path })).pid === pid)
    check((await who({ host: '127.0.0.1', port })).pid === pid)
    check((await udpWho(udpPort)) === `1 ${pid}`)
    t.log(`handover of 3 listeners: ${checks.passed} passed, ${checks.failed} failed`)
    t.is(checks.failed, 0)
  } finally {
    signal(pid, 'SIGTERM')
    signal(g.first.pid!, 'SIGTERM')
  }
})

/** A KCP session to `port` (secure when `serverPublicKey` is given) whose answers are collected as text. */
async function kcpSession(port: number, serverPublicKey?: Uint8Array): Promise<{ conn: Conn; answers: string[] }> {
  const answers: string[] = []
  const secure = serverPublicKey === undefined ? {} : { secure: { serverPublicKey } }
  const conn = await connect(`kcp://127.0.0.1:${port}`, { onTraffic: (_c, data) => void answers.push(Buffer.from(data).toString().trim()) }, secure)
  return { conn, answers }
}

/** Waits until every session has `n` answers, or `ms` passed. */
async function answered(sessions: Array<{ answers: string[] }>, n: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (sessions.some((s) => s.answers.length < n) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
}

test.serial('KCP: new sessions after an upgrade go to the new process; the old process stops serving its own', async (t) => {
  t.timeout(60_000)
  const port = await freePort()
  const g = startServer([`kcp://127.0.0.1:${port}`])
  let pid = 0
  const sessions: Array<{ conn: Conn; answers: string[] }> = []
  try {
    const first = Number((await g.wait(/^ready (\d+) 0 /))[1])
    pid = first
    const before = await Promise.all(Array.from({ length: 50 }, () => kcpSession(port)))
    sessions.push(...before)
    for (const s of before) s.conn.write('who\n')
    await answered(before, 1, 10_000)
    pid = await upgradeOnce(g, pid)
    const after = await Promise.all(Array.from({ length: 50 }, () => kcpSession(port)))
    sessions.push(...after)
    for (const s of after) s.conn.write('who\n')
    await answered(after, 1, 10_000)
    // Only then the old sessions speak again: their segments open sessions in the new process
    // that never deliver, and hold admission places there (docs/deploy.md).
    for (const s of before) s.conn.write('who\n')
    await answered(before, 2, 1_000)
    const oldServed = before.filter((s) => s.answers[0] === `0 ${first}`).length
    const newServed = after.filter((s) => s.answers[0] === `1 ${pid}`).length
    // What docs/deploy.md says: the old process's sessions are not served after the handover.
    const oldAfter = before.filter((s) => s.answers.length > 1).length
    t.log(`KCP across an upgrade: ${oldServed + newServed} passed, ${100 - oldServed - newServed} failed; old sessions answered after the upgrade: ${oldAfter} of 50`)
    t.is(oldServed, 50)
    if (newServed !== 50) t.log(JSON.stringify(after.map((s) => s.answers)))
    t.is(newServed, 50)
    t.is(oldAfter, 0)
  } finally {
    for (const s of sessions) s.conn.close()
    signal(pid, 'SIGTERM')
    signal(g.first.pid!, 'SIGTERM')
  }
})

/**
 * Opens `n` secure KCP sessions to `port`, 25 at a time (under the secure mode's 128 pending
 * handshakes, from which on it asks for cookies and takes 8 handshakes a second per address),
 * each asking "who"; waits for each batch's answers (at most 10 s a batch).
 */
async function secureSessions(port: number, serverPublicKey: Uint8Array, n: number, into: Array<{ conn: Conn; answers: string[] }>): Promise<Array<{ conn: Conn; answers: string[] }>> {
  const out: Array<{ conn: Conn; answers: string[] }> = []
  while (out.length < n) {
    const batch = await Promise.all(Array.from({ length: Math.min(25, n - out.length) }, () => kcpSession(port, serverPublicKey)))
    into.push(...batch)
    for (const s of batch) s.conn.write('who\n')
    await answered(batch, 1, 10_000)
    out.push(...batch)
  }
  return out
}

/**
 * A secure KCP listener upgraded while `old` sessions are open; every old session then asks
 * again, and `fresh` new sessions are opened. Returns who answered what.
 */
async function secureKcpUpgrade(env: Record<string, string>, old: number, fresh: number, againMs: number) {
  const keys = generateKeyPair()
  const port = await freePort()
  const g = startServer([`kcp://127.0.0.1:${port}`], { ...env, UPGRADE_SECURE_KEY: Buffer.from(keys.privateKey).toString('base64'), UPGRADE_DRAIN: '20000' })
  const sessions: Array<{ conn: Conn; answers: string[] }> = []
  const pids: number[] = [g.first.pid!]
  try {
    const first = Number((await g.wait(/^ready (\d+) 0 0 false 0$/))[1])
    pids.push(first)
    const before = await secureSessions(port, keys.publicKey, old, sessions)
    signal(first, 'SIGHUP')
    const child = Number((await g.wait(new RegExp(`^upgraded ${first} (\\d+)$`)))[1])
    pids.push(child)
    // The child's ready line: generation 1 by the fixture's count and by riptide's.
    await g.wait(new RegExp(`^ready ${child} 1 1 true 1$`))
    for (const s of before) s.conn.write('who\n')
    await answered(before, 2, againMs)
    const after = fresh > 0 ? await secureSessions(port, keys.publicKey, fresh, sessions) : []
    // While the old process still serves its sessions, the new one refuses to upgrade again
    // (the routing program knows one old generation); without routing nothing is refused.
    let secondRefused = false
    if (env.UPGRADE_REUSE_PORT === '1') {
      signal(child, 'SIGHUP')
      const [, outcome, what] = await g.wait(new RegExp(`^(upgrade-failed|upgraded) ${child} (\\S+)`))
      secondRefused = outcome === 'upgrade-failed' && what === 'ERR_UPGRADE_FAILED'
      if (outcome === 'upgraded') pids.push(Number(what))
    }
    return {
      secondRefused,
      first,
      child,
      firstAnswers: before.filter((s) => s.answers[0] === `0 ${first}`).length,
      oldByOwner: before.filter((s) => s.answers[1] === `0 ${first}`).length,
      oldAnswered: before.filter((s) => s.answers.length > 1).length,
      newByNew: after.filter((s) => s.answers[0] === `1 ${child}`).length,
    }
  } finally {
    for (const s of sessions) s.conn.close()
    for (const pid of pids) signal(pid, 'SIGTERM')
  }
}

test.serial('KCP secure mode: 200 sessions across an upgrade are all still served, by the process that owns them', async (t) => {
  t.timeout(90_000)
  const r = await secureKcpUpgrade({ UPGRADE_REUSE_PORT: '1' }, 200, 50, 15_000)
  const passed = r.oldByOwner + r.newByNew
  t.log(`secure KCP across an upgrade: ${passed} passed, ${250 - passed} failed (old sessions answered by their owner ${r.oldByOwner} of 200, new sessions by the new process ${r.newByNew} of 50)`)
  t.is(r.firstAnswers, 200)
  t.is(r.oldByOwner, 200)
  t.is(r.newByNew, 50)
  t.true(r.secondRefused, 'a second upgrade while generation 0 still serves is refused')
})

test.serial('KCP secure mode, negative control: without reusePort the socket is taken over and the old sessions are lost', async (t) => {
  t.timeout(60_000)
  const r = await secureKcpUpgrade({}, 50, 0, 2_000)
  t.log(`secure KCP taken over without routing: ${50 - r.oldAnswered} passed, ${r.oldAnswered} failed (old sessions answered after the upgrade: ${r.oldAnswered} of 50; the control expects all lost)`)
  t.is(r.firstAnswers, 50)
  t.is(r.oldAnswered, 0)
})

/** Asks the UDP listener on `port` who serves it. */
function udpWho(port: number): Promise<string> {
  const dgram = require('node:dgram') as typeof import('node:dgram')
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4')
    const timer = setTimeout(() => (s.close(), reject(new Error('no UDP answer'))), 5000)
    s.on('message', (m) => {
      clearTimeout(timer)
      s.close()
      resolve(m.toString().trim())
    })
    s.send('who\n', port, '127.0.0.1')
  })
}

const hasActivate = spawnSync('systemd-socket-activate', ['--version']).status === 0

for (const how of ['systemd-socket-activate', 'sh'] as const) {
  // systemd-socket-activate comes with Debian's systemd package; `sh` sets the same
  // environment by hand: LISTEN_PID to its own pid, then it execs node, which keeps the pid.
  const run = how === 'sh' || hasActivate ? test.serial : test.skip
  run(`socket activation (${how}): serve() takes the passed socket instead of binding`, async (t) => {
    t.timeout(60_000)
    const port = await freePort()
    const url = `tcp://127.0.0.1:${port}`
    const g =
      how === 'sh'
        ? await shellActivated(port, url)
        : new Generations('systemd-socket-activate', ['-l', `127.0.0.1:${port}`, '--fdname=web', process.execPath, '--import', 'tsx', FIXTURE, url])
    try {
      // systemd-socket-activate starts the program on the first connection, which waits in
      // the socket's backlog meanwhile (as under systemd). It says when it listens on stderr:
      // try until it does.
      let first: { generation: number; pid: number } | undefined
      for (let i = 0; first === undefined && i < 200; i++) {
        first = await who({ host: '127.0.0.1', port }).catch(() => new Promise<undefined>((r) => setTimeout(() => r(undefined), 50)))
      }
      const [, pid, inherited, byUpgrade] = (await g.wait(/^ready (\d+) 0 (\d+) (\w+) \d+$/)).map(String)
      const checks = [inherited === '1', byUpgrade === 'false', first?.pid === Number(pid)]
      for (let i = 0; i < 20; i++) checks.push(await echoOnce({ host: '127.0.0.1', port }).then(() => true, () => false))
      const failed = checks.filter((ok) => !ok).length
      t.log(`socket activation (${how}): ${checks.length - failed} passed, ${failed} failed`)
      t.is(failed, 0)
    } finally {
      signal(g.first.pid!, 'SIGTERM')
    }
  })
}

/** Starts the fixture as systemd would, without systemd: a listening socket at fd 3. */
async function shellActivated(port: number, url: string): Promise<Generations> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const fd = (server as unknown as { _handle: { fd: number } })._handle.fd
  const script = 'LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=web exec "$0" "$@"'
  const g = new Generations('sh', ['-c', script, process.execPath, '--import', 'tsx', FIXTURE, url], {}, [fd])
  // The child has its copy; this process stops listening.
  server.close()
  return g
}
