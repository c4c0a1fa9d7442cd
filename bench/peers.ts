/**
 * The servers the benchmark compares: how to start each one for a protocol, and why one cannot
 * run on this machine. Every peer is a small program of ours under `bench/peers/` (or the
 * `serve-*` modes of `riptide-bench`), one event loop, pinned to the server core by the runner.
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { LOADGEN, ROOT, RUST_RELEASE_DIR } from './harness'

/**
 * What a server speaks: `https` is HTTP/1.1 over TLS (T1, T2; the certificate comes in
 * {@link TlsFiles}), `kcp-fec` is K2's KCP with encryption and FEC ({@link K2_WIRE}), `ws` a
 * WebSocket echo (W1) and `ws-pubsub` a WebSocket server publishing every message from `/pub`
 * to the connections on `/sub` (W2); `webrtc` WebRTC data channels echoing on both channels,
 * signalling (`POST /.rtc/offer`) on TCP and data on UDP of the same port (RTC1, RTC2).
 */
export type Proto = 'echo' | 'http' | 'https' | 'kcp' | 'kcp-fec' | 'tunnel' | 'redis' | 'dns' | 'ws' | 'ws-pubsub' | 'webrtc'

/** The PEM files an `https` server is started with (made by the runner at bench time, removed at exit). */
export interface TlsFiles {
  cert: string
  key: string
}

/** Where a peer stands in the comparison. */
export type PeerRole = 'riptide' | 'node' | 'peer' | 'floor'

/** One server under test. */
export interface Peer {
  /** Stable id used in results and `--peers`. */
  id: string
  /** Display name. */
  label: string
  role: PeerRole
  /** What it is, for the method section. */
  about: string
  /**
   * The command serving `proto` on `port`, or undefined when this peer does not speak it;
   * `tls` is given for `https`.
   */
  command(proto: Proto, port: number, tls?: TlsFiles): string[] | undefined
  /** Extra environment. */
  env?: Record<string, string>
  /** Answers stats requests on stdin (riptide's TS peers). */
  stats?: boolean
  /** How the server says it is ready for a protocol (default: accepts TCP on the port). */
  readyLine?: Partial<Record<Proto, RegExp>>
  /**
   * KCP workloads: the bulk client that goes with this server, sending to `addr` (the relay),
   * up to but without `--bytes`, `--size` and `--timeout`; `hello` is the server's first JSON
   * line. Default: kcpgo-peer with {@link KCP_KNOBS} (K1).
   */
  client?(addr: string, hello: Record<string, unknown>): string[]
  /**
   * K3: the two ends of a kcptun-compatible tunnel. The server takes KCP on UDP `listen` and
   * forwards each stream to TCP `target`; the client listens on TCP `listen` and carries each
   * accepted connection to `remote` (the relay). Both print the `ready` line once up.
   */
  tunnel?: { server(listen: string, target: string): string[]; client(listen: string, remote: string): string[]; ready: { line: RegExp; stderr?: boolean } }
}

/** Build outputs that are not cargo's (gitignored: under target/). */
export const BUILD_DIR = join(ROOT, 'target', 'bench')

/** The gnet peer binary. */
export const GNET_BIN = join(BUILD_DIR, 'gnet-peer')
/** The C floor binary. */
export const C_FLOOR_BIN = join(BUILD_DIR, 'c-floor')
/** Cargo's target directory for the Rust peers outside the workspace (bench/peers/uring-floor). */
export const PEERS_TARGET_DIR = join(ROOT, 'target', 'bench-peers')
/** The io_uring floor binary (bench/peers/uring-floor, Linux only). */
export const URING_FLOOR_BIN = join(PEERS_TARGET_DIR, 'release', 'uring-floor')
/** The C echo load generator (bench/peers/c-epoll/load.c), chosen with `--loadgen c`. */
export const C_LOADGEN_BIN = join(BUILD_DIR, 'c-load')
/** The kcp-go peer binary (built from tests/interop/kcp-go). */
export const KCPGO_BIN = join(BUILD_DIR, 'kcpgo-peer')
/** The kcptun stand-in binary (built from tests/interop/kcptun: kcp-go, smux, snappy). */
export const KCPTUN_BIN = join(BUILD_DIR, 'kcptun-peer')
/** riptide's kcptun-compatible tunnel (crate riptide-tunnel). */
export const TUNNEL_BIN = join(RUST_RELEASE_DIR, 'riptide-tunnel')
/** D2's zone, served by examples/dns and by NSD. */
export const DNS_ZONE = join(ROOT, 'examples', 'dns', 'example.zone')
/**
 * bench/peers/pion-webrtc (pion/webrtc v4): RTC1's and RTC2's load generator for every server
 * (`rate`, `idle`), and the pion echo server (`echo`).
 */
