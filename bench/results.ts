/**
 * The shape of `bench/results/<date>.json`: written by `bench/run.ts`, read by `bench/report.ts`.
 */

/** One measured run of one peer in one round. */
export interface RunRecord {
  round: number
  peer: string
  /** Units per second (round trips, messages, requests; MB/s for K1; bytes per connection for M1). */
  rate: number
  p50Us?: number
  p99Us?: number
  p999Us?: number
  /** Server CPU seconds over the measured window. */
  serverCpuS?: number
  /** Server CPU µs per unit (per round trip, request; per MB for K1). */
  cpuUsPerUnit?: number
  /** Units per server-CPU-second. */
  perCpuSecond?: number
  /** K3: the tunnel client's CPU µs per MB (the server's is `cpuUsPerUnit`). */
  clientCpuUsPerUnit?: number
  /**
   * Echo and HTTP: times the server's threads blocked over the window (voluntary context
   * switches; an event loop blocks once per wait that found nothing ready).
   */
  serverSleeps?: number
  /** Load-generator CPU share of one core over the window (0..1). */
  loadgenCpu?: number
  /** Share of the machine other processes used (0..1). */
  foreign: number
  /** Still above the noise threshold after the allowed retries. */
  noisy: boolean
  attempts: number
  /** Connections that made no progress for a second. */
  stalls?: number
  /** Non-2xx HTTP responses. */
  errors?: number
  /** TLS runs: the protocol version and cipher suite the load generator negotiated. */
  negotiated?: string
  /** riptide counter deltas over the window (B1). */
  counters?: { wakes: number; jsCalls: number; events: number }
  /** M1: server RSS before/after, connections held, connect time. */
  rssBefore?: number
  rssAfter?: number
  conns?: number
  connectMs?: number
  /**
   * M1: server RSS at `from` and at `to` idle connections; its growth per connection over each
   * step between them (`steps`), their median (`bytesPerConn`, the slope reported), and the
   * growth per connection from end to end.
   */
  slope?: { from: number; to: number; rssFrom: number; rssTo: number; bytesPerConn: number; steps: number[]; endToEnd: number }
}

/** Medians of one peer in one workload, and ratios from the same run. */
export interface PeerSummary {
  peer: string
  label: string
  rounds: number
  rate: number
  rateMin: number
  rateMax: number
  p50Us?: number
  p99Us?: number
  cpuUsPerUnit?: number
  perCpuSecond?: number
  loadgenCpu?: number
  /** M1: median, least and most of the runs' RSS slopes (bytes per connection, {@link RunRecord.slope}). */
  slope?: number
  slopeMin?: number
  slopeMax?: number
  /** rate ÷ baseline rate (for M1: bytes ÷ baseline bytes). */
  xBaseline?: number
  /** rate ÷ C floor rate. */
  xFloor?: number
  /** server CPU per unit ÷ baseline's. */
  cpuXBaseline?: number
  /** K3: the tunnel client's CPU µs per MB. */
  clientCpuUsPerUnit?: number
  /** K3: client CPU per MB ÷ baseline's. */
  clientCpuXBaseline?: number
  /** per-CPU-second ÷ C floor's. */
  perCpuXFloor?: number
  /** B1: JS calls per reactor wake (median over runs). */
  callsPerWake?: number
  /** B1: events (connections' traffic, opens, closes...) per JS call. */
  eventsPerCall?: number
  /** B1: reactor wakes per second. */
  wakesPerSecond?: number
  noisyRuns: number
  /** The load generator used ≥ 95 % of its core: the pair, not the server, set the rate. */
  loadgenBound: boolean
}

/** One workload's runs and summary. */
export interface WorkloadResult {
  id: string
  title: string
  unit: string
  baseline: string
  /** Peers compared with another peer than `baseline` (K2's pairs): peer id → its baseline. */
  baselines?: Record<string, string>
  target?: string
  /** Load parameters as run. */
  load: Record<string, number | string | boolean>
  runs: RunRecord[]
  summary: PeerSummary[]
  /** Peers that failed during this workload (server crash, load generator error). */
  failures: { peer: string; round: number; error: string }[]
  /** For B1: not measured, and why. */
  note?: string
  /**
   * Set when this workload was carried over from an earlier results file by `--merge`: that
   * run's start time and settings (the page says so next to the workload).
   */
  from?: { startedAt: string; settings: Results['settings'] }
}

/** A whole results file. */
export interface Results {
  date: string
  startedAt: string
  durationS: number
  quick: boolean
  settings: { rounds: number; warmupS: number; seconds: number; retries: number; quietWaitS: number; noiseThreshold: number; serverCpu: number; loadgenCpu: number; pinned: boolean; loadgen?: 'rust' | 'c' }
  machine: Record<string, string | number>
  /** Every peer; `selected`: part of this run's selection; `available`: could run here. */
  peers: { id: string; label: string; about: string; selected: boolean; available: boolean; reason?: string }[]
  workloads: WorkloadResult[]
}
