// Cross-instance pub/sub through real brokers (docs/deploy.md): Debian's redis-server and
// nats-server on loopback, 3 riptide instances as separate processes
// (fixtures/bus-instance.ts, 2 reactors each), 50 rooms. Every instance has one subscriber of
// every room and one publisher that numbers its messages per room.
// - Steady state: every message reaches every subscriber exactly once, in per-origin order
//   (p99 latency printed; no timing assertion).
// - Faults, with publishing going on throughout: the broker connection killed
//   (`CLIENT KILL TYPE pubsub` on Redis, a cut TCP proxy on NATS), a broker restart, and one
//   instance stopped with SIGSTOP for 10 s (the broker cuts it as a slow consumer). After each:
//   resubscription (the time is printed), no duplicates, per-origin order kept, every message
//   lost is reported in a gap at the receiver (no silent gaps, no false ones), and the queues
//   never held more than their bounds.
// - Refcounting: each instance holds 50 broker subscriptions while its subscriber is there and 0
//   after it leaves. Clean shutdown: after `engine.stop()` the process exits by itself (the
//   broker clients are closed).
// Skipped, saying so, without redis-server/redis-cli or nats-server.
import test, { type ExecutionContext } from 'ava'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { Registry } from 'prom-client'
import { codecs, serve, type BusGap, type BusMetrics, type BusOptions } from 'riptide'
import { registerMetrics } from 'riptide/prometheus'
import { decodeEnvelope, encodeEnvelope } from '../lib/bus-envelope'
import { handler as pubsubHandler } from './fixtures/pubsub-handler'
import { freePort, startRedisServer, stop as stopRedis, type RedisServer } from './redis-servers'
import { connect, readExactly, until } from './helpers'

const has = (cmd: string, arg = '--version') => spawnSync(cmd, [arg]).status === 0
const hasRedis = has('redis-server') && has('redis-cli')
const hasNats = has('nats-server')

const ROOMS = 50
const MAX_INBOUND = 2000
const MAX_OUTBOUND = 2000
/** Rooms each live publisher sends to per tick (every 25 ms) while a fault runs. */
const ROOMS_PER_TICK = 5
/** Bytes of padding of fault-time messages. */
const PAD = 400
/**
 * Padding while an instance is stopped: about 2 MB/s towards it, so the socket buffers on the
 * way (the kernel's, and the NATS proxy's two sockets) fill and the brokers' 256 KiB
 * slow-consumer limits cut it within the 10 s.
 */
const STOP_PAD = 5000

// ---- brokers ---------------------------------------------------------------------------------

/** A broker under test: where instances connect, and its faults. */
interface Broker {
  name: string
  url: string
  /** Cuts every instance's broker connection (subscriptions included). */
  kill(): Promise<void>
  /** Stops the broker; `start` brings it back on the same port. */
  down(): Promise<void>
  start(): Promise<void>
  close(): Promise<void>
}

async function redisBroker(): Promise<Broker> {
  let server: RedisServer = await startRedisServer()
  const port = server.port
  const configure = () => {
    // A stopped subscriber is cut once 256 KiB wait for it for 2 s (default: 32 MiB / 8 MiB for 60 s).
    const r = spawnSync('redis-cli', ['-p', String(port), 'CONFIG', 'SET', 'client-output-buffer-limit', 'pubsub 256kb 128kb 2'])
    if (r.status !== 0) throw new Error(`redis-cli CONFIG SET failed: ${r.stderr}`)
  }
  configure()
  return {
    name: 'redis',
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const r = spawnSync('redis-cli', ['-p', String(port), 'CLIENT', 'KILL', 'TYPE', 'pubsub'])
      if (r.status !== 0 || !/^[1-9]\d*$/.test(r.stdout.toString().trim())) throw new Error(`CLIENT KILL TYPE pubsub: ${r.stdout}${r.stderr}`)
    },
    down: () => stopRedis(server),
    async start() {
      server = await startRedisServer(port)
      configure()
    },
    close: () => stopRedis(server),
  }
}

