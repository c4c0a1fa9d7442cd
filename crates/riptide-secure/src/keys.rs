//! X25519 static keys: generation, decoding from raw bytes, and the checks that keep a bad
//! key from silently voiding the handshake.

use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::Scalar;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::SecureError;

/// Length of an X25519 key (public or private), in bytes.
pub const KEY_LEN: usize = 32;

/// A server's static X25519 private key. Zeroized on drop and not `Copy`, so a copy cannot
/// outlive the owner by accident; `Debug` prints no key bytes.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct PrivateKey([u8; KEY_LEN]);

impl PrivateKey {
    /// Wraps 32 raw bytes (any 32 bytes are a valid X25519 private key: X25519 clamps them).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Decodes a raw key of exactly 32 bytes; any other length is [`SecureError::BadKey`].
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SecureError> {
        let bytes: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SecureError::BadKey)?;
        Ok(Self(bytes))
    }

    /// The raw key bytes, to store the key or hand it across the binding.
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The matching public key (what clients pin).
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        MontgomeryPoint::mul_base_clamped(self.0).to_bytes()
    }
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKey(..)")
    }
}

/// A static key pair from [`generate_keypair`]: `public` is given to clients (they pin it),
/// `private` configures the server ([`ServerConfig`](crate::ServerConfig)).
#[derive(Clone, Debug)]
pub struct Keypair {
    /// The public key, safe to publish.
    pub public: [u8; KEY_LEN],
    /// The private key, zeroized when dropped.
    pub private: PrivateKey,
}

/// Generates a fresh static key pair from the operating system's random source.
///
/// # Errors
/// [`SecureError::Random`] if the OS random source fails.
pub fn generate_keypair() -> Result<Keypair, SecureError> {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes).map_err(|_| SecureError::Random)?;
    let private = PrivateKey::from_bytes(bytes);
    bytes.zeroize();
    Ok(Keypair {
        public: private.public_key(),
        private,
    })
}

/// Decodes and checks a peer's public key: exactly 32 bytes and not a small-order point
/// (for those, the Diffie-Hellman result takes a handful of values an attacker can guess).
///
/// # Errors
/// [`SecureError::BadKey`] for a wrong length or a small-order point.
pub fn public_key_from_slice(bytes: &[u8]) -> Result<[u8; KEY_LEN], SecureError> {
    let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| SecureError::BadKey)?;
    // Multiplying by the cofactor 8 sends exactly the small-order points (of the curve and of
    // its twist, whose cofactor 4 divides 8) to u = 0.
    #[allow(clippy::arithmetic_side_effects)] // a curve-point product, not integer math
    let cleared = MontgomeryPoint(key) * Scalar::from(8u8);
    if cleared.to_bytes() == [0u8; KEY_LEN] {
        return Err(SecureError::BadKey);
    }
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_pair_matches_and_validates() {
        let kp = generate_keypair().unwrap();
        assert_eq!(kp.private.public_key(), kp.public);
        assert_eq!(public_key_from_slice(&kp.public).unwrap(), kp.public);
        assert_ne!(generate_keypair().unwrap().public, kp.public);
    }

    #[test]
    fn bad_sizes_and_small_order_points_are_refused() {
        assert_eq!(
            PrivateKey::from_slice(&[1; 31]).unwrap_err(),
            SecureError::BadKey
        );
        assert_eq!(
            PrivateKey::from_slice(&[1; 33]).unwrap_err(),
            SecureError::BadKey
        );
        assert_eq!(public_key_from_slice(&[]).unwrap_err(), SecureError::BadKey);
        assert_eq!(
            public_key_from_slice(&[0; 32]).unwrap_err(),
            SecureError::BadKey
        );
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(
            public_key_from_slice(&one).unwrap_err(),
            SecureError::BadKey
        );
        // An order-8 point (from the X25519 low-order list).
        let order8: [u8; 32] = [
            0xe0, 0xeb, 0x7a, 0x7c, 0x3b, 0x41, 0xb8, 0xae, 0x16, 0x56, 0xe3, 0xfa, 0xf1, 0x9f,
            0xc4, 0x6a, 0xda, 0x09, 0x8d, 0xeb, 0x9c, 0x32, 0xb1, 0xfd, 0x86, 0x62, 0x05, 0x16,
            0x5f, 0x49, 0xb8, 0x00,
        ];
        assert_eq!(
            public_key_from_slice(&order8).unwrap_err(),
            SecureError::BadKey
        );
    }

    #[test]
    fn debug_hides_the_private_key() {
        let k = PrivateKey::from_bytes([0xab; 32]);
        assert_eq!(format!("{k:?}"), "PrivateKey(..)");
    }
}
