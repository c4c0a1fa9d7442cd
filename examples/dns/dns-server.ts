/**
 * A DNS server on one riptide engine: the same port over UDP (each datagram a query) and TCP
 * (queries framed by a 2-byte big-endian length, RFC 1035 §4.2.2, as the length-field codec
 * reads them). It answers either authoritatively from a {@link DnsZone}, or recursively with
 * a {@link DnsResolver} that iterates from root hints; both decide in Rust.
 */
import net from 'node:net'
import {
  AddressInUseError,
  Client,
  codecs,
  DnsResolver,
  type DnsResolverOptions,
  type DnsTransmit,
  DnsZone,
  serve,
  type Conn,
  type DatagramSocket,
  type Engine,
  type ServeOptions,
} from 'riptide'

/** Where and what to serve: a zone, or recursion (`resolve`), not both. */
export interface DnsServerOptions {
  /** Master-file text of the zone to answer authoritatively. */
  zone?: string
  /** Answer clients' RD queries by iterating from these root hints. */
  resolve?: DnsResolverOptions
  /** Port for both UDP and TCP; `0` picks one that is free for both. */
  port: number
  /** Address to bind. Default `127.0.0.1`. */
  host?: string
  /** Engine options (the driver, say). */
  serve?: ServeOptions
  /**
   * Answers queries under another zone first (`undefined`: not its query): the DNS tunnel's
   * server end (`examples/dns-tunnel/tunnel-server.ts`).
   */
  tunnel?: { answer(query: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | undefined }
}

/** A running server: its engine, its zone or resolver, and the port it answers on. */
export interface DnsServer {
  engine: Engine
  zone?: DnsZone
  resolver?: DnsResolver
  port: number
  /** Queries answered, and dropped (no header, or a response), since start. */
  stats: { answered: number; dropped: number }
  /** Stops the engine and whatever the resolver runs (its timer, its TCP client). */
  stop(): Promise<void>
}

/** The length-field codec of DNS over TCP: a message is at most 65,535 bytes, the field's own limit (the maximum counts the field). */
const tcpFrames = () => codecs.lengthField({ lengthFieldLength: 2, maxFrameLength: 65537 })


/** Starts the server; `server.stop()` stops it. */
export async function serveDns(o: DnsServerOptions): Promise<DnsServer> {
  if ((o.zone === undefined) === (o.resolve === undefined)) throw new Error('serveDns needs a zone or resolve options, not both')
  const host = o.host ?? '127.0.0.1'
  const stats = { answered: 0, dropped: 0 }
  const zone = o.zone === undefined ? undefined : new DnsZone(o.zone)
  const recursive = o.resolve === undefined ? undefined : recursion(new DnsResolver(o.resolve))
  /** Answers `query` through `send` (now, or once resolved); false when it is dropped. */
  const answer = (query: Uint8Array, transport: 'udp' | 'tcp', send: (reply: Uint8Array) => void): boolean => {
    const reply = (r: Uint8Array) => {
      stats.answered++
      send(r)
    }
    const tunneled = o.tunnel?.answer(query, transport)
    if (tunneled !== undefined) {
      reply(tunneled)
      return true
    }
    if (recursive !== undefined) return recursive.ask(query, transport, reply)
    const r = zone!.answer(query, transport)
    if (r !== null) reply(r)
    return r !== null
  }
  const start = (port: number) =>
    serve(
      [`udp://${host}:${port}`, { url: `tcp://${host}:${port}`, codec: tcpFrames() }],
      {
        onDatagram(socket, peer, data) {
          // A response is the answer to one of the resolver's own queries upstream.
          if (recursive !== undefined && data.length >= 3 && (data[2] & 0x80) !== 0) recursive.answered(peer, data)
          else if (!answer(data, 'udp', (r) => socket.sendTo(peer, r))) stats.dropped++
        },
        onTraffic(conn, query) {
          if (answer(query, 'tcp', (r) => conn.open && conn.write(r))) return
          stats.dropped++
          conn.close()
        },
      },
      o.serve,
    )
  const engine = o.port !== 0 ? await start(o.port) : await startOnFreePort(start)
  recursive?.attach(engine.datagramSocket(0))
  return {
    engine,
    zone,
    resolver: recursive?.resolver,
    port: engine.port,
    stats,
    async stop() {
      await recursive?.stop()
      await engine.stop()
    },
  }
}

/**
 * The I/O of a resolver: queries upstream go out of the server's own UDP socket (their
 * answers come back to `onDatagram`), over TCP from a client when an answer was truncated;
 * one JS timer stays armed at the resolver's next deadline. A JS timer rather than the
 * reactor's: the engine's ticker cannot be moved earlier once armed, and the reactor's timing
 * wheel is per connection, while a UDP listener's datagrams have none.
 */
function recursion(resolver: DnsResolver) {
  const waiting = new Map<number, (reply: Uint8Array) => void>()
  let udp: DatagramSocket | undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const tcp = new Client(
    {
      onTraffic(conn: Conn, frame: Uint8Array) {
        resolver.handleResponse(conn.remote, 'tcp', frame)
        conn.close()
        pump()
      },
    },
    { codec: tcpFrames(), connectTimeout: 5000 },
  )
  const sendTcp = (t: DnsTransmit) => {
    const url = `tcp://${t.to.family === 'IPv6' ? `[${t.to.address}]` : t.to.address}:${t.to.port}`
    // A refused or failed dial is a query with no answer: the resolver's timeout moves on.
    tcp.dial(url).then((conn) => conn.write(t.message), () => undefined)
  }
  const pump = () => {
    for (let t = resolver.pollTransmit(); t !== null; t = resolver.pollTransmit()) {
      if (t.transport === 'tcp') sendTcp(t)
      else udp?.sendTo(t.to, t.message)
    }
    for (let r = resolver.pollResolved(); r !== null; r = resolver.pollResolved()) {
      const send = waiting.get(r.lookup)
      waiting.delete(r.lookup)
      if (send !== undefined && r.reply !== null) send(r.reply)
    }
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    const due = resolver.pollTimeout()
    if (due !== null && !stopped) {
      timer = setTimeout(() => {
        timer = undefined
        resolver.handleTimeout()
        pump()
      }, Math.ceil(due))
    }
  }
  return {
    resolver,
    attach(socket: DatagramSocket) {
      udp = socket
    },
    /** Takes a client's query; false when it is dropped. */
    ask(query: Uint8Array, transport: 'udp' | 'tcp', send: (reply: Uint8Array) => void): boolean {
      const id = resolver.query(query, transport)
      if (id === null) return false
      waiting.set(id, send)
      pump()
      return true
    },
    answered(from: Parameters<DnsResolver['handleResponse']>[0], response: Uint8Array) {
      resolver.handleResponse(from, 'udp', response)
      pump()
    },
    async stop() {
      stopped = true
      if (timer !== undefined) clearTimeout(timer)
      await tcp.stop()
    },
  }
}

/** Starts on a port the OS reports free for TCP, again on another if UDP has it taken. */
async function startOnFreePort(start: (port: number) => Promise<Engine>): Promise<Engine> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start(await freeTcpPort())
    } catch (e) {
      if (!(e instanceof AddressInUseError) || attempt === 10) throw e
    }
  }
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo
      s.close(() => resolve(port))
    })
    s.once('error', reject)
  })
}
