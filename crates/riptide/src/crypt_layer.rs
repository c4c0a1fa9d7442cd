//! kcp-go's packet encryption ([`riptide_crypt::BlockCrypt`]) as the bottom packet layer of a
//! KCP session: byte-compatible with unmodified kcp-go and kcptun, and *not* secure (no
//! authentication but GCM's tag, no replay protection, no forward secrecy). Riptide's own
//! secure mode is the one to use between riptide peers.

use crate::layer::{Datagrams, PacketLayer, Payload};
use crate::Error;
use riptide_crypt::BlockCrypt;
use std::time::Instant;

/// Seals and opens whole datagrams with one of kcp-go's ciphers.
pub(crate) struct CryptLayer {
    crypt: BlockCrypt,
    /// Scratch buffer one datagram is sealed or opened into.
    scratch: Vec<u8>,
}

impl CryptLayer {
    /// A layer with its own cipher state (its own nonce generator).
    pub(crate) fn new(crypt: BlockCrypt) -> CryptLayer {
        CryptLayer {
            crypt,
            scratch: Vec::new(),
        }
    }
}

impl PacketLayer for CryptLayer {
    fn overhead(&self) -> usize {
        self.crypt.overhead()
    }

    fn seal(&mut self, _: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        self.scratch.clear();
        self.crypt.seal(datagram, &mut self.scratch);
        out.push_as(payload, &self.scratch);
    }

    fn open(
        &mut self,
        _: Instant,
        payload: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        self.scratch.clear();
        self.crypt
            .open(datagram, &mut self.scratch)
            .map_err(|e| Error::InvalidOption(format!("kcp crypt: {e}")))?;
        out.push_as(payload, &self.scratch);
        Ok(())
    }
}
