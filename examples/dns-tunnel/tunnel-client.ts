/**
 * The client end of the DNS tunnel: a TCP listener whose every connection becomes a KCP
 * session carried inside DNS queries to the tunnel server. Each session has its own client id,
 * UDP socket and {@link DatagramCarrier}; its poller sends one TXT query per upstream datagram
 * (several in flight while data flows) and empty polls while idle, so that the server can
 * answer with what it queued for this client.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { Client, DatagramCarrier, DnsTunnel, serve, type Conn, type Engine, type RiptideError, type ServeOptions } from 'riptide'
import { CLIENT_ID_LENGTH, frames, HELLO, join, kcpSide, tcpSide, tunnelKcp, type Joined } from './shared'

/** Where the tunnel client listens and which DNS server it queries. */
export interface TunnelClientOptions {
  /** The tunnel zone the server answers (`t.example.`). */
  zone: string
  /** The DNS server (`host:port`), directly or through resolvers that pass the zone on. */
  dns: string
  /** Where to accept the TCP connections to tunnel (`host:port`; port 0 picks one). */
  listen: string
  /** The engines' driver (`same-thread` or `thread`); default as `serve`'s. */
  driver?: ServeOptions['driver']
}

/** A running tunnel client. */
export interface TunnelClient {
  /** The TCP port connections to tunnel go to. */
  port: number
  /** Queries sent, answers read, queries that timed out, upstream datagrams dropped (queue full). */
  stats(): { queries: number; answers: number; timeouts: number; dropped: number }
  /** Stops accepting, closes every session. */
  stop(): Promise<void>
}

/** Queries in flight while upstream datagrams wait. */
const MAX_IN_FLIGHT = 32
/** Polls kept in flight while data has flowed within {@link ACTIVE_MS}. */
const ACTIVE_POLLS = 8
/** How long after data flowed the session counts as active. */
const ACTIVE_MS = 250
/**
 * A query with no answer after four smoothed round trips (within these bounds) is given up:
 * it or its answer was lost, and its slot goes to the next query.
 */
const MIN_TIMEOUT_MS = 40
const MAX_TIMEOUT_MS = 2000
/** An idle session polls after this long, doubling up to {@link MAX_IDLE_MS}. */
const MIN_IDLE_MS = 20
const MAX_IDLE_MS = 1000
/** Upstream datagrams waiting for a query slot; past it they are dropped (KCP resends). */
const MAX_UPSTREAM = 512
/** The EDNS size the client advertises (DNS flag day 2020). */
const EDNS_SIZE = 1232

/** A client id: {@link CLIENT_ID_LENGTH} base32 characters. */
function clientId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  return [...randomBytes(CLIENT_ID_LENGTH)].map((b) => alphabet[b & 31]).join('')
}

