/**
 * The benchmark workloads. Their ids (E1, E2, E3, H1, H2, T1, T2, W1, W2, M1, R1, K1, K2, K3, D1, D1P16, D2, RTC1, RTC2, B1) are stable
 * across releases: results of different releases are compared by id.
 */
import { K2_WIRE, K3_WIRE, type Proto } from './peers'

/** How a workload loads its servers. */
export type Load =
  | { kind: 'echo'; conns: number; size: number; depth: number }
  | { kind: 'http'; conns: number; pipeline: number; tls?: boolean; close?: boolean }
  /**
   * `conns` idle connections for the single RSS delta; the slope is taken between `slopeFrom`
   * and `slopeTo` connections held (all three counts in one server run, connections added in
   * steps; `quick*` for `--quick`).
   */
  | { kind: 'idle'; conns: number; quickConns: number; slopeFrom: number; slopeTo: number; quickSlopeFrom: number; quickSlopeTo: number }
  | { kind: 'kcp'; bytes: number; quickBytes: number; size: number; loss: number; ds?: number; ps?: number }
  | { kind: 'tunnel'; bytes: number; quickBytes: number; loss: number; ds: number; ps: number }
  | { kind: 'dns'; queries: string }
  | { kind: 'redis'; conns: number; pipeline: number; requests: number; quickRequests: number }
  | { kind: 'ws'; conns: number; size: number; depth: number }
  | { kind: 'ws-pubsub'; subscribers: number; size: number; window: number }
  /** RTC1: one WebRTC peer sending reliable `size`-byte messages, echoed. */
  | { kind: 'rtc'; size: number }
  /** RTC2: `peers` WebRTC peers with both channels open and idle; server RSS per peer. */
  | { kind: 'rtc-idle'; peers: number; quickPeers: number }
  | { kind: 'counters' }

/** One workload. */
export interface Workload {
  id: string
  title: string
  /** What one unit of the rate is ("round trip", "message", "request", ...). */
  unit: string
  load: Load
  /** Protocol the servers speak. */
  proto: Proto
  /** Peer ids in a full run (order rotates each round). */
  peers: string[]
  /** Peer ids in a `--quick` run. */
  quickPeers: string[]
  /** The peer ratios are taken against ("× node:net"). */
  baseline: string
  /** Peers compared with another peer than `baseline` (K2's pairs): peer id → its baseline. */
  baselines?: Record<string, string>
  /** The target from issue 8 (16 for T1, T2) for this workload, as text; checked in the report. */
  target?: string
}

const ECHO_PEERS = ['riptide', 'riptide-thread', 'node:net', 'gnet', 'c-floor', 'uring-floor']
const HTTP_PEERS = ['riptide', 'riptide-rust', 'node:http', 'node:net', 'uws', 'gnet', 'c-floor', 'uring-floor']
const QUICK_HTTP = ['riptide', 'node:http', 'uws', 'c-floor']
const REDIS_PEERS = ['riptide', 'redis-server', 'node:net']
/** D2's query mix over examples/dns/example.zone: each record type, a CNAME, a wildcard and a negative answer. */
const DNS_QUERIES = ['www.example.test A', 'www.example.test AAAA', 'example.test MX', 'example.test TXT', 'ftp.example.test A', 'x.apps.example.test A', 'nope.example.test A', 'example.test NS']

