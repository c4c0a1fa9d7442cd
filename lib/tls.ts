/**
 * TLS options of `tls://` listeners and dials (docs/tls.md), checked here at the boundary:
 * unknown keys and wrong types are `ERR_INVALID_ARG_VALUE` before anything is bound; PEM
 * parsing and key checks happen natively, also before anything is bound.
 */
import { fromNative, InvalidOptionError } from './errors'
import { native as binding, type NativeTlsContext, type NativeTlsDial } from './native'
import { bool, int, knownKeys, ms } from './validate'

/** PEM text, as a string or its bytes. */
export type Pem = string | Uint8Array

/** A `tls://` server's certificate and negotiation options (`serve(url, handler, { tls })`). */
export interface ServerTlsOptions {
  /** The certificate chain, PEM, leaf first. */
  cert: Pem
  /** The leaf's private key, PEM (PKCS#8, PKCS#1 or SEC1). */
  key: Pem
  /**
   * More certificates, chosen by the server name (SNI) the client asks for, keyed by name:
   * `{ 'api.example.org': { cert, key }, '*.example.org': { cert, key } }` (a `*.` name covers
   * one more label). `cert`/`key` above serve every other name and clients sending none.
   * Default none.
   */
  sni?: Record<string, SniCertificate>
  /** ALPN protocols offered, most preferred first (`['h2', 'http/1.1']`). Default none. */
  alpn?: string[]
  /** Ask clients for a certificate and require one issued by `ca`. Default `false`. */
  requestCert?: boolean
  /** CA certificates (PEM) client certificates must lead to; needed with `requestCert`. */
  ca?: Pem | Pem[]
  /** Ms the handshake may take before the connection closes with `ERR_TLS_HANDSHAKE`. Default `10000`. */
  handshakeTimeout?: number
  /**
   * Kernel TLS: after the handshake, hand the record keys to the kernel (Linux with the `tls`
   * module), which then encrypts and decrypts; elsewhere records stay in user space.
   * `conn.tlsKernel` says which one a connection got. Default `false`.
   */
  ktls?: boolean
  /**
   * The most connections the listener holds mid-handshake (on all its reactors): one accepted
   * beyond it closes at once with `ERR_TLS_HANDSHAKE`, reported to `onHandshakeError` and
   * counted in `stats().handshakeErrors`. Bounds what a flood of handshakes can take. Default
   * none (only the connection caps bound them).
   */
  maxHandshakes?: number
}

/** A certificate and key served for one SNI name (`ServerTlsOptions.sni`). */
export interface SniCertificate {
  /** The certificate chain, PEM, leaf first. */
  cert: Pem
  /** The leaf's private key, PEM. */
  key: Pem
}

/** A `tls://` client's trust and negotiation options (`client.dial(url, { tls })`). */
export interface ClientTlsOptions {
  /** CA certificates (PEM) the server's chain must lead to. Required unless `rejectUnauthorized` is `false`. */
  ca?: Pem | Pem[]
  /** The name sent as SNI and checked against the certificate. Default: the URL's host. */
  servername?: string
  /** ALPN protocols offered, most preferred first. Default none. */
  alpn?: string[]
  /** `false` accepts any server certificate: tests only, no protection against an active attacker. Default `true`. */
  rejectUnauthorized?: boolean
  /**
   * The client certificate chain (PEM, leaf first) presented to a server that asks for one
   * (mutual TLS, node:tls' `requestCert`). Given with `key` or not at all. Default none.
   */
  cert?: Pem
  /** The client certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1); given with `cert`. */
  key?: Pem
  /** Ms the handshake may take before the connection closes with `ERR_TLS_HANDSHAKE`. Default `10000`. */
  handshakeTimeout?: number
  /**
   * Kernel TLS: after the handshake, hand the record keys to the kernel (Linux with the `tls`
   * module), which then encrypts and decrypts; elsewhere records stay in user space.
   * `conn.tlsKernel` says which one a connection got. Default `false`.
   */
  ktls?: boolean
}

