/** Keys of riptide's secure mode for KCP (`options.secure`). */
import { native } from './native'

/** A static X25519 key pair for secure mode: a server's, or a client's with per-client keys. */
export interface KeyPair {
  /**
   * 32 bytes, not secret. A server's goes to its clients (`secure: { serverPublicKey }`); a
   * client's goes into the server's `secure: { allowedClients }`.
   */
  publicKey: Uint8Array
  /** 32 bytes. A server's `secure: { privateKey }` or a client's `secure: { clientKey }`. Keep it secret. */
  privateKey: Uint8Array
}

/**
 * A fresh key pair for secure mode, from the OS's random source (Rust
 * `riptide::secure::generate_keypair`): one for a server, and one per client when the server
 * lists its clients (`allowedClients`).
 *
 * @example
 * ```ts
 * const server = generateKeyPair()
 * const alice = generateKeyPair()
 * await serve('kcp://0.0.0.0:7000', handler, { secure: { privateKey: server.privateKey, allowedClients: [alice.publicKey] } })
 * await connect('kcp://server:7000', handler, { secure: { serverPublicKey: server.publicKey, clientKey: alice.privateKey } })
 * ```
 */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = native.generateKeyPair()
  return { publicKey, privateKey }
}
