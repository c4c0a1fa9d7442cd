/**
 * What both ends of the DNS tunnel agree on: the KCP settings (the MTU is what one query name
 * carries), the framing on the KCP session (a hello first; an empty frame is the end of the
 * TCP stream, which KCP itself cannot say), and the two handlers that join a TCP connection
 * and a KCP session in both directions with backpressure.
 */
import { codecs, type Conn, type DnsTunnel, type EventHandler, type KcpOptions } from 'riptide'

/** Characters of a client id (the carrier's peer name): 40 random bits in base32. */
export const CLIENT_ID_LENGTH = 8

/**
 * KCP through DNS: one datagram per query name, so the MTU is the name's capacity (139 bytes
 * under `t.example.`); fast retransmit and no congestion window, since the query rate, not
 * KCP, paces the tunnel; a patient dead-link count, as a lost query costs a whole timeout.
 */
export function tunnelKcp(tunnel: DnsTunnel): KcpOptions {
  const mtu = tunnel.capacity(CLIENT_ID_LENGTH)
  // A KCP write is at most 127 segments of `mtu - 24` bytes: a frame and its header must fit.
  if (127 * (mtu - 24) < FRAME + 2) throw new Error(`zone ${tunnel.zone} is too long: a query name carries ${mtu} bytes`)
  return {
    mtu,
    nodelay: true,
    interval: 10,
    resend: 2,
    nc: true,
    sndWnd: 128,
    rcvWnd: 256,
    stream: true,
    deadLink: 60,
    idleTimeout: 60_000,
  }
}

/**
 * Frames on the KCP session: a 2-byte length, then the bytes. The client's first frame is
 * {@link HELLO} (a KCP server hears of a session only from its first data, and a TCP server
 * may be the one to speak first); an empty frame ends the stream.
 */
export const frames = codecs.lengthField({ lengthFieldLength: 2, maxFrameLength: 65537 })

/** The client's first frame: version 1 of this little protocol. */
export const HELLO = Uint8Array.of(1)

/** The largest frame written (TCP reads may be larger). */
const FRAME = 4096

const END = new Uint8Array(0)

/** A joined connection's context: the connection on the other side, once joined. */
export type Joined = Conn<Joined | undefined>

/** Joins `a` and `b` (each is the other's context) and lets them read. */
export function join(a: Joined, b: Joined): void {
  a.context = b
  b.context = a
  a.resume()
  b.resume()
}

/** Both sides: a connection that drained lets its partner read again. */
const drained: Pick<EventHandler<Joined | undefined>, 'onWritability'> = {
  onWritability(conn, writable) {
    if (writable) conn.context?.resume()
  },
}

/** The TCP side: bytes go out as frames on the KCP session; its close ends the stream. */
export const tcpSide: EventHandler<Joined | undefined> = {
  ...drained,
  onTraffic(tcp, data) {
    const kcp = tcp.context
    if (kcp === undefined) return
    let ok = true
    for (let at = 0; at < data.length; at += FRAME) ok = kcp.write(data.subarray(at, at + FRAME)) && ok
    if (!ok) tcp.pause()
  },
  onClose(tcp) {
    const kcp = tcp.context
    if (kcp?.open) {
      kcp.context = undefined
      kcp.write(END)
      // Closes once the peer acknowledged everything (KCP has no FIN: the empty frame is it).
      kcp.close()
    }
  },
}

/** The KCP side: frames go out as bytes on the TCP connection; an empty one closes it. */
export const kcpSide: EventHandler<Joined | undefined> = {
  ...drained,
  onTraffic(kcp, frame) {
    const tcp = kcp.context
    if (tcp === undefined) return
    if (frame.length === 0) {
      kcp.context = undefined
      tcp.context = undefined
      tcp.close()
      kcp.close()
    } else if (!tcp.write(frame)) {
      kcp.pause()
    }
  },
  onClose(kcp) {
    const tcp = kcp.context
    if (tcp?.open) {
      tcp.context = undefined
      tcp.close()
    }
  },
}
