/**
 * Operator metrics of an engine (`engine.metrics()`): every reactor's counters, each
 * listener's, and their totals, read from the native counters of all reactors (worker
 * reactors included) at the moment of the call. The Prometheus collector
 * (`riptide/prometheus`) is built on this; `docs/metrics.md` lists every figure.
 */
import type { PeerAddr } from './address'
import type { NativeEngine } from './native'
import type { BusMetrics } from './bus'

/** Which protocol a listener speaks, the `protocol` label of its Prometheus series. */
export type ListenerProtocol = 'tcp' | 'tls' | 'unix' | 'udp' | 'kcp' | 'ws' | 'wss'

/** Counters of one listener (on one reactor, or summed over the engine's). */
export interface ListenerCounts {
  /** Connections (UDP and KCP sessions too) the listener accepted. */
  accepted: number
  /**
   * Accepted connections that opened: on a `tls://` listener, the TLS handshakes that
   * completed; on a WebSocket server, those past the TLS handshake (if any) too.
   */
  opened: number
  /** Accepted connections that closed. */
  closed: number
  /** Accepted connections still open (`accepted - closed`). */
  open: number
  /** Accepted connections that failed before they opened: failed TLS handshakes, bad PROXY headers. */
  handshakeErrors: number
  /** Bytes read from the wire (TLS records, KCP datagrams whole). */
  bytesIn: number
  /** Bytes the kernel took to send. */
  bytesOut: number
  /** Messages the codec decoded (WebSocket messages on a WebSocket server); 0 without a codec. */
  messagesIn: number
  /** Messages written through the codec, publications included; 0 without a codec. */
  messagesOut: number
}

/** A listener's counters with what identifies it. */
export interface ListenerMetrics extends ListenerCounts {
  /** The listener's position in the addresses given to `serve`. */
  index: number
  /** The bound address as a URL (`tcp://127.0.0.1:9000`, port resolved), the `listener` label. */
  url: string
  /** What it speaks. */
  protocol: ListenerProtocol
}

/** KCP's SNMP-style counters (kcp-go's `DefaultSnmp`), over dialed and accepted sessions. */
export interface KcpMetrics {
  /** Sessions dialed (`ActiveOpens`). */
  activeOpens: number
  /** Sessions accepted by `kcp://` listeners (`PassiveOpens`). */
  passiveOpens: number
  /** Sessions open now (`CurrEstab`). */
  currEstab: number
  /** Datagrams handed to sessions (`InPkts`). */
  inPkts: number
  /** Datagrams sent, FEC parity included (`OutPkts`). */
  outPkts: number
  /** Bytes of the datagrams handed to sessions (`InBytes`). */
  inBytes: number
  /** Bytes of the datagrams sent (`OutBytes`). */
  outBytes: number
  /** Segments KCP accepted (`InSegs`). */
  inSegs: number
  /** Segments KCP sent (`OutSegs`). */
  outSegs: number
  /** Segments resent after their RTO (`RetransSegs`). */
  retransSegs: number
  /** Segments resent early on duplicate acks (`FastRetransSegs`). */
  fastRetransSegs: number
  /** Datagrams KCP or a packet layer rejected (`KCPInErrors`). */
  inErrs: number
}

/** Counters of one reactor, or (in {@link EngineMetrics.total}) of the whole engine. */
export interface ReactorCounts {
  /** Connections open now, dialed ones and sessions included. */
  open: number
  /** Connections accepted by listeners. */
  accepted: number
  /** Connections dialed (`engine`'s own `connect`s are their client's, not counted here). */
  dialed: number
  /** Connections closed. */
  closed: number
  /** Connections refused by the engine's caps (engine-wide: the same on every reactor). */
  rejected: number
  /** Accept pauses after resource errors (EMFILE...). */
  acceptErrors: number
  /** Accepted connections that failed before they opened. */
  handshakeErrors: number
  /** Bytes read from the wire. */
  bytesIn: number
  /** Bytes the kernel took to send. */
  bytesOut: number
  /** Bytes waiting in byte-stream connections' outbound queues now (a gauge). */
  queuedBytes: number
  /** Messages codecs decoded. */
  messagesIn: number
  /** Messages written through codecs. */
  messagesOut: number
  /** Times the JS thread was woken for the reactor. */
  wakes: number
  /** JS calls those wakes made (one per batch of events). */
  jsCalls: number
  /** Events those calls carried: `events / jsCalls` is the batching factor. */
  events: number
  /** Seconds spent in those calls: the handlers' time, riptide's dispatch included. */
  handlerSeconds: number
  /** KCP's SNMP-style counters. */
  kcp: KcpMetrics
}

/** One reactor's counters, with its listeners'. */
export interface ReactorMetrics extends ReactorCounts {
  /** The reactor's index (0: the thread that called `serve`; 1… the worker reactors). */
  index: number
  /** The counters of each listener for the connections this reactor served. */
  listeners: ListenerMetrics[]
}

