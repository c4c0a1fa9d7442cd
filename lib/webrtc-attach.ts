/**
 * Signalling of a `webrtc://` listener served by a riptide HTTP listener (`codecs.http1()`,
 * with or without `websocket`) instead of a port of its own: {@link WebRtcAttachment} tells
 * which requests are the listener's and answers them on the HTTP connection, in order with
 * the requests around them. See docs/webrtc.md, "Attaching to an HTTP listener".
 */

import type { PeerAddr } from './address'
import type { Conn } from './conn'
import { RiptideError } from './errors'
import { parseRequest } from './http1'

/** Sends one request frame to the `webrtc://` listener; resolves to the HTTP response bytes. */
export type WebRtcSignalFn = (request: Uint8Array, remoteAddress: PeerAddr) => Promise<Uint8Array>

/**
 * The signalling routes of one `webrtc://` listener on an HTTP server. Made by
 * `engine.webrtcAttachment()` on the engine that serves the `webrtc://` listener.
 *
 * @example
 * ```ts
 * const rtc = await serve('webrtc://127.0.0.1:9208', peers, { webrtc: { signalling: false } })
 * const routes = rtc.webrtcAttachment()
 * await serve('tcp://127.0.0.1:8080', {
 *   onTraffic(conn, frame) {
 *     if (routes.handles(frame)) return routes.answer(conn, frame)
 *     conn.write(response({ body: 'hello' }))
 *   },
 * }, { codec: codecs.http1() })
 * ```
 */
export class WebRtcAttachment {
  readonly #signal: WebRtcSignalFn
  readonly #path: string
  readonly #geckos: boolean

  /** @internal Use `engine.webrtcAttachment()`. */
  constructor(signal: WebRtcSignalFn, path: string, geckos: boolean) {
    this.#signal = signal
    this.#path = path
    this.#geckos = geckos
  }

  /**
   * Whether the request (an `http1` frame) is the listener's: any method on its `path`
   * (`POST` is the offer, `OPTIONS` the CORS preflight, others get `405`), or, in geckos
   * mode, anything under `/.wrtc/v2/`.
   */
  handles(frame: Uint8Array): boolean {
    const target = parseRequest(frame).path
    const path = target.split('?', 1)[0]
    return this.#geckos ? path.startsWith('/.wrtc/v2/') : path === this.#path
  }

  /**
   * Answers the request on `conn` with what the `webrtc://` listener responds (`authorize`
   * included). The connection is paused until the response is written, so requests
   * pipelined after this one reach `onTraffic` only then, and their responses follow it. A
   * request that closes the connection (`connection: close`, HTTP/1.0) ends it after the
   * response; if there is no response (the engine stopped, `authorize` did not decide within
   * `requestTimeout`), the connection is destroyed with that error.
   */
  answer(conn: Conn, frame: Uint8Array): void {
    const keepAlive = parseRequest(frame).keepAlive
    const pending = this.#signal(frame, conn.remote)
    conn.pause()
    pending.then(
      (response) => {
        if (!conn.open) return
        if (keepAlive) {
          conn.write(response)
          conn.resume()
        } else {
          conn.end(response)
        }
      },
      (err: unknown) => {
        if (conn.open) conn.destroy(err instanceof RiptideError ? err : undefined)
      },
    )
  }
}
