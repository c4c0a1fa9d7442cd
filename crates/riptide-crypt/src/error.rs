//! The crate's one error type.

use thiserror::Error;

use crate::Cipher;

/// Why a cipher name, a key or a received packet was refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum CryptError {
    /// [`Cipher::from_str`](std::str::FromStr::from_str) got a name that is not one of
    /// kcptun's names this crate implements (see [`Cipher`] for the list, and for the kcp-go
    /// ciphers that are deliberately not supported).
    #[error("unknown or unsupported cipher {name:?}")]
    UnknownCipher {
        /// The name as given.
        name: String,
    },
    /// [`BlockCrypt::new`](crate::BlockCrypt::new) got a key of the wrong size for the cipher.
    #[error("{cipher} needs a {expected}-byte key, got {actual} bytes")]
    KeyLength {
        /// The cipher asked for.
        cipher: Cipher,
        /// The key size that cipher takes ([`Cipher::key_len`]).
        expected: usize,
        /// The size of the key given.
        actual: usize,
    },
    /// The packet is shorter than the crypto header (and tag) of the cipher, so it cannot be
    /// one of ours. kcp-go drops such packets silently.
    #[error("packet of {len} bytes is shorter than the {min}-byte crypto overhead")]
    Truncated {
        /// The packet's length.
        len: usize,
        /// The cipher's [`Cipher::overhead`].
        min: usize,
    },
    /// The CRC-32 after decryption does not match: noise, a packet for another key or
    /// cipher, or tampering. kcp-go counts these as `InCsumErrors`.
    #[error("crc32 mismatch after decryption")]
    Checksum,
    /// The AES-GCM tag does not authenticate the packet: a packet for another key, or
    /// tampering. kcp-go counts these as `InCsumErrors` too.
    #[error("aes-gcm authentication tag mismatch")]
    Tag,
}