/** Every workload, in run order. */
export const WORKLOADS: Workload[] = [
  {
    id: 'E1',
    title: 'TCP echo, 64 B ping-pong, 50 connections',
    unit: 'round trip',
    load: { kind: 'echo', conns: 50, size: 64, depth: 1 },
    proto: 'echo',
    peers: ECHO_PEERS,
    quickPeers: ['riptide', 'node:net', 'c-floor'],
    baseline: 'node:net',
    target: 'riptide >= 1.45x node:net round trips/s, and server CPU per round trip <= 0.5x node:net',
  },
  {
    id: 'E2',
    title: 'TCP echo, 64 B, 16 in flight per connection, 50 connections',
    unit: 'message',
    load: { kind: 'echo', conns: 50, size: 64, depth: 16 },
    proto: 'echo',
    peers: ECHO_PEERS,
    quickPeers: ['riptide', 'node:net'],
    baseline: 'node:net',
  },
  {
    id: 'E3',
    title: 'TCP echo, 4 KiB ping-pong, 50 connections',
    unit: 'round trip',
    load: { kind: 'echo', conns: 50, size: 4096, depth: 1 },
    proto: 'echo',
    peers: ECHO_PEERS,
    quickPeers: ['riptide', 'node:net'],
    baseline: 'node:net',
  },
  {
    id: 'H1',
    title: 'HTTP/1.1 plaintext, keep-alive, 50 connections',
    unit: 'request',
    load: { kind: 'http', conns: 50, pipeline: 1 },
    proto: 'http',
    peers: HTTP_PEERS,
    quickPeers: QUICK_HTTP,
    baseline: 'node:http',
  },
  {
    id: 'H2',
    title: 'HTTP/1.1 plaintext, pipelined x16, 50 connections',
    unit: 'request',
    load: { kind: 'http', conns: 50, pipeline: 16 },
    proto: 'http',
    peers: HTTP_PEERS,
    quickPeers: QUICK_HTTP,
    baseline: 'node:http',
    target: 'riptide requests per server-CPU-second >= 2x uWebSockets.js',
  },
  {
    id: 'T1',
    title: 'HTTPS (HTTP/1.1 over TLS 1.3), keep-alive, 50 connections',
    unit: 'request',
    load: { kind: 'http', conns: 50, pipeline: 1, tls: true },
    proto: 'https',
    peers: ['riptide', 'riptide-rust', 'node:https', 'uws'],
    quickPeers: ['riptide', 'node:https', 'uws'],
    baseline: 'node:https',
    target: 'riptide requests per server-CPU-second >= 2x node:https and >= uWebSockets.js SSLApp',
  },
  {
    id: 'T2',
    title: 'New TLS 1.3 connections, one HTTPS request each (Connection: close), 50 at a time',
    unit: 'connection',
    load: { kind: 'http', conns: 50, pipeline: 1, tls: true, close: true },
    proto: 'https',
    peers: ['riptide', 'node:https'],
    quickPeers: ['riptide', 'node:https'],
    baseline: 'node:https',
    target: 'riptide connections per server-CPU-second >= 1.3x node:https',
  },
  {
    id: 'W1',
    title: 'WebSocket echo, 64 B binary messages, ping-pong, 50 connections',
    unit: 'message',
    load: { kind: 'ws', conns: 50, size: 64, depth: 1 },
    proto: 'ws',
    peers: ['riptide', 'uws', 'ws'],
    quickPeers: ['riptide', 'uws'],
    baseline: 'ws',
    target: 'riptide messages per server-CPU-second >= uWebSockets.js and >= 3x ws',
  },
  {
    id: 'W2',
    title: 'WebSocket pub/sub, 1 publisher, 1,000 subscribers, 64 B binary messages',
    unit: 'message',
    load: { kind: 'ws-pubsub', subscribers: 1000, size: 64, window: 32 },
    proto: 'ws-pubsub',
    peers: ['riptide', 'uws'],
    quickPeers: ['riptide'],
    baseline: 'uws',
    target: 'riptide messages delivered per second and per server-CPU-second >= uWebSockets.js',
  },
  {
    id: 'M1',
    title: 'Idle connections: server memory per connection (10,000 connections)',
    unit: 'connection',
    load: { kind: 'idle', conns: 10_000, quickConns: 1000, slopeFrom: 5000, slopeTo: 15_000, quickSlopeFrom: 500, quickSlopeTo: 1500 },
    proto: 'echo',
    peers: ['riptide', 'riptide-context', 'riptide-rust', 'node:net', 'node:net-context', 'node:http', 'uws', 'gnet', 'c-floor'],
    quickPeers: ['riptide', 'riptide-context', 'node:net', 'c-floor'],
    baseline: 'node:net',
    target: 'riptide <= 400 B per connection; riptide with onOpen + context <= 600 B per connection (slope)',
  },
  {
    id: 'R1',
    title: 'Pure-Rust handler: TCP echo, 64 B ping-pong, 50 connections (no Node)',
    unit: 'round trip',
    load: { kind: 'echo', conns: 50, size: 64, depth: 1 },
    proto: 'echo',
    peers: ['riptide-rust', 'gnet', 'c-floor'],
    quickPeers: ['riptide-rust', 'gnet'],
    baseline: 'gnet',
    target: 'riptide (Rust) >= 1.15x gnet round trips/s',
  },
  {
    id: 'K1',
    title: 'KCP bulk transfer through a lossy relay (10 % loss each way)',
    unit: 'MB',
    load: { kind: 'kcp', bytes: 8 << 20, quickBytes: 1 << 20, size: 1024, loss: 0.1 },
    proto: 'kcp',
    peers: ['riptide', 'kcp-go'],
    quickPeers: ['riptide', 'kcp-go'],
    baseline: 'kcp-go',
  },
  {
    id: 'K2',
    title: 'KCP bulk transfer with encryption and FEC 10/3 through a lossy relay (10 % loss each way)',
    unit: 'MB',
    load: { kind: 'kcp', bytes: 32 << 20, quickBytes: 1 << 20, size: 1024, loss: 0.1, ds: K2_WIRE.ds, ps: K2_WIRE.ps },
    proto: 'kcp-fec',
    peers: ['riptide-secure', 'kcp-go-gcm', 'riptide-salsa20', 'kcp-go-salsa20'],
    quickPeers: ['riptide-secure', 'kcp-go-gcm', 'riptide-salsa20', 'kcp-go-salsa20'],
    baseline: 'kcp-go-gcm',
    baselines: { 'riptide-salsa20': 'kcp-go-salsa20', 'kcp-go-salsa20': 'kcp-go-salsa20' },
    target:
      'riptide secure >= 1.2x kcp-go aes-128-gcm goodput and server CPU per MB <= 0.8x; riptide salsa20 (kcp-go client) the same against kcp-go salsa20',
  },
  {
    id: 'K3',
    title: 'kcptun-compatible tunnel: one TCP stream through each tunnel, FEC 10/3, a lossy relay (1 % loss each way)',
    unit: 'MB',
    load: { kind: 'tunnel', bytes: 64 << 20, quickBytes: 4 << 20, loss: 0.01, ds: K3_WIRE.ds, ps: K3_WIRE.ps },
    proto: 'tunnel',
    peers: ['riptide-tunnel', 'kcptun-go'],
    quickPeers: ['riptide-tunnel', 'kcptun-go'],
    baseline: 'kcptun-go',
    target: 'riptide-tunnel >= 1.2x the Go kcptun goodput, and CPU per MB <= 0.8x on both ends',
  },
  {
    id: 'D1',
    title: 'Redis protocol: redis-benchmark -t set,get, 50 connections, one request at a time',
    unit: 'request',
    load: { kind: 'redis', conns: 50, pipeline: 1, requests: 500_000, quickRequests: 20_000 },
    proto: 'redis',
    peers: [...REDIS_PEERS, 'riptide-floor'],
    quickPeers: REDIS_PEERS,
    baseline: 'redis-server',
    target: 'riptide requests per server-CPU-second >= 1.0x redis-server and >= 2x node:net',
  },
  {
    id: 'D1P16',
    title: 'Redis protocol: redis-benchmark -t set,get, 50 connections, pipelined x16',
    unit: 'request',
    load: { kind: 'redis', conns: 50, pipeline: 16, requests: 500_000, quickRequests: 50_000 },
    proto: 'redis',
    peers: REDIS_PEERS,
    quickPeers: REDIS_PEERS,
    baseline: 'redis-server',
    target: 'riptide requests per server-CPU-second >= 0.6x redis-server and >= 2x node:net',
  },
  {
    id: 'D2',
    title: 'DNS over UDP: dnsperf against the same zone, 200 queries in flight',
    unit: 'query',
    load: { kind: 'dns', queries: DNS_QUERIES.join(', ') },
    proto: 'dns',
    peers: ['riptide', 'nsd'],
    quickPeers: ['riptide', 'nsd'],
    baseline: 'nsd',
    target: 'riptide queries per server-CPU-second >= 0.5x NSD',
  },
  {
    id: 'RTC1',
    title: 'WebRTC data channel: reliable 100 B messages echoed, one peer (pion client)',
    unit: 'message',
    load: { kind: 'rtc', size: 100 },
    proto: 'webrtc',
    peers: ['riptide', 'pion'],
    quickPeers: ['riptide', 'pion'],
    baseline: 'pion',
  },
  {
    id: 'RTC2',
    title: 'WebRTC: server memory per idle peer (400 peers, both channels open)',
    unit: 'peer',
    load: { kind: 'rtc-idle', peers: 400, quickPeers: 50 },
    proto: 'webrtc',
    peers: ['riptide', 'pion'],
    quickPeers: ['riptide', 'pion'],
    baseline: 'pion',
    target: "riptide <= 1/10 of node-datachannel's published 2.6 GB for 400 peers (<= 650,000 B per peer)",
  },
  {
    id: 'B1',
    title: "Boundary crossings: JS calls per wake and events per JS call (riptide's counters)",
    unit: 'call',
    load: { kind: 'counters' },
    proto: 'echo',
    peers: ['riptide'],
    quickPeers: ['riptide'],
    baseline: 'riptide',
  },
]

/** The workload with this id. */
export function workload(id: string): Workload {
  const w = WORKLOADS.find((x) => x.id === id)
  if (!w) throw new Error(`unknown workload ${id} (known: ${WORKLOADS.map((x) => x.id).join(', ')})`)
  return w
}