/** nats-server on a free port behind a TCP proxy in this process (so the test can cut every connection). */
async function natsBroker(): Promise<Broker> {
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'riptide-nats-'))
  const conf = join(dir, 'nats.conf')
  // A stopped subscriber is cut as a slow consumer once 256 KiB wait for it, or a write stalls 2 s.
  writeFileSync(conf, `listen: "127.0.0.1:${port}"\nmax_pending: 262144\nmax_payload: 65536\nwrite_deadline: "2s"\n`)
  let child: ChildProcess | undefined
  const start = async () => {
    child = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] })
    const c = child
    await new Promise<void>((resolve, reject) => {
      let out = ''
      c.stderr!.on('data', (d: Buffer) => {
        out += d.toString()
        if (out.includes('Server is ready')) resolve()
      })
      c.once('exit', (code) => reject(new Error(`nats-server exited (${code}): ${out}`)))
    })
  }
  const down = async () => {
    const c = child
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
    c.kill('SIGTERM')
    await exited
  }
  await start()
  const sockets = new Set<net.Socket>()
  const proxy = net.createServer((client) => {
    const upstream = net.connect(port, '127.0.0.1')
    for (const s of [client, upstream]) {
      sockets.add(s)
      s.on('close', () => sockets.delete(s))
      s.on('error', () => {})
    }
    client.pipe(upstream).pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
  return {
    name: 'nats',
    url: `nats://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`,
    async kill() {
      if (sockets.size === 0) throw new Error('no connection to cut')
      for (const s of sockets) s.destroy()
    },
    down,
    start,
    async close() {
      for (const s of sockets) s.destroy()
      proxy.close()
      await down()
    },
  }
}

// ---- instances --------------------------------------------------------------------------------

/** One riptide process with a bus. */
interface Instance {
  child: ChildProcess
  port: number
  origin: string
}

async function startInstance(url: string): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'bus-instance.ts'), url, String(MAX_INBOUND), String(MAX_OUTBOUND)], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /bus instance on (\d+)/.exec(out)
      if (m !== null) resolve(Number(m[1]))
    })
    child.once('exit', (code) => reject(new Error(`instance exited (${code}): ${out}`)))
  })
  const inst = { child, port, origin: '' }
  inst.origin = (await metrics(inst)).origin
  return inst
}

/** Asks an instance over IPC; resolves with the reply's `key`. */
function ask<T>(inst: Instance, what: string, key: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: Record<string, unknown>) => {
      if (key in m) {
        inst.child.off('message', on)
        resolve(m[key] as T)
      }
    }
    inst.child.on('message', on)
    inst.child.send(what)
  })
}

const metrics = (inst: Instance) => ask<BusMetrics>(inst, 'metrics', 'metrics')
const gapsOf = (inst: Instance) => ask<BusGap[]>(inst, 'gaps', 'gaps')

