/**
 * Name lookup for dials. The native side resolves a name in a URL with a blocking
 * `getaddrinfo` on the calling thread, which would stall the event loop for as long as the
 * resolver takes; so a dial whose host is a name looks it up here first with
 * `dns.promises.lookup` (libuv's threadpool, honouring `dns.setDefaultResultOrder` and
 * `/etc/hosts` like `net.connect`) and hands the native dial the literal address.
 *
 * Listen addresses are still resolved natively and synchronously: `serve()` runs once at
 * start-up, where a blocking lookup costs nothing that matters.
 */
import { promises as dns } from 'node:dns'
import { isIP } from 'node:net'
import { AbortError, ConnectionError } from './errors'

/** A dial URL whose host is a name: the parts to look up and to rebuild it from. */
export interface NamedTarget {
  /** `tcp`, `udp6`, `kcp4`... */
  scheme: string
  hostname: string
  port: number
  /** The address family the scheme allows: `4` or `6`, `0` for either. */
  family: 0 | 4 | 6
}

/** Schemes with an IP host (`unix://` has a path). */
const IP_SCHEME = /^(?:tcp|udp|kcp|tls)([46]?)$/

/**
 * The name to look up in a dial URL, or `undefined` when there is none to look up: an IP
 * literal, an empty host, a Unix path, or a URL the native parser will reject with
 * `ERR_INVALID_ADDRESS` (malformed, or a host that cannot be a name).
 */
export function namedTarget(url: unknown): NamedTarget | undefined {
  if (typeof url !== 'string') return undefined
  const sep = url.indexOf('://')
  if (sep < 0) return undefined
  const scheme = url.slice(0, sep)
  const m = IP_SCHEME.exec(scheme)
  if (m === null) return undefined
  const rest = url.slice(sep + 3)
  const colon = rest.lastIndexOf(':')
  if (colon < 0) return undefined
  const portText = rest.slice(colon + 1)
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) return undefined
  let host = rest.slice(0, colon)
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1)
  // Brackets, ':' and the characters the native parser calls malformed are no name: leave
  // the URL to it, so it fails the same way as before.
  if (host === '' || isIP(host) !== 0 || /[/?#:[\]\s%]/.test(host)) return undefined
  return { scheme, hostname: host, port: Number(portText), family: m[1] === '4' ? 4 : m[1] === '6' ? 6 : 0 }
}

/**
 * Looks up `target`'s name and resolves with the dial URL rewritten to the address found
 * (the first one, in the resolver's order). Rejects with a {@link ConnectionError} carrying
 * the resolver's code (`ENOTFOUND`, `EAI_AGAIN`...), `syscall: 'getaddrinfo'` and `hostname`;
 * with `ETIMEDOUT` when `timeout` ms (0: no limit) pass first; with an {@link AbortError} when
 * `signal` aborts first. The lookup itself cannot be cancelled: its late answer is dropped.
 * Its abort listener and timer are gone once it settles, whichever way.
 */
export function lookupDialUrl(target: NamedTarget, signal: AbortSignal | undefined, timeout: number): Promise<string> {
  const { scheme, hostname, port, family } = target
  return new Promise<string>((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError())
    let timer: ReturnType<typeof setTimeout> | undefined
    const settle = () => {
      signal?.removeEventListener('abort', onAbort)
      if (timer !== undefined) clearTimeout(timer)
    }
    const onAbort = () => {
      settle()
      reject(new AbortError())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (timeout > 0) {
      timer = setTimeout(() => {
        settle()
        reject(new ConnectionError('ETIMEDOUT', `getaddrinfo ETIMEDOUT ${hostname}`, { syscall: 'getaddrinfo', hostname, port }))
      }, timeout)
    }
    // `dns.lookup` read at call time (not bound at import), so it can be observed in tests.
    dns.lookup(hostname, { family }).then(
      ({ address }) => {
        settle()
        resolve(`${scheme}://${isIP(address) === 6 ? `[${address}]` : address}:${port}`)
      },
      (err: unknown) => {
        settle()
        const e = err as { code?: unknown; errno?: unknown }
        const code = typeof e?.code === 'string' ? e.code : 'ENOTFOUND'
        const errno = typeof e?.errno === 'number' ? e.errno : undefined
        reject(new ConnectionError(code, `getaddrinfo ${code} ${hostname}`, { errno, syscall: 'getaddrinfo', hostname, port }))
      },
    )
  })
}
