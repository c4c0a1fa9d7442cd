//! [`BlockCrypt`]: seal and open whole datagrams the way a kcp-go session does.

use std::fmt;

use aes::cipher::consts::U16;
use aes::cipher::{AsyncStreamCipher, BlockCipher, BlockEncrypt, InnerIvInit, KeyInit};
use aes::cipher::{BlockSizeUser, IvSizeUser, KeyIvInit, StreamCipher, StreamCipherSeek};
use aes::{Aes128Enc, Aes192Enc, Aes256Enc};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes128Gcm;
use rand::rngs::StdRng;
use rand::Rng;
use salsa20::Salsa20;
use zeroize::Zeroizing;

use crate::cipher::{CRC_LEN, GCM_NONCE_LEN, GCM_TAG_LEN, HEADER_LEN, NONCE_LEN};
use crate::kdf::xor_pad;
#[cfg(doc)]
use crate::kdf::XOR_PAD_LEN;
use crate::{Cipher, CryptError};

/// kcp-go's fixed CFB initialisation vector (`initialVector` in `crypt.go`). Every packet
/// starts from it; the random nonce in the first block is what makes streams differ.
const CFB_IV: [u8; 16] = [
    0xa7, 0x73, 0x4f, 0x9c, 0x12, 0xac, 0x1b, 0x01, 0xa4, 0x15, 0xf2, 0xc1, 0xfc, 0x78, 0xe6, 0x6b,
];

/// Salsa20 takes the packet's first 8 bytes as its nonce and encrypts from byte 8 on.
const SALSA_NONCE_LEN: usize = 8;

/// The per-cipher key material. Key schedules zeroize themselves on drop (the `zeroize`
/// features of `aes`, `aes-gcm` and `polyval`); raw key bytes sit in [`Zeroizing`].
enum Engine {
    Null,
    None,
    Aes128(Aes128Enc),
    Aes192(Aes192Enc),
    Aes256(Aes256Enc),
    Salsa20(Zeroizing<[u8; 32]>),
    /// [`XOR_PAD_LEN`] bytes.
    Xor(Zeroizing<Vec<u8>>),
    Aes128Gcm(Box<Aes128Gcm>),
}

/// A kcp-go packet cipher with its key: [`seal`](Self::seal) turns a plaintext (the FEC/KCP
/// bytes) into the datagram kcp-go would send, [`open`](Self::open) turns a datagram from
/// kcp-go back into the plaintext. Sans-IO: no sockets, no clock; the only outside input is
/// the nonce generator, seeded from the OS once in [`new`](Self::new).
///
/// Datagram layouts (kcp-go v5.7 `sess.go`, `crypt.go`):
///
/// | cipher | datagram |
/// |---|---|
/// | `null` | `plain` |
/// | `none` | `nonce[16] ‖ crc32(plain) LE[4] ‖ plain` |
/// | `aes*` | AES-CFB-128 from a fixed IV over all of `nonce[16] ‖ crc[4] ‖ plain` |
/// | `salsa20` | `nonce[0..8]` in clear, then Salsa20 (nonce = those 8 bytes) over the rest |
/// | `xor` | all of `nonce[16] ‖ crc[4] ‖ plain` XORed with a 1472-byte pad (bytes past 1472 in clear) |
/// | `aes-128-gcm` | `nonce[12] ‖ AES-GCM(plain, no AAD) ‖ tag[16]` |
///
/// **Not secure**: malleable, no replay protection, no forward secrecy; see the
/// [crate docs](crate#security).
///
/// ```
/// use riptide_crypt::{kcptun_key, BlockCrypt, Cipher};
///
/// let key = kcptun_key("it's a secrect"); // kcptun's default --key
/// let mut tx = BlockCrypt::new(Cipher::Aes256, &key).unwrap();
/// let rx = BlockCrypt::new(Cipher::Aes256, &key).unwrap();
///
/// let mut datagram = Vec::new();
/// tx.seal(b"kcp segment bytes", &mut datagram);
/// assert_eq!(datagram.len(), 17 + tx.overhead());
///
/// let mut plain = Vec::new();
/// rx.open(&datagram, &mut plain).unwrap();
/// assert_eq!(plain, b"kcp segment bytes");
/// ```
pub struct BlockCrypt {
    cipher: Cipher,
    engine: Engine,
    /// Nonces: ChaCha12 seeded from the OS, as kcp-go uses an AES-CTR generator seeded from
    /// `crypto/rand` rather than a syscall per packet.
    rng: StdRng,
}

