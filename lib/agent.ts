/**
 * The agent port (`serve`'s `agent` option): HAProxy's `agent-check` text protocol, which
 * tells the balancer to stop sending new connections here while `engine.stop` drains
 * (docs/deploy.md, "Drain"). Each check connects, reads one line and is closed.
 */
import { createServer, type Server } from 'node:net'
import { AddressInUseError, InvalidOptionError } from './errors'
import { knownKeys } from './validate'

/** Options of the agent port. */
export interface AgentOptions {
  /**
   * `tcp://host:port` to answer agent checks on (HAProxy's `agent-addr` and `agent-port`),
   * for example `tcp://127.0.0.1:7101`.
   */
  url: string
}

/** {@link AgentOptions}, checked: where to listen. */
export interface ResolvedAgentOptions {
  host: string
  port: number
}

/** The line answered while serving: up, and out of any drain an earlier instance asked for. */
export const AGENT_READY = 'up ready\n'
/** The line answered once `engine.stop` has begun: no new connections, existing ones stay. */
export const AGENT_DRAIN = 'drain\n'

/** Checks the `agent` option; throws {@link InvalidOptionError} (`ERR_INVALID_ARG_VALUE`). */
export function resolveAgent(options: unknown): ResolvedAgentOptions {
  if (options === null || typeof options !== 'object') throw new InvalidOptionError('options.agent must be an object')
  knownKeys('options.agent', options, ['url'])
  const url = (options as AgentOptions).url
  const match = typeof url === 'string' ? /^tcp:\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]+):(\d{1,5})$/.exec(url) : null
  const port = match === null ? NaN : Number(match[2])
  if (match === null || !(port >= 1 && port <= 65535)) {
    throw new InvalidOptionError(`options.agent.url must be tcp://host:port with a port from 1 to 65535, got ${String(url)}`)
  }
  return { host: match[1].replace(/^\[(.*)\]$/, '$1'), port }
}

/** A listening agent port. */
export class Agent {
  readonly #server: Server
  #draining = false
  /** Resolves the wait of {@link Agent.drain} once a check has read `drain`. */
  #heard: (() => void) | undefined

  private constructor(server: Server) {
    this.#server = server
    server.on('connection', (socket) => {
      socket.on('error', () => socket.destroy())
      socket.end(this.#draining ? AGENT_DRAIN : AGENT_READY)
      if (this.#draining) this.#heard?.()
    })
  }

  /** Listens on `options`; rejects with `ERR_ADDRESS_IN_USE` when the port is taken. */
  static listen(options: ResolvedAgentOptions): Promise<Agent> {
    const server = createServer()
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        reject(err.code === 'EADDRINUSE' ? new AddressInUseError(`agent port ${options.host}:${options.port} is in use`) : err)
      })
      server.listen({ host: options.host, port: options.port }, () => {
        server.removeAllListeners('error')
        server.on('error', () => {})
        resolve(new Agent(server))
      })
    })
  }

  /**
   * Answers `drain` from now on and resolves once a check has read it (the balancer stops
   * sending new connections then), or after `timeout` ms when none came.
   */
  drain(timeout: number): Promise<void> {
    this.#draining = true
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeout)
      function done(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#heard = done
    })
  }

  /** Stops answering. */
  close(): Promise<void> {
    this.#heard?.()
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }

  /** Lets the process exit while the agent listens. */
  unref(): void {
    this.#server.unref()
  }

  /** Undoes {@link Agent.unref}. */
  ref(): void {
    this.#server.ref()
  }
}
