/**
 * riptide's `node:diagnostics_channel` channels, for APM tools and loggers to subscribe to.
 * Messages are built and published only while a channel has subscribers
 * (`channel.hasSubscribers`), so an engine nobody watches pays one property read per event.
 *
 * | channel | message |
 * | --- | --- |
 * | `riptide:connection:open` | `{ conn }` as `onOpen` gets it (before `onOpen` runs) |
 * | `riptide:connection:close` | `{ conn, error }`, `error` undefined for an orderly close (before `onClose`) |
 * | `riptide:handler:error` | `{ conn, error, where }`: an exception a callback threw (`where`: `'onTraffic'`...), before `onError` or the logger |
 */
import { channel } from 'node:diagnostics_channel'
import type { Conn } from './conn'

/** The name of the channel a connection's open is published on. */
export const CONNECTION_OPEN = 'riptide:connection:open'
/** The name of the channel a connection's close is published on. */
export const CONNECTION_CLOSE = 'riptide:connection:close'
/** The name of the channel exceptions thrown by handler callbacks are published on. */
export const HANDLER_ERROR = 'riptide:handler:error'

/** `riptide:connection:open`: `{ conn }`. */
export const openChannel = channel(CONNECTION_OPEN)
/** `riptide:connection:close`: `{ conn, error }`. */
export const closeChannel = channel(CONNECTION_CLOSE)
/** `riptide:handler:error`: `{ conn, error, where }`. */
export const errorChannel = channel(HANDLER_ERROR)

/** The message of `riptide:connection:open`. */
export interface ConnectionOpenMessage {
  /** The connection that opened. */
  conn: Conn
}

/** The message of `riptide:connection:close`. */
export interface ConnectionCloseMessage {
  /** The connection that closed. */
  conn: Conn
  /** Why it closed; undefined for an orderly close. */
  error: Error | undefined
}

/** The message of `riptide:handler:error`. */
export interface HandlerErrorMessage {
  /** The connection whose callback threw, if it was a connection's. */
  conn: Conn | undefined
  /** What was thrown. */
  error: unknown
  /** Which callback threw (`'onTraffic'`, `'onOpen'`, `'onTick'`...). */
  where: string
}
