// Headless Chromium (Debian's `chromium`) driven over the DevTools protocol with the `ws`
// package: a browser in a temporary profile, tabs as flat sessions, and a clean stop.

import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import WebSocket from 'ws'

/** The executable `name` on PATH, or undefined. */
export function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, name)
    if (dir !== '' && existsSync(file)) return file
  }
  return undefined
}

/**
 * Why the browser specs skip here, or undefined when they run: no `chromium` on PATH, or
 * `RIPTIDE_BROWSER=0` (.ci/run's thread-driver pass sets it: the browser specs exercise the
 * pages and the browser's side, which the driver does not change).
 */
export const CHROMIUM_MISSING: string | undefined =
  process.env.RIPTIDE_BROWSER === '0'
    ? 'RIPTIDE_BROWSER=0'
    : findOnPath('chromium') === undefined
      ? "no `chromium` on PATH; .ci/run installs Debian's"
      : undefined

/** The `chromium` on PATH, or undefined when the browser specs skip ({@link CHROMIUM_MISSING}). */
export function findChromium(): string | undefined {
  return CHROMIUM_MISSING === undefined ? findOnPath('chromium') : undefined
}

/**
 * Flags for a browser that talks only to loopback: headless, no sandbox (containers run as
 * root), no GPU, none of Chromium's own traffic (updates, sync, safe browsing), and no
 * throttling of background tabs (several tabs run at once).
 */
const FLAGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-domain-reliability',
  '--disable-client-side-phishing-detection',
  '--no-pings',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows',
  '--remote-debugging-port=0',
]

/**
 * Extra flags for WebRTC to a server on loopback: Chromium leaves the loopback interface out of
 * ICE unless allowed, and hides local addresses behind mDNS names a loopback server cannot
 * resolve; with both flags it connects (docs/webrtc.md).
 */
export const WEBRTC_LOOPBACK_FLAGS = ['--allow-loopback-in-peer-connection', '--disable-features=WebRtcHideLocalIpsWithMdns']

/** A reply to a command: its result, or the protocol's error. */
interface Reply {
  id: number
  result?: Record<string, unknown>
  error?: { message: string }
}

/** One page (tab), attached as a flat session of the browser's connection. */
export class Tab {
  constructor(
    private readonly browser: Browser,
    /** The target's id. */
    readonly targetId: string,
    private readonly sessionId: string,
  ) {}

  /** Sends a command to this page. */
  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    return this.browser.send(method, params, this.sessionId)
  }

  /** Evaluates `expression` in the page; resolves with its value (JSON-serializable), awaiting a promise. */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true })
    const thrown = r.exceptionDetails as { exception?: { description?: string }; text?: string } | undefined
    if (thrown !== undefined) throw new Error(`${expression}: ${thrown.exception?.description ?? thrown.text}`)
    return (r.result as { value: T }).value
  }

  /** A PNG of the visible page. */
  async screenshot(): Promise<Buffer> {
    const r = await this.send('Page.captureScreenshot', { format: 'png' })
    return Buffer.from(r.data as string, 'base64')
  }

  /** Closes the tab. */
  async close(): Promise<void> {
    await this.browser.send('Target.closeTarget', { targetId: this.targetId })
  }
}

/** A headless Chromium and its DevTools connection. */
export class Browser {
  #next = 1
  readonly #pending = new Map<number, { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }>()

  private constructor(
    private readonly child: ChildProcess,
    private readonly socket: WebSocket,
    private readonly profile: string,
  ) {
    socket.on('message', (data: Buffer) => {
      const m = JSON.parse(data.toString()) as Reply
      const waiting = this.#pending.get(m.id)
      if (waiting === undefined) return // an event: nothing here subscribes to any
      this.#pending.delete(m.id)
      if (m.error !== undefined) waiting.reject(new Error(m.error.message))
      else waiting.resolve(m.result ?? {})
    })
    socket.on('close', () => {
      for (const w of this.#pending.values()) w.reject(new Error('the DevTools connection closed'))
      this.#pending.clear()
    })
  }

  /** Starts `executable` with a fresh profile (and `flags` besides the usual ones) and connects to its DevTools endpoint. */
  static async launch(executable: string, flags: string[] = []): Promise<Browser> {
    const profile = mkdtempSync(join(tmpdir(), 'riptide-chromium-'))
    // Its own process group, so that stop() can end the renderers with it.
    const child = spawn(executable, [...FLAGS, ...flags, `--user-data-dir=${profile}`, 'about:blank'], {
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    try {
      const endpoint = await new Promise<string>((resolve, reject) => {
        let stderr = ''
        const onData = (d: Buffer) => {
          stderr += d.toString()
          const m = /DevTools listening on (ws:\/\/\S+)/.exec(stderr)
          if (m === null) return
          child.stderr!.off('data', onData).resume() // the rest is not read
          resolve(m[1])
        }
        child.stderr!.on('data', onData)
        child.once('error', reject)
        child.once('exit', (code) => reject(new Error(`chromium exited (${code}) before DevTools listened: ${stderr}`)))
      })
      const socket = new WebSocket(endpoint)
      await new Promise<void>((resolve, reject) => {
        socket.once('open', () => resolve())
        socket.once('error', reject)
      })
      return new Browser(child, socket, profile)
    } catch (err) {
      await stopProcess(child)
      rmSync(profile, { recursive: true, force: true })
      throw err
    }
  }

  /** Sends a command, to the browser or (with `sessionId`) to a page. */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<Record<string, unknown>> {
    const id = this.#next++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.socket.send(JSON.stringify({ id, method, params, ...(sessionId === undefined ? {} : { sessionId }) }))
    })
  }

  /** Opens `url` in a new window of `width` x `height` CSS pixels. */
  async open(url: string, width: number, height: number): Promise<Tab> {
    const { targetId } = (await this.send('Target.createTarget', { url: 'about:blank', newWindow: true })) as { targetId: string }
    const { sessionId } = (await this.send('Target.attachToTarget', { targetId, flatten: true })) as { sessionId: string }
    const tab = new Tab(this, targetId, sessionId)
    await tab.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false })
    await tab.send('Page.navigate', { url })
    return tab
  }

  /** Closes the browser (its profile too); kills its process group if it lingers. */
  async stop(): Promise<void> {
    if (this.socket.readyState === WebSocket.OPEN) await this.send('Browser.close').catch(() => undefined)
    this.socket.terminate()
    await stopProcess(this.child)
    rmSync(this.profile, { recursive: true, force: true })
  }
}

/** Waits for `child` (a group leader) to exit, killing its group after 5 s; then ends any renderer left in the group. */
async function stopProcess(child: ChildProcess): Promise<void> {
  const killGroup = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {
      // the group is empty
    }
  }
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const timer = setTimeout(killGroup, 5000)
    await exited
    clearTimeout(timer)
  }
  killGroup()
}
