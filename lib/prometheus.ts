/**
 * `riptide/prometheus`: an engine's metrics as a `prom-client` collector, so an app's
 * existing `/metrics` endpoint includes riptide's. Needs `prom-client` (a peer dependency,
 * optional for those who do not import this entry).
 *
 * ```ts
 * import { Registry } from 'prom-client'
 * import { registerMetrics } from 'riptide/prometheus'
 * const registry = new Registry()
 * registerMetrics(engine, registry)
 * // ... respond to GET /metrics with await registry.metrics()
 * ```
 * @packageDocumentation
 */
import { Counter, Gauge, register as globalRegistry, type Registry } from 'prom-client'
import { kOnStopped, type Engine } from './engine'
import type { EngineMetrics, KcpMetrics, ListenerMetrics, ReactorCounts } from './metrics'
import type { BusMetrics } from './bus'

/** One series family: how to read its values from a snapshot. */
interface Family {
  name: string
  help: string
  kind: 'counter' | 'gauge'
  labels: readonly string[]
  values: (m: EngineMetrics) => Array<[Record<string, string>, number]>
}

const REACTOR = ['reactor'] as const
const LISTENER = ['reactor', 'listener', 'protocol'] as const
const PER_LISTENER = ['listener'] as const

/** A family with one series per reactor. */
function perReactor(name: string, help: string, kind: Family['kind'], read: (r: ReactorCounts) => number): Family {
  return { name, help, kind, labels: REACTOR, values: (m) => m.reactors.map((r) => [{ reactor: String(r.index) }, read(r)]) }
}

/** A family of KCP's counters with one series per reactor. */
function kcp(name: string, help: string, kind: Family['kind'], read: (k: KcpMetrics) => number): Family {
  return perReactor(`riptide_kcp_${name}`, `KCP: ${help}`, kind, (r) => read(r.kcp))
}

/** A family with one series per reactor and listener. */
function perListener(name: string, help: string, kind: Family['kind'], read: (l: ListenerMetrics) => number): Family {
  return {
    name,
    help,
    kind,
    labels: LISTENER,
    values: (m) => m.reactors.flatMap((r) => r.listeners.map((l): [Record<string, string>, number] => [{ reactor: String(r.index), listener: l.url, protocol: l.protocol }, read(l)])),
  }
}

/** A family with one series per listener of the protocols in `protocols`, summed over reactors. */
function perProtocol(name: string, help: string, protocols: readonly string[], read: (l: ListenerMetrics) => number): Family {
  return {
    name,
    help,
    kind: 'counter',
    labels: PER_LISTENER,
    values: (m) => m.listeners.filter((l) => protocols.includes(l.protocol)).map((l) => [{ listener: l.url }, read(l)]),
  }
}

/** A family of the cross-instance bus's counters (one series, labelled with the broker; none without a bus). */
function bus(name: string, help: string, kind: Family['kind'], read: (b: BusMetrics) => number): Family {
  return { name: `riptide_bus_${name}`, help: `Bus: ${help}`, kind, labels: ['broker'], values: (m) => (m.bus === undefined ? [] : [[{ broker: m.bus.broker }, read(m.bus)]]) }
}

