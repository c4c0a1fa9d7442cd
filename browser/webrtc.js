// riptide's browser client for WebRTC data channels: one ES module, no build step, no
// dependencies. It speaks the default signalling of `serve('webrtc://…')` (the browser offers:
// one POST of `{"type":"offer","sdp"}`, answered with `{"type":"answer","sdp"}`) and opens the
// two pre-negotiated channels the server expects: id 0 unordered with no retransmits
// (`send(data, { reliable: false })`, `onUnreliable`), id 1 reliable and ordered (`write`,
// `onTraffic`). Names mirror the server's Conn. Types: webrtc.d.ts beside this file.

/** The signalling path the server listens on unless told otherwise. */
export const OFFER_PATH = '/.rtc/offer'

/** Default unreliable high water: an unreliable send is dropped above this many buffered bytes (the server's default too). */
const UNRELIABLE_HIGH_WATER = 64 * 1024
/** Default reliable high water: `write` returns false above this many queued bytes. */
const RELIABLE_HIGH_WATER = 1024 * 1024
/** Default time for `connect` to finish (signalling, ICE, DTLS, SCTP), in milliseconds. */
const CONNECT_TIMEOUT = 10_000
/** Maximum message size when the answer does not say (RFC 8841). */
const DEFAULT_MAX_MESSAGE_SIZE = 65_536

/** Base class of this client's errors; `code` is stable, like the server's `RiptideError`. */
export class RtcError extends Error {
  /**
   * @param {string} code
   * @param {string} message
   */
  constructor(code, message) {
    super(message)
    this.name = new.target.name
    /** A stable code such as `'ERR_SIGNALLING'`. */
    this.code = code
  }
}

/** The signalling request failed: the server answered with a non-2xx status, or not with an answer. */
export class SignallingError extends RtcError {
  /**
   * @param {number} status
   * @param {string} message
   */
  constructor(status, message) {
    super('ERR_SIGNALLING', message)
    /** The HTTP status (0 when the request never got a response). */
    this.status = status
  }
}

/** `connect` did not finish within its `timeout`. */
export class TimeoutError extends RtcError {
  /** @param {string} message */
  constructor(message) {
    super('ERR_TIMEOUT', message)
  }
}

/** The connection failed after signalling (ICE or DTLS), or closed before both channels opened. */
export class ConnectError extends RtcError {
  /** @param {string} message */
  constructor(message) {
    super('ERR_CONNECT', message)
  }
}

/** A write or send on a closed peer. */
export class ClosedError extends RtcError {
  constructor() {
    super('ERR_CONN_CLOSED', 'the peer is closed')
  }
}

/** A message larger than `peer.maxMessageSize`. */
export class MessageTooLargeError extends RtcError {
  /**
   * @param {number} size
   * @param {number} max
   */
  constructor(size, max) {
    super('ERR_MESSAGE_TOO_LARGE', `a ${size}-byte message is above the peer's maximum of ${max}`)
  }
}

/** An argument or option that is not what the API takes. */
export class InvalidArgError extends RtcError {
  /** @param {string} message */
  constructor(message) {
    super('ERR_INVALID_ARG_VALUE', message)
  }
}

const encoder = new TextEncoder()

/**
 * A finite positive integer option, or its default.
 * @param {string} name
 * @param {unknown} value
 * @param {number} fallback
 * @returns {number}
 */
function positiveInt(name, value, fallback) {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidArgError(`${name} must be a positive integer, got ${String(value)}`)
  }
  return value
}

/**
 * @typedef {object} Checked The options, checked and defaulted.
 * @property {string} path
 * @property {Record<string, string>} headers
 * @property {number} timeout
 * @property {number} unreliableHighWater
 * @property {number} reliableHighWater
 * @property {RTCConfiguration} rtcConfiguration
 */

/**
 * The options, checked: unknown keys and wrong types throw `InvalidArgError`.
 * @param {import('./webrtc.js').ConnectOptions} options
 * @returns {Checked}
 */