/** A snapshot of an engine's metrics (see {@link Engine.metrics}). */
export interface EngineMetrics {
  /** Each running reactor's counters, in index order. */
  reactors: ReactorMetrics[]
  /** Each listener's counters summed over the reactors, in the order given to `serve`. */
  listeners: ListenerMetrics[]
  /** The engine's counters: the reactors' summed (`rejected` taken once). */
  total: ReactorCounts
  /** The cross-instance bus's counters, when `serve` had a `bus` option (docs/deploy.md). */
  bus?: BusMetrics
}

/** What identifies a listener in metrics: its bound URL and protocol. */
export interface ListenerLabel {
  url: string
  protocol: ListenerProtocol
}

/** The labels of the listeners a `serve` call bound, from their URLs, addresses and codecs. */
export function listenerLabels(urls: readonly { url: string, tls?: boolean }[], addresses: readonly PeerAddr[], websocket: boolean): ListenerLabel[] {
  return urls.map((spec, i) => {
    const scheme = spec.url.slice(0, Math.max(0, spec.url.indexOf('://'))).toLowerCase()
    const tls = scheme === 'tls' || spec.tls === true
    const base: ListenerProtocol = scheme === 'unix' ? 'unix' : scheme === 'udp' ? 'udp' : scheme === 'kcp' ? 'kcp' : 'tcp'
    const protocol: ListenerProtocol = websocket ? (tls ? 'wss' : 'ws') : tls ? 'tls' : base
    const a = addresses[i]
    const where = a === undefined ? '' : a.family === 'unix' ? a.path : a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`
    return { url: `${scheme}://${where}`, protocol }
  })
}

const LISTENER_KEYS = ['accepted', 'opened', 'closed', 'handshakeErrors', 'bytesIn', 'bytesOut', 'messagesIn', 'messagesOut'] as const
const KCP_KEYS = ['activeOpens', 'passiveOpens', 'inPkts', 'outPkts', 'inBytes', 'outBytes', 'inSegs', 'outSegs', 'retransSegs', 'fastRetransSegs', 'inErrs'] as const
const REACTOR_KEYS = ['open', 'accepted', 'dialed', 'closed', 'acceptErrors', 'handshakeErrors', 'bytesIn', 'bytesOut', 'queuedBytes', 'messagesIn', 'messagesOut', 'wakes', 'jsCalls', 'events', 'handlerSeconds'] as const

type NativeReactor = ReturnType<NativeEngine['metrics']>[number]

/** Reads every running reactor's counters and adds them up per listener and for the engine. */
export function readMetrics(native: NativeEngine, labels: readonly ListenerLabel[]): EngineMetrics {
  const reactors = native.metrics().map((r) => reactorMetrics(r, labels))
  const listeners = labels.map((label, index) => {
    const sum = { index, ...label, ...emptyListener() }
    for (const r of reactors) {
      const l = r.listeners[index]
      if (l !== undefined) for (const k of LISTENER_KEYS) sum[k] += l[k]
    }
    sum.open = sum.accepted - sum.closed
    return sum
  })
  const total: ReactorCounts = { ...emptyReactor(), kcp: emptyKcp() }
  for (const r of reactors) {
    for (const k of REACTOR_KEYS) total[k] += r[k]
    for (const k of KCP_KEYS) total.kcp[k] += r.kcp[k]
    total.kcp.currEstab += r.kcp.currEstab
    total.rejected = Math.max(total.rejected, r.rejected)
  }
  return { reactors, listeners, total }
}

function reactorMetrics(r: NativeReactor, labels: readonly ListenerLabel[]): ReactorMetrics {
  // The native names are the TS ones; KCP's `closed` becomes `currEstab`.
  const { kcp: { closed, ...kcp }, listeners, ...counts } = r
  return {
    ...counts,
    kcp: { ...kcp, currEstab: Math.max(0, kcp.activeOpens + kcp.passiveOpens - closed) },
    // A reactor lists the listeners whose connections it served so far; the rest are zero.
    listeners: labels.map((label, index) => {
      const l = listeners[index]
      const own = l === undefined ? emptyListener() : { ...l, open: l.accepted - l.closed }
      return { index, ...label, ...own }
    }),
  }
}

function emptyListener(): ListenerCounts {
  return { accepted: 0, opened: 0, closed: 0, open: 0, handshakeErrors: 0, bytesIn: 0, bytesOut: 0, messagesIn: 0, messagesOut: 0 }
}

function emptyKcp(): KcpMetrics {
  return { activeOpens: 0, passiveOpens: 0, currEstab: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0, inSegs: 0, outSegs: 0, retransSegs: 0, fastRetransSegs: 0, inErrs: 0 }
}

function emptyReactor(): Omit<ReactorCounts, 'kcp'> {
  return { open: 0, accepted: 0, dialed: 0, closed: 0, rejected: 0, acceptErrors: 0, handshakeErrors: 0, bytesIn: 0, bytesOut: 0, queuedBytes: 0, messagesIn: 0, messagesOut: 0, wakes: 0, jsCalls: 0, events: 0, handlerSeconds: 0 }
}