export const PION_WEBRTC_BIN = join(BUILD_DIR, 'pion-webrtc')
/** The lossy UDP relay (crate riptide-netsim). */
export const RELAY_BIN = join(RUST_RELEASE_DIR, 'riptide-relay')

const tsx = (file: string, port: number): string[] => [process.execPath, '--import', 'tsx', join('bench', 'peers', file), '--port', String(port)]
/** The `--cert`/`--key` flags of the HTTP peers' HTTPS mode. */
const tlsFlags = (tls: TlsFiles | undefined): string[] => {
  if (!tls) throw new Error('an https server needs the certificate files')
  return ['--cert', tls.cert, '--key', tls.key]
}

/**
 * Knobs of both KCP ends in K1: ikcp's "fast" profile (nodelay, 10 ms interval, fast resend
 * after 2 duplicate ACKs, no congestion window), 128-segment windows.
 */
export const KCP_KNOBS = ['--nodelay', '1', '--interval', '10', '--resend', '2', '--nc', '1', '--sndwnd', '128', '--rcvwnd', '128']

/**
 * K2's wire: FEC with 10 data and 3 parity shards on both ends, and the passphrase of the
 * kcp-go ciphers (kcptun's key derivation, `--key`).
 */
export const K2_WIRE = { ds: 10, ps: 3, key: 'riptide-bench k2' }
const K2_FEC = ['--ds', String(K2_WIRE.ds), '--ps', String(K2_WIRE.ps)]
/** K1's knobs in stream mode (writes fill whole segments), for kcpgo-peer (a Go bool flag)... */
const K2_KNOBS_GO = [...KCP_KNOBS, '--stream']
/** ...and for riptide-bench (`--flag value` pairs). */
const K2_KNOBS_RIPTIDE = [...KCP_KNOBS, '--stream', '1']
/** kcpgo-peer's K2 wire flags with `cipher`. */
const goWire = (cipher: string): string[] => ['--crypt', cipher, '--key', K2_WIRE.key, ...K2_FEC, ...K2_KNOBS_GO]
/** kcpgo-peer's K2 sink server with `cipher`. */
const goSink = (cipher: string, port: number): string[] => [KCPGO_BIN, 'server', '--listen', `127.0.0.1:${port}`, '--mode', 'sink', ...goWire(cipher)]
/** kcpgo-peer's K2 bulk client with `cipher`. */
const goBulk = (cipher: string, addr: string): string[] => [KCPGO_BIN, 'client', '--addr', addr, '--mode', 'bulk', ...goWire(cipher)]

/**
 * K3's wire, the same on every end: kcptun's defaults (aes on the PBKDF2-derived key, mode
 * fast, smux v1, snappy on, MTU 1350, windows 128/512) with FEC 10 data + 3 parity shards.
 */
export const K3_WIRE = { ds: 10, ps: 3, key: 'riptide-bench k3' }
const K3_FLAGS = ['--key', K3_WIRE.key, '--crypt', 'aes', '--mode', 'fast', '--ds', String(K3_WIRE.ds), '--ps', String(K3_WIRE.ps)]

