// The load generator of the drain tests: churn (new connections at a fixed rate, one echoed
// line each) and held connections (a numbered line echoed every interval, reconnecting on
// GOAWAY), against the line-echo handler of fixtures/drain-handler.ts. Every failure is
// counted with its reason: a connect error, a reset, a close before the echo (churn) or
// without a GOAWAY first (held), an echo that does not match.
import net from 'node:net'

/** Where the generator connects. */
export interface Target {
  host: string
  port: number
}

/** What a run counted. */
export interface LoadStats {
  /** Echoes answered. */
  passed: number
  /** Connections or echoes that failed, by reason. */
  failed: number
  reasons: Record<string, number>
  /** GOAWAY lines received. */
  goaways: number
}

/** Lines of a socket, split on `\n`. */
function onLines(socket: net.Socket, fn: (line: string) => void): void {
  let rest = ''
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    rest += chunk
    for (let nl = rest.indexOf('\n'); nl >= 0; nl = rest.indexOf('\n')) {
      fn(rest.slice(0, nl))
      rest = rest.slice(nl + 1)
    }
  })
}

/** Counts shared by the churn and the held connections. */
export class Counter implements LoadStats {
  passed = 0
  failed = 0
  goaways = 0
  reasons: Record<string, number> = {}

  fail(reason: string): void {
    this.failed++
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1
  }

  snapshot(): LoadStats {
    return { passed: this.passed, failed: this.failed, goaways: this.goaways, reasons: { ...this.reasons } }
  }
}

/**
 * Opens `rate` connections a second, each sending one line and ending once it is echoed
 * (GOAWAY lines are skipped: the server still echoes).
 */
export class Churn {
  readonly #target: Target
  readonly #counter: Counter
  readonly #timer: NodeJS.Timeout
  #inflight = 0
  #seq = 0

  constructor(target: Target, rate: number, counter: Counter) {
    this.#target = target
    this.#counter = counter
    // Ten ticks a second, each opening a tenth of the rate.
    this.#timer = setInterval(() => {
      for (let i = 0; i < rate / 10; i++) this.#one()
    }, 100)
  }

  #one(): void {
    const line = `c${this.#seq++}`
    const socket = net.connect(this.#target.port, this.#target.host)
    let done = false
    this.#inflight++
    const finish = (reason?: string) => {
      if (done) return
      done = true
      this.#inflight--
      if (reason === undefined) this.#counter.passed++
      else this.#counter.fail(reason)
    }
    socket.on('connect', () => socket.write(`${line}\n`))
    onLines(socket, (got) => {
      if (got === 'GOAWAY') {
        this.#counter.goaways++
        return
      }
      if (got !== line) return finish('mismatch')
      finish()
      socket.end()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => finish(`churn ${err.code ?? err.message}`))
    socket.on('close', () => finish('churn closed before its echo'))
  }

  /** Stops opening connections and waits (up to 10 s) for those in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    const deadline = Date.now() + 10_000
    while (this.#inflight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    if (this.#inflight > 0) this.#counter.fail(`churn ${this.#inflight} never answered`)
  }
}

/** One held connection: a numbered line every interval, answered in order. */
class HeldConn {
  readonly socket: net.Socket
  #seq = 0
  #waiting: string | undefined
  #goaway = false
  #ended = false

  constructor(
    readonly id: number,
    target: Target,
    private readonly pool: Held,
    private readonly counter: Counter,
  ) {
    this.socket = net.connect(target.port, target.host)
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.#lost(`held ${err.code ?? err.message}`))
    this.socket.on('close', () => this.#lost(this.#goaway ? 'held echo lost after GOAWAY' : 'held closed without GOAWAY'))
    onLines(this.socket, (line) => {
      if (line === 'GOAWAY') {
        this.counter.goaways++
        this.#goaway = true
        this.pool.replace(this)
        if (this.#waiting === undefined) this.end()
        return
      }
      if (line !== this.#waiting) {
        this.#lost('held echo mismatch')
        return
      }
      this.#waiting = undefined
      this.counter.passed++
      if (this.#goaway) this.end()
    })
  }

  /** Sends the next line unless one is still unanswered or the server said GOAWAY. */
  tick(): void {
    if (this.#goaway || this.#ended || this.#waiting !== undefined || this.socket.connecting) return
    this.#waiting = `h${this.id}:${this.#seq++}`
    this.socket.write(`${this.#waiting}\n`)
  }

  end(): void {
    if (this.#ended) return
    this.#ended = true
    this.socket.end()
    this.pool.forget(this)
  }

  #lost(reason: string): void {
    if (this.#ended) return
    this.#ended = true
    this.counter.fail(reason)
    this.socket.destroy()
    this.pool.forget(this)
    // Keep the count up: a lost connection is replaced too (after a GOAWAY it already was).
    if (!this.#goaway) this.pool.replace(this)
  }
}

/** `count` held connections, each echoing a line every `interval` ms, reconnecting on GOAWAY. */
export class Held {
  readonly #target: Target
  readonly #counter: Counter
  readonly #conns = new Set<HeldConn>()
  readonly #timer: NodeJS.Timeout
  #next = 0
  #stopped = false
  #tick = 0

  constructor(target: Target, count: number, interval: number, counter: Counter) {
    this.#target = target
    this.#counter = counter
    for (let i = 0; i < count; i++) this.#open()
    // Ten buckets: each 10th of the interval, a 10th of the connections send.
    this.#timer = setInterval(() => {
      const bucket = this.#tick++ % 10
      for (const c of this.#conns) if (c.id % 10 === bucket) c.tick()
    }, interval / 10)
  }

  #open(): void {
    this.#conns.add(new HeldConn(this.#next++, this.#target, this, this.#counter))
  }

  /** Opens a connection in place of `old` (GOAWAY or lost). */
  replace(old: HeldConn): void {
    this.#conns.delete(old)
    if (!this.#stopped) this.#open()
  }

  forget(c: HeldConn): void {
    this.#conns.delete(c)
  }

  /** Connections held now. */
  get size(): number {
    return this.#conns.size
  }

  /** Closes every connection. */
  stop(): void {
    this.#stopped = true
    clearInterval(this.#timer)
    for (const c of [...this.#conns]) c.end()
  }
}
