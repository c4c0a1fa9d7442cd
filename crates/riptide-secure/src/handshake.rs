//! What both handshake sides share: the Noise parameters, mac1/mac2 and the cookie
//! encryption (WireGuard's design, §5.4.4–5.4.7 of its paper, rebuilt on keyed BLAKE2s and
//! XChaCha20-Poly1305).
//!
//! - **mac1** = MAC(HASH("mac1----" ‖ server public key), init up to mac1): anyone who knows
//!   the server's public key can make it, but a server rejects with one hash any init not
//!   meant for it, before any Diffie-Hellman.
//! - **cookie** = MAC(secret rotated every ~2 min, source ip ‖ port): proves the sender
//!   receives at that address, without server state.
//! - **cookie reply** = XChaCha20-Poly1305(HASH("cookie--" ‖ server public key), random
//!   nonce, cookie, aad = the init's mac1): only the sender of that init (who knows its mac1)
//!   can take the cookie, and an off-path attacker cannot forge a reply.
//! - **mac2** = MAC(cookie, init up to mac2), or zeros without a cookie.

use std::net::{IpAddr, SocketAddr};

use blake2::digest::consts::U16;
use blake2::digest::{Digest, Mac};
use blake2::{Blake2s256, Blake2sMac};
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{KeyInit, Tag, XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;

use crate::packet::{Header, PacketType, COOKIE_NONCE_LEN, COOKIE_REPLY_LEN, HEADER_LEN, MAC_LEN};
use crate::SecureError;

/// The Noise protocol without client keys: NK (the client pins the server's static key;
/// clients are anonymous). One round trip, authenticates the server, and gives forward
/// secrecy to everything after message 2.
pub(crate) const NOISE_PARAMS: &str = "Noise_NK_25519_ChaChaPoly_BLAKE2s";

/// The Noise protocol with client keys: IK, as WireGuard. The client's static key travels
/// encrypted (under the server's key) in message 1, so the server learns who is asking and
/// checks its allowlist in the same single round trip. XK would hide the client's identity
/// even from someone who later steals the server's private key, at the cost of a second
/// round trip and a third message; for a tunnel whose server keeps the client list anyway,
/// IK's one round trip wins (WireGuard's reasoning).
pub(crate) const NOISE_PARAMS_IK: &str = "Noise_IK_25519_ChaChaPoly_BLAKE2s";

/// Bound into the handshake hash: a peer speaking another protocol or version fails.
pub(crate) const PROLOGUE: &[u8] = b"riptide-secure/1";

/// The Noise parameters: IK when the client has a static key, NK otherwise.
pub(crate) fn noise_params(ik: bool) -> Result<snow::params::NoiseParams, SecureError> {
    if ik { NOISE_PARAMS_IK } else { NOISE_PARAMS }
        .parse()
        .map_err(|_| SecureError::HandshakeFailed)
}

/// A 16-byte mac.
pub(crate) type MacBytes = [u8; MAC_LEN];

fn hash(label: &[u8], key: &[u8; 32]) -> [u8; 32] {
    Blake2s256::new()
        .chain_update(label)
        .chain_update(key)
        .finalize()
        .into()
}

/// The key of mac1 for a server public key.
pub(crate) fn mac1_key(server_public: &[u8; 32]) -> [u8; 32] {
    hash(b"mac1----", server_public)
}

/// The key encrypting cookie replies for a server public key.
pub(crate) fn cookie_key(server_public: &[u8; 32]) -> [u8; 32] {
    hash(b"cookie--", server_public)
}

/// Keyed BLAKE2s with a 16-byte output.
pub(crate) fn mac(key: &[u8], data: &[u8]) -> MacBytes {
    // Keys here are 16 or 32 bytes, within BLAKE2s's 1..=32.
    match <Blake2sMac<U16> as Mac>::new_from_slice(key) {
        Ok(m) => m.chain_update(data).finalize().into_bytes().into(),
        Err(_) => [0; MAC_LEN],
    }
}

/// Constant-time equality of two macs.
pub(crate) fn mac_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// The cookie for a source address under one secret.
pub(crate) fn cookie(secret: &[u8; 32], peer: SocketAddr) -> MacBytes {
    let mut input = [0u8; 19];
    let [family, ip @ .., p0, p1] = &mut input;
    match peer.ip() {
        IpAddr::V4(v4) => {
            *family = 4;
            let (head, _) = ip.split_at_mut(4);
            head.copy_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            *family = 6;
            *ip = v6.octets();
        }
    }
    [*p0, *p1] = peer.port().to_le_bytes();
    mac(secret, &input)
}

/// Seals `cookie` into a cookie reply answering the init whose mac1 is `init_mac1`.
pub(crate) fn seal_cookie_reply(
    cookie_key: &[u8; 32],
    tag: u32,
    init_mac1: &[u8],
    cookie: &MacBytes,
    out: &mut Vec<u8>,
) -> Result<(), SecureError> {
    let mut nonce = [0u8; COOKIE_NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| SecureError::Random)?;
    let mut body = *cookie;
    let t = XChaCha20Poly1305::new(cookie_key.into())
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), init_mac1, &mut body)
        .map_err(|_| SecureError::Random)?;
    out.clear();
    out.extend_from_slice(&Header::handshake(PacketType::CookieReply, tag).encode());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&body);
    out.extend_from_slice(&t);
    Ok(())
}

/// Opens a cookie reply for the init whose mac1 is `init_mac1`; the header was checked.
pub(crate) fn open_cookie_reply(
    cookie_key: &[u8; 32],
    init_mac1: &[u8],
    packet: &[u8],
) -> Result<MacBytes, SecureError> {
    if packet.len() != COOKIE_REPLY_LEN {
        return Err(SecureError::Malformed);
    }
    let rest = packet.get(HEADER_LEN..).unwrap_or_default();
    let (nonce, rest) = rest.split_at(COOKIE_NONCE_LEN);
    let (body, tag) = rest.split_at(MAC_LEN);
    let mut cookie: MacBytes = body.try_into().map_err(|_| SecureError::Malformed)?;
    XChaCha20Poly1305::new(cookie_key.into())
        .decrypt_in_place_detached(
            XNonce::from_slice(nonce),
            init_mac1,
            &mut cookie,
            Tag::from_slice(tag),
        )
        .map_err(|_| SecureError::Unauthenticated)?;
    Ok(cookie)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_depends_on_ip_port_and_secret() {
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:5001".parse().unwrap();
        let c: SocketAddr = "[::ffff:10.0.0.1]:5000".parse().unwrap();
        let s1 = [1u8; 32];
        let s2 = [2u8; 32];
        assert_eq!(cookie(&s1, a), cookie(&s1, a));
        assert_ne!(cookie(&s1, a), cookie(&s1, b));
        assert_ne!(cookie(&s1, a), cookie(&s1, c));
        assert_ne!(cookie(&s1, a), cookie(&s2, a));
    }

    #[test]
    fn cookie_reply_binds_to_the_init_mac1() {
        let key = cookie_key(&[9; 32]);
        let mut out = Vec::new();
        seal_cookie_reply(&key, 42, &[5; 16], &[7; 16], &mut out).unwrap();
        assert_eq!(out.len(), COOKIE_REPLY_LEN);
        assert_eq!(open_cookie_reply(&key, &[5; 16], &out).unwrap(), [7; 16]);
        assert_eq!(
            open_cookie_reply(&key, &[6; 16], &out),
            Err(SecureError::Unauthenticated)
        );
        assert_eq!(
            open_cookie_reply(&cookie_key(&[8; 32]), &[5; 16], &out),
            Err(SecureError::Unauthenticated)
        );
    }
}