impl BlockCrypt {
    /// A cipher with its key. The key must be exactly [`Cipher::key_len`] bytes: 16 for
    /// `aes-128` and `aes-128-gcm`, 24 for `aes-192`, 32 for `aes`, `salsa20` and `xor` —
    /// which is what kcptun passes after deriving 32 bytes with [`kcptun_key`](crate::kcptun_key)
    /// and truncating (see [`BlockCrypt::kcptun`]). `null` and `none` ignore the key.
    ///
    /// For `xor` this runs PBKDF2 (32 rounds) to expand the key into its pad, as kcp-go does.
    ///
    /// # Errors
    /// [`CryptError::KeyLength`] when the key has another size.
    ///
    /// # Panics
    /// If the operating system's random source fails while seeding the nonce generator.
    pub fn new(cipher: Cipher, key: &[u8]) -> Result<BlockCrypt, CryptError> {
        let expected = cipher.key_len();
        let bad_key = || CryptError::KeyLength {
            cipher,
            expected,
            actual: key.len(),
        };
        if expected != 0 && key.len() != expected {
            return Err(bad_key());
        }
        let engine = match cipher {
            Cipher::Null => Engine::Null,
            Cipher::None => Engine::None,
            Cipher::Aes128 => {
                Engine::Aes128(Aes128Enc::new_from_slice(key).map_err(|_| bad_key())?)
            }
            Cipher::Aes192 => {
                Engine::Aes192(Aes192Enc::new_from_slice(key).map_err(|_| bad_key())?)
            }
            Cipher::Aes256 => {
                Engine::Aes256(Aes256Enc::new_from_slice(key).map_err(|_| bad_key())?)
            }
            Cipher::Salsa20 => {
                // Copied in place so no stray copy of the key is left on the stack.
                let mut k = Zeroizing::new([0u8; 32]);
                k.iter_mut().zip(key).for_each(|(d, s)| *d = *s);
                Engine::Salsa20(k)
            }
            Cipher::Xor => Engine::Xor(xor_pad(key)),
            Cipher::Aes128Gcm => Engine::Aes128Gcm(Box::new(
                Aes128Gcm::new_from_slice(key).map_err(|_| bad_key())?,
            )),
        };
        Ok(BlockCrypt {
            cipher,
            engine,
            rng: rand::make_rng(),
        })
    }

    /// The cipher kcptun would use for `--crypt cipher --key pass`: derives the key with
    /// [`kcptun_key`](crate::kcptun_key) and truncates it to [`Cipher::key_len`] bytes, as
    /// kcptun's `SelectBlockCrypt` does.
    ///
    /// # Panics
    /// As [`new`](Self::new): only if the OS random source fails.
    pub fn kcptun(cipher: Cipher, pass: &str) -> BlockCrypt {
        let key = Zeroizing::new(crate::kcptun_key(pass));
        let len = cipher.key_len();
        let key = key.get(..len).unwrap_or(key.as_slice());
        match BlockCrypt::new(cipher, key) {
            Ok(crypt) => crypt,
            // Every key_len() is at most 32, so the truncated key always has the right size.
            Err(e) => unreachable!("kcptun key of the wrong size: {e}"),
        }
    }

    /// The cipher this was built with.
    pub fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// Bytes [`seal`](Self::seal) adds to a plaintext; the same as [`Cipher::overhead`]:
    /// 0 (`null`), 20 (`none`, `aes*`, `salsa20`, `xor`) or 28 (`aes-128-gcm`).
    pub fn overhead(&self) -> usize {
        self.cipher.overhead()
    }

