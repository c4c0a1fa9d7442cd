/**
 * Cross-instance pub/sub (`serve`'s `bus` option, docs/deploy.md): an engine's topics span
 * every instance that names the same broker. A publication goes to this engine's subscribers
 * directly and to the broker once, in an envelope (`bus-envelope.ts`); what arrives from the
 * broker is published to this engine's subscribers unless it is this engine's own echo, a
 * duplicate, or not ours. The engine holds one broker subscription per topic while any reactor
 * has a subscriber to it. Redis pub/sub (ioredis) is the default broker, NATS
 * (@nats-io/transport-node) the second; both deliver at most once, so losses are detected from
 * the sequence numbers and reported (`onGap`), never hidden. Both queues are bounded and count
 * what they drop.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { connect as natsConnect, type NatsConnection, type Subscription } from '@nats-io/transport-node'
import { InvalidOptionError } from './errors'
import { type BusGap, decodeEnvelope, encodeEnvelope, GapTracker, ORIGIN_BYTES, Sequencer } from './bus-envelope'
import { watchToken, unwatch } from './async'
import { int, knownKeys, ms } from './validate'
import type { NativeEngine } from './native'

export type { BusGap } from './bus-envelope'

/** The `bus` option of `serve`: the broker that carries this engine's topics to other instances. */
export interface BusOptions {
  /**
   * The broker: `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS) for Redis
   * pub/sub, `nats://[user:password@]host[:port]` for NATS. Required.
   */
  url: string
  /** Prefix of the broker channel (Redis) or subject (NATS) of each topic; instances that share it share topics. Default `'riptide'`. */
  prefix?: string
  /** Publications held for the broker while it is slow or unreachable; more are dropped and counted. Default `10000`. */
  maxOutbound?: number
  /** Publications from the broker held until this engine takes them; more are dropped and counted. Default `10000`. */
  maxInbound?: number
  /** Bytes each queue may hold (envelopes included), whatever the count; more are dropped and counted. Default `67108864` (64 MiB). */
  maxQueuedBytes?: number
  /** Ms between attempts to reach the broker again after a connection is lost. Default `100`. */
  reconnectDelay?: number
  /** Topics this engine numbers at once (the least recently published starts a new stream past that). Default `65536`. */
  maxTopics?: number
  /** Origins tracked per topic (the least recently heard is forgotten past that). Default `1024`. */
  maxOrigins?: number
  /**
   * Called when messages from another instance were lost: the broker dropped them, a
   * connection to it was cut, or a bounded queue overflowed. The messages after a gap are
   * still delivered; the lost ones are gone (the brokers keep nothing).
   */
  onGap?: (gap: BusGap) => void
}

/** {@link BusOptions} checked, with defaults. */
export type ResolvedBusOptions = Required<Omit<BusOptions, 'onGap'>> & Pick<BusOptions, 'onGap'> & {
  /** Which broker the URL names. */
  kind: 'redis' | 'nats'
}

const BUS_KEYS = ['url', 'prefix', 'maxOutbound', 'maxInbound', 'maxQueuedBytes', 'reconnectDelay', 'maxTopics', 'maxOrigins', 'onGap']
const SCHEMES: Record<string, 'redis' | 'nats'> = { 'redis:': 'redis', 'rediss:': 'redis', 'nats:': 'nats' }