/** Every family riptide exports; `docs/metrics.md` lists the same. */
const FAMILIES: readonly Family[] = [
  perReactor('riptide_connections_open', 'Connections open now (dialed ones and UDP/KCP sessions included).', 'gauge', (r) => r.open),
  perReactor('riptide_connections_accepted_total', 'Connections accepted by listeners.', 'counter', (r) => r.accepted),
  perReactor('riptide_connections_dialed_total', 'Connections dialed.', 'counter', (r) => r.dialed),
  perReactor('riptide_connections_closed_total', 'Connections closed.', 'counter', (r) => r.closed),
  {
    name: 'riptide_connections_rejected_total',
    help: "Connections refused by the engine's caps (maxConnections, maxConnectionsPerIp).",
    kind: 'counter',
    labels: [],
    values: (m) => [[{}, m.total.rejected]],
  },
  perReactor('riptide_accept_errors_total', 'Accept pauses after resource errors (EMFILE, ENFILE, ENOBUFS, ENOMEM).', 'counter', (r) => r.acceptErrors),
  perReactor('riptide_handshake_errors_total', 'Accepted connections that failed before they opened (TLS handshake, PROXY header).', 'counter', (r) => r.handshakeErrors),
  perReactor('riptide_received_bytes_total', 'Bytes read from the wire.', 'counter', (r) => r.bytesIn),
  perReactor('riptide_sent_bytes_total', 'Bytes the kernel took to send.', 'counter', (r) => r.bytesOut),
  perReactor('riptide_queued_bytes', "Bytes waiting in byte-stream connections' outbound queues.", 'gauge', (r) => r.queuedBytes),
  perReactor('riptide_messages_received_total', 'Messages codecs decoded.', 'counter', (r) => r.messagesIn),
  perReactor('riptide_messages_sent_total', 'Messages written through codecs.', 'counter', (r) => r.messagesOut),
  perReactor('riptide_wakes_total', 'Times the JS thread was woken for the reactor.', 'counter', (r) => r.wakes),
  perReactor('riptide_js_calls_total', 'JS calls (one per batch of events).', 'counter', (r) => r.jsCalls),
  perReactor('riptide_events_total', 'Events delivered in JS calls (events / calls is the batching factor).', 'counter', (r) => r.events),
  perReactor('riptide_handler_seconds_total', 'Seconds spent in JS calls: handlers and dispatch.', 'counter', (r) => r.handlerSeconds),
  perListener('riptide_listener_connections_open', 'Connections of the listener open now.', 'gauge', (l) => l.open),
  perListener('riptide_listener_connections_accepted_total', 'Connections the listener accepted.', 'counter', (l) => l.accepted),
  perListener('riptide_listener_connections_closed_total', 'Accepted connections that closed.', 'counter', (l) => l.closed),
  perListener('riptide_listener_handshakes_total', 'Accepted connections whose handshakes completed and that opened.', 'counter', (l) => l.opened),
  perListener('riptide_listener_handshake_errors_total', 'Accepted connections that failed before they opened.', 'counter', (l) => l.handshakeErrors),
  perListener('riptide_listener_received_bytes_total', "Bytes read from the listener's connections.", 'counter', (l) => l.bytesIn),
  perListener('riptide_listener_sent_bytes_total', "Bytes sent on the listener's connections.", 'counter', (l) => l.bytesOut),
  perListener('riptide_listener_messages_received_total', "Messages the listener's codec decoded.", 'counter', (l) => l.messagesIn),
  perListener('riptide_listener_messages_sent_total', "Messages written through the listener's codec.", 'counter', (l) => l.messagesOut),
  perProtocol('riptide_tls_handshakes_total', 'TLS handshakes completed by tls:// (and wss) listeners.', ['tls', 'wss'], (l) => l.opened),
  perProtocol('riptide_tls_handshake_errors_total', 'TLS handshakes failed or timed out on tls:// (and wss) listeners.', ['tls', 'wss'], (l) => l.handshakeErrors),
  perProtocol('riptide_websocket_messages_received_total', 'WebSocket messages received.', ['ws', 'wss'], (l) => l.messagesIn),
  perProtocol('riptide_websocket_messages_sent_total', 'WebSocket messages sent, publications included.', ['ws', 'wss'], (l) => l.messagesOut),
  kcp('active_opens_total', 'sessions dialed (ActiveOpens).', 'counter', (k) => k.activeOpens),
  kcp('passive_opens_total', 'sessions accepted (PassiveOpens).', 'counter', (k) => k.passiveOpens),
  kcp('sessions_open', 'sessions open now (CurrEstab).', 'gauge', (k) => k.currEstab),
  kcp('in_packets_total', 'datagrams handed to sessions (InPkts).', 'counter', (k) => k.inPkts),
  kcp('out_packets_total', 'datagrams sent, FEC parity included (OutPkts).', 'counter', (k) => k.outPkts),
  kcp('received_bytes_total', 'bytes of datagrams handed to sessions (InBytes).', 'counter', (k) => k.inBytes),
  kcp('sent_bytes_total', 'bytes of datagrams sent (OutBytes).', 'counter', (k) => k.outBytes),
  kcp('in_segments_total', 'segments accepted (InSegs).', 'counter', (k) => k.inSegs),
  kcp('out_segments_total', 'segments sent (OutSegs).', 'counter', (k) => k.outSegs),
  kcp('retransmitted_segments_total', 'segments resent after their RTO (RetransSegs).', 'counter', (k) => k.retransSegs),
  kcp('fast_retransmitted_segments_total', 'segments resent early on duplicate acks (FastRetransSegs).', 'counter', (k) => k.fastRetransSegs),
  kcp('in_errors_total', 'datagrams rejected (KCPInErrors).', 'counter', (k) => k.inErrs),
  bus('connected', '1 while the broker connection is up.', 'gauge', (b) => (b.connected ? 1 : 0)),
  bus('topics', 'topics the broker is subscribed to.', 'gauge', (b) => b.topics),
  bus('published_total', 'publications handed to the broker.', 'counter', (b) => b.published),
  bus('received_total', 'publications from other instances delivered here.', 'counter', (b) => b.received),
  bus('outbound_dropped_total', 'publications not sent (queue full, connection failed).', 'counter', (b) => b.outboundDropped),
  bus('inbound_dropped_total', 'publications from the broker dropped (queue full).', 'counter', (b) => b.inboundDropped),
  bus('gaps_total', 'gaps seen in per-origin sequences (reported to onGap).', 'counter', (b) => b.gaps),
  bus('missed_total', 'messages the gaps span.', 'counter', (b) => b.missed),
  bus('duplicates_total', 'duplicates dropped.', 'counter', (b) => b.duplicates),
  bus('resubscribes_total', 'times the subscriptions were restored after a lost connection.', 'counter', (b) => b.resubscribes),
  bus('outbound_queued', 'publications waiting for the broker.', 'gauge', (b) => b.outboundQueued),
  bus('inbound_queued', 'publications waiting for this engine.', 'gauge', (b) => b.inboundQueued),
]

