//! The cipher choice, named as kcptun names it on its command line (`--crypt`).

use std::fmt;
use std::str::FromStr;

use crate::CryptError;

/// Size of the random nonce in front of every non-AEAD packet (kcp-go `nonceSize`).
pub(crate) const NONCE_LEN: usize = 16;
/// Size of the CRC-32 after the nonce (kcp-go `crcSize`).
pub(crate) const CRC_LEN: usize = 4;
/// Nonce + CRC: the crypto header of every non-AEAD cipher, `none` included
/// (kcp-go `cryptHeaderSize`).
pub(crate) const HEADER_LEN: usize = 20;
/// AES-GCM's standard nonce, random per packet and sent in clear at the front.
pub(crate) const GCM_NONCE_LEN: usize = 12;
/// AES-GCM's tag, appended after the ciphertext.
pub(crate) const GCM_TAG_LEN: usize = 16;
/// AES-GCM's whole overhead: nonce in front, tag behind.
pub(crate) const GCM_OVERHEAD: usize = 28;

/// One of kcp-go's packet ciphers, by its kcptun name.
///
/// Supported: `null`, `none`, `aes`, `aes-128`, `aes-192`, `salsa20`, `xor`, `aes-128-gcm`.
/// **Not supported** (refused by [`FromStr`] with [`CryptError::UnknownCipher`]): kcptun's
/// `tea`, `xtea`, `blowfish`, `cast5`, `3des`, `sm4` and `twofish`. They are legacy 64-bit
/// block ciphers or ciphers without a maintained RustCrypto implementation worth depending on
/// for a compatibility mode.
///
/// None of these is secure: see the [crate docs](crate#security).
///
/// ```
/// use riptide_crypt::Cipher;
///
/// let c: Cipher = "aes".parse().unwrap();
/// assert_eq!(c, Cipher::Aes256);
/// assert_eq!(c.as_str(), "aes");
/// assert_eq!(c.key_len(), 32);
/// assert_eq!(c.overhead(), 20);
/// assert!("blowfish".parse::<Cipher>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// `null`: no crypto header at all; the datagram is the FEC/KCP bytes as they are
    /// (kcp-go with a `nil` BlockCrypt). Overhead 0.
    Null,
    /// `none`: nonce + CRC-32 but no cipher. Catches line noise, nothing else.
    None,
    /// `aes-128`: AES-128 in kcp-go's CFB mode.
    Aes128,
    /// `aes-192`: AES-192 in kcp-go's CFB mode.
    Aes192,
    /// `aes`: AES-256 in kcp-go's CFB mode. kcptun's default cipher.
    Aes256,
    /// `salsa20`: Salsa20/20 keyed with 32 bytes; the packet's first 8 bytes (part of the
    /// random nonce) are the Salsa20 nonce and stay in clear.
    Salsa20,
    /// `xor`: XOR with a fixed 1472-byte pad derived from the key. Only obfuscation.
    Xor,
    /// `aes-128-gcm`: AES-128-GCM with a random 12-byte nonce per packet and a 16-byte tag,
    /// no CRC (kcp-go ≥ v5.7 `NewAESGCMCrypt`). The only mode with real integrity, but the
    /// other caveats in the [crate docs](crate#security) still apply.
    Aes128Gcm,
}

impl Cipher {
    /// Every supported cipher, in declaration order.
    pub const ALL: [Cipher; 8] = [
        Cipher::Null,
        Cipher::None,
        Cipher::Aes128,
        Cipher::Aes192,
        Cipher::Aes256,
        Cipher::Salsa20,
        Cipher::Xor,
        Cipher::Aes128Gcm,
    ];

    /// kcptun's name for this cipher (what [`FromStr`] accepts).
    pub const fn as_str(self) -> &'static str {
        match self {
            Cipher::Null => "null",
            Cipher::None => "none",
            Cipher::Aes128 => "aes-128",
            Cipher::Aes192 => "aes-192",
            Cipher::Aes256 => "aes",
            Cipher::Salsa20 => "salsa20",
            Cipher::Xor => "xor",
            Cipher::Aes128Gcm => "aes-128-gcm",
        }
    }

    /// The key size [`BlockCrypt::new`](crate::BlockCrypt::new) requires: what kcptun passes
    /// for this cipher after truncating its 32-byte derived key. 0 for `null` and `none`,
    /// which take no key (any key given to them is ignored, as kcp-go does).
    pub const fn key_len(self) -> usize {
        match self {
            Cipher::Null | Cipher::None => 0,
            Cipher::Aes128 | Cipher::Aes128Gcm => 16,
            Cipher::Aes192 => 24,
            Cipher::Aes256 | Cipher::Salsa20 | Cipher::Xor => 32,
        }
    }

    /// Bytes a sealed packet has on top of its plaintext: 0 for `null`; 20 (a 16-byte nonce
    /// and a 4-byte CRC-32) for `none`, the AES-CFB modes, `salsa20` and `xor`; 28 (a 12-byte
    /// nonce and a 16-byte tag) for `aes-128-gcm`. Also the smallest packet
    /// [`BlockCrypt::open`](crate::BlockCrypt::open) accepts.
    pub const fn overhead(self) -> usize {
        match self {
            Cipher::Null => 0,
            Cipher::Aes128Gcm => GCM_OVERHEAD,
            _ => HEADER_LEN,
        }
    }
}

impl FromStr for Cipher {
    type Err = CryptError;

    /// Parses kcptun's name, exactly (case-sensitive, as kcptun's lookup is). Unlike kcptun,
    /// an unknown name is an error rather than a silent fallback to `aes`.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Cipher::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| CryptError::UnknownCipher { name: name.into() })
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Cipher::ALL {
            assert_eq!(c.as_str().parse::<Cipher>(), Ok(c));
            assert_eq!(c.to_string(), c.as_str());
        }
        for name in [
            "tea", "xtea", "blowfish", "cast5", "3des", "sm4", "twofish", "AES", "", "aes-256",
        ] {
            assert_eq!(
                name.parse::<Cipher>(),
                Err(CryptError::UnknownCipher { name: name.into() })
            );
        }
    }

    #[test]
    fn header_constants_agree() {
        assert_eq!(HEADER_LEN, NONCE_LEN + CRC_LEN);
        assert_eq!(GCM_OVERHEAD, GCM_NONCE_LEN + GCM_TAG_LEN);
    }
}
