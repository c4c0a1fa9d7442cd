/**
 * The server end of the DNS tunnel, mounted in the DNS server example
 * (`examples/dns/server.ts --tunnel-zone t.example. --tunnel-target 127.0.0.1:22`): queries
 * under the tunnel zone feed a {@link DatagramCarrier}, whose KCP listener forwards each
 * session to the TCP target; answers carry what the sessions sent to that client. Everything
 * else the DNS server answers from its zone file as before.
 */
import { Client, DatagramCarrier, DnsTunnel, serve, type Conn, type DnsTransport, type Engine, type ServeOptions } from 'riptide'
import { frames, HELLO, join, kcpSide, tcpSide, tunnelKcp, type Joined } from './shared'

/** What the tunnel serves, and its bounds. */
export interface TunnelServerOptions {
  /** The tunnel zone (`t.example.`): its names are tunnel queries, never zone lookups. */
  zone: string
  /** Where each KCP session is forwarded (a TCP `host:port`). */
  target: string
  /** Clients served at once; past it the one heard from least recently is forgotten. Default `256`. */
  maxClients?: number
  /** Datagrams queued for one client until its next query; past it they are dropped (KCP resends). Default `256`. */
  maxQueue?: number
  /** Options of the KCP engine (its driver, say). */
  serve?: ServeOptions
}

/** A running tunnel server. */
export interface TunnelServer {
  /**
   * The reply to a query under the tunnel zone (a tunnel answer, or NXDOMAIN/REFUSED for a
   * name that is not a tunnel query), or `undefined` for a query the zones should answer.
   */
  answer(query: Uint8Array, transport: DnsTransport): Uint8Array | undefined
  /**
   * Tunnel queries answered and refused; clients known (here and to the carrier); datagrams
   * waiting and dropped for full queues; KCP sessions open.
   */
  stats(): { queries: number; refused: number; clients: number; peers: number; queued: number; dropped: number; sessions: number }
  /** Stops the KCP engine and the TCP client. */
  stop(): Promise<void>
}

/** Starts the tunnel's KCP listener; mount {@link TunnelServer.answer} in a DNS server. */
export async function serveTunnel(o: TunnelServerOptions): Promise<TunnelServer> {
  const tunnel = new DnsTunnel(o.zone)
  const maxClients = o.maxClients ?? 256
  const maxQueue = o.maxQueue ?? 256
  const counts = { queries: 0, refused: 0, dropped: 0 }
  /** Each client's waiting datagrams, least recently heard first (Map order). */
  const queues = new Map<string, Uint8Array[]>()
  const heard = (client: string): Uint8Array[] => {
    const queue = queues.get(client) ?? []
    queues.delete(client)
    queues.set(client, queue)
    if (queues.size > maxClients) queues.delete(queues.keys().next().value!)
    return queue
  }
  const carrier = new DatagramCarrier({
    maxPeers: maxClients,
    send(datagram, client) {
      // Only clients the carrier heard from get datagrams; a forgotten one's are dropped.
      const queue = queues.get(client)
      if (queue === undefined || queue.length >= maxQueue) counts.dropped++
      else queue.push(datagram.slice())
    },
  })
  const targets = new Client<Joined | undefined>(tcpSide)
  /** Sessions whose hello arrived. */
  const greeted = new WeakSet<Conn>()
  const engine: Engine = await serve<Joined | undefined>(
    { url: 'kcp://tunnel', carrier },
    {
      ...kcpSide,
      onTraffic(kcp, frame) {
        if (greeted.has(kcp)) return kcpSide.onTraffic!(kcp, frame)
        greeted.add(kcp)
        if (frame.length !== HELLO.length || frame[0] !== HELLO[0]) kcp.close()
      },
      onOpen(kcp) {
        // Nothing is read until the target answers; KCP's window holds the client meanwhile.
        kcp.pause()
        targets.dial(`tcp://${o.target}`).then(
          (tcp: Conn<Joined | undefined>) => (kcp.open ? join(kcp, tcp) : tcp.close()),
          () => kcp.close(),
        )
      },
    },
    { kcp: tunnelKcp(tunnel), codec: frames, ...o.serve },
  )
  return {
    answer(query, transport) {
      const read = tunnel.read(query, transport)
      if (read.kind === 'other') return undefined
      if (read.kind === 'refused') {
        counts.refused++
        return read.reply
      }
      counts.queries++
      const queue = heard(read.client)
      if (read.datagram.length > 0) carrier.receive(read.datagram, read.client)
      const { reply, taken } = read.answer(queue)
      queue.splice(0, taken)
      return reply
    },
    stats: () => ({
      ...counts,
      clients: queues.size,
      peers: carrier.stats().peers,
      queued: [...queues.values()].reduce((n, q) => n + q.length, 0),
      sessions: engine.countConnections(),
    }),
    async stop() {
      await targets.stop()
      await engine.stop()
    },
  }
}
