//! kcp-go's forward error correction ([`riptide_fec`]) as a packet layer: every KCP datagram
//! is a data shard, parity follows each set, and a lost datagram is rebuilt from the rest of
//! its set ([`Payload::Recovered`]: KCP takes it without an RTT sample). Messages of the
//! unreliable channel travel as kcp-go's out-of-band shards. Byte-compatible with kcp-go.

use crate::layer::{Datagrams, PacketLayer, Payload};
use crate::Error;
use riptide_fec::{Decoder, Encoder, Recovered};
use std::time::Instant;

/// One session's FEC encoder and decoder.
pub(crate) struct FecLayer {
    encoder: Encoder,
    decoder: Decoder,
    /// Time zero of the millisecond clock the 500 ms parity rule runs on.
    epoch: Instant,
    /// The session's conv, learned from its first KCP datagram: out-of-band shards carry it.
    conv: Option<u32>,
}

impl FecLayer {
    /// A layer sending `data_shards` + `parity_shards` per set (the receiver adapts to the
    /// peer's counts by itself).
    pub(crate) fn new(data_shards: usize, parity_shards: usize) -> Result<FecLayer, Error> {
        let invalid = |e: riptide_fec::FecError| Error::InvalidOption(format!("kcp fec: {e}"));
        Ok(FecLayer {
            encoder: Encoder::new(data_shards, parity_shards).map_err(invalid)?,
            decoder: Decoder::new(data_shards, parity_shards).map_err(invalid)?,
            epoch: Instant::now(),
            conv: None,
        })
    }

    fn ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }
}

impl PacketLayer for FecLayer {
    fn overhead(&self) -> usize {
        self.encoder.overhead()
    }

    fn seal(&mut self, now: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        let ms = self.ms(now);
        let mut push = |shard: &[u8]| out.push(shard);
        // A datagram FEC cannot carry (longer than kcp-go's 1500 bytes) is dropped: KCP
        // retransmits, the unreliable channel loses it.
        let _ = match payload {
            Payload::Unreliable => match self.conv {
                Some(conv) => self.encoder.encode_oob(conv, datagram, &mut push),
                None => Ok(()),
            },
            Payload::Kcp | Payload::Recovered => {
                self.conv = self.conv.or_else(|| riptide_kcp::conv_of(datagram));
                self.encoder.encode(ms, datagram, &mut push)
            }
        };
    }

    fn open(
        &mut self,
        now: Instant,
        payload: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        if payload == Payload::Unreliable {
            // A layer under this one marked it already.
            out.push_as(payload, datagram);
            return Ok(());
        }
        let ms = self.ms(now);
        let conv = &mut self.conv;
        self.decoder
            .decode(
                ms,
                datagram,
                &mut |inner: &[u8], recovered| match recovered {
                    Recovered::No => {
                        *conv = conv.or_else(|| riptide_kcp::conv_of(inner));
                        out.push(inner);
                    }
                    Recovered::Yes => out.push_as(Payload::Recovered, inner),
                    Recovered::Oob { .. } => out.push_as(Payload::Unreliable, inner),
                },
            )
            .map_err(|e| Error::InvalidOption(format!("kcp fec: {e}")))
    }

    fn carries_unreliable(&self) -> bool {
        true
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let (tx, rx) = (self.encoder.stats(), self.decoder.stats());
        vec![
            ("fecDataShards", tx.data_shards),
            ("fecParitySent", tx.parity_sent),
            ("fecParityReceived", rx.parity_received),
            ("fecShardSets", rx.shard_sets),
            ("fecFullShardSets", rx.full_shard_sets),
            ("fecRecovered", rx.recovered),
            ("fecErrors", rx.errors),
            ("fecOob", rx.oob),
        ]
    }
}
