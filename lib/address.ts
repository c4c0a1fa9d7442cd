/** The one address type of the API (Rust `PeerAddr`), and its checks and conversions. */
import { isIP } from 'node:net'
import { InvalidAddressError } from './errors'
import type { NativeAddress } from './native'
import { int } from './validate'

/** An IP endpoint: `family` says which IP version `address` is. */
export interface InetAddr {
  family: 'IPv4' | 'IPv6'
  /** IP address text (`127.0.0.1`, `::1`). */
  address: string
  /** Port, 0…65535. */
  port: number
}

/** A Unix socket: `path` is its file name, `''` for an unnamed socket (the usual client side). */
export interface UnixAddr {
  family: 'unix'
  path: string
}

/**
 * Where a connection or datagram comes from or goes to: the address type of every riptide
 * call that takes or gives one (`conn.sendTo`, `onDatagram`, `engine.addresses`,
 * `conn.remote`, `conn.proxyHeader`). Rust's `PeerAddr` (`Inet(SocketAddr) | Unix(String)`).
 *
 * @example
 * ```ts
 * conn.sendTo({ family: 'IPv4', address: '127.0.0.1', port: 9000 }, 'hi')
 * if (conn.remote.family !== 'unix') console.log(conn.remote.port)
 * ```
 */
export type PeerAddr = InetAddr | UnixAddr

/** An IP endpoint from its text and port. */
export function inetAddr(address: string, port: number): InetAddr {
  return { family: isIP(address) === 6 ? 'IPv6' : 'IPv4', address, port }
}

/** A peer as the native side describes it (for Unix sockets `address` holds the path). */
export function fromNativeAddress(a: NativeAddress): PeerAddr {
  return a.family === 'unix' ? { family: 'unix', path: a.address } : { family: a.family, address: a.address, port: a.port }
}

/**
 * `peer` checked as a datagram destination: an IP endpoint whose `address` is IP text and
 * `port` an integer in range. Throws `ERR_INVALID_ADDRESS` or `ERR_INVALID_ARG_VALUE`.
 */
export function checkInetPeer(what: string, peer: PeerAddr): InetAddr {
  if (peer === null || typeof peer !== 'object') throw new InvalidAddressError(`${what} must be a PeerAddr object`)
  if (peer.family === 'unix') throw new InvalidAddressError(`${what}: datagrams go to IP addresses, not Unix sockets`)
  const version = isIP(peer.address)
  if (version === 0 || (peer.family !== 'IPv4' && peer.family !== 'IPv6')) {
    throw new InvalidAddressError(`${what}: ${JSON.stringify(peer.address)} is not an IP address`)
  }
  int(`${what} port`, peer.port, 0, 65535)
  return peer
}

/**
 * The address (and port) a dial URL names once any name in it was looked up: the path of a
 * `unix://` URL, or the IP literal and port of the others (`tcp://[::1]:80` gives `::1`, 80).
 * Empty for a URL of another shape (the native parser has refused it by then).
 */
export function dialTarget(url: string): { address?: string; port?: number } {
  const sep = url.indexOf('://')
  if (sep < 0) return {}
  const rest = url.slice(sep + 3)
  if (url.slice(0, sep).toLowerCase() === 'unix') return { address: rest }
  const colon = rest.lastIndexOf(':')
  const port = Number(rest.slice(colon + 1))
  if (colon < 0 || !Number.isInteger(port)) return {}
  const host = rest.slice(0, colon)
  return { address: host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host, port }
}
