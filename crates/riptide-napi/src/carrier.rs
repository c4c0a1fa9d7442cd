//! `DatagramCarrier` for JS: the engine's [`riptide::DatagramCarrier`] behind a class, named by
//! its id in listen and dial options (an object field cannot hold a class instance), and fed
//! in batches: JS packs the datagrams it received during a tick into one buffer and makes one
//! call. What the sessions send comes back as `EV_CARRIER` events (`batch.rs`).

use napi::{Env, Result};
use napi_derive::napi;
use riptide::{CarrierOptions, DatagramCarrier};
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, MutexGuard};

/// The carriers JS holds, by id, so listen and dial options can name them. A carrier leaves
/// when its JS object is collected.
fn registry() -> MutexGuard<'static, HashMap<u32, DatagramCarrier>> {
    static CARRIERS: LazyLock<Mutex<HashMap<u32, DatagramCarrier>>> =
        LazyLock::new(Default::default);
    // Nothing panics while holding it; a poisoned map is still consistent.
    CARRIERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// The carrier JS made with this id (`ERR_INVALID_ARG_VALUE` for one it does not hold).
pub fn lookup(id: u32) -> std::result::Result<DatagramCarrier, riptide::Error> {
    registry()
        .get(&id)
        .cloned()
        .ok_or_else(|| riptide::Error::InvalidOption(format!("no carrier {id}")))
}

/// A carrier's counters (`carrier.stats()`).
#[napi(object)]
pub struct NativeCarrierStats {
    pub received: f64,
    pub dropped: f64,
    pub sent: f64,
    pub send_dropped: f64,
    pub peers: f64,
}

/// One application carrier.
#[napi]
pub struct NativeCarrier {
    carrier: DatagramCarrier,
}

#[napi]
impl NativeCarrier {
    /// A carrier telling apart up to `maxPeers` peers, with up to `maxQueued` bytes waiting
    /// each way (TS checked both are integers; the ranges are checked here).
    #[napi(constructor)]
    pub fn new(env: Env, max_peers: u32, max_queued: f64) -> Result<Self> {
        let options = CarrierOptions {
            max_peers: max_peers as usize,
            // An integer TS checked; `as` saturates anything else, which the range refuses.
            max_queued: max_queued as usize,
        };
        let carrier = DatagramCarrier::new(options).map_err(|e| crate::throw(&env, e))?;
        registry().insert(carrier.id(), carrier.clone());
        Ok(NativeCarrier { carrier })
    }

    /// The carrier's id (what `EV_CARRIER` events and the options name it by).
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.carrier.id()
    }

    /// Hands the sessions `count` datagrams packed in `packed`, each as a 1-byte peer length,
    /// a 4-byte little-endian datagram length, the peer, then the datagram. Returns how many
    /// were dropped (the queue full, or no listener or dial served). A malformed pack, a bad
    /// peer or an oversize datagram throws (TS checked them already).
    #[napi]
    pub fn receive(&self, env: Env, count: u32, packed: &[u8]) -> Result<u32> {
        let mut rest = packed;
        let mut dropped = 0u32;
        for _ in 0..count {
            let Some((peer, datagram, tail)) = unpack(rest) else {
                return Err(crate::throw(
                    &env,
                    riptide::Error::InvalidOption("a malformed carrier batch".into()),
                ));
            };
            let peer = std::str::from_utf8(peer).unwrap_or_default();
            match self.carrier.receive(datagram, peer) {
                Ok(true) => {}
                Ok(false) => dropped += 1,
                Err(e) => return Err(crate::throw(&env, e)),
            }
            rest = tail;
        }
        Ok(dropped)
    }

    /// The counters now.
    #[napi]
    pub fn stats(&self) -> NativeCarrierStats {
        let s = self.carrier.stats();
        NativeCarrierStats {
            received: s.received as f64,
            dropped: s.dropped as f64,
            sent: s.sent as f64,
            send_dropped: s.send_dropped as f64,
            peers: s.peers as f64,
        }
    }
}

impl Drop for NativeCarrier {
    /// Collected by JS: the options can no longer name it (a listener or dial that has it
    /// keeps its own handle).
    fn drop(&mut self) {
        registry().remove(&self.carrier.id());
    }
}

/// The first packed datagram of `bytes`: its peer, its bytes and what follows; `None` when
/// the pack is cut short.
fn unpack(bytes: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let (&peer_len, rest) = bytes.split_first()?;
    let (len, rest) = rest.split_first_chunk::<4>()?;
    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
    let (peer, rest) = rest.split_at_checked(usize::from(peer_len))?;
    let (datagram, rest) = rest.split_at_checked(len)?;
    Some((peer, datagram, rest))
}
