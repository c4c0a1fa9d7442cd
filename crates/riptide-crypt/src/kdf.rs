//! Key derivation: kcptun's passphrase-to-key step and kcp-go's `xor` pad.

use pbkdf2::pbkdf2_hmac;
use sha1::Sha1;
use zeroize::Zeroizing;

/// kcptun's salt for the passphrase (`SALT` in kcptun's `main.go`).
const KCPTUN_SALT: &[u8] = b"kcp-go";
/// kcptun's PBKDF2 rounds.
const KCPTUN_ROUNDS: u32 = 4096;
/// kcp-go's salt for the `xor` pad (`saltxor` in `crypt.go`).
const XOR_SALT: &[u8] = b"sH3CIVoF#rWLtJo6";
/// kcp-go's PBKDF2 rounds for the `xor` pad.
const XOR_ROUNDS: u32 = 32;
/// Length of the `xor` pad: kcp-go's `maxPacketSize` (1500 − 20 − 8, an IPv4 UDP payload).
pub(crate) const XOR_PAD_LEN: usize = 1472;

/// The 32-byte key kcptun derives from its `--key` passphrase:
/// PBKDF2-HMAC-SHA1(pass, salt `"kcp-go"`, 4096 rounds, 32 bytes). kcptun then passes its
/// first [`Cipher::key_len`](crate::Cipher::key_len) bytes to the cipher, which is what
/// [`BlockCrypt::kcptun`](crate::BlockCrypt::kcptun) does.
///
/// The result is a plain array; wipe it (e.g. with `zeroize`) when done.
///
/// ```
/// let key = riptide_crypt::kcptun_key("it's a secrect");
/// assert_eq!(key.len(), 32);
/// ```
pub fn kcptun_key(pass: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2_hmac::<Sha1>(pass.as_bytes(), KCPTUN_SALT, KCPTUN_ROUNDS, &mut key);
    key
}

/// kcp-go's `xor` pad: PBKDF2-HMAC-SHA1(key, `saltxor`, 32 rounds, 1472 bytes).
pub(crate) fn xor_pad(key: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut pad = Zeroizing::new(vec![0u8; XOR_PAD_LEN]);
    pbkdf2_hmac::<Sha1>(key, XOR_SALT, XOR_ROUNDS, pad.as_mut_slice());
    pad
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6070 test vector 2 (PBKDF2-HMAC-SHA1, "password"/"salt", 2 rounds), to pin the
    /// primitive; the kcptun and xor outputs are checked against Go in the golden tests.
    #[test]
    fn pbkdf2_sha1_rfc6070() {
        let mut out = [0u8; 20];
        pbkdf2_hmac::<Sha1>(b"password", b"salt", 2, &mut out);
        let hex: String = out.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957");
    }
}
