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
export { serve, Engine, type ListenerAddress } from './lib/engine'
export type { EventHandler } from './lib/handler'
export { Conn, type ConnHandle, type SocketAddress } from './lib/conn'
export { asyncWrite, asyncClose, type WriteCallback } from './lib/async'
export {
  type ServeOptions,
  type LoadBalancing,
  type TcpKeepAlive,
  type ResolvedServeOptions,
  DEFAULT_SERVE_OPTIONS,
} from './lib/options'
export type { Logger, LoggerObject, LogLevel } from './lib/logger'
export {
  RiptideError,
  InvalidAddressError,
  AddressInUseError,
  ConnClosedError,
  EngineStoppedError,
  InvalidOptionError,
  ConnectionError,
} from './lib/errors'