/** Starts the client's TCP listener. */
export async function startTunnelClient(o: TunnelClientOptions): Promise<TunnelClient> {
  const tunnel = new DnsTunnel(o.zone)
  const counts = { queries: 0, answers: 0, timeouts: 0, dropped: 0 }
  const sessions = new Set<Session>()
  const dns = new Client<Session | undefined>(
    {
      onTraffic(udp: Conn<Session | undefined>, message: Uint8Array) {
        udp.context?.answered(message)
      },
    },
    { driver: o.driver },
  )
  const kcp = new Client<Joined | undefined>(
    {
      ...kcpSide,
      onClose(conn: Joined, err?: RiptideError) {
        kcpSide.onClose?.(conn, err)
        for (const s of sessions) if (s.kcp === conn) s.end()
      },
    },
    { kcp: tunnelKcp(tunnel), codec: frames, driver: o.driver },
  )

  /** One tunnelled TCP connection: its DNS poller, its carrier and its KCP session. */
  class Session {
    readonly id = clientId()
    readonly carrier = new DatagramCarrier({ send: (datagram) => this.#upstream(datagram) })
    udp: Conn<Session | undefined> | undefined
    kcp: Joined | undefined
    readonly #up: Uint8Array[] = []
    /** Sent time of each query in flight, by message id. */
    readonly #inFlight = new Map<number, number>()
    /** Queries given up in the last {@link MAX_TIMEOUT_MS}, by id: a late answer still counts. */
    readonly #late = new Map<number, number>()
    #nextId = randomInt(0x10000)
    #nonce = randomInt(2 ** 32)
    #lastData = 0
    #idleMs = MIN_IDLE_MS
    #idleAt = 0
    /** Smoothed round trip of the queries, in ms (TCP's estimator, RFC 6298's 1/8). */
    #srtt = 100
    readonly #timer = setInterval(() => this.#tick(), 10)

    /** A datagram the KCP session sent: queued for the next query. */
    #upstream(datagram: Uint8Array): void {
      if (this.#up.length >= MAX_UPSTREAM) {
        counts.dropped++
        return
      }
      this.#up.push(datagram.slice())
      this.#pump()
    }

    /** An answer arrived: its datagrams go to the KCP session. */
    answered(message: Uint8Array): void {
      const answer = tunnel.readAnswer(message)
      if (answer === null) return
      const sent = this.#inFlight.get(answer.id)
      if (sent !== undefined) {
        this.#inFlight.delete(answer.id)
        this.#srtt += (performance.now() - sent - this.#srtt) / 8
      } else if (!this.#late.delete(answer.id)) {
        // Not an answer to a query of ours (or a second copy).
        return
      }
      counts.answers++
      if (answer.datagrams.length > 0) this.#active()
      for (const d of answer.datagrams) this.carrier.receive(d, 'server')
      this.#pump()
    }

    /** Sends queries while slots are free: more while datagrams wait or data flows. */
    #pump(): void {
      const udp = this.udp
      if (udp === undefined || !udp.open) return
      const now = performance.now()
      const active = now - this.#lastData < ACTIVE_MS
      const want = this.#up.length > 0 ? MAX_IN_FLIGHT : active ? ACTIVE_POLLS : 0
      while (this.#inFlight.size < want) {
        const datagram = this.#up.shift()
        if (datagram !== undefined) this.#active()
        this.#send(datagram, now)
      }
    }

    #send(datagram: Uint8Array | undefined, now: number): void {
      let id = this.#nextId
      while (this.#inFlight.has(id) || this.#late.has(id)) id = (id + 1) & 0xffff
      this.#nextId = (id + 1) & 0xffff
      this.#nonce = (this.#nonce + 1) >>> 0
      this.#inFlight.set(id, now)
      counts.queries++
      try {
        this.udp!.write(tunnel.query(id, this.id, this.#nonce, datagram, EDNS_SIZE))
      } catch {
        // A connected UDP socket reports an earlier ICMP error here (ECONNREFUSED): the query
        // is as lost as one the network dropped, and times out the same way.
      }
    }

    #active(): void {
      this.#lastData = performance.now()
      this.#idleMs = MIN_IDLE_MS
    }

    /** Gives up lost queries, keeps the flow going, and polls when idle (backing off). */
    #tick(): void {
      const now = performance.now()
      const timeout = Math.min(Math.max(4 * this.#srtt, MIN_TIMEOUT_MS), MAX_TIMEOUT_MS)
      for (const [id, sent] of this.#inFlight) {
        if (now - sent > timeout) {
          this.#inFlight.delete(id)
          this.#late.set(id, now)
          counts.timeouts++
        }
      }
      for (const [id, at] of this.#late) if (now - at > MAX_TIMEOUT_MS) this.#late.delete(id)
      this.#pump()
      if (this.#inFlight.size === 0 && now >= this.#idleAt && this.udp?.open) {
        this.#send(undefined, now)
        this.#idleAt = now + this.#idleMs
        this.#idleMs = Math.min(this.#idleMs * 2, MAX_IDLE_MS)
      }
    }

    /** The session is over: stop polling and close the UDP socket. */
    end(): void {
      clearInterval(this.#timer)
      sessions.delete(this)
      this.udp?.close()
    }
  }

  const engine: Engine = await serve<Joined | undefined>(
    `tcp://${o.listen}`,
    {
      ...tcpSide,
      onOpen(tcp) {
        // Nothing is read until the KCP session exists.
        tcp.pause()
        const session = new Session()
        sessions.add(session)
        void (async () => {
          try {
            session.udp = await dns.dial(`udp://${o.dns}`, { context: session })
            session.kcp = await kcp.dial('kcp://server', { carrier: session.carrier })
            session.kcp.write(HELLO)
            if (tcp.open) join(tcp, session.kcp)
            else session.kcp.close()
          } catch {
            session.end()
            tcp.close()
          }
        })()
      },
    },
    { driver: o.driver },
  )
  return {
    port: engine.port,
    stats: () => ({ ...counts }),
    async stop() {
      for (const s of sessions) s.end()
      await engine.stop()
      await kcp.stop()
      await dns.stop()
    },
  }
}