    /// Appends to `out` the datagram kcp-go would send for `plain` (its FEC header and KCP
    /// segments): exactly `plain.len() + self.overhead()` bytes. A fresh random nonce is
    /// drawn for every call. `out`'s existing bytes are left alone.
    ///
    /// # Panics
    /// Only for `aes-128-gcm` with a `plain` over 64 GiB (GCM's limit), far beyond any
    /// datagram.
    pub fn seal(&mut self, plain: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        match &self.engine {
            Engine::Null => out.extend_from_slice(plain),
            Engine::Aes128Gcm(gcm) => {
                out.reserve(plain.len().saturating_add(self.cipher.overhead()));
                let mut nonce = [0u8; GCM_NONCE_LEN];
                self.rng.fill_bytes(&mut nonce);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(plain);
                let (_, body) = out.split_at_mut(start);
                let (_, msg) = body.split_at_mut(GCM_NONCE_LEN);
                let tag = gcm
                    .encrypt_in_place_detached(&nonce.into(), &[], msg)
                    .expect("AES-GCM refuses only plaintexts over 64 GiB");
                out.extend_from_slice(&tag);
            }
            engine => {
                out.reserve(plain.len().saturating_add(HEADER_LEN));
                let mut nonce = [0u8; NONCE_LEN];
                self.rng.fill_bytes(&mut nonce);
                out.extend_from_slice(&nonce);
                out.extend_from_slice(&crc32fast::hash(plain).to_le_bytes());
                out.extend_from_slice(plain);
                let (_, packet) = out.split_at_mut(start);
                match engine {
                    Engine::Aes128(c) => cfb_encrypt(c, packet),
                    Engine::Aes192(c) => cfb_encrypt(c, packet),
                    Engine::Aes256(c) => cfb_encrypt(c, packet),
                    Engine::Salsa20(key) => {
                        if let Some((salsa_nonce, rest)) =
                            packet.split_first_chunk_mut::<SALSA_NONCE_LEN>()
                        {
                            let mut s = Salsa20::new((&**key).into(), (&*salsa_nonce).into());
                            s.apply_keystream(rest);
                        }
                    }
                    Engine::Xor(pad) => xor(packet, pad.as_slice()),
                    Engine::None | Engine::Null | Engine::Aes128Gcm(_) => {}
                }
            }
        }
    }