/** A server's TLS options as checked and resolved (the form the native side takes). */
export interface ResolvedServerTls {
  /** The certificate chain, PEM bytes, leaf first. */
  cert: Uint8Array
  /** The private key, PEM bytes. */
  key: Uint8Array
  /** Certificates chosen by server name (SNI), each with its key. */
  sni: { name: string; cert: Uint8Array; key: Uint8Array }[]
  /** ALPN protocols offered, most preferred first. */
  alpn: string[]
  /** CA certificates client certificates must lead to (`requestCert`), or none. */
  clientCa: Uint8Array[] | undefined
  /** Ms the handshake may take. */
  handshakeTimeout: number
  /** Kernel TLS asked for. */
  ktls: boolean
  /** The most connections held mid-handshake, or no bound. */
  maxHandshakes: number | undefined
}

/**
 * A client's checked TLS configuration: the native context (its dials share one session
 * cache, so they resume) and the `servername` option (empty: each dial's URL host).
 */
export interface ClientTls {
  context: NativeTlsContext
  servername: string
}

const TLS_SCHEME = /^tls[46]?:\/\//i
/** The plain stream schemes TLS can run over when asked for explicitly (`{ url, tls: true }`). */
const STREAM_SCHEME = /^(?:tcp[46]?|unix):\/\//i

/** True for a `tls://`, `tls4://` or `tls6://` URL. */
export function isTlsUrl(url: unknown): boolean {
  return typeof url === 'string' && TLS_SCHEME.test(url)
}

function pem(name: string, value: unknown): Uint8Array {
  if (typeof value === 'string' && value !== '') return Buffer.from(value)
  if (value instanceof Uint8Array && value.byteLength > 0) return new Uint8Array(value)
  throw new InvalidOptionError(`${name} must be a non-empty PEM string or Buffer`)
}

function pems(name: string, value: unknown): Uint8Array[] {
  const list = Array.isArray(value) ? value : [value]
  if (list.length === 0) throw new InvalidOptionError(`${name} must name at least one certificate`)
  return list.map((v, i) => pem(Array.isArray(value) ? `${name}[${i}]` : name, v))
}

function alpn(name: string, value: unknown): string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((p) => typeof p !== 'string' || p === '' || Buffer.byteLength(p) > 255)) {
    throw new InvalidOptionError(`${name} must be an array of protocol names of 1 to 255 bytes`)
  }
  return [...(value as string[])]
}

function object(name: string, value: unknown): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidOptionError(`${name} must be an object`)
  return value as Record<string, unknown>
}

function sni(name: string, value: unknown): ResolvedServerTls['sni'] {
  if (value === undefined) return []
  return Object.entries(object(name, value)).map(([host, entry]) => {
    const where = `${name}[${JSON.stringify(host)}]`
    const e = object(where, entry)
    knownKeys(where, e, ['cert', 'key'])
    return { name: host, cert: pem(`${where}.cert`, e.cert), key: pem(`${where}.key`, e.key) }
  })
}

/** Checks a server's `tls` option and copies it to its native form. */
export function resolveServerTls(where: string, value: unknown): ResolvedServerTls {
  const t = object(`${where}.tls`, value)
  knownKeys(`${where}.tls`, t, ['cert', 'key', 'sni', 'alpn', 'requestCert', 'ca', 'handshakeTimeout', 'ktls', 'maxHandshakes'])
  const requestCert = bool(`${where}.tls.requestCert`, t.requestCert ?? false)
  if (requestCert && t.ca === undefined) throw new InvalidOptionError(`${where}.tls.requestCert needs ${where}.tls.ca`)
  if (!requestCert && t.ca !== undefined) throw new InvalidOptionError(`${where}.tls.ca of a server only applies with requestCert: true`)
  return {
    cert: pem(`${where}.tls.cert`, t.cert),
    key: pem(`${where}.tls.key`, t.key),
    sni: sni(`${where}.tls.sni`, t.sni),
    alpn: alpn(`${where}.tls.alpn`, t.alpn),
    clientCa: requestCert ? pems(`${where}.tls.ca`, t.ca) : undefined,
    handshakeTimeout: ms(`${where}.tls.handshakeTimeout`, t.handshakeTimeout ?? 10_000, 1),
    ktls: bool(`${where}.tls.ktls`, t.ktls ?? false),
    maxHandshakes: t.maxHandshakes === undefined ? undefined : int(`${where}.tls.maxHandshakes`, t.maxHandshakes, 1, 2 ** 31 - 1),
  }
}

/**
 * Checks a client's `tls` option and builds its native context (PEM, and that the client
 * certificate and key match, checked there, throwing `ERR_INVALID_ARG_VALUE`); `servername`
 * stays empty when not given (the dial fills it).
 */
