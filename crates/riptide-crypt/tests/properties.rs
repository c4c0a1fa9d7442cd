//! Properties of seal/open for every cipher, and the API's refusals.
//!
//! About "detected": `aes-128-gcm` rejects every change deterministically (16-byte tag). The
//! other ciphers carry a CRC-32 under the cipher. A flipped bit that reaches the decrypted
//! bytes unchanged (the last CFB block, anything under Salsa20, XOR or `none`) is a
//! single-bit error, which CRC-32 always detects. A flip that garbles a CFB block (the next
//! block after it) or changes the Salsa20 nonce makes the decrypted bytes effectively
//! random, which a CRC-32 misses with probability 2⁻³²: such tests can fail spuriously once
//! in about four billion cases. Nonce bytes that do not feed decryption at all (`none` and
//! `xor`: bytes 0..16; `salsa20`: bytes 8..16) are not covered by anything; flipping them
//! opens to the *same* plaintext, which is harmless but shows these are not MACs. A cut
//! packet fails the same way: deterministically for GCM, with probability 1 − 2⁻³² for CRC.

use proptest::prelude::*;
use riptide_crypt::{BlockCrypt, Cipher, CryptError};

fn crypt(cipher: Cipher) -> BlockCrypt {
    let key: Vec<u8> = (0..cipher.key_len()).map(|i| (i * 37 + 5) as u8).collect();
    BlockCrypt::new(cipher, &key).unwrap()
}

fn any_cipher() -> impl Strategy<Value = Cipher> {
    prop::sample::select(Cipher::ALL.to_vec())
}

