//! Fuzz harnesses, shared by the `cargo fuzz` target in `fuzz/` and by the regression test
//! that replays `tests/regressions/<target>/*` through the same functions. Each takes the
//! fuzzer's raw bytes and panics when an invariant breaks.
//!
//! - [`open`]: byte 0 picks the cipher (`Cipher::ALL[b % 8]`), the rest is a datagram.
//!
//! The keys are kcptun's derivation of [`PASS`], the passphrase of the golden vectors, so
//! the seeds made from kcp-go's packets get past the integrity check.
//!
//! Not part of the API (hidden, behind the `fuzzing` feature).
// Harness code: the fuzzer's input is not a peer, and a panic is how a harness reports.
#![allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]

use std::sync::OnceLock;

use crate::{BlockCrypt, Cipher};

/// The passphrase of the golden vectors (`tests/golden/`).
pub const PASS: &str = "riptide-golden";

/// One [`BlockCrypt`] per cipher, in [`Cipher::ALL`] order; built once (the key derivation
/// costs milliseconds).
fn crypts() -> &'static [BlockCrypt] {
    static CRYPTS: OnceLock<Vec<BlockCrypt>> = OnceLock::new();
    CRYPTS.get_or_init(|| {
        Cipher::ALL
            .into_iter()
            .map(|c| BlockCrypt::kcptun(c, PASS))
            .collect()
    })
}

/// `fuzz/fuzz_targets/open.rs`: opens the datagram with the chosen cipher. Checks that
/// `open` never panics, appends exactly `len - overhead` bytes on success and leaves the
/// output untouched on failure; then that sealing the datagram (as a plaintext) and opening
/// the result gives it back.
pub fn open(data: &[u8]) {
    let Some((&sel, packet)) = data.split_first() else {
        return;
    };
    let crypt = &crypts()[usize::from(sel) % Cipher::ALL.len()];
    let prefix = b"kept";
    let mut out = prefix.to_vec();
    match crypt.open(packet, &mut out) {
        Ok(()) => {
            assert!(packet.len() >= crypt.overhead());
            assert_eq!(out.len(), prefix.len() + packet.len() - crypt.overhead());
        }
        Err(_) => assert_eq!(out, prefix, "a failed open changed the output"),
    }
    assert_eq!(&out[..prefix.len()], prefix);

    roundtrip(usize::from(sel) % Cipher::ALL.len(), packet);
}

/// Seal then open `plain` with `Cipher::ALL[idx]`, through per-thread sealers (sealing needs `&mut`).
fn roundtrip(idx: usize, plain: &[u8]) {
    use std::cell::RefCell;
    thread_local! {
        static SEALERS: RefCell<Vec<BlockCrypt>> = RefCell::new(
            Cipher::ALL.into_iter().map(|c| BlockCrypt::kcptun(c, PASS)).collect(),
        );
    }
    let cipher = Cipher::ALL[idx];
    let mut sealed = Vec::new();
    SEALERS.with_borrow_mut(|s| s[idx].seal(plain, &mut sealed));
    assert_eq!(sealed.len(), plain.len() + cipher.overhead());
    let mut back = Vec::new();
    crypts()[idx]
        .open(&sealed, &mut back)
        .expect("own packet opens");
    assert_eq!(back, plain);
}