/** Validates `options.bus` and fills its defaults; throws `ERR_INVALID_ARG_VALUE`. */
export function resolveBus(value: unknown): ResolvedBusOptions {
  if (value === null || typeof value !== 'object') throw new InvalidOptionError('options.bus must be an object')
  knownKeys('options.bus', value, BUS_KEYS)
  const b = value as BusOptions
  if (typeof b.url !== 'string') throw new InvalidOptionError('options.bus.url must be a redis:// or nats:// URL')
  let kind: 'redis' | 'nats' | undefined
  try {
    kind = SCHEMES[new URL(b.url).protocol]
  } catch {
    kind = undefined
  }
  if (kind === undefined) throw new InvalidOptionError(`options.bus.url must be a redis://, rediss:// or nats:// URL, got ${b.url}`)
  const prefix = b.prefix ?? 'riptide'
  if (typeof prefix !== 'string' || prefix === '' || prefix.length > 128 || !/^[A-Za-z0-9_\-:]+$/.test(prefix)) {
    throw new InvalidOptionError('options.bus.prefix must be 1 to 128 characters of A-Z a-z 0-9 _ - :')
  }
  if (b.onGap !== undefined && typeof b.onGap !== 'function') throw new InvalidOptionError('options.bus.onGap must be a function')
  return {
    kind,
    url: b.url,
    prefix,
    maxOutbound: int('options.bus.maxOutbound', b.maxOutbound ?? 10_000, 1, 1 << 24),
    maxInbound: int('options.bus.maxInbound', b.maxInbound ?? 10_000, 1, 1 << 24),
    maxQueuedBytes: int('options.bus.maxQueuedBytes', b.maxQueuedBytes ?? 64 * 1024 * 1024, 1, 2 ** 40),
    reconnectDelay: ms('options.bus.reconnectDelay', b.reconnectDelay ?? 100, 1),
    maxTopics: int('options.bus.maxTopics', b.maxTopics ?? 65_536, 1, 1 << 24),
    maxOrigins: int('options.bus.maxOrigins', b.maxOrigins ?? 1024, 1, 1 << 20),
    onGap: b.onGap,
  }
}

/** The bus's counters in `engine.metrics().bus` (docs/metrics.md). */
export interface BusMetrics {
  /** Which broker. */
  broker: 'redis' | 'nats'
  /** True while the connection to the broker is up. */
  connected: boolean
  /** This engine's id in envelopes (hex); `origin` of the gaps other instances report about it. */
  origin: string
  /** Topics the broker is subscribed to now (those with a subscriber on some reactor). */
  topics: number
  /** Publications handed to the broker. */
  published: number
  /** Publications from other instances published to this engine's subscribers. */
  received: number
  /** Publications not sent: the outbound queue was full (`maxOutbound`, `maxQueuedBytes`), or the broker connection failed under them. */
  outboundDropped: number
  /** Publications from the broker dropped because the inbound queue was full (`maxInbound`, `maxQueuedBytes`). */
  inboundDropped: number
  /** Gaps seen (each also reported to `onGap`). */
  gaps: number
  /** Messages the gaps span. */
  missed: number
  /** Messages from the broker dropped as duplicates (at or below a sequence number seen). */
  duplicates: number
  /** This engine's own publications coming back from the broker, dropped. */
  echoes: number
  /** Messages on our channels that are not envelopes, dropped. */
  invalid: number
  /** Times the broker subscriptions were restored after a lost connection. */
  resubscribes: number
  /** Publications waiting for the broker now (at most `maxOutbound`). */
  outboundQueued: number
  /** Publications waiting for this engine now (at most `maxInbound`). */
  inboundQueued: number
  /** Most publications the outbound queue has held. */
  outboundPeak: number
  /** Most publications the inbound queue has held. */
  inboundPeak: number
}

/** What the bus needs of a broker client. */
interface Broker {
  /** True while messages can be published and subscriptions are in place. */
  readonly up: boolean
  subscribe(channel: string): void
  unsubscribe(channel: string): void
  /** Sends one message; settles when the broker took it (or failed). */
  publish(channel: string, data: Buffer): Promise<void> | void
  close(): Promise<void>
}

/** What a broker client tells the bus. */
interface BrokerEvents {
  message(channel: string, data: Uint8Array): void
  /** The connection is up again and the subscriptions are restored (`restored`: after a loss). */
  up(restored: boolean): void
  report(err: unknown): void
}

/** How many broker publishes may be outstanding at once (Redis pipelines them). */
const MAX_IN_FLIGHT = 1024
/** Inbound publications taken per turn of the JS loop. */
const INBOUND_BATCH = 1024

