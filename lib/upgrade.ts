/**
 * Upgrade in place (the tableflip/ecdysis model) and systemd socket activation: a process
 * hands its listening sockets to a new one, which serves them once it is ready, so no
 * connection is refused or reset by the change. Both directions use systemd's convention:
 * the sockets are descriptors 3, 4, … with `LISTEN_FDS` (their count) and `LISTEN_FDNAMES`.
 *
 * systemd also sets `LISTEN_PID` to the new process's pid, which only a launcher that forks
 * before it execs can know; Node's `child_process` cannot. Like `sd_listen_fds`, riptide
 * ignores `LISTEN_FDS` when `LISTEN_PID` is another process's, and also when it is unset,
 * unless `RIPTIDE_UPGRADE` (the old process's pid) is set: riptide's own upgrade sets that
 * marker instead of `LISTEN_PID`. `RIPTIDE_READY_FD` names the pipe on which the new process
 * says `READY=1` (as in `sd_notify`), and `RIPTIDE_GENERATION` its upgrade generation (the old
 * process's plus one), which secure `kcp://` session ids carry.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process'
import { closeSync, writeSync } from 'node:fs'
import { isMainThread } from 'node:worker_threads'
import { fromNativeAddress, type PeerAddr } from './address'
import { InvalidOptionError, UpgradeError } from './errors'
import { native, type NativeEngine } from './native'
import type { ListenSpec, StopCounts } from './reactor'
import { knownKeys, ms } from './validate'

/** The first inherited descriptor (systemd's `SD_LISTEN_FDS_START`). */
const FIRST_FD = 3
/** The most descriptors riptide takes from `LISTEN_FDS`. */
const MAX_FDS = 4096
/** The marker riptide's upgrade sets in place of `LISTEN_PID`: the old process's pid. */
const MARKER = 'RIPTIDE_UPGRADE'
/** The descriptor of the readiness pipe of an upgrade. */
const READY_FD = 'RIPTIDE_READY_FD'
/** The environment variable with the new process's upgrade generation (0–255). */
const GENERATION = 'RIPTIDE_GENERATION'
/** What the new process writes on the readiness pipe (an `sd_notify` line). */
const READY_LINE = 'READY=1\n'

/** A listening socket this process was started with (`LISTEN_FDS`). */
export interface InheritedSocket {
  /** The descriptor number it arrived on. */
  fd: number
  /** `'tcp'`, `'udp'` (a `udp://` or `kcp://` listener's) or `'unix'`. */
  kind: 'tcp' | 'udp' | 'unix'
  /** The address it is bound to. */
  address: PeerAddr
  /** Its name (`LISTEN_FDNAMES`; riptide's upgrade names each socket with its listener's URL). */
  name: string
}

/** Options of {@link Engine.upgrade}. */
export interface UpgradeOptions {
  /** The program to run. Default: `process.execPath` (this Node). */
  execPath?: string
  /** Its arguments. Default: this process's (`process.execArgv` then `process.argv.slice(1)`). */
  args?: string[]
  /** Its environment (riptide adds `LISTEN_FDS` and the rest). Default: `process.env`. */
  env?: Record<string, string | undefined>
  /** Its working directory. Default: this process's. */
  cwd?: string
  /** Ms the new process gets to be ready; then it is killed and the upgrade fails. Default `30000`. */
  timeout?: number
  /**
   * Ms the open connections of this process get to end by themselves once the new process is
   * ready; then `engine.stop({ drainTimeout })` closes what is left. Default `10000`.
   */
  drainTimeout?: number
}

/** What {@link Engine.upgrade} resolves with once the new process is ready. */
export interface UpgradeResult {
  /** The new process. */
  child: ChildProcess
  /** Its pid. */
  pid: number
  /** Settles when this engine has drained and stopped (with `engine.stop`'s counts). */
  stopped: Promise<StopCounts>
}

const UPGRADE_KEYS = ['execPath', 'args', 'env', 'cwd', 'timeout', 'drainTimeout']

/** The inherited sockets, once the environment was read; whether the marker was set. */
let inherited: InheritedSocket[] | undefined
let byUpgrade = false
/** The pid of the process whose upgrade started this one (the marker's value), else 0. */
let parentPid = 0
let readyFd: number | undefined
/** This process's upgrade generation: 0 when started fresh, the parent's plus one (wrapping at 256) after an upgrade. */
let generation = 0

/**
 * Reads `LISTEN_FDS` once (on the main thread) and moves the sockets it names into the pool
 * that `serve`'s listeners take from; clears the variables, so children do not see them.
 * Sockets that are not listening TCP/Unix sockets or bound UDP sockets are closed, each with
 * a process warning.
 */