/// Bytes of a sealed packet whose change leaves the plaintext as it is (see the module docs).
fn inert(cipher: Cipher, pos: usize) -> bool {
    match cipher {
        Cipher::None | Cipher::Xor => pos < 16,
        Cipher::Salsa20 => (8..16).contains(&pos),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn open_of_seal_is_identity(cipher in any_cipher(), plain in prop::collection::vec(any::<u8>(), 0..2000), prefix in prop::collection::vec(any::<u8>(), 0..8)) {
        let mut c = crypt(cipher);
        let mut sealed = prefix.clone();
        c.seal(&plain, &mut sealed);
        prop_assert_eq!(&sealed[..prefix.len()], &prefix[..]);
        prop_assert_eq!(sealed.len(), prefix.len() + plain.len() + c.overhead());
        let mut out = prefix.clone();
        c.open(&sealed[prefix.len()..], &mut out).unwrap();
        prop_assert_eq!(&out[..prefix.len()], &prefix[..]);
        prop_assert_eq!(&out[prefix.len()..], &plain[..]);
    }

    #[test]
    fn single_bit_flip_is_detected(cipher in any_cipher(), plain in prop::collection::vec(any::<u8>(), 0..300), bit in any::<prop::sample::Index>()) {
        prop_assume!(cipher != Cipher::Null);
        let mut c = crypt(cipher);
        let mut sealed = Vec::new();
        c.seal(&plain, &mut sealed);
        let bit = bit.index(sealed.len() * 8);
        sealed[bit / 8] ^= 1 << (bit % 8);
        let mut out = b"untouched".to_vec();
        match c.open(&sealed, &mut out) {
            Err(e) => {
                prop_assert_eq!(&out[..], b"untouched");
                let want = if cipher == Cipher::Aes128Gcm { CryptError::Tag } else { CryptError::Checksum };
                prop_assert_eq!(e, want);
            }
            Ok(()) => {
                prop_assert!(inert(cipher, bit / 8), "{cipher}: flipped bit {bit} was accepted");
                prop_assert_eq!(&out[9..], &plain[..]);
            }
        }
    }

    #[test]
    fn strict_prefixes_are_refused(cipher in any_cipher(), plain in prop::collection::vec(any::<u8>(), 0..100), cut in any::<prop::sample::Index>()) {
        prop_assume!(cipher != Cipher::Null);
        let mut c = crypt(cipher);
        let mut sealed = Vec::new();
        c.seal(&plain, &mut sealed);
        let len = cut.index(sealed.len());
        let mut out = Vec::new();
        let r = c.open(&sealed[..len], &mut out);
        prop_assert!(r.is_err(), "{cipher}: prefix of {len}/{} bytes opened", sealed.len());
        prop_assert!(out.is_empty());
        if len < cipher.overhead() {
            prop_assert_eq!(r, Err(CryptError::Truncated { len, min: cipher.overhead() }));
        }
    }

    #[test]
    fn garbage_never_panics(cipher in any_cipher(), packet in prop::collection::vec(any::<u8>(), 0..200)) {
        let c = crypt(cipher);
        let mut out = Vec::new();
        match c.open(&packet, &mut out) {
            Ok(()) => prop_assert_eq!(out.len(), packet.len() - c.overhead()),
            Err(_) => prop_assert!(out.is_empty()),
        }
    }
}

#[test]
fn overheads_and_key_lengths() {
    let table = [
        (Cipher::Null, 0, 0),
        (Cipher::None, 20, 0),
        (Cipher::Aes128, 20, 16),
        (Cipher::Aes192, 20, 24),
        (Cipher::Aes256, 20, 32),
        (Cipher::Salsa20, 20, 32),
        (Cipher::Xor, 20, 32),
        (Cipher::Aes128Gcm, 28, 16),
    ];
    for (cipher, overhead, key_len) in table {
        assert_eq!(cipher.overhead(), overhead, "{cipher}");
        assert_eq!(cipher.key_len(), key_len, "{cipher}");
        assert_eq!(crypt(cipher).overhead(), overhead);
        assert_eq!(crypt(cipher).cipher(), cipher);
    }
}

#[test]
fn wrong_key_sizes_are_refused() {
    for cipher in Cipher::ALL {
        let expected = cipher.key_len();
        for actual in [0usize, 1, 8, 15, 16, 17, 24, 31, 32, 33, 64] {
            let r = BlockCrypt::new(cipher, &vec![7u8; actual]);
            if expected == 0 || actual == expected {
                assert!(r.is_ok(), "{cipher} with {actual} bytes");
            } else {
                assert_eq!(
                    r.unwrap_err(),
                    CryptError::KeyLength {
                        cipher,
                        expected,
                        actual
                    },
                    "{cipher} with {actual} bytes"
                );
            }
        }
    }
}

#[test]
fn nonces_are_fresh() {
    for cipher in Cipher::ALL.into_iter().filter(|&c| c != Cipher::Null) {
        let mut c = crypt(cipher);
        let (mut a, mut b) = (Vec::new(), Vec::new());
        c.seal(b"same", &mut a);
        c.seal(b"same", &mut b);
        assert_ne!(a, b, "{cipher}");
    }
}

#[test]
fn another_key_does_not_open() {
    for cipher in Cipher::ALL
        .into_iter()
        .filter(|&c| !matches!(c, Cipher::Null | Cipher::None))
    {
        let mut a = BlockCrypt::kcptun(cipher, "one");
        let b = BlockCrypt::kcptun(cipher, "two");
        let mut sealed = Vec::new();
        a.seal(&[0x55; 100], &mut sealed);
        let mut out = Vec::new();
        assert!(b.open(&sealed, &mut out).is_err(), "{cipher}");
        assert!(out.is_empty());
    }
}

#[test]
fn null_passes_everything_and_empty_bodies_open() {
    let mut null = crypt(Cipher::Null);
    let mut out = Vec::new();
    null.open(&[], &mut out).unwrap();
    assert!(out.is_empty());
    null.seal(b"abc", &mut out);
    assert_eq!(out, b"abc");
    for cipher in Cipher::ALL {
        let mut c = crypt(cipher);
        let mut sealed = Vec::new();
        c.seal(&[], &mut sealed);
        assert_eq!(sealed.len(), cipher.overhead());
        let mut out = Vec::new();
        c.open(&sealed, &mut out).unwrap();
        assert!(out.is_empty());
    }
}

#[test]
fn xor_leaves_bytes_past_the_pad_in_clear_like_kcp_go() {
    let mut c = crypt(Cipher::Xor);
    let plain = vec![0xabu8; 1500];
    let mut sealed = Vec::new();
    c.seal(&plain, &mut sealed);
    // Packet bytes 1472.. are plaintext bytes 1452.. (kcp-go's `subtle.XORBytes` stops at
    // the 1472-byte pad; its sessions never send more).
    assert!(sealed[1472..].iter().all(|&b| b == 0xab));
    assert_ne!(&sealed[20..1472], &plain[..1452]);
}

#[test]
fn debug_shows_no_key() {
    let c = BlockCrypt::new(Cipher::Aes128, &[0x41; 16]).unwrap();
    let s = format!("{c:?}");
    assert!(s.contains("Aes128"), "{s}");
    assert!(!s.contains("65") && !s.contains("41"), "{s}");
}
