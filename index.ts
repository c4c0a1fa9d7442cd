/**
 * riptide: event-driven networking for Node.js with a Rust core.
 *
 * ```ts
 * import { serve } from 'riptide'
 * const engine = await serve('tcp://127.0.0.1:9000', {
 *   onTraffic(conn, data) { conn.write(data) },
 * })
 * ```
 * @packageDocumentation
 */
export { serve, Engine, type EventHandler, type ListenerAddress } from './lib/engine'
export { Conn } from './lib/conn'
export { type ServeOptions, DEFAULT_SERVE_OPTIONS } from './lib/options'
export {
  RiptideError,
  InvalidAddressError,
  AddressInUseError,
  ConnClosedError,
  InvalidOptionError,
  ConnectionError,
} from './lib/errors'