export function adoptInherited(): void {
  if (inherited !== undefined || !isMainThread) return
  inherited = []
  const env = process.env
  const count = env.LISTEN_FDS
  const pid = env.LISTEN_PID
  const marker = env[MARKER]
  const ready = env[READY_FD]
  const names = (env.LISTEN_FDNAMES ?? '').split(':').map(decodeName)
  const gen = env[GENERATION]
  for (const key of ['LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES', MARKER, READY_FD, GENERATION]) delete env[key]
  byUpgrade = marker !== undefined && /^[1-9][0-9]*$/.test(marker)
  if (byUpgrade) parentPid = Number(marker)
  if (byUpgrade && gen !== undefined && /^[0-9]{1,3}$/.test(gen) && Number(gen) <= 255) {
    generation = Number(gen)
    native.setUpgradeGeneration(generation)
  }
  if (byUpgrade && ready !== undefined && /^[0-9]+$/.test(ready)) {
    const fd = Number(ready)
    if (fd >= FIRST_FD && fd <= FIRST_FD + MAX_FDS) readyFd = fd
  }
  const forUs = pid === undefined ? byUpgrade : pid === String(process.pid)
  if (!forUs || count === undefined || !/^[1-9][0-9]{0,3}$/.test(count)) return
  const n = Math.min(Number(count), MAX_FDS)
  const fds = Array.from({ length: n }, (_, i) => FIRST_FD + i)
  for (const s of native.inheritSockets(fds, names.slice(0, n))) {
    if (s.error !== undefined || s.address === undefined) {
      process.emitWarning(`riptide: inherited descriptor ${s.fd} is not a listening socket riptide can serve (${s.error ?? 'unknown'}); closed`)
    } else {
      inherited.push({ fd: s.fd, kind: s.kind as InheritedSocket['kind'], address: fromNativeAddress(s.address), name: s.name })
    }
  }
}

/** A `LISTEN_FDNAMES` entry: riptide percent-encodes its URLs (`:` separates the names). */
function decodeName(name: string): string {
  try {
    return decodeURIComponent(name)
  } catch {
    return name
  }
}

/**
 * This process's upgrade generation: 0 when it started fresh, its parent's plus one (wrapping
 * at 256) when an upgrade started it. Secure `kcp://` listeners put it in their session ids,
 * so that during an upgrade each session stays with the process that owns it
 * (docs/deploy.md, "Upgrade in place").
 */
export function upgradeGeneration(): number {
  adoptInherited()
  return generation
}

/**
 * The listening sockets this process was started with (`LISTEN_FDS`: by systemd socket
 * activation or an upgrade in place), whether or not a listener took them since.
 */
export function inheritedSockets(): InheritedSocket[] {
  adoptInherited()
  return (inherited ?? []).map((s) => ({ ...s, address: { ...s.address } }))
}

/** True when this process was started by {@link Engine.upgrade} of another one. */
export function startedByUpgrade(): boolean {
  adoptInherited()
  return byUpgrade
}

/**
 * Tells the process that started this one by an upgrade that it is ready to serve: the old
 * process then stops accepting and drains. Inherited sockets no listener took are closed
 * first. `serve` calls it by itself once every inherited socket has been taken; call it when
 * the new process serves fewer listeners than the old one did. Returns false (doing nothing)
 * when this process was not started by an upgrade or has already said so.
 */
export function ready(): boolean {
  adoptInherited()
  if (readyFd === undefined) return false
  const fd = readyFd
  readyFd = undefined
  native.closeInherited()
  try {
    writeSync(fd, READY_LINE)
  } finally {
    closeSync(fd)
  }
  return true
}

/**
 * Says ready when an upgrade's sockets have all been taken (called by `serve`), once the
 * code that awaited `serve` has run on (a macrotask later), so what it sets up (signal
 * handlers...) is in place before the old process goes.
 */
export function readyIfAllTaken(): void {
  if (readyFd !== undefined && native.pendingInherited().length === 0) {
    setImmediate(() => {
      if (native.pendingInherited().length === 0) ready()
    })
  }
}

/** The engine's side of {@link Engine.upgrade}. */
export interface Upgradable {
  nativeEngine: NativeEngine
  specs: readonly ListenSpec[]
  addresses: readonly PeerAddr[]
  countConnections(): number
  stop(drainTimeout: number): Promise<StopCounts>
}

/** Checks {@link UpgradeOptions}. */
function checkUpgradeOptions(options: UpgradeOptions | undefined): Required<Pick<UpgradeOptions, 'timeout' | 'drainTimeout' | 'execPath' | 'args'>> & UpgradeOptions {
  if (options !== undefined && (options === null || typeof options !== 'object')) throw new InvalidOptionError('upgrade options must be an object')
  const o = options ?? {}
  knownKeys('upgrade options', o, UPGRADE_KEYS)
  const execPath = o.execPath ?? process.execPath
  if (typeof execPath !== 'string' || execPath === '') throw new InvalidOptionError('execPath must be a non-empty string')
  const args = o.args ?? [...process.execArgv, ...process.argv.slice(1)]
  if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw new InvalidOptionError('args must be an array of strings')
  if (o.env !== undefined && (o.env === null || typeof o.env !== 'object')) throw new InvalidOptionError('env must be an object')
  if (o.cwd !== undefined && typeof o.cwd !== 'string') throw new InvalidOptionError('cwd must be a string')
  return { ...o, execPath, args, timeout: ms('timeout', o.timeout ?? 30_000, 1), drainTimeout: ms('drainTimeout', o.drainTimeout ?? 10_000) }
}

