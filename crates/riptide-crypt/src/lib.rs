//! kcp-go's packet encryption ("BlockCrypt"), sans-IO and byte-compatible with unmodified
//! kcp-go v5.7 and kcptun: [`BlockCrypt::seal`] makes the datagram kcp-go would send for a
//! plaintext (the FEC header and KCP segments), [`BlockCrypt::open`] checks and decrypts a
//! datagram kcp-go sent. No sockets, no clock; nonces come from a generator seeded once from
//! the OS.
//!
//! # Security
//!
//! **This is a compatibility layer, not a secure channel.** Use it to talk to kcp-go and
//! kcptun peers that cannot change; use riptide's native secure mode for anything else.
//!
//! - **Malleable.** Apart from `aes-128-gcm`, integrity is a CRC-32 *inside* the encryption.
//!   CRC-32 is linear and CFB, Salsa20 and XOR all let an attacker flip chosen plaintext bits
//!   by flipping ciphertext bits, so a forger can adjust the CRC to match. It catches noise,
//!   not people. `none` and `xor` hide nothing from anyone who looks.
//! - **No replay protection.** Every mode, `aes-128-gcm` included, accepts the same datagram
//!   any number of times; kcp-go's README says so too. KCP drops duplicate segments, but a
//!   replayed packet still costs the receiver work and can reset state an attacker chooses.
//! - **No forward secrecy, no handshake.** One static key (usually from a passphrase through
//!   [`kcptun_key`]) for every session and forever; a key that leaks decrypts all recorded
//!   traffic.
//! - **Weak constructions.** AES-CFB starts every packet from the same fixed IV: only the
//!   random 16-byte nonce in the first block separates the streams, and that first block is
//!   always XORed with the same `E_K(IV)`. `salsa20` uses 8 random bytes as its nonce, so
//!   after ~2³² packets under one key a nonce repeats and two keystreams with it. The `xor`
//!   pad is the same for every packet. `aes-128-gcm` draws 96-bit nonces at random: keep it
//!   well under 2³² packets per key.
//! - **No peer identity.** Anyone with the key is every peer.
//!
//! # Ciphers
//!
//! | [`Cipher`] | kcptun name | key (bytes) | overhead (bytes) |
//! |---|---|---|---|
//! | `Null` | `null` | — | 0 |
//! | `None` | `none` | — | 20 |
//! | `Aes128` | `aes-128` | 16 | 20 |
//! | `Aes192` | `aes-192` | 24 | 20 |
//! | `Aes256` | `aes` | 32 | 20 |
//! | `Salsa20` | `salsa20` | 32 | 20 |
//! | `Xor` | `xor` | 32 | 20 |
//! | `Aes128Gcm` | `aes-128-gcm` | 16 | 28 |
//!
//! Not supported: `tea`, `xtea`, `blowfish`, `cast5`, `3des`, `sm4`, `twofish`.
//!
//! # Example
//!
//! ```
//! use riptide_crypt::{BlockCrypt, Cipher};
//!
//! // kcptun --crypt salsa20 --key "hunter2"
//! let cipher: Cipher = "salsa20".parse().unwrap();
//! let mut crypt = BlockCrypt::kcptun(cipher, "hunter2");
//!
//! let mut datagram = Vec::new();
//! crypt.seal(b"FEC header and KCP segments", &mut datagram);
//!
//! let mut plain = Vec::new();
//! crypt.open(&datagram, &mut plain).unwrap();
//! assert_eq!(plain, b"FEC header and KCP segments");
//!
//! // A flipped bit fails the CRC-32 (noise, not an attacker: see Security).
//! datagram[30] ^= 1;
//! assert!(crypt.open(&datagram, &mut plain).is_err());
//! ```

#![deny(missing_docs)]
#![forbid(unsafe_code)]
// Everything here handles bytes a peer chose: no silent overflow, no peer-steered index.
#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![cfg_attr(test, allow(clippy::arithmetic_side_effects, clippy::indexing_slicing))]

mod block_crypt;
mod cipher;
mod error;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod kdf;

pub use block_crypt::BlockCrypt;
pub use cipher::Cipher;
pub use error::CryptError;
pub use kdf::kcptun_key;

// The README's example runs as a doctest, so the crates.io page cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