/** Polls until `cond` holds for every instance's metrics (at most `ms`). */
async function allMetrics(instances: Instance[], cond: (m: BusMetrics, i: number) => boolean, ms = 10_000): Promise<BusMetrics[]> {
  const deadline = Date.now() + ms
  for (;;) {
    const all = await Promise.all(instances.map(metrics))
    if (all.every(cond)) return all
    if (Date.now() > deadline) throw new Error(`bus metrics never met the condition: ${JSON.stringify(all)}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

// ---- traffic ----------------------------------------------------------------------------------

function frame(body: string): Buffer {
  const b = Buffer.from(body)
  const head = Buffer.alloc(4)
  head.writeUInt32BE(b.length)
  return Buffer.concat([head, b])
}

/** Publishers and subscribers of one scenario: one of each per instance, rooms `<tag>-0…49`. */
class Traffic {
  readonly rooms: string[]
  /** `receiver|room|origin` → app sequence numbers in arrival order. */
  readonly received = new Map<string, number[]>()
  /** `origin|room` → last sequence number sent. */
  readonly sent = new Map<string, number>()
  readonly sentAt = new Map<string, number>()
  readonly latency = { local: [] as number[], remote: [] as number[] }
  subs: net.Socket[] = []
  pubs: net.Socket[] = []

  constructor(readonly instances: Instance[], tag: string) {
    this.rooms = Array.from({ length: ROOMS }, (_, i) => `${tag}-${i}`)
  }

  /** The reactor each instance's subscriber landed on (from its acks). */
  readonly subReactors: string[] = []

  /**
   * Connects the publishers and subscribers. The balancer takes turns over the 2 reactors:
   * with `subscribersFirst` the subscribers land on reactor 0 and the publishers on the
   * worker reactor (whose publications reach the bus through reactor 0), else the other way
   * round (the broker subscription follows subscribers on the worker reactor).
   */
  async open(subscribersFirst: boolean): Promise<void> {
    if (subscribersFirst) this.subs = await Promise.all(this.instances.map((inst, r) => this.#subscriber(inst, r)))
    this.pubs = await Promise.all(this.instances.map((i) => connect(i.port)))
    if (!subscribersFirst) this.subs = await Promise.all(this.instances.map((inst, r) => this.#subscriber(inst, r)))
  }

  async #subscriber(inst: Instance, receiver: number): Promise<net.Socket> {
    const s = await connect(inst.port)
    let buf = Buffer.alloc(0)
    let acks = 0
    s.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d])
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
        const body = buf.subarray(4, 4 + buf.readUInt32BE(0)).toString()
        buf = buf.subarray(4 + buf.readUInt32BE(0))
        if (body.startsWith('ok')) {
          this.subReactors[receiver] = body.slice(2)
          acks++
          continue
        }
        const [origin, room, seq] = body.split(':')
        const key = `${receiver}|${room}|${origin}`
        const list = this.received.get(key) ?? []
        list.push(Number(seq))
        this.received.set(key, list)
        const at = this.sentAt.get(`${origin}|${room}|${seq}`)
        if (at !== undefined) (Number(origin) === receiver ? this.latency.local : this.latency.remote).push(performance.now() - at)
      }
    })
    for (const room of this.rooms) s.write(frame(`S${room}`))
    await until(() => acks === this.rooms.length)
    return s
  }

  /** Instance `origin` publishes its next message to `room` (sequence numbers from 1 per room). */
  publish(origin: number, room: string, pad = 0): void {
    const key = `${origin}|${room}`
    const seq = (this.sent.get(key) ?? 0) + 1
    this.sent.set(key, seq)
    this.sentAt.set(`${key}|${seq}`, performance.now())
    this.pubs[origin].write(frame(`P${room}\n${origin}:${room}:${seq}:${'x'.repeat(pad)}`))
  }

  /** Publishes from `origins` every 25 ms, `ROOMS_PER_TICK` rooms each, until the returned stop is called. */
  run(origins: () => number[], pad: number): () => void {
    let next = 0
    const timer = setInterval(() => {
      for (const o of origins()) for (let k = 0; k < ROOMS_PER_TICK; k++) this.publish(o, this.rooms[(next + k) % ROOMS], pad)
      next = (next + ROOMS_PER_TICK) % ROOMS
    }, 25)
    return () => clearInterval(timer)
  }

  /** True once every subscriber holds the last message every origin sent to every room. */
  complete(): boolean {
    for (const [key, last] of this.sent) {
      const [origin, room] = key.split('|')
      for (let r = 0; r < this.instances.length; r++) {
        if (this.received.get(`${r}|${room}|${origin}`)?.at(-1) !== last) return false
      }
    }
    return true
  }

  close(): void {
    for (const s of [...this.subs, ...this.pubs]) s.destroy()
  }
}

/**
 * Checks what the subscribers got against what was sent and the gaps each instance reported:
 * no duplicates, order kept, and the messages missing at each receiver are exactly the ones
 * its gaps span (the bus numbers each origin's messages to a room as the publisher does).
 */
function audit(t: ExecutionContext, traffic: Traffic, gaps: BusGap[][]): number {
  let missing = 0
  for (const [key] of traffic.sent) {
    const [origin, room] = key.split('|')
    for (let r = 0; r < traffic.instances.length; r++) {
      const got = traffic.received.get(`${r}|${room}|${origin}`) ?? []
      const ordered = got.every((s, i) => i === 0 || s > got[i - 1])
      if (!ordered) t.fail(`receiver ${r}, room ${room}, origin ${origin}: out of order or duplicated: ${got.join(',')}`)
      const lost = got.length === 0 ? 0 : got[got.length - 1] - got[0] + 1 - got.length
      const reported = gaps[r].filter((g) => g.topic === room && g.origin === traffic.instances[Number(origin)].origin).reduce((n, g) => n + g.missed, 0)
      if (lost !== reported) t.fail(`receiver ${r}, room ${room}, origin ${origin}: ${lost} lost, ${reported} reported in gaps`)
      if (Number(origin) === r && (got[0] !== 1 || lost !== 0)) t.fail(`receiver ${r} lost its own publications to ${room}`)
      missing += lost
    }
  }
  return missing
}

/** The p-th percentile of `values` (ms). */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN
}

/** Publishes one message per origin and room until every subscriber has heard from all: the broker subscriptions are in place. */
async function warmUp(traffic: Traffic): Promise<void> {
  for (let attempt = 0; attempt < 20; attempt++) {
    for (let o = 0; o < traffic.instances.length; o++) for (const room of traffic.rooms) traffic.publish(o, room)
    if (await until(() => traffic.complete(), 1000).then(() => true, () => false)) return
  }
  throw new Error('the broker subscriptions never took effect')
}

// ---- scenarios --------------------------------------------------------------------------------

function scenarios(name: string, available: boolean, why: string, make: () => Promise<Broker>): void {
  const it = available ? test.serial : test.skip
  const skipped = available ? '' : ` (SKIPPED: ${why})`
  let broker: Broker
  let instances: Instance[] = []
  let tally = { passed: 0, failed: 0 }
  /** Set once the first test started the broker and the instances, which the others use. */
  let started = false

  const count = (t: ExecutionContext) => t.teardown(() => (t.passed ? tally.passed++ : tally.failed++))

  it(`${name}: 3 instances, ${ROOMS} rooms: every message exactly once, in per-origin order; refcounted broker subscriptions${skipped}`, async (t) => {
    count(t)
    tally = { passed: 0, failed: 0 }
    broker = await make()
    instances = await Promise.all([0, 1, 2].map(() => startInstance(broker.url)))
    await allMetrics(instances, (m) => m.connected && m.topics === 0)
    started = true
    const traffic = new Traffic(instances, 'steady')
    await traffic.open(true)
    t.deepEqual(traffic.subReactors, ['0', '0', '0'], 'subscribers on reactor 0, publishers on the worker reactor')
    await allMetrics(instances, (m) => m.topics === ROOMS)
    await warmUp(traffic)
    traffic.latency.local.length = 0
    traffic.latency.remote.length = 0
    // 20 rounds: every instance publishes to every room, 3,000 publications, 9,000 deliveries.
    // Each round waits for the last one's deliveries: this test is about exactly once and in
    // order, and a burst of all 20 rounds could overflow MAX_INBOUND (a drop, by design) in an
    // instance the machine starves for half a second, as a parallel CI run can.
    for (let round = 0; round < 20; round++) {
      for (let o = 0; o < 3; o++) for (const room of traffic.rooms) traffic.publish(o, room)
      await until(() => traffic.complete(), 20_000)
    }
    const gaps = await Promise.all(instances.map(gapsOf))
    t.is(audit(t, traffic, gaps), 0, 'nothing lost')
    t.is(traffic.latency.remote.length, 3 * ROOMS * 20 * 2, 'each of the 3,000 publications reached the 2 other instances')
    t.is(traffic.latency.local.length, 3 * ROOMS * 20, 'and the local subscriber')
    t.deepEqual(gaps.flat(), [], 'no gaps')
    const m = await Promise.all(instances.map(metrics))
    for (const b of m) {
      t.is(b.outboundDropped + b.inboundDropped + b.duplicates + b.invalid, 0)
      t.true(b.echoes > 0, 'own publications came back from the broker and were dropped')
    }
    t.log(`${name}: ${traffic.latency.remote.length} remote deliveries: p50 ${percentile(traffic.latency.remote, 50).toFixed(2)} ms, p99 ${percentile(traffic.latency.remote, 99).toFixed(2)} ms; local p99 ${percentile(traffic.latency.local, 99).toFixed(2)} ms`)
    traffic.close()
    await allMetrics(instances, (b) => b.topics === 0)
    t.pass('the last subscriber left: no broker subscription is held')
  })

  /** Runs `fault` while publishing goes on, then checks recovery. */
  async function faulted(t: ExecutionContext, tag: string, pad: number, fault: (live: Set<number>) => Promise<{ from: number, watch: number[] }>) {
    if (!started) throw new Error('the broker and instances did not start (see the first test)')
    const traffic = new Traffic(instances, tag)
    let stop = () => {}
    t.teardown(() => {
      stop()
      traffic.close()
    })
    await traffic.open(false)
    t.deepEqual(traffic.subReactors, ['1', '1', '1'], 'subscribers on the worker reactor')
    await allMetrics(instances, (m) => m.topics === ROOMS && m.connected)
    await warmUp(traffic)
    const before = await Promise.all(instances.map(metrics))
    await Promise.all(instances.map(gapsOf)) // forget the warm-up's (there are none normally)
    const live = new Set([0, 1, 2])
    stop = traffic.run(() => [...live], pad)
    await new Promise((r) => setTimeout(r, 500))
    const { from, watch } = await fault(live)
    await allMetrics(instances, (m, i) => !watch.includes(i) || (m.resubscribes > before[i].resubscribes && m.connected), 15_000)
    const resubscribedIn = performance.now() - from
    await new Promise((r) => setTimeout(r, 1000))
    stop()
    // A last message to every room from every instance shows every loss before it.
    for (let o = 0; o < 3; o++) for (const room of traffic.rooms) traffic.publish(o, room)
    await until(() => traffic.complete(), 20_000)
    const gaps = await Promise.all(instances.map(gapsOf))
    const missing = audit(t, traffic, gaps)
    const gapCount = gaps.flat().length
    const end = await Promise.all(instances.map(metrics))
    for (const [i, b] of end.entries()) {
      t.true(b.inboundPeak <= MAX_INBOUND && b.outboundPeak <= MAX_OUTBOUND, `instance ${i}: queues within their bounds (${b.inboundPeak}, ${b.outboundPeak})`)
      t.is(b.gaps - before[i].gaps, gaps[i].length, `instance ${i}: every gap counted is one onGap heard`)
      t.is(b.duplicates, 0)
    }
    const sent = [...traffic.sent.values()].reduce((a, b) => a + b, 0)
    t.log(`${name} ${tag}: resubscribed ${resubscribedIn.toFixed(0)} ms after the fault ended; ${sent} published, ${missing} lost deliveries all reported in ${gapCount} gaps; dropped out/in ${end.map((b) => `${b.outboundDropped}/${b.inboundDropped}`).join(' ')}; peak queues out/in ${end.map((b) => `${b.outboundPeak}/${b.inboundPeak}`).join(' ')}`)
    traffic.close()
    await allMetrics(instances, (b) => b.topics === 0)
  }

  it(`${name}: broker connections killed: resubscribed, no silent gaps, bounded queues${skipped}`, async (t) => {
    count(t)
    await faulted(t, 'kill', PAD, async () => {
      await broker.kill()
      return { from: performance.now(), watch: [0, 1, 2] }
    })
  })

  it(`${name}: broker restart: resubscribed, no silent gaps, bounded queues${skipped}`, async (t) => {
    count(t)
    await faulted(t, 'restart', PAD, async () => {
      await broker.down()
      await new Promise((r) => setTimeout(r, 1000))
      await broker.start()
      return { from: performance.now(), watch: [0, 1, 2] }
    })
  })

  it(`${name}: one instance stopped with SIGSTOP for 10 s: cut by the broker, resubscribed, no silent gaps, bounded queues${skipped}`, async (t) => {
    count(t)
    await faulted(t, 'sigstop', STOP_PAD, async (live) => {
      live.delete(2)
      instances[2].child.kill('SIGSTOP')
      await new Promise((r) => setTimeout(r, 10_000))
      instances[2].child.kill('SIGCONT')
      live.add(2)
      return { from: performance.now(), watch: [2] }
    })
  })

  it(`${name}: engine.stop() closes the broker clients: every instance exits by itself${skipped}`, async (t) => {
    count(t)
    if (!started) throw new Error('the broker and instances did not start (see the first test)')
    await Promise.all(
      instances.map(async (inst) => {
        const exited = new Promise<number | null>((resolve) => inst.child.once('exit', (code) => resolve(code)))
        await ask(inst, 'stop', 'stopped')
        inst.child.disconnect()
        const timer = setTimeout(() => inst.child.kill('SIGKILL'), 10_000)
        t.is(await exited, 0, 'exited on its own, nothing left open')
        clearTimeout(timer)
      }),
    )
    await broker.close()
    t.log(`${name}: ${tally.passed + 1} passed, ${tally.failed} failed`)
  })

  test.after.always(async () => {
    for (const inst of instances) if (inst.child.exitCode === null) inst.child.kill('SIGKILL')
    await broker?.close().catch(() => {})
  })
}

scenarios('redis', hasRedis, 'redis-server or redis-cli is not installed', redisBroker)
scenarios('nats', hasNats, 'nats-server is not installed', natsBroker)

test('bus options are checked at the boundary', async (t) => {
  const bad: Array<[unknown, RegExp]> = [
    [{}, /options\.bus\.url/],
    [{ url: 'http://127.0.0.1:6379' }, /redis:\/\/, rediss:\/\/ or nats:\/\//],
    [{ url: 'not a url' }, /redis:\/\//],
    [{ url: 'redis://127.0.0.1', maxInbound: 0 }, /maxInbound/],
    [{ url: 'redis://127.0.0.1', maxOutbound: 1.5 }, /maxOutbound/],
    [{ url: 'redis://127.0.0.1', reconnectDelay: Infinity }, /reconnectDelay/],
    [{ url: 'redis://127.0.0.1', maxQueuedBytes: -1 }, /maxQueuedBytes/],
    [{ url: 'nats://127.0.0.1', maxOrigin: 4 }, /did you mean 'maxOrigins'/],
    [{ url: 'nats://127.0.0.1', prefix: 'a b' }, /prefix/],
    [{ url: 'nats://127.0.0.1', onGap: 1 }, /onGap/],
    ['redis://127.0.0.1', /options\.bus must be an object/],
  ]
  for (const [bus, message] of bad) {
    await t.throwsAsync(serve('tcp://127.0.0.1:0', {}, { bus: bus as never }), { code: 'ERR_INVALID_ARG_VALUE', message }, JSON.stringify(bus))
  }
})

/**
 * An engine in this process with a bus to a fresh redis-server, a raw client of that server,
 * and one subscriber of `topic` whose received frame bodies `bodies()` lists; resolves once the
 * engine's broker subscription is in place.
 */
async function inProcess(t: ExecutionContext, topic: string, options: Omit<BusOptions, 'url'>) {
  const server = await startRedisServer()
  t.teardown(() => stopRedis(server))
  const url = `redis://127.0.0.1:${server.port}`
  const engine = await serve('tcp://127.0.0.1:0', pubsubHandler, { codec: codecs.lengthField(), bus: { url, ...options } })
  t.teardown(() => engine.stop())
  const sub = await connect(engine.port)
  t.teardown(() => sub.destroy())
  sub.write(frame(`S${topic}`))
  t.is((await readExactly(sub, 7)).subarray(4).toString(), 'ok0')
  let stream = Buffer.alloc(0)
  sub.on('data', (d: Buffer) => (stream = Buffer.concat([stream, d])))
  const bodies = () => {
    const out: string[] = []
    for (let at = 0; at + 4 <= stream.length && at + 4 + stream.readUInt32BE(at) <= stream.length; at += 4 + stream.readUInt32BE(at)) {
      out.push(stream.subarray(at + 4, at + 4 + stream.readUInt32BE(at)).toString())
    }
    return out
  }
  const raw = new Redis(url)
  t.teardown(() => raw.disconnect())
  // The engine's broker subscription is in place once Redis counts a subscriber of the channel.
  const deadline = Date.now() + 5000
  while ((((await raw.pubsub('NUMSUB', `riptide:${topic}`)) as [string, number])[1]) !== 1) {
    if (Date.now() > deadline) throw new Error('the engine never subscribed the broker')
    await new Promise((r) => setTimeout(r, 20))
  }
  return { engine, url, raw, bodies, bus: () => engine.metrics().bus! }
}

;(hasRedis ? test.serial : test.skip)(`in process: a burst past maxInbound is dropped and counted, each drop shows in a gap; engine.publish reaches the broker once; riptide/prometheus exports the bus${hasRedis ? '' : ' (SKIPPED: redis-server is not installed)'}`, async (t) => {
  const gaps: BusGap[] = []
  const { engine, url, raw, bodies, bus } = await inProcess(t, 'room', { maxInbound: 5, onGap: (g) => gaps.push(g) })
  const listener = new Redis(url)
  t.teardown(() => listener.disconnect())
  t.is(bus().topics, 1)

  // 100 envelopes in one transaction: Redis writes them to the engine at once, past maxInbound.
  const origin = randomBytes(16)
  const multi = raw.multi()
  for (let i = 1; i <= 100; i++) multi.publish('riptide:room', encodeEnvelope(origin, 1, i, Buffer.from(`m${i}`)))
  await multi.exec()
  await new Promise((r) => setTimeout(r, 200))
  await raw.publish('riptide:room', encodeEnvelope(origin, 1, 101, Buffer.from('m101')))
  await until(() => bus().received + bus().inboundDropped === 101)
  const b = bus()
  t.true(b.inboundPeak <= 5, `the inbound queue held at most its bound (${b.inboundPeak})`)
  t.true(b.inboundDropped > 0, 'the excess was dropped')
  t.is(b.missed, b.inboundDropped, 'every drop shows in a gap')
  t.is(gaps.reduce((n, g) => n + g.missed, 0), b.inboundDropped)
  // The subscriber got exactly the messages the engine took, in order, the last one included.
  await until(() => bodies().length === b.received)
  const numbers = bodies().map((m) => Number(m.slice(1)))
  t.true(numbers.every((n, i) => i === 0 || n > numbers[i - 1]), 'in order')
  t.is(numbers.at(-1), 101)

  // engine.publish: the local subscriber once, and the broker once, in an envelope of this engine.
  const heard: Buffer[] = []
  listener.on('messageBuffer', (_channel: Buffer, message: Buffer) => heard.push(message))
  await listener.subscribe('riptide:room')
  t.is(engine.publish('room', '7'), 1)
  await until(() => heard.length === 1)
  await new Promise((r) => setTimeout(r, 100))
  t.is(heard.length, 1, 'published to the broker once')
  const e = decodeEnvelope(heard[0])!
  t.is(e.origin, b.origin)
  t.is(Buffer.from(e.data).toString(), '7')
  t.is(bus().echoes, 1, 'its echo came back and was dropped')
  t.deepEqual(bodies().slice(b.received), ['7'], 'the local subscriber got it once')

  const registry = new Registry()
  registerMetrics(engine, registry)
  const text = await registry.metrics()
  t.regex(text, /riptide_bus_inbound_dropped_total\{broker="redis"\} [1-9]/)
  t.regex(text, /riptide_bus_published_total\{broker="redis"\} 1\b/)
  t.regex(text, /riptide_bus_topics\{broker="redis"\} 1\b/)
})

;(hasRedis ? test.serial : test.skip)(`in process: maxQueuedBytes bounds the inbound queue by bytes, whatever the count${hasRedis ? '' : ' (SKIPPED: redis-server is not installed)'}`, async (t) => {
  const { raw, bus } = await inProcess(t, 'big', { maxQueuedBytes: 4096 })
  // 20 envelopes of about 1.5 KB at once: the count bound (10,000) never applies; 2 fit in 4 KiB.
  const origin = randomBytes(16)
  const multi = raw.multi()
  for (let i = 1; i <= 20; i++) multi.publish('riptide:big', encodeEnvelope(origin, 1, i, Buffer.alloc(1500, i)))
  await multi.exec()
  await until(() => bus().received + bus().inboundDropped === 20)
  t.true(bus().inboundPeak <= 2, `at most 2 envelopes of 1.5 KB queued under 4 KiB (${bus().inboundPeak})`)
  t.true(bus().inboundDropped > 0, 'the excess was dropped and counted')
})