/** True when `a` and `b` are the same address. */
function sameAddress(a: PeerAddr, b: PeerAddr): boolean {
  if (a.family === 'unix') return b.family === 'unix' && a.path === b.path
  return b.family !== 'unix' && a.family === b.family && a.address === b.address && a.port === b.port
}

/** The name a listener's socket is handed over with: its URL as given to `serve`. */
function socketName(e: { datagram: boolean; address: PeerAddr }, specs: readonly ListenSpec[], addresses: readonly PeerAddr[]): string {
  const at = addresses.findIndex((a, i) => {
    const datagram = /^(udp|kcp)[46]?:/i.test(specs[i]?.url ?? '')
    return datagram === e.datagram && sameAddress(a, e.address)
  })
  return encodeURIComponent(at >= 0 ? specs[at]!.url : '')
}

/**
 * Starts the new process with this engine's listening sockets and waits until it is ready;
 * then this engine stops accepting and drains in the background. See {@link Engine.upgrade}.
 */
export function upgrade(engine: Upgradable, options: UpgradeOptions | undefined): Promise<UpgradeResult> {
  const o = checkUpgradeOptions(options)
  const exported = engine.nativeEngine.exportListeners().map((e) => ({ ...e, address: fromNativeAddress(e.address) }))
  if (exported.some((e) => e.routed) && runs(parentPid)) {
    // The routing program knows one old generation, at the group's first socket: the parent's
    // socket may still sit there (docs/deploy.md, "Upgrade in place").
    for (const e of exported) closeSync(e.fd)
    return Promise.reject(new UpgradeError(`the previous process (${parentPid}) may still serve secure KCP sessions on a shared socket; upgrade again once it has exited`))
  }
  let child: ChildProcess
  try {
    const fds = exported.map((e) => e.fd)
    const readyAt = FIRST_FD + fds.length
    const env: Record<string, string | undefined> = { ...(o.env ?? process.env) }
    delete env.LISTEN_PID
    Object.assign(env, {
      LISTEN_FDS: String(fds.length),
      LISTEN_FDNAMES: exported.map((e) => socketName(e, engine.specs, engine.addresses)).join(':'),
      [MARKER]: String(process.pid),
      [READY_FD]: String(readyAt),
      [GENERATION]: String((generation + 1) % 256),
    })
    const stdio: StdioOptions = ['inherit', 'inherit', 'inherit', ...fds, 'pipe']
    child = spawn(o.execPath, o.args, { env, cwd: o.cwd, stdio })
  } finally {
    // The child has its copies now (spawn forks before it returns).
    for (const e of exported) closeSync(e.fd)
  }
  return new Promise<UpgradeResult>((resolve, reject) => {
    const pipe = child.stdio[FIRST_FD + exported.length]
    let said = ''
    const done = (err: UpgradeError | undefined) => {
      clearTimeout(timer)
      child.off('exit', onExit)
      child.off('error', onError)
      pipe?.removeAllListeners('data')
      pipe?.destroy()
      if (err !== undefined) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
        reject(err)
        return
      }
      engine.nativeEngine.releaseListeners()
      resolve({ child, pid: child.pid ?? 0, stopped: drain(engine, o.drainTimeout) })
    }
    const onExit = (code: number | null, signal: string | null) => {
      done(new UpgradeError(`the new process exited (${signal ?? `code ${code}`}) before it was ready; this one keeps serving`))
    }
    const onError = (err: Error) => done(new UpgradeError(`the new process could not be started: ${err.message}`, { cause: err }))
    const timer = setTimeout(() => done(new UpgradeError(`the new process was not ready within ${o.timeout} ms; it was killed and this one keeps serving`)), o.timeout)
    child.once('exit', onExit)
    child.once('error', onError)
    pipe?.on('data', (chunk: Buffer) => {
      said += chunk.toString('latin1')
      if (said.split('\n').includes(READY_LINE.trim())) done(undefined)
      else if (said.length > 4096) done(new UpgradeError('the new process wrote something other than READY=1 on the readiness pipe'))
    })
  })
}

/** True when process `pid` (not 0) still runs (or exists under another user). */
function runs(pid: number): boolean {
  if (pid === 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Waits up to `drainTimeout` ms for the connections to end, then stops the engine. */
async function drain(engine: Upgradable, drainTimeout: number): Promise<StopCounts> {
  const deadline = Date.now() + drainTimeout
  while (engine.countConnections() > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, Math.min(50, Math.max(1, deadline - Date.now()))))
  }
  return engine.stop(drainTimeout)
}