/** The cross-instance bus of one engine, on reactor 0's thread. */
export class Bus {
  readonly #o: ResolvedBusOptions
  readonly #native: NativeEngine
  readonly #report: (err: unknown, where: string) => void
  readonly #origin = randomBytes(ORIGIN_BYTES)
  readonly #originHex = this.#origin.toString('hex')
  readonly #sequencer: Sequencer
  readonly #tracker: GapTracker
  readonly #broker: Broker
  /** Topics the broker is subscribed to, by channel. */
  readonly #topics = new Map<string, string>()
  #outbound: Array<{ channel: string, data: Buffer }> = []
  #inbound: Array<{ channel: string, data: Uint8Array }> = []
  #outboundBytes = 0
  #inboundBytes = 0
  #inFlight = 0
  #drainScheduled = false
  #watch = 0
  #closed = false
  readonly #m = { published: 0, received: 0, outboundDropped: 0, inboundDropped: 0, gaps: 0, missed: 0, duplicates: 0, echoes: 0, invalid: 0, resubscribes: 0, outboundPeak: 0, inboundPeak: 0 }

  /** Connects to the broker (in the background) and follows the engine's topics. */
  constructor(options: ResolvedBusOptions, native: NativeEngine, report: (err: unknown, where: string) => void) {
    this.#o = options
    this.#native = native
    this.#report = report
    this.#sequencer = new Sequencer(options.maxTopics)
    this.#tracker = new GapTracker(options.maxOrigins)
    const events: BrokerEvents = {
      message: (channel, data) => this.#received(channel, data),
      up: (restored) => {
        if (restored) this.#m.resubscribes++
        this.#pump()
      },
      report: (err) => this.#report(err, 'bus'),
    }
    this.#broker = options.kind === 'redis' ? new RedisBroker(options, events) : new NatsBroker(options, events)
    this.#watchInterest()
  }

  /** Sends a publication this engine made to the other instances. */
  publish(topic: string, publication: Uint8Array): void {
    if (this.#closed) return
    const { stream, seq } = this.#sequencer.next(topic)
    // A message dropped here still used its number, so the receivers see the gap.
    const data = encodeEnvelope(this.#origin, stream, seq, publication)
    if (this.#outbound.length >= this.#o.maxOutbound || this.#outboundBytes + data.length > this.#o.maxQueuedBytes) {
      this.#m.outboundDropped++
      return
    }
    this.#outboundBytes += data.length
    this.#outbound.push({ channel: this.#channel(topic), data })
    this.#m.outboundPeak = Math.max(this.#m.outboundPeak, this.#outbound.length)
    this.#pump()
  }

  /** The counters now. */
  metrics(): BusMetrics {
    return {
      broker: this.#o.kind,
      connected: this.#broker.up,
      origin: this.#originHex,
      topics: this.#topics.size,
      ...this.#m,
      outboundQueued: this.#outbound.length,
      inboundQueued: this.#inbound.length,
    }
  }

  /** Stops following topics and closes the broker clients; what is queued is dropped (and counted). */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    unwatch(this.#watch)
    this.#m.outboundDropped += this.#outbound.length
    this.#m.inboundDropped += this.#inbound.length
    this.#outbound = []
    this.#inbound = []
    this.#outboundBytes = 0
    this.#inboundBytes = 0
    await this.#broker.close()
  }

  #channel(topic: string): string {
    // NATS subjects are dot-separated tokens without spaces or wildcards: the topic goes as base64url.
    return this.#o.kind === 'redis' ? `${this.#o.prefix}:${topic}` : `${this.#o.prefix}.${Buffer.from(topic).toString('base64url')}`
  }

  /** Asks to hear when a topic gains its first subscriber or loses its last, on any reactor. */
  #watchInterest(): void {
    if (this.#closed) return
    this.#watch = watchToken(() => {
      for (const topic of this.#native.takeInterestChanges()) this.#follow(topic)
      this.#watchInterest()
    })
    this.#native.watchInterest(this.#watch)
  }

