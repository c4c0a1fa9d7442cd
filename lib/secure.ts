/** Keys of riptide's secure mode for KCP (`options.secure`). */
import { native } from './native'

/** A static X25519 key pair for secure mode. */
export interface KeyPair {
  /** 32 bytes. Give it to clients (`secure: { serverPublicKey }`); it is not secret. */
  publicKey: Uint8Array
  /** 32 bytes. The server's `secure: { privateKey }`. Keep it secret. */
  privateKey: Uint8Array
}

/**
 * A fresh key pair for secure mode, from the OS's random source (Rust
 * `riptide::secure::generate_keypair`).
 *
 * @example
 * ```ts
 * const { publicKey, privateKey } = generateKeyPair()
 * await serve('kcp://0.0.0.0:7000', handler, { secure: { privateKey } })
 * await connect('kcp://server:7000', handler, { secure: { serverPublicKey: publicKey } })
 * ```
 */
export function generateKeyPair(): KeyPair {
  const { publicKey, privateKey } = native.generateKeyPair()
  return { publicKey, privateKey }
}