export function resolveClientTls(where: string, value: unknown): ClientTls {
  const t = object(`${where}.tls`, value)
  knownKeys(`${where}.tls`, t, ['ca', 'servername', 'alpn', 'rejectUnauthorized', 'cert', 'key', 'handshakeTimeout', 'ktls'])
  if ((t.cert === undefined) !== (t.key === undefined)) {
    const [given, missing] = t.cert === undefined ? ['key', 'cert'] : ['cert', 'key']
    throw new InvalidOptionError(`${where}.tls.${given} needs ${where}.tls.${missing} (a client certificate comes with its key)`)
  }
  const rejectUnauthorized = bool(`${where}.tls.rejectUnauthorized`, t.rejectUnauthorized ?? true)
  if (rejectUnauthorized && t.ca === undefined) {
    throw new InvalidOptionError(`${where}.tls.ca is required (riptide carries no public CA roots) unless rejectUnauthorized is false`)
  }
  if (t.servername !== undefined && (typeof t.servername !== 'string' || t.servername === '')) {
    throw new InvalidOptionError(`${where}.tls.servername must be a non-empty string`)
  }
  const options = {
    ca: t.ca === undefined ? [] : pems(`${where}.tls.ca`, t.ca),
    alpn: alpn(`${where}.tls.alpn`, t.alpn),
    rejectUnauthorized,
    cert: t.cert === undefined ? undefined : pem(`${where}.tls.cert`, t.cert),
    key: t.key === undefined ? undefined : pem(`${where}.tls.key`, t.key),
    handshakeTimeout: ms(`${where}.tls.handshakeTimeout`, t.handshakeTimeout ?? 10_000, 1),
    ktls: bool(`${where}.tls.ktls`, t.ktls ?? false),
  }
  return { context: native(() => new binding.NativeTlsContext(options)), servername: (t.servername as string | undefined) ?? '' }
}

/**
 * Throws `ERR_INVALID_ARG_VALUE` when a `tls://` address has no TLS options, or TLS options
 * are given but no address is `tls://` (they would be silently ignored).
 */
export function checkTlsUrls(tls: unknown, listeners: { url: unknown; tls?: unknown }[], what: string): void {
  for (const l of listeners) {
    if (l.tls === undefined) continue
    if (typeof l.tls !== 'boolean') throw new InvalidOptionError(`${what} tls must be a boolean`)
    if (isTlsUrl(l.url) && !l.tls) throw new InvalidOptionError(`a tls:// ${what} always speaks TLS; tls: false contradicts ${JSON.stringify(l.url)}`)
    if (l.tls && !isTlsUrl(l.url) && !isStreamUrl(l.url)) {
      throw new InvalidOptionError(`tls: true needs a stream ${what} (tcp:// or unix://), not ${JSON.stringify(l.url)}`)
    }
  }
  const any = listeners.some(speaksTls)
  if (any && tls === undefined) throw new InvalidOptionError(`a TLS ${what} (tls:// or tls: true) needs options.tls`)
  if (!any && tls !== undefined) throw new InvalidOptionError(`options.tls only applies to TLS ${what}s (tls:// or { url, tls: true }), and no ${what} is one`)
}

/** Whether a listener speaks TLS: its URL is `tls://`, or it asks with `tls: true`. */
export function speaksTls(l: { url: unknown; tls?: unknown }): boolean {
  return isTlsUrl(l.url) || l.tls === true
}

/** True for a `tcp://` (4, 6) or `unix://` URL: a byte stream TLS can run over. */
export function isStreamUrl(url: unknown): boolean {
  return typeof url === 'string' && STREAM_SCHEME.test(url)
}

/** The TLS of dials from `tls` to `servername` (`ERR_INVALID_ARG_VALUE` for a bad name). */
export function tlsDial(tls: ClientTls, servername: string): NativeTlsDial {
  return native(() => tls.context.forServer(servername))
}

/** `fn()`, with a native error turned into riptide's class for its code. */
function native<T>(fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw fromNative(err)
  }
}

/** The host of a dial URL (`tls://example.org:443` gives `example.org`), for SNI. */
export function urlHost(url: string): string {
  const rest = url.slice(url.indexOf('://') + 3)
  const host = rest.slice(0, rest.lastIndexOf(':'))
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
}
