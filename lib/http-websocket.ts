/**
 * One port for HTTP and WebSocket: `serve(url, handler, { codec: codecs.http1({ websocket: {
 * routes, ... } }) })`. A connection starts as HTTP/1.1, its requests delivered as with
 * `codecs.http1()`; an upgrade request on a listed route makes it a WebSocket, run by
 * `handler.websocket` as on a `codecs.websocket()` listener. The Rust layer
 * (`crates/riptide/src/http_ws_layer.rs`) sends records up: HTTP requests, an HTTP error, a
 * declined upgrade, then the WebSocket's records. The answer to an upgrade goes down as a
 * control message, so it follows the HTTP responses written before it (see docs/websocket.md,
 * "One port for HTTP and WebSocket").
 *
 * @example
 * ```ts
 * await serve('tcp://127.0.0.1:8080', {
 *   onTraffic(conn, frame) { conn.write(response({ body: page, headers: { 'content-type': 'text/html' } })) },
 *   websocket: {
 *     onTraffic(ws, message, { binary }) { ws.write(binary ? message : Buffer.from(message).toString()) },
 *   },
 * }, { codec: codecs.http1({ websocket: { routes: ['/chat'], compression: true } }) })
 * ```
 */

import { type Conn, kControl } from './conn'
import { errorFromCode, InvalidOptionError } from './errors'
import type { EventHandler } from './handler'
import { refuseRecord, websocketAdapter, type WebSocketAdapter, type WebSocketHandler } from './websocket'

/** Record kinds of the HTTP side, as crates/riptide/src/ws_record.rs names them. */
const HTTP = 0x48 // 'H'
const HTTP_ERROR = 0x45 // 'E'
const DECLINED = 0x44 // 'D'

/**
 * The handler of an HTTP/1.1 server whose chosen routes upgrade to WebSocket. Its own
 * callbacks are an `http1` server's: `onTraffic(conn, frame)` gets each request (read it with
 * `parseRequest`) and `onError` a request that could not be read (`ERR_HTTP_*`: answer and
 * close); `onOpen` and `onClose` see every connection, upgraded or not. `websocket` runs the
 * connections that upgraded, as a `codecs.websocket()` server's handler does, from
 * `onUpgrade` on.
 */
export interface HttpWebSocketHandler<Context = unknown> extends EventHandler<Context> {
  /**
   * The WebSocket side: `onUpgrade`, `onOpen`, `onTraffic`, `onClose`... with a
   * `WebSocketConn`. Its `onError` gets what its own callbacks throw (the outer `onError`
   * when it has none, and the other way round).
   */
  websocket: Omit<WebSocketHandler<Context>, 'onBoot' | 'onTick' | 'onShutdown'>
}

/** The error an HTTP error record names: its code and message. */
function httpError(frame: Uint8Array): Error {
  const b = Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength)
  const codeLength = b.readUInt32LE(1)
  const code = b.toString('latin1', 5, 5 + codeLength)
  const at = 5 + codeLength
  return errorFromCode(code, b.toString('utf8', at + 4, at + 4 + b.readUInt32LE(at)))
}

/**
 * The engine-level handler that runs an {@link HttpWebSocketHandler}: HTTP records go to its
 * own callbacks, the rest to the WebSocket adapter, whose answers to upgrades go down as
 * control messages.
 */
export function httpWebSocketHandler<Context>(h: HttpWebSocketHandler<Context>): WebSocketAdapter<Context> {
  const side = h.websocket
  if (side === null || typeof side !== 'object') {
    throw new InvalidOptionError('a server with codecs.http1({ websocket }) takes a handler with a websocket object of callbacks')
  }
  const ws = websocketAdapter(side, (conn, record) => conn[kControl](record))
  /** Connections an upgrade request came on: the WebSocket side's from then on. */
  const upgraded = new WeakSet<Conn<Context>>()
  const { onError: httpOnError } = h
  const { onError: wsOnError } = side
  return {
    of: ws.of,
    opened: ws.opened,
    onBoot: h.onBoot && ((engine) => h.onBoot!(engine)),
    onTick: h.onTick && ((engine) => h.onTick!(engine)),
    onShutdown: h.onShutdown && ((engine) => h.onShutdown!(engine)),
    onOpen(conn) {
      h.onOpen?.(conn)
    },
    onTraffic(conn, frame) {
      switch (frame[0]) {
        case HTTP:
          return h.onTraffic?.(conn, frame.subarray(1))
        case HTTP_ERROR:
          // Reported as a throw is: to `onError`, or the logger.
          throw httpError(frame)
        case DECLINED:
          // The refusal goes out after the responses written so far.
          if (conn.open) conn[kControl](refuseRecord((frame[1] << 8) | frame[2]))
          return
        default:
          upgraded.add(conn)
          ws.onTraffic!(conn, frame)
      }
    },
    onWritability(conn, writable) {
      if (upgraded.has(conn)) ws.onWritability?.(conn, writable)
      else h.onWritability?.(conn, writable)
    },
    onDrain(conn) {
      if (upgraded.has(conn)) ws.onDrain!(conn)
      else if (h.onDrain === undefined) conn.close()
      else h.onDrain(conn)
    },
    onEnd: h.onEnd && ((conn) => h.onEnd!(conn)),
    onIdle: h.onIdle && ((conn, kind) => h.onIdle!(conn, kind)),
    onAcceptError: h.onAcceptError && ((err, count) => h.onAcceptError!(err, count)),
    onHandshakeError: h.onHandshakeError && ((err, peer) => h.onHandshakeError!(err, peer)),
    onClose(conn, err) {
      if (upgraded.has(conn)) ws.onClose!(conn, err)
      h.onClose?.(conn, err)
    },
    onError: (httpOnError ?? wsOnError) && ((conn, err) => {
      if (wsOnError !== undefined && ((conn !== undefined && upgraded.has(conn)) || httpOnError === undefined)) {
        wsOnError.call(side, conn === undefined ? undefined : ws.of(conn), err)
      } else {
        httpOnError!.call(h, conn, err)
      }
    }),
  }
}
