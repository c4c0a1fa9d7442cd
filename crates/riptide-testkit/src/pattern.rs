//! Test data: bytes that differ per seed and reproduce on every run.

/// `len` pseudo-random bytes from `seed` (xorshift64): data that differs per seed and
/// reproduces on every run, so a failure can be replayed.
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
