//! An established session's packet protection: ChaCha20-Poly1305 with the packet counter as
//! an explicit nonce, a replay window, and a one-way key ratchet per direction.
//!
//! Why not snow's transport: its stateful `TransportState` takes an implicit, strictly
//! in-order nonce, which a lossy, reordering datagram path breaks; and we want the counter in
//! the header (AAD) so the receiver knows the nonce, plus our own rekey schedule.
//!
//! Nonce uniqueness: the counter is a per-direction packet number that starts at 0, only
//! grows (across rekeys too) and is refused from 2^64 − 2^13 on, so no `(key, nonce)` pair
//! ever repeats, whatever the epochs do. The rekey is Noise's `REKEY(k)` (encrypt 32 zero
//! bytes under nonce 2^64 − 1, a nonce data never uses); the old key is zeroized once the
//! receiver's grace period is over, so a stolen current key does not open older traffic.

use std::time::{Duration, Instant};

use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce, Tag};
use zeroize::Zeroizing;

use crate::packet::{Header, PacketType, HEADER_LEN, MAX_PAYLOAD, OVERHEAD, TAG_LEN};
use crate::replay::{ReplayWindow, REJECT_AFTER};
use crate::SecureError;

/// A 32-byte symmetric key, zeroized on drop.
pub(crate) type Key = Zeroizing<[u8; 32]>;

/// How far ahead of its current epoch a receiver follows the sender's key ratchet (the
/// sender rekeyed this many times while none of its packets arrived). A bound, so that a
/// forged epoch byte costs at most this many ratchet steps; beyond it only a new handshake
/// recovers (8 × 120 s of sending with nothing arriving: the session is dead anyway).
pub(crate) const MAX_EPOCHS_AHEAD: u8 = 8;

/// What a transport packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A KCP datagram (reliable channel).
    Data,
    /// A datagram outside KCP (the unreliable channel).
    Unreliable,
    /// A liveness packet; usually empty.
    Keepalive,
}

impl Kind {
    fn packet_type(self) -> PacketType {
        match self {
            Self::Data => PacketType::Data,
            Self::Unreliable => PacketType::Unreliable,
            Self::Keepalive => PacketType::Keepalive,
        }
    }

    fn from_packet_type(t: PacketType) -> Option<Self> {
        match t {
            PacketType::Data => Some(Self::Data),
            PacketType::Unreliable => Some(Self::Unreliable),
            PacketType::Keepalive => Some(Self::Keepalive),
            _ => None,
        }
    }
}

/// What [`Transport::open`] authenticated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Opened {
    /// Which channel the payload belongs to.
    pub kind: Kind,
    /// True when the counter is above every counter opened before: only such a packet
    /// should move the session to a new peer address (NAT rebinding), so a replayed-late or
    /// reordered packet from an old address cannot pull the session back.
    pub newest: bool,
    /// The packet's counter (the sender's packet number).
    pub counter: u64,
}

/// Rekey schedule and liveness of a transport. Both sides should use the same values, but
/// nothing breaks if they differ: each side ratchets its own sending key and the receiver
/// follows the epoch byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TransportConfig {
    /// Ratchet the sending key after this many packets under one key. Default 2^24.
    pub rekey_after_packets: u64,
    /// Ratchet the sending key when it is this old (checked when sealing). Default 120 s,
    /// as WireGuard.
    pub rekey_after: Duration,
    /// How long a receiver keeps the previous receiving key after the peer moved to a new
    /// one, so packets reordered across the rekey still open. Default 10 s.
    pub previous_key_grace: Duration,
    /// [`Transport::needs_keepalive`] is true after this long without sending. Default 10 s.
    pub keepalive_interval: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            rekey_after_packets: 1 << 24,
            rekey_after: Duration::from_secs(120),
            previous_key_grace: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(10),
        }
    }
}

impl TransportConfig {
    pub(crate) fn validate(&self) -> Result<(), SecureError> {
        if self.rekey_after_packets == 0 {
            return Err(SecureError::BadConfig(
                "rekey_after_packets must be at least 1",
            ));
        }
        if self.rekey_after.is_zero() || self.keepalive_interval.is_zero() {
            return Err(SecureError::BadConfig(
                "rekey_after and keepalive_interval must be positive",
            ));
        }
        Ok(())
    }
}

/// Counters of one transport, for metrics and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TransportStats {
    /// Packets sealed.
    pub sealed: u64,
    /// Packets opened successfully.
    pub opened: u64,
    /// Packets refused because the tag did not verify.
    pub unauthenticated: u64,
    /// Packets refused by the replay window.
    pub replayed: u64,
    /// Packets refused because their epoch's key is gone or too far ahead.
    pub stale_key: u64,
    /// Packets refused as malformed or for another session.
    pub malformed: u64,
    /// Times the sending key was ratcheted.
    pub send_rekeys: u64,
    /// Times the receiving key followed the peer's ratchet.
    pub recv_rekeys: u64,
}

struct PreviousKey {
    key: Key,
    expires: Instant,
}