/** Every peer, in display order. */
export const PEERS: Peer[] = [
  {
    id: 'riptide',
    label: 'riptide',
    role: 'riptide',
    about:
      'riptide from TypeScript (`serve()`, one reactor): echo writes back each chunk; HTTP uses the Rust http1 codec and one JS call per request; HTTPS (T1, T2) is the same codec and handler on a `tls://` listener (rustls with ring, records kept in Rust); Redis (D1) is examples/redis/server.ts (the Rust RESP codec with `batch`: one JS call per read holding its commands, one write of their replies). DNS (D2) is examples/dns/server.ts (messages parsed and answered in Rust by `DnsZone`, one JS call per datagram). WebSocket (W1, W2) is `codecs.websocket()` without compression, `conn.write(message)` for echo and `engine.publish` from `onTraffic` for pub/sub. WebRTC (RTC1, RTC2) is a `webrtc://` listener (str0m on the reactor, one UDP socket) echoing `onTraffic` with `conn.write` and `onUnreliable` with `conn.send(data, { reliable: false })`. The echo handler has only `onTraffic`, so a connection gets its JS `Conn` at its first data and idle ones (M1) have none (the `riptide (onOpen + context)` row has one per connection)',
    stats: true,
    command: (proto, port, tls) =>
      proto === 'ws' || proto === 'ws-pubsub'
        ? [...tsx('riptide-ws.ts', port), '--mode', proto === 'ws' ? 'echo' : 'pubsub']
        : proto === 'echo'
        ? tsx('riptide-echo.ts', port)
        : proto === 'http'
          ? tsx('riptide-http.ts', port)
          : proto === 'https'
            ? [...tsx('riptide-http.ts', port), ...tlsFlags(tls)]
            : proto === 'redis'
              ? [process.execPath, '--import', 'tsx', join('examples', 'redis', 'server.ts'), '--port', String(port)]
              : proto === 'dns'
                ? [process.execPath, '--import', 'tsx', join('examples', 'dns', 'server.ts'), '--port', String(port), '--zone', DNS_ZONE]
                : proto === 'webrtc'
                  ? tsx('riptide-webrtc.ts', port)
                  : tsx('riptide-kcp-sink.ts', port),
    readyLine: { kcp: /"listen"/ },
  },
  {
    id: 'riptide-thread',
    label: 'riptide (thread driver)',
    role: 'riptide',
    about:
      "the `riptide` peer with `driver: 'thread'`: the reactor turns on a Rust thread and hands batches to the JS thread (one thread-safe call per batch); the same handlers",
    stats: true,
    command: (proto, port) =>
      proto === 'echo' ? [...tsx('riptide-echo.ts', port), '--driver', 'thread'] : proto === 'http' ? [...tsx('riptide-http.ts', port), '--driver', 'thread'] : undefined,
  },
  {
    id: 'riptide-context',
    label: 'riptide (onOpen + context)',
    role: 'riptide',
    about:
      "M1: the `riptide` echo peer with an `onOpen` that sets `conn.context` to a small session object (`{ openedAt, bytes }`, counted by `onTraffic`): every connection has its JS `Conn` from the open, as in a server that keeps per-connection state",
    stats: true,
    command: (proto, port) => (proto === 'echo' ? [...tsx('riptide-echo.ts', port), '--context'] : undefined),
  },
  {
    id: 'riptide-rust',
    label: 'riptide (Rust)',
    role: 'riptide',
    about:
      'the riptide engine crate alone, no Node (`riptide-bench serve-echo|serve-http`): echo, and a minimal responder counting `\\r\\n\\r\\n`; in T1 the same responder behind the TLS layer (`serve-http --cert --key`)',
    command: (proto, port, tls) =>
      proto === 'echo' || proto === 'http'
        ? [LOADGEN, proto === 'echo' ? 'serve-echo' : 'serve-http', '--addr', `127.0.0.1:${port}`]
        : proto === 'https'
          ? [LOADGEN, 'serve-http', '--addr', `127.0.0.1:${port}`, ...tlsFlags(tls)]
          : undefined,
  },
  {
    id: 'riptide-floor',
    label: 'riptide (constant reply)',
    role: 'riptide',
    about:
      'D1 only: a riptide RESP server answering every command with `+OK` unread (bench/peers/riptide-resp-floor.ts: the same codec and boundary as examples/redis, no command table, keyspace or clock), so the cost of the engine and the call into JS shows apart from the commands',
    command: (proto, port) => (proto === 'redis' ? tsx('riptide-resp-floor.ts', port) : undefined),
  },
  {
    id: 'node:net',
    label: 'node:net',
    role: 'node',
    about: "`net.createServer`, `s.on('data', d => s.write(d))`; for HTTP a minimal responder (counts `\\r\\n\\r\\n`, one cached write per chunk); for Redis (D1) a RESP parser in JS before examples/redis's commands and keyspace, one write per chunk read",
    command: (proto, port) =>
      proto === 'echo' ? tsx('node-net-echo.ts', port) : proto === 'http' ? tsx('node-net-http.ts', port) : proto === 'redis' ? tsx('node-net-resp.ts', port) : undefined,
  },
  {
    id: 'node:net-context',
    label: 'node:net (context object)',
    role: 'node',
    about: "M1: the node:net echo peer keeping the same session object per connection as `riptide (onOpen + context)` (`{ openedAt, bytes }`, made in the connection listener, counted by the `'data'` listener)",
    command: (proto, port) => (proto === 'echo' ? [...tsx('node-net-echo.ts', port), '--context'] : undefined),
  },
  {
    id: 'node:http',
    label: 'node:http',
    role: 'node',
    about: '`http.createServer`, TechEmpower-style plaintext handler (`Content-Length`, keep-alive)',
    command: (proto, port) => (proto === 'http' ? tsx('node-http.ts', port) : undefined),
  },
  {
    id: 'node:https',
    label: 'node:https',
    role: 'node',
    about: "`https.createServer` with node:http's handler (OpenSSL, Node's defaults: TLS 1.3, session tickets on)",
    command: (proto, port, tls) => (proto === 'https' ? [...tsx('node-http.ts', port), ...tlsFlags(tls)] : undefined),
  },
  {
    id: 'uws',
    label: 'uWebSockets.js',
    role: 'peer',
    /** Says which copy runs (and whether through the glibc shim), once uwsProblem() has looked. */
    get about(): string {
      const base =
        "uWebSockets.js `App().get('/*')` (one JS callback per request); for HTTPS (T1) `SSLApp({ cert_file_name, key_file_name })` with the same route; for WebSocket (W1, W2) `App().ws('/*')` without compression, `ws.send` for echo and `app.publish` from `message` for pub/sub"
      return uwsVia ? `${base}; ${uwsVia}` : base
    },
    command: (proto, port, tls) =>
      proto === 'http'
        ? tsx('uws-http.ts', port)
        : proto === 'https'
          ? [...tsx('uws-http.ts', port), ...tlsFlags(tls)]
          : proto === 'ws' || proto === 'ws-pubsub'
            ? [...tsx('uws-ws.ts', port), '--mode', proto === 'ws' ? 'echo' : 'pubsub']
            : undefined,
  },
  {
    id: 'ws',
    label: 'ws',
    role: 'node',
    about: "the `ws` npm package's `WebSocketServer` without permessage-deflate, `ws.send(data, { binary })` from `message` (W1)",
    command: (proto, port) => (proto === 'ws' ? tsx('ws-echo.ts', port) : undefined),
  },
  {
    id: 'gnet',
    label: 'gnet',
    role: 'peer',
    about: 'gnet v2 (Go module program, GOMAXPROCS=1, one event loop): echo, and a minimal responder counting `\\r\\n\\r\\n`',
    env: { GOMAXPROCS: '1' },
    command: (proto, port) => (proto === 'echo' || proto === 'http' ? [GNET_BIN, '-mode', proto, '-port', String(port)] : undefined),
  },
  {
    id: 'kcp-go',
    label: 'kcp-go',
    role: 'peer',
    about: 'xtaci/kcp-go v5 sink server (tests/interop/kcp-go, `server --mode sink`)',
    env: { GOMAXPROCS: '1' },
    command: (proto, port) => (proto === 'kcp' ? [KCPGO_BIN, 'server', '--listen', `127.0.0.1:${port}`, '--mode', 'sink', ...KCP_KNOBS] : undefined),
    readyLine: { kcp: /"listen"/ },
  },
  {
    id: 'riptide-secure',
    label: 'riptide secure',
    role: 'riptide',
    about:
      "K2: `riptide-bench serve-kcp --secure 1` (the engine crate alone, one reactor, no Node), riptide's secure mode (Noise handshake, then AEAD with a replay window) with FEC 10/3; its client is `riptide-bench kcp` pinning the server's public key",
    command: (proto, port) =>
      proto === 'kcp-fec' ? [LOADGEN, 'serve-kcp', '--addr', `127.0.0.1:${port}`, '--secure', '1', ...K2_FEC, ...K2_KNOBS_RIPTIDE] : undefined,
    readyLine: { 'kcp-fec': /"listen"/ },
    client: (addr, hello) => [LOADGEN, 'kcp', '--addr', addr, '--server-public-key', String(hello.public_key), ...K2_FEC, ...K2_KNOBS_RIPTIDE],
  },
  {
    id: 'kcp-go-gcm',
    label: 'kcp-go aes-128-gcm',
    role: 'peer',
    about: 'K2: kcpgo-peer `server --mode sink` and `client --mode bulk`, both `--crypt aes-128-gcm` (kcp-go\'s AEAD) with FEC 10/3',
    env: { GOMAXPROCS: '1' },
    command: (proto, port) => (proto === 'kcp-fec' ? goSink('aes-128-gcm', port) : undefined),
    readyLine: { 'kcp-fec': /"listen"/ },
    client: (addr) => goBulk('aes-128-gcm', addr),
  },
  {
    id: 'riptide-salsa20',
    label: 'riptide salsa20',
    role: 'riptide',
    about:
      "K2: `riptide-bench serve-kcp --crypt salsa20` (the engine crate alone, one reactor), kcp-go's compat encryption with FEC 10/3; its client is kcpgo-peer with salsa20, the same client as kcp-go salsa20's",
    command: (proto, port) =>
      proto === 'kcp-fec'
        ? [LOADGEN, 'serve-kcp', '--addr', `127.0.0.1:${port}`, '--crypt', 'salsa20', '--key', K2_WIRE.key, ...K2_FEC, ...K2_KNOBS_RIPTIDE]
        : undefined,
    readyLine: { 'kcp-fec': /"listen"/ },
    client: (addr) => goBulk('salsa20', addr),
  },
  {
    id: 'kcp-go-salsa20',
    label: 'kcp-go salsa20',
    role: 'peer',
    about: 'K2: kcpgo-peer `server --mode sink` and `client --mode bulk`, both `--crypt salsa20` with FEC 10/3',
    env: { GOMAXPROCS: '1' },
    command: (proto, port) => (proto === 'kcp-fec' ? goSink('salsa20', port) : undefined),
    readyLine: { 'kcp-fec': /"listen"/ },
    client: (addr) => goBulk('salsa20', addr),
  },
  {
    id: 'redis-server',
    label: 'redis-server',
    role: 'peer',
    about: "Debian's redis-server 7 (`--save '' --appendonly no`, default single-threaded I/O), pinned like every server",
    command: (proto, port) =>
      proto === 'redis' ? ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--loglevel', 'warning'] : undefined,
  },
  {
    id: 'nsd',
    label: 'NSD',
    role: 'peer',
    about:
      "Debian's NSD 4 (`server-count: 1`, response rate limiting off: from one source it would measure the limit), the same zone file; NSD answers from a forked child, so its CPU is the whole process tree's",
    command: (proto, port) => (proto === 'dns' ? ['nsd', '-d', '-c', nsdConfig(port)] : undefined),
  },
  {
    id: 'pion',
    label: 'pion',
    role: 'peer',
    about:
      "RTC1, RTC2: bench/peers/pion-webrtc `echo` (pion/webrtc v4 from the Go module proxy, GOMAXPROCS=1): riptide's signalling on TCP, ICE-lite with one UDP mux on the same port (as riptide's one socket), the same two pre-negotiated channels, each message echoed with `Send`",
    env: { GOMAXPROCS: '1' },
    command: (proto, port) => (proto === 'webrtc' ? [PION_WEBRTC_BIN, 'echo', '-port', String(port)] : undefined),
  },
  {
    id: 'c-floor',
    label: 'C epoll floor',
    role: 'floor',
    about: 'single-threaded C, level-triggered epoll (bench/peers/c-epoll/floor.c): echo, and a minimal responder counting `\\r\\n\\r\\n`',
    command: (proto, port) => (proto === 'echo' || proto === 'http' ? [C_FLOOR_BIN, proto, String(port)] : undefined),
  },
  {
    id: 'uring-floor',
    label: 'io_uring floor',
    role: 'floor',
    about:
      "single-threaded Rust on io_uring (bench/peers/uring-floor, the `io-uring` crate): the C floor's echo and responder, with multishot accept, multishot recv on a provided-buffer ring, every send of a wake in one submission and one `io_uring_enter` per wake; issue 21's bound on what an io_uring backend could save",
    command: (proto, port) => (proto === 'echo' || proto === 'http' ? [URING_FLOOR_BIN, proto, String(port)] : undefined),
  },
  {
    id: 'riptide-tunnel',
    label: 'riptide-tunnel',
    role: 'riptide',
    about:
      "K3: `riptide-tunnel server` and `client` (crates/riptide-tunnel, release build: the engine crate, one reactor each, no Node) with kcptun's flags and defaults, FEC 10/3",
    command: () => undefined,
    tunnel: {
      server: (listen, target) => [TUNNEL_BIN, 'server', '--quiet', '-l', listen, '-t', target, ...K3_FLAGS],
      client: (listen, remote) => [TUNNEL_BIN, 'client', '--quiet', '-l', listen, '-r', remote, ...K3_FLAGS],
      ready: { line: /listening on (tcp|kcp):\/\//, stderr: true },
    },
  },
  {
    id: 'kcptun-go',
    label: 'Go kcptun',
    role: 'peer',
    about:
      'K3: tests/interop/kcptun, built as kcptun is from kcp-go v5, smux and golang/snappy (the Go module proxy); server and client with the same flags, GOMAXPROCS=1 as each end is pinned to one core',
    env: { GOMAXPROCS: '1' },
    command: () => undefined,
    tunnel: {
      server: (listen, target) => [KCPTUN_BIN, 'server', '-l', listen, '-t', target, ...K3_FLAGS],
      client: (listen, remote) => [KCPTUN_BIN, 'client', '-l', listen, '-r', remote, ...K3_FLAGS],
      ready: { line: /^ready / },
    },
  },
]

/** Writes NSD's configuration for `port` under target/bench/nsd/ (its state files go there too). */
function nsdConfig(port: number): string {
  const dir = join(BUILD_DIR, 'nsd')
  mkdirSync(dir, { recursive: true })
  const conf = join(dir, `nsd-${port}.conf`)
  const config = [
    'server:',
    `  ip-address: 127.0.0.1@${port}`,
    '  server-count: 1',
    '  username: ""',
    `  zonesdir: "${dir}"`,
    '  database: ""',
    `  pidfile: "${dir}/nsd-${port}.pid"`,
    `  xfrdfile: "${dir}/xfrd-${port}.state"`,
    `  zonelistfile: "${dir}/zone-${port}.list"`,
    `  logfile: "${dir}/nsd.log"`,
    '  verbosity: 0',
    '  rrl-ratelimit: 0',
    '  rrl-whitelist-ratelimit: 0',
    'remote-control:',
    '  control-enable: no',
    'zone:',
    '  name: example.test',
    `  zonefile: "${DNS_ZONE}"`,
    '',
  ]
  writeFileSync(conf, config.join('\n'))
  return conf
}

/** Looks a peer up by id. */
export function peer(id: string): Peer {
  const p = PEERS.find((x) => x.id === id)
  if (!p) throw new Error(`unknown peer ${id}`)
  return p
}

/**
 * Why `p` cannot run (undefined when it can), judged from what the build produced and, for
 * uWebSockets.js, from trying to load it.
 */
export function unavailable(p: Peer, buildFailures: Map<string, string>): string | undefined {
  const failed = buildFailures.get(p.id)
  if (failed) return failed
  switch (p.id) {
    case 'gnet':
      return existsSync(GNET_BIN) ? undefined : 'not built (needs Go; `go build` in bench/peers/gnet)'
    case 'c-floor':
      return existsSync(C_FLOOR_BIN) ? undefined : 'not built (needs a C compiler: `cc`)'
    case 'uring-floor':
      return existsSync(URING_FLOOR_BIN) ? undefined : 'not built (Linux only: `cargo build --release` in bench/peers/uring-floor)'
    case 'kcp-go':
    case 'kcp-go-gcm':
    case 'kcp-go-salsa20':
      return existsSync(KCPGO_BIN) ? undefined : 'not built (needs Go and tests/interop/kcp-go)'
    case 'riptide-salsa20':
      return !existsSync(LOADGEN)
        ? 'riptide-bench is not built'
        : existsSync(KCPGO_BIN)
          ? undefined
          : 'its client, kcpgo-peer, is not built (needs Go and tests/interop/kcp-go)'
    case 'riptide-tunnel':
      return existsSync(TUNNEL_BIN) ? undefined : 'not built (`cargo build --release -p riptide-tunnel`)'
    case 'pion':
      return existsSync(PION_WEBRTC_BIN) ? undefined : 'not built (needs Go and bench/peers/pion-webrtc)'
    case 'kcptun-go':
      return existsSync(KCPTUN_BIN) ? undefined : 'not built (needs Go and tests/interop/kcptun)'
    case 'riptide-rust':
    case 'riptide-secure':
      return existsSync(LOADGEN) ? undefined : 'riptide-bench is not built'
    case 'riptide':
    case 'riptide-thread':
    case 'riptide-context':
      return existsSync(join(ROOT, 'dist', 'index.js')) ? undefined : 'riptide is not built (`npm run build`)'
    case 'uws':
      return uwsProblem()
    case 'redis-server':
      return spawnSync('redis-server', ['--version']).status === 0 ? undefined : "not installed (Debian's redis-server)"
    case 'nsd':
      return spawnSync('sh', ['-c', 'command -v nsd']).status === 0 ? undefined : "not installed (Debian's nsd)"
    default:
      return undefined
  }
}

let uwsChecked: string | undefined | null = null
/** How the uWebSockets.js peer loads it (set by uwsProblem when it can). */
let uwsVia: string | undefined

/**
 * Loads uWebSockets.js the way its peer does (`uws-http.ts --check`, in a child process) and
 * explains a failure.
 */
function uwsProblem(): string | undefined {
  if (uwsChecked !== null) return uwsChecked
  const [cmd, ...args] = tsx('uws-http.ts', 0)
  const r = spawnSync(cmd, [...args, '--check'], { cwd: ROOT, encoding: 'utf8', timeout: 30000 })
  const last = (r.stdout ?? '').trim().split('\n').pop() ?? ''
  let said: { via?: string; error?: string } = {}
  try {
    said = JSON.parse(last) as { via?: string; error?: string }
  } catch {
    said = { error: last || (r.stderr ?? '').trim().split('\n')[0] || String(r.error ?? `exit ${r.status}`) }
  }
  if (r.status === 0 && said.via) {
    uwsVia = said.via
    uwsChecked = undefined
  } else if (/^not prepared/.test(said.error ?? '')) {
    uwsChecked =
      'not prepared: uWebSockets.js is not published on the npm registry (GitHub-only releases); the bench build ' +
      'fetches the republish @btc-vision/uwebsockets.js into target/bench/uws/ (bench/uws.ts) when this peer is selected'
  } else {
    uwsChecked = `does not load: ${said.error ?? 'unknown error'}`
  }
  return uwsChecked
}

/** The C library version, e.g. "glibc 2.36". */
export function glibcVersion(): string {
  const r = spawnSync('ldd', ['--version'], { encoding: 'utf8' })
  const m = /(\d+\.\d+)\s*$/m.exec((r.stdout || '').split('\n')[0])
  return m ? `glibc ${m[1]}` : 'an unknown libc'
}