function checkOptions(options) {
  if (options === null || typeof options !== 'object') throw new InvalidArgError('connect options must be an object')
  const known = ['path', 'headers', 'timeout', 'unreliableHighWater', 'reliableHighWater', 'rtcConfiguration']
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new InvalidArgError(`unknown connect option '${key}' (known: ${known.join(', ')})`)
  }
  const path = options.path ?? OFFER_PATH
  if (typeof path !== 'string' || !path.startsWith('/')) throw new InvalidArgError('path must be a string starting with /')
  const headers = options.headers ?? {}
  if (headers === null || typeof headers !== 'object') throw new InvalidArgError('headers must be an object of strings')
  for (const [k, v] of Object.entries(headers)) {
    if (typeof v !== 'string') throw new InvalidArgError(`header ${k} must be a string`)
  }
  const rtcConfiguration = options.rtcConfiguration ?? {}
  if (rtcConfiguration === null || typeof rtcConfiguration !== 'object') throw new InvalidArgError('rtcConfiguration must be an object')
  return {
    path,
    headers,
    timeout: positiveInt('timeout', options.timeout, CONNECT_TIMEOUT),
    unreliableHighWater: positiveInt('unreliableHighWater', options.unreliableHighWater, UNRELIABLE_HIGH_WATER),
    reliableHighWater: positiveInt('reliableHighWater', options.reliableHighWater, RELIABLE_HIGH_WATER),
    rtcConfiguration,
  }
}

/**
 * `a=max-message-size` of an SDP (RFC 8841): absent is 65,536, 0 is no limit.
 * @param {string} sdp
 * @returns {number}
 */
function sdpMaxMessageSize(sdp) {
  const m = /^a=max-message-size:(\d+)\s*$/m.exec(sdp)
  if (m === null) return DEFAULT_MAX_MESSAGE_SIZE
  const n = Number(m[1])
  return n === 0 ? Number.MAX_SAFE_INTEGER : n
}

/**
 * The bytes `data` sends as: strings as UTF-8, views and buffers as they are.
 * @param {unknown} data
 * @returns {number}
 */
function byteLength(data) {
  if (typeof data === 'string') return encoder.encode(data).byteLength
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength
  throw new InvalidArgError('data must be a string, an ArrayBuffer or a typed array')
}

/**
 * Sends `data` on `channel`, one call per type (`RTCDataChannel.send` is overloaded).
 * @param {RTCDataChannel} channel
 * @param {string | ArrayBuffer | ArrayBufferView} data
 */
function put(channel, data) {
  if (typeof data === 'string') channel.send(data)
  else if (data instanceof ArrayBuffer) channel.send(data)
  else channel.send(/** @type {ArrayBufferView<ArrayBuffer>} */ (data))
}

/**
 * Resolves when `channel` is open; rejects when it closes first.
 * @param {RTCDataChannel} channel
 * @returns {Promise<void>}
 */
function opened(channel) {
  if (channel.readyState === 'open') return Promise.resolve()
  return /** @type {Promise<void>} */ (new Promise((resolve, reject) => {
    channel.addEventListener('open', () => resolve(), { once: true })
    channel.addEventListener('close', () => reject(new ConnectError(`channel ${channel.label} closed before it opened`)), { once: true })
  }))
}

/**
 * Connects to a riptide WebRTC server. `url` is the server's HTTP(S) origin
 * (`http://127.0.0.1:9208`); the offer goes to `options.path` (default `/.rtc/offer`) there.
 * Resolves once both channels are open, with the {@link Peer}.
 *
 * Errors: `SignallingError` (`ERR_SIGNALLING`, with `status`) when the server refuses the
 * offer, `TimeoutError` (`ERR_TIMEOUT`) after `options.timeout` ms (default 10,000),
 * `ConnectError` (`ERR_CONNECT`) when ICE or DTLS fail, `InvalidArgError` for bad options.
 *
 * @param {string | URL} url
 * @param {import('./webrtc.js').ConnectOptions} [options]
 * @returns {Promise<Peer>}
 */