/// One established session's packet protection, the same type on both sides: seals outgoing
/// payloads into packets and opens incoming packets after checking authenticity and replay.
///
/// Made by a finished handshake ([`Initiator`](crate::Initiator) on the client,
/// [`Endpoint`](crate::Endpoint) on the server). Keys are zeroized on drop. Not `Clone`:
/// two copies would seal different payloads under the same nonce.
pub struct Transport {
    id: u32,
    config: TransportConfig,
    send_key: Key,
    send_epoch: u8,
    send_counter: u64,
    epoch_packets: u64,
    epoch_started: Instant,
    recv_key: Key,
    recv_epoch: u8,
    previous: Option<PreviousKey>,
    window: ReplayWindow,
    last_sent: Instant,
    last_received: Instant,
    stats: TransportStats,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("id", &self.id)
            .field("send_epoch", &self.send_epoch)
            .field("recv_epoch", &self.recv_epoch)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn nonce(counter: u64) -> Nonce {
    let mut n = [0u8; 12];
    let [_, _, _, _, rest @ ..] = &mut n;
    *rest = counter.to_le_bytes();
    Nonce::from(n)
}

/// Noise's `REKEY(k)`: the first 32 bytes of `ENCRYPT(k, 2^64 - 1, "", zeros)`.
fn ratchet(key: &Key) -> Key {
    let mut next: Key = Zeroizing::new([0u8; 32]);
    let cipher = ChaCha20Poly1305::new(key.as_ref().into());
    // Encrypting 32 bytes cannot exceed the cipher's length limit.
    let _tag = cipher.encrypt_in_place_detached(&nonce(u64::MAX), &[], next.as_mut_slice());
    next
}

impl Transport {
    pub(crate) fn new(
        id: u32,
        send_key: Key,
        recv_key: Key,
        config: TransportConfig,
        now: Instant,
    ) -> Self {
        Self {
            id,
            config,
            send_key,
            send_epoch: 0,
            send_counter: 0,
            epoch_packets: 0,
            epoch_started: now,
            recv_key,
            recv_epoch: 0,
            previous: None,
            window: ReplayWindow::new(),
            last_sent: now,
            last_received: now,
            stats: TransportStats::default(),
        }
    }

    /// Bytes a packet adds to its payload (16-byte header + 16-byte tag = 32). The engine
    /// gives KCP an MTU this much smaller than the path's.
    pub fn overhead() -> usize {
        OVERHEAD
    }

