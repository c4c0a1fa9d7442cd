/** Server options: their types, documented defaults, and validation. */
import { InvalidOptionError } from './errors'

/** Options of {@link serve}. Every field is optional; defaults are listed per field. */
export interface ServeOptions {
  /** Disable Nagle's algorithm (`TCP_NODELAY`) on accepted connections. Default `true`. */
  noDelay?: boolean
  /** Listen backlog. Default `1024`. */
  backlog?: number
  /** Most readiness events one reactor turn handles before yielding to the JS loop. Default `1024`. */
  eventBudget?: number
  /** Bytes one read takes from a socket (the largest `data` chunk). Default `65536`. */
  readBufferSize?: number
  /** Bytes one reactor turn reads in all before yielding, bounding one batch. Default `1048576`. */
  readBudget?: number
}

/** The defaults of {@link ServeOptions}. */
export const DEFAULT_SERVE_OPTIONS: Readonly<Required<ServeOptions>> = Object.freeze({
  noDelay: true,
  backlog: 1024,
  eventBudget: 1024,
  readBufferSize: 64 * 1024,
  readBudget: 1024 * 1024,
})

function int(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`options.${name} must be an integer in [${min}, ${max}], got ${String(value)}`)
  }
  return value
}

/** Fills defaults and validates; throws {@link InvalidOptionError} on a bad value. */
export function resolveServeOptions(options: ServeOptions | undefined): Required<ServeOptions> {
  if (options !== undefined && (options === null || typeof options !== 'object')) {
    throw new InvalidOptionError('options must be an object')
  }
  const o = { ...DEFAULT_SERVE_OPTIONS, ...options }
  if (typeof o.noDelay !== 'boolean') throw new InvalidOptionError('options.noDelay must be a boolean')
  int('backlog', o.backlog, 1, 65535)
  int('eventBudget', o.eventBudget, 1, 1 << 20)
  int('readBufferSize', o.readBufferSize, 64, 1 << 26)
  int('readBudget', o.readBudget, 0, 1 << 30)
  return o
}
