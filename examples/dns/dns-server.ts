/**
 * An authoritative DNS server on one riptide engine: the same port over UDP (each datagram a
 * query) and TCP (queries framed by a 2-byte big-endian length, RFC 1035 §4.2.2, as the
 * length-field codec reads them). Answers come from a {@link DnsZone}, in Rust.
 */
import net from 'node:net'
import { AddressInUseError, codecs, DnsZone, serve, type Engine, type ServeOptions } from 'riptide'

/** Where and what to serve. */
export interface DnsServerOptions {
  /** Master-file text of the zone. */
  zone: string
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

/** A running server: its engine, its zone and the port it answers on. */
export interface DnsServer {
  engine: Engine
  zone: DnsZone
  port: number
  /** Queries answered, and dropped (no header, or a response), since start. */
  stats: { answered: number; dropped: number }
}

/** Starts the server; `engine.stop()` stops it. */
export async function serveDns(o: DnsServerOptions): Promise<DnsServer> {
  const zone = new DnsZone(o.zone)
  const host = o.host ?? '127.0.0.1'
  const stats = { answered: 0, dropped: 0 }
  const reply = (query: Uint8Array, transport: 'udp' | 'tcp'): Uint8Array | null => {
    const r = o.tunnel?.answer(query, transport) ?? zone.answer(query, transport)
    if (r === null) stats.dropped++
    else stats.answered++
    return r
  }
  const start = (port: number) =>
    serve(
      [
        `udp://${host}:${port}`,
        // A DNS message is at most 65,535 bytes, the length field's own limit; the codec's
        // maximum counts the 2-byte field too, so no frame a client can send is too long.
        { url: `tcp://${host}:${port}`, codec: codecs.lengthField({ lengthFieldLength: 2, maxFrameLength: 65537 }) },
      ],
      {
        onDatagram(socket, peer, query) {
          const r = reply(query, 'udp')
          if (r !== null) socket.sendTo(peer, r)
        },
        onTraffic(conn, query) {
          const r = reply(query, 'tcp')
          if (r !== null) conn.write(r)
          else conn.close()
        },
      },
      o.serve,
    )
  const engine = o.port !== 0 ? await start(o.port) : await startOnFreePort(start)
  return { engine, zone, port: engine.port, stats }
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
