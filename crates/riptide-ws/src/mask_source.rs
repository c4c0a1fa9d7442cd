//! Masking keys for a client's frames: unpredictable (RFC 6455 §5.3 and §10.3), drawn from
//! the system's random source 64 keys at a time so a small message costs no system call.

use crate::Error;

/// A pool of random bytes handed out four at a time.
#[derive(Debug)]
pub struct MaskSource {
    pool: [u8; 256],
    used: usize,
}

impl Default for MaskSource {
    fn default() -> Self {
        Self {
            pool: [0; 256],
            used: 256,
        }
    }
}

impl MaskSource {
    /// The next masking key.
    pub fn next_key(&mut self) -> Result<[u8; 4], Error> {
        if self.used >= self.pool.len() {
            getrandom::fill(&mut self.pool).map_err(|e| Error::Random(e.to_string()))?;
            self.used = 0;
        }
        let end = self.used.saturating_add(4);
        let mut key = [0u8; 4];
        key.copy_from_slice(
            self.pool
                .get(self.used..end)
                .ok_or(Error::Random("pool".into()))?,
        );
        self.used = end;
        Ok(key)
    }
}