  /** Subscribes the broker to `topic` when it has subscribers now, unsubscribes it when not. */
  #follow(topic: string): void {
    const channel = this.#channel(topic)
    const wanted = this.#native.subscriberCount(topic) > 0
    if (wanted === this.#topics.has(channel)) return
    if (wanted) {
      this.#topics.set(channel, topic)
      this.#broker.subscribe(channel)
    } else {
      this.#topics.delete(channel)
      this.#broker.unsubscribe(channel)
      // What is published while nobody here listens is not a loss.
      this.#tracker.forget(topic)
    }
  }

  #pump(): void {
    while (this.#broker.up && this.#inFlight < MAX_IN_FLIGHT && this.#outbound.length > 0) {
      const { channel, data } = this.#outbound.shift()!
      this.#outboundBytes -= data.length
      let sent: Promise<void> | void
      try {
        sent = this.#broker.publish(channel, data)
      } catch {
        this.#m.outboundDropped++
        continue
      }
      if (sent === undefined) {
        this.#m.published++
        continue
      }
      this.#inFlight++
      sent.then(
        () => {
          this.#m.published++
        },
        () => {
          this.#m.outboundDropped++
        },
      ).finally(() => {
        this.#inFlight--
        this.#pump()
      })
    }
  }

  #received(channel: string, data: Uint8Array): void {
    if (this.#closed) return
    if (this.#inbound.length >= this.#o.maxInbound || this.#inboundBytes + data.length > this.#o.maxQueuedBytes) {
      this.#m.inboundDropped++
      return
    }
    this.#inboundBytes += data.length
    this.#inbound.push({ channel, data })
    this.#m.inboundPeak = Math.max(this.#m.inboundPeak, this.#inbound.length)
    if (!this.#drainScheduled) {
      this.#drainScheduled = true
      setImmediate(() => this.#drain())
    }
  }

  /** Publishes a batch of what arrived to this engine's subscribers. */
  #drain(): void {
    this.#drainScheduled = false
    if (this.#closed) return
    const batch = this.#inbound.splice(0, INBOUND_BATCH)
    for (const { channel, data } of batch) {
      this.#inboundBytes -= data.length
      const topic = this.#topics.get(channel)
      if (topic === undefined) continue // unsubscribed meanwhile
      const e = decodeEnvelope(data)
      if (e === undefined) {
        this.#m.invalid++
        continue
      }
      if (e.origin === this.#originHex) {
        this.#m.echoes++
        continue
      }
      if (this.#tracker.accept(topic, e, (gap) => this.#gap(gap)) === 'duplicate') {
        this.#m.duplicates++
        continue
      }
      try {
        this.#native.publish(topic, e.data)
        this.#m.received++
      } catch (err) {
        this.#report(err, 'bus')
      }
    }
    if (this.#inbound.length > 0) {
      this.#drainScheduled = true
      setImmediate(() => this.#drain())
    }
  }

  #gap(gap: BusGap): void {
    this.#m.gaps++
    this.#m.missed += gap.missed
    try {
      this.#o.onGap?.(gap)
    } catch (err) {
      this.#report(err, 'onGap')
    }
  }
}

/** Redis pub/sub through ioredis: one connection publishes, one subscribes (Redis's rule). */
class RedisBroker implements Broker {
  readonly #pub: Redis
  readonly #sub: Redis
  readonly #channels = new Set<string>()
  readonly #events: BrokerEvents
  #lost = false
  #subscribed = false