export async function connect(url, options = {}) {
  const o = checkOptions(options)
  let target
  try {
    target = new URL(o.path, url)
  } catch {
    throw new InvalidArgError(`not a URL: ${String(url)}`)
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') throw new InvalidArgError(`the URL must be http(s), got ${target.protocol}`)

  const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', ...o.rtcConfiguration })
  const unreliable = pc.createDataChannel('u', { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 })
  const reliable = pc.createDataChannel('r', { negotiated: true, id: 1 })
  const aborter = new AbortController()
  let timer
  const timedOut = new Promise((_, reject) => {
    timer = setTimeout(() => {
      aborter.abort()
      reject(new TimeoutError(`no connection to ${target.href} within ${o.timeout} ms`))
    }, o.timeout)
  })
  const failed = new Promise((_, reject) => {
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') reject(new ConnectError(`the connection to ${target.href} failed (ICE or DTLS)`))
    })
  })
  const steps = async () => {
    // The server is ICE-lite and learns this side's address from its checks, so the offer
    // goes at once, without waiting for candidates to gather.
    await pc.setLocalDescription(await pc.createOffer())
    let response
    try {
      response = await fetch(target, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...o.headers },
        body: JSON.stringify({ type: 'offer', sdp: pc.localDescription?.sdp }),
        signal: aborter.signal,
      })
    } catch (err) {
      if (aborter.signal.aborted) throw err
      throw new SignallingError(0, `POST ${target.href} failed: ${err instanceof Error ? err.message : String(err)}`)
    }
    const text = await response.text()
    if (!response.ok) throw new SignallingError(response.status, `POST ${target.href} answered ${response.status}: ${text.slice(0, 200)}`)
    let answer
    try {
      answer = JSON.parse(text)
    } catch {
      answer = undefined
    }
    if (answer === null || typeof answer !== 'object' || answer.type !== 'answer' || typeof answer.sdp !== 'string') {
      throw new SignallingError(response.status, `POST ${target.href} did not answer with {"type":"answer","sdp"}`)
    }
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp })
    await Promise.all([opened(unreliable), opened(reliable)])
    return sdpMaxMessageSize(answer.sdp)
  }
  try {
    const answered = await Promise.race([steps(), timedOut, failed])
    return new Peer(pc, unreliable, reliable, answered, o)
  } catch (err) {
    pc.close()
    throw err
  } finally {
    clearTimeout(timer)
  }
}

/**
 * One connection to the server: a reliable ordered channel (`write`, `onTraffic`) and an
 * unreliable unordered one (`send(data, { reliable: false })`, `onUnreliable`). Made by
 * {@link connect}.
 */
export class Peer {
  /** @type {(data: Uint8Array | string) => void} A message on the reliable channel: a string when the server sent text, else bytes. */
  onTraffic = () => {}
  /** @type {(data: Uint8Array | string) => void} A message on the unreliable channel. */
  onUnreliable = () => {}
  /** @type {() => void} The reliable queue drained below its high water after `write` returned false. */
  onWritable = () => {}
  /** @type {(reason: 'local' | 'remote' | 'failed') => void} The peer closed: by `close()`, by the server, or the connection failed. Called once. */
  onClose = () => {}

  /** @type {RTCPeerConnection} */
  #pc
  /** @type {RTCDataChannel} */
  #unreliable
  /** @type {RTCDataChannel} */
  #reliable
  /** @type {Array<string | ArrayBuffer | Uint8Array>} Messages waiting for the browser's buffer to drain. */
  #queue = []
  #queued = 0
  #blocked = false
  #closed = false
  #unreliableHighWater
  #reliableHighWater