/** The metric names {@link registerMetrics} adds, in the order listed. */
export const METRIC_NAMES: readonly string[] = FAMILIES.map((f) => f.name)

/**
 * Adds `engine`'s metrics to `registry` (prom-client's default registry when omitted): one
 * collector per family in {@link METRIC_NAMES}, read from `engine.metrics()` once per scrape.
 * Series are labelled `reactor`, and per listener `listener` (its bound URL) and `protocol`.
 * The metrics unregister themselves when the engine stops; the returned function removes
 * them sooner. One engine per registry: a second one's names would clash (prom-client throws).
 */
export function registerMetrics(engine: Engine, registry: Registry = globalRegistry): () => void {
  // One snapshot serves every collector of a scrape (they run in the same turn).
  let snapshot: EngineMetrics | undefined
  const read = (): EngineMetrics | undefined => {
    if (snapshot === undefined && engine.running) {
      snapshot = engine.metrics()
      setImmediate(() => (snapshot = undefined))
    }
    return snapshot
  }
  // Sets a collector's series from the scrape's snapshot, through `put` (a gauge's `set`, a
  // counter's `inc` after the reset).
  const fill = (f: Family, metric: { reset(): void }, put: (labels: Record<string, string>, value: number) => void) => {
    metric.reset()
    const m = read()
    if (m !== undefined) for (const [labels, value] of f.values(m)) put(labels, value)
  }
  const registered: string[] = []
  const unregister = () => {
    for (const name of registered.splice(0)) registry.removeSingleMetric(name)
  }
  try {
    for (const f of FAMILIES) {
      const config = { name: f.name, help: f.help, labelNames: f.labels, registers: [registry] }
      if (f.kind === 'gauge') {
        new Gauge({
          ...config,
          collect() {
            fill(f, this, (labels, value) => this.set(labels, value))
          },
        })
      } else {
        new Counter({
          ...config,
          collect() {
            fill(f, this, (labels, value) => this.inc(labels, value))
          },
        })
      }
      registered.push(f.name)
    }
  } catch (err) {
    unregister()
    throw err
  }
  engine[kOnStopped](unregister)
  return unregister
}