  constructor(o: ResolvedBusOptions, events: BrokerEvents) {
    this.#events = events
    // riptide restores the subscriptions itself (so it can count it), holds what waits for
    // the broker in its own bounded queue (not ioredis's unbounded offline queue), and retries
    // every `reconnectDelay` for as long as it runs.
    const common = { retryStrategy: () => o.reconnectDelay, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: false }
    this.#pub = new Redis(o.url, { ...common })
    this.#sub = new Redis(o.url, { ...common, autoResubscribe: false })
    for (const client of [this.#pub, this.#sub]) client.on('error', () => {}) // surfaced as `connected` and counters
    this.#pub.on('ready', () => events.up(false))
    this.#sub.on('close', () => {
      if (this.#subscribed) this.#lost = true
      this.#subscribed = false
    })
    this.#sub.on('ready', () => this.#restore())
    this.#sub.on('messageBuffer', (channel: Buffer, message: Buffer) => events.message(channel.toString(), message))
  }

  get up(): boolean {
    return this.#pub.status === 'ready'
  }

  subscribe(channel: string): void {
    this.#channels.add(channel)
    if (this.#subscribed) this.#sub.subscribe(channel).catch((err: unknown) => this.#events.report(err))
  }

  unsubscribe(channel: string): void {
    this.#channels.delete(channel)
    if (this.#subscribed) this.#sub.unsubscribe(channel).catch((err: unknown) => this.#events.report(err))
  }

  publish(channel: string, data: Buffer): Promise<void> {
    return this.#pub.publish(channel, data).then(() => undefined)
  }

  /** Subscribes the new connection to every channel wanted now. */
  #restore(): void {
    const wanted = new Set(this.#channels)
    const done = () => {
      this.#subscribed = true
      // Channels wanted or given up while the SUBSCRIBE was on its way.
      const added = [...this.#channels].filter((c) => !wanted.has(c))
      const dropped = [...wanted].filter((c) => !this.#channels.has(c))
      if (added.length > 0) this.#sub.subscribe(...added).catch((err: unknown) => this.#events.report(err))
      if (dropped.length > 0) this.#sub.unsubscribe(...dropped).catch((err: unknown) => this.#events.report(err))
      this.#events.up(this.#lost)
      this.#lost = false
    }
    if (wanted.size === 0) return done()
    this.#sub.subscribe(...wanted).then(done, () => this.#sub.disconnect(true))
  }

  async close(): Promise<void> {
    await Promise.all([this.#pub, this.#sub].map((c) => c.quit().catch(() => c.disconnect())))
  }
}

/** Core NATS through nats.js, which restores subscriptions on its reconnects. */
class NatsBroker implements Broker {
  /** The wanted subjects, with their subscription once connected. */
  readonly #subs = new Map<string, Subscription | undefined>()
  readonly #events: BrokerEvents
  #nc: NatsConnection | undefined
  #up = false
  #closed = false
  readonly #connected: Promise<void>

  constructor(o: ResolvedBusOptions, events: BrokerEvents) {
    this.#events = events
    const url = new URL(o.url)
    this.#connected = this.#connect(o, url)
  }

  async #connect(o: ResolvedBusOptions, url: URL): Promise<void> {
    const auth = url.username === '' ? {} : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) }
    for (;;) {
      try {
        this.#nc = await natsConnect({ servers: `${url.hostname}:${url.port || 4222}`, ...auth, reconnectTimeWait: o.reconnectDelay, maxReconnectAttempts: -1, pingInterval: 1000, maxPingOut: 2, timeout: 2000 })
        break
      } catch (err) {
        if (this.#closed) return
        this.#events.report(err)
        await new Promise((resolve) => setTimeout(resolve, o.reconnectDelay))
        if (this.#closed) return
      }
    }
    if (this.#closed) return void (await this.#nc.close())
    for (const channel of [...this.#subs.keys()]) this.#listen(channel)
    this.#up = true
    this.#events.up(false)
    void this.#follow(this.#nc)
  }

  /** Tracks the connection's state: nats.js has resent the subscriptions when it reports `reconnect`. */
  async #follow(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.#up = false
      else if (s.type === 'reconnect') {
        this.#up = true
        this.#events.up(true)
      }
    }
  }

  get up(): boolean {
    return this.#up
  }

  #listen(channel: string): void {
    const nc = this.#nc!
    this.#subs.set(channel, nc.subscribe(channel, { callback: (err, msg) => (err === null ? this.#events.message(channel, msg.data) : this.#events.report(err)) }))
  }

  subscribe(channel: string): void {
    if (this.#nc === undefined) this.#subs.set(channel, undefined)
    else this.#listen(channel)
  }

  unsubscribe(channel: string): void {
    this.#subs.get(channel)?.unsubscribe()
    this.#subs.delete(channel)
  }

  publish(channel: string, data: Buffer): void {
    this.#nc!.publish(channel, data)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#up = false
    await this.#connected
    await this.#nc?.close()
  }
}