    /// Decrypts and checks one datagram and appends its plaintext (the bytes after the
    /// crypto header: FEC header and KCP segments) to `out`. On error `out` is left as it
    /// was. Never panics, whatever the bytes.
    ///
    /// A packet from kcp-go with the same cipher and key opens; anything else fails with
    /// overwhelming probability, but for every cipher other than `aes-128-gcm` that is a
    /// CRC-32 check, not authentication: see the [crate docs](crate#security).
    ///
    /// # Errors
    /// - [`CryptError::Truncated`]: shorter than [`overhead`](Self::overhead).
    /// - [`CryptError::Checksum`]: the CRC-32 does not match (all ciphers but `null` and
    ///   `aes-128-gcm`).
    /// - [`CryptError::Tag`]: the GCM tag does not match (`aes-128-gcm`).
    ///
    /// `null` accepts every packet, the empty one included.
    pub fn open(&self, packet: &[u8], out: &mut Vec<u8>) -> Result<(), CryptError> {
        let truncated = || CryptError::Truncated {
            len: packet.len(),
            min: self.cipher.overhead(),
        };
        let start = out.len();
        match &self.engine {
            Engine::Null => {
                out.extend_from_slice(packet);
                Ok(())
            }
            Engine::Aes128Gcm(gcm) => {
                let (nonce, rest) = packet
                    .split_first_chunk::<GCM_NONCE_LEN>()
                    .ok_or_else(truncated)?;
                let (ciphertext, tag) = rest
                    .split_last_chunk::<GCM_TAG_LEN>()
                    .ok_or_else(truncated)?;
                out.extend_from_slice(ciphertext);
                let (_, msg) = out.split_at_mut(start);
                let opened = gcm.decrypt_in_place_detached(nonce.into(), &[], msg, tag.into());
                if opened.is_err() {
                    out.truncate(start);
                    return Err(CryptError::Tag);
                }
                Ok(())
            }
            engine => {
                if packet.len() < HEADER_LEN {
                    return Err(truncated());
                }
                let (first_block, sealed) = packet
                    .split_first_chunk::<NONCE_LEN>()
                    .ok_or_else(truncated)?;
                // Only `crc ‖ plain` (bytes 16..) is decrypted: the nonce is not needed, and
                // every mode lets decryption start at byte 16 (see each arm).
                out.extend_from_slice(sealed);
                let (_, body) = out.split_at_mut(start);
                match engine {
                    // CFB decrypts block i with E(ciphertext block i-1): bytes 16.. decrypt
                    // exactly as in kcp-go's whole-buffer pass when the IV is block 0.
                    Engine::Aes128(c) => cfb_decrypt(c, first_block, body),
                    Engine::Aes192(c) => cfb_decrypt(c, first_block, body),
                    Engine::Aes256(c) => cfb_decrypt(c, first_block, body),
                    Engine::Salsa20(key) => {
                        let salsa_nonce = first_block
                            .first_chunk::<SALSA_NONCE_LEN>()
                            .ok_or_else(truncated)?;
                        let mut s = Salsa20::new((&**key).into(), salsa_nonce.into());
                        // Byte 16 of the packet is byte 8 of the keystream.
                        s.seek(NONCE_LEN.saturating_sub(SALSA_NONCE_LEN) as u64);
                        s.apply_keystream(body);
                    }
                    Engine::Xor(pad) => xor(body, pad.get(NONCE_LEN..).unwrap_or_default()),
                    Engine::None | Engine::Null | Engine::Aes128Gcm(_) => {}
                }
                let checked = body
                    .split_first_chunk::<CRC_LEN>()
                    .is_some_and(|(crc, plain)| u32::from_le_bytes(*crc) == crc32fast::hash(plain));
                if !checked {
                    out.truncate(start);
                    return Err(CryptError::Checksum);
                }
                out.drain(start..start.saturating_add(CRC_LEN));
                Ok(())
            }
        }
    }
}

impl fmt::Debug for BlockCrypt {
    /// Shows the cipher, never the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCrypt")
            .field("cipher", &self.cipher)
            .finish_non_exhaustive()
    }
}

// `cfb-mode` implements kcp-go's CFB exactly: full-segment CFB-128, and a partial last block
// XORed with the leading bytes of the next keystream block (its `AsyncStreamCipher` pads the
// tail internally and keeps only `tail.len()` bytes). The golden vectors cover odd lengths.

/// CFB-128 encryption of a whole packet from kcp-go's fixed IV.
fn cfb_encrypt<C: BlockEncrypt + BlockCipher + BlockSizeUser<BlockSize = U16> + Clone>(
    cipher: &C,
    buf: &mut [u8],
) where
    cfb_mode::Encryptor<C>: InnerIvInit<Inner = C> + IvSizeUser<IvSize = U16>,
{
    cfb_mode::Encryptor::<C>::inner_iv_init(cipher.clone(), (&CFB_IV).into()).encrypt(buf);
}

/// CFB-128 decryption of bytes 16.. of a packet, whose first (ciphertext) block is `iv`.
fn cfb_decrypt<C: BlockEncrypt + BlockCipher + BlockSizeUser<BlockSize = U16> + Clone>(
    cipher: &C,
    iv: &[u8; 16],
    buf: &mut [u8],
) where
    cfb_mode::Decryptor<C>: InnerIvInit<Inner = C> + IvSizeUser<IvSize = U16>,
{
    cfb_mode::Decryptor::<C>::inner_iv_init(cipher.clone(), iv.into()).decrypt(buf);
}

/// XORs `buf` with `pad` over their common length, like Go's `subtle.XORBytes`: bytes past
/// the pad's end stay as they are.
fn xor(buf: &mut [u8], pad: &[u8]) {
    for (b, p) in buf.iter_mut().zip(pad) {
        *b ^= p;
    }
}