    /// The session id (server-assigned, never 0), carried in every packet's header; the
    /// engine's session table key and the KCP `conv`.
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Encrypts `payload` as one packet of `kind` into `out` (its old contents are
    /// replaced): header, ciphertext, tag. Ratchets the sending key first when the rekey
    /// schedule says so.
    ///
    /// # Errors
    /// [`SecureError::PayloadTooLarge`] above [`MAX_PAYLOAD`];
    /// [`SecureError::CounterExhausted`] when the counter space is used up (a new handshake
    /// is needed). `out` is left empty on error.
    pub fn seal(
        &mut self,
        now: Instant,
        kind: Kind,
        payload: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SecureError> {
        out.clear();
        if payload.len() > MAX_PAYLOAD {
            return Err(SecureError::PayloadTooLarge);
        }
        if self.send_counter >= REJECT_AFTER {
            return Err(SecureError::CounterExhausted);
        }
        if self.epoch_packets >= self.config.rekey_after_packets
            || now.saturating_duration_since(self.epoch_started) >= self.config.rekey_after
        {
            self.send_key = ratchet(&self.send_key);
            self.send_epoch = self.send_epoch.wrapping_add(1);
            self.epoch_packets = 0;
            self.epoch_started = now;
            self.stats.send_rekeys = self.stats.send_rekeys.saturating_add(1);
        }
        let header = Header {
            typ: kind.packet_type(),
            epoch: self.send_epoch,
            receiver_id: self.id,
            counter: self.send_counter,
        }
        .encode();
        out.reserve(payload.len().saturating_add(OVERHEAD));
        out.extend_from_slice(&header);
        out.extend_from_slice(payload);
        let cipher = ChaCha20Poly1305::new(self.send_key.as_ref().into());
        let body = out.get_mut(HEADER_LEN..).unwrap_or_default();
        let tag = match cipher.encrypt_in_place_detached(&nonce(self.send_counter), &header, body) {
            Ok(tag) => tag,
            Err(_) => {
                out.clear();
                return Err(SecureError::PayloadTooLarge);
            }
        };
        out.extend_from_slice(&tag);
        // Below REJECT_AFTER, so no overflow.
        self.send_counter = self.send_counter.saturating_add(1);
        self.epoch_packets = self.epoch_packets.saturating_add(1);
        self.last_sent = now;
        self.stats.sealed = self.stats.sealed.saturating_add(1);
        Ok(())
    }

    /// Authenticates and decrypts one packet into `out` (its old contents are replaced).
    /// The tag and the replay window are checked before any byte is returned; the window is
    /// marked only after the tag verified, and the receiving key follows the peer's ratchet
    /// only then.
    ///
    /// # Errors
    /// One of the per-packet errors ([`SecureError::Malformed`],
    /// [`SecureError::UnexpectedPacket`], [`SecureError::WrongId`],
    /// [`SecureError::Replay`], [`SecureError::StaleKey`],
    /// [`SecureError::Unauthenticated`]); `out` is empty and the transport unchanged
    /// (except its counters).
    pub fn open(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Opened, SecureError> {
        out.clear();
        let result = self.open_inner(now, packet, out);
        if let Err(e) = result {
            out.clear();
            let counter = match e {
                SecureError::Unauthenticated => &mut self.stats.unauthenticated,
                SecureError::Replay => &mut self.stats.replayed,
                SecureError::StaleKey => &mut self.stats.stale_key,
                _ => &mut self.stats.malformed,
            };
            *counter = counter.saturating_add(1);
        }
        result
    }

    fn open_inner(
        &mut self,
        now: Instant,
        packet: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Opened, SecureError> {
        let h = Header::decode(packet)?;
        let kind = Kind::from_packet_type(h.typ).ok_or(SecureError::UnexpectedPacket)?;
        if h.receiver_id != self.id {
            return Err(SecureError::WrongId);
        }
        let body = packet.get(HEADER_LEN..).unwrap_or_default();
        let ciphertext_len = body
            .len()
            .checked_sub(TAG_LEN)
            .ok_or(SecureError::Malformed)?;
        let (ciphertext, tag) = body.split_at(ciphertext_len);
        if !self.window.check(h.counter) {
            return Err(SecureError::Replay);
        }
        if self.previous.as_ref().is_some_and(|p| now >= p.expires) {
            self.previous = None;
        }
        let ahead = h.epoch.wrapping_sub(self.recv_epoch);
        // For a packet from a later epoch: (the key just before it, its key). The key just
        // before becomes the previous key, so the previous key is always `recv_epoch - 1`.
        let mut advance: Option<(Key, Key)> = None;
        let key: &Key = match ahead {
            0 => &self.recv_key,
            u8::MAX => &self.previous.as_ref().ok_or(SecureError::StaleKey)?.key,
            1..=MAX_EPOCHS_AHEAD => {
                let mut before = Zeroizing::new(*self.recv_key);
                let mut k = ratchet(&self.recv_key);
                for _ in 1..ahead {
                    let next = ratchet(&k);
                    before = std::mem::replace(&mut k, next);
                }
                &advance.insert((before, k)).1
            }
            _ => return Err(SecureError::StaleKey),
        };
        let cipher = ChaCha20Poly1305::new(key.as_ref().into());
        out.extend_from_slice(ciphertext);
        let header: &[u8] = packet.get(..HEADER_LEN).unwrap_or_default();
        cipher
            .decrypt_in_place_detached(&nonce(h.counter), header, out, Tag::from_slice(tag))
            .map_err(|_| SecureError::Unauthenticated)?;
        let newest = self.window.mark(h.counter);
        if let Some((before, k)) = advance {
            self.recv_key = k;
            self.previous = Some(PreviousKey {
                key: before,
                expires: now
                    .checked_add(self.config.previous_key_grace)
                    .unwrap_or(now),
            });
            self.recv_epoch = h.epoch;
            self.stats.recv_rekeys = self.stats.recv_rekeys.saturating_add(1);
        }
        self.last_received = now;
        self.stats.opened = self.stats.opened.saturating_add(1);
        Ok(Opened {
            kind,
            newest,
            counter: h.counter,
        })
    }

    /// True when nothing was sealed for [`TransportConfig::keepalive_interval`]: the engine
    /// then seals a [`Kind::Keepalive`] (an idle KCP session sends nothing, and NAT bindings
    /// expire).
    pub fn needs_keepalive(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.last_sent) >= self.config.keepalive_interval
    }

    /// When a packet was last sealed.
    pub fn last_sent(&self) -> Instant {
        self.last_sent
    }

    /// When a packet last opened successfully (the handshake's end before that): for the
    /// engine's liveness timeout.
    pub fn last_received(&self) -> Instant {
        self.last_received
    }

    /// The transport's counters.
    pub fn stats(&self) -> TransportStats {
        self.stats
    }

    /// The current sending and receiving epochs (key generations, wrapping at 256).
    pub fn epochs(&self) -> (u8, u8) {
        (self.send_epoch, self.recv_epoch)
    }

    #[cfg(test)]
    pub(crate) fn send_key_bytes(&self) -> [u8; 32] {
        *self.send_key
    }

    #[cfg(test)]
    pub(crate) fn set_send_counter(&mut self, counter: u64) {
        self.send_counter = counter;
    }
}

/// A connected pair for unit tests: `(client, server)`.
#[cfg(test)]
pub(crate) fn test_pair(config: TransportConfig, now: Instant) -> (Transport, Transport) {
    let a: Key = Zeroizing::new([1; 32]);
    let b: Key = Zeroizing::new([2; 32]);
    (
        Transport::new(77, a.clone(), b.clone(), config, now),
        Transport::new(77, b, a, config, now),
    )
}

#[cfg(test)]
mod tests;