  /**
   * @internal Use {@link connect}.
   * @param {RTCPeerConnection} pc
   * @param {RTCDataChannel} unreliable
   * @param {RTCDataChannel} reliable
   * @param {number} answerMaxMessageSize
   * @param {Checked} options
   */
  constructor(pc, unreliable, reliable, answerMaxMessageSize, options) {
    this.#pc = pc
    this.#unreliable = unreliable
    this.#reliable = reliable
    this.#unreliableHighWater = options.unreliableHighWater
    this.#reliableHighWater = options.reliableHighWater
    /**
     * The largest message either channel takes, in bytes: the smaller of what the server
     * advertised and what this browser can send (`RTCSctpTransport.maxMessageSize`).
     */
    this.maxMessageSize = Math.min(answerMaxMessageSize, pc.sctp?.maxMessageSize ?? answerMaxMessageSize)
    for (const channel of [unreliable, reliable]) {
      channel.binaryType = 'arraybuffer'
      channel.addEventListener('close', () => this.#end('remote'))
    }
    /** @type {(handler: (data: Uint8Array | string) => void) => (event: MessageEvent) => void} */
    const deliver = (handler) => (event) => {
      const data = typeof event.data === 'string' ? event.data : new Uint8Array(event.data)
      handler(data)
    }
    unreliable.addEventListener('message', deliver((d) => this.onUnreliable(d)))
    reliable.addEventListener('message', deliver((d) => this.onTraffic(d)))
    reliable.bufferedAmountLowThreshold = Math.floor(this.#reliableHighWater / 2)
    reliable.addEventListener('bufferedamountlow', () => this.#flush())
    pc.addEventListener('connectionstatechange', () => {
      if (pc.connectionState === 'failed') this.#end('failed')
    })
  }

  /** The underlying `RTCPeerConnection` (for `getStats()`); do not close it directly, use `close()`. */
  get connection() {
    return this.#pc
  }

  /** True once closed. */
  get closed() {
    return this.#closed
  }

  /** Bytes waiting to go on the reliable channel (this client's queue and the browser's buffer). */
  get bufferedAmount() {
    return this.#queued + this.#reliable.bufferedAmount
  }

  /**
   * Sends `data` on the reliable, ordered channel (strings as text, bytes as binary). Always
   * accepted (queued in this client when the browser's buffer is full); returns false once
   * more than `reliableHighWater` bytes wait, then `onWritable` follows when they drain.
   * Throws `ClosedError` when closed, `MessageTooLargeError` above `maxMessageSize`.
   *
   * @param {string | ArrayBuffer | ArrayBufferView} data
   * @returns {boolean}
   */
  write(data) {
    this.#check(data)
    if (this.#queue.length === 0 && this.#reliable.bufferedAmount < this.#reliableHighWater) {
      put(this.#reliable, data)
    } else {
      // A copy: the caller may reuse its buffer once write returns.
      const held = typeof data === 'string' ? data : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice() : data.slice(0)
      this.#queue.push(held)
      this.#queued += byteLength(held)
    }
    const writable = this.bufferedAmount <= this.#reliableHighWater
    if (!writable) this.#blocked = true
    return writable
  }

  /**
   * Sends `data` on a channel: `reliable: true` (the default) is {@link Peer.write};
   * `reliable: false` sends it once on the unordered channel, never retransmitted, and returns
   * false (the message dropped) when that channel buffers more than `unreliableHighWater`
   * bytes: the server's semantics for `conn.send(data, { reliable: false })`.
   *
   * @param {string | ArrayBuffer | ArrayBufferView} data
   * @param {{ reliable?: boolean }} [options]
   * @returns {boolean}
   */
  send(data, options) {
    let reliable = true
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new InvalidArgError('send options must be an object')
      for (const key of Object.keys(options)) if (key !== 'reliable') throw new InvalidArgError(`unknown send option '${key}'`)
      if (options.reliable !== undefined && typeof options.reliable !== 'boolean') throw new InvalidArgError('reliable must be a boolean')
      reliable = options.reliable ?? true
    }
    if (reliable) return this.write(data)
    this.#check(data)
    if (this.#unreliable.bufferedAmount > this.#unreliableHighWater) return false
    put(this.#unreliable, data)
    return true
  }

  /** Closes both channels and the connection; `onClose('local')` follows at once. Idempotent. */
  close() {
    this.#end('local')
  }

  /** @param {unknown} data */
  #check(data) {
    if (this.#closed) throw new ClosedError()
    const size = byteLength(data)
    if (size > this.maxMessageSize) throw new MessageTooLargeError(size, this.maxMessageSize)
  }

  #flush() {
    while (this.#queue.length > 0 && this.#reliable.readyState === 'open' && this.#reliable.bufferedAmount < this.#reliableHighWater) {
      const next = /** @type {string | ArrayBuffer | Uint8Array} */ (this.#queue.shift())
      this.#queued -= byteLength(next)
      put(this.#reliable, next)
    }
    if (this.#blocked && this.bufferedAmount <= this.#reliable.bufferedAmountLowThreshold) {
      this.#blocked = false
      this.onWritable()
    }
  }

  /** @param {import('./webrtc.js').CloseReason} reason */
  #end(reason) {
    if (this.#closed) return
    this.#closed = true
    this.#queue = []
    this.#queued = 0
    this.#unreliable.close()
    this.#reliable.close()
    this.#pc.close()
    this.onClose(reason)
  }
}
