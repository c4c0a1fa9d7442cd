//! The server side, one per listener: answers inits (or, under load, sends stateless cookie
//! replies), keeps answered handshakes in a bounded table until the client's first packet
//! proves its address, and routes transport packets to sessions by id.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::allowed_clients::AllowedClients;
use crate::handshake::{
    cookie, cookie_key, mac, mac1_key, mac_eq, noise_params, seal_cookie_reply, PROLOGUE,
};
use crate::keys::PrivateKey;
use crate::packet::{
    with_generation, Header, PacketType, HEADER_LEN, INIT_IK_LEN, INIT_LEN, MAC_LEN,
    NOISE_INIT_IK_LEN, NOISE_INIT_LEN, NOISE_RESPONSE_LEN, RESPONSE_LEN,
};
use crate::transport::{Opened, Transport, TransportConfig};
use crate::SecureError;

/// Settings of an [`Endpoint`]. [`ServerConfig::new`] gives the defaults.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The server's static private key; clients pin its public key.
    pub private_key: PrivateKey,
    /// `None` (the default): clients are anonymous, handshakes are Noise NK and IK inits are
    /// dropped ([`DropReason::UnexpectedType`]). `Some`: only clients whose static public key
    /// is in the set may handshake (Noise IK); NK inits are dropped. Keep a clone to update
    /// the set at runtime; see [`AllowedClients`] for what a removal does.
    pub allowed_clients: Option<AllowedClients>,
    /// Keys and rekey schedule of accepted sessions.
    pub transport: TransportConfig,
    /// Hard cap of answered handshakes waiting for the client's first packet. When full,
    /// new inits are dropped ([`DropReason::TableFull`]). Default 2048.
    pub max_pending: usize,
    /// Under load from this many pending handshakes on: inits need a valid cookie (mac2).
    /// Default 128 (wireguard-go's queue threshold).
    pub under_load_pending: usize,
    /// Under load when more handshakes (Diffie-Hellman computations) than this were done in
    /// the current second. Default 1000.
    pub handshake_rate: u32,
    /// Under load, handshakes per second from one source IP even with a valid cookie
    /// (the cookie proves the address, not that it is polite). Default 8.
    pub per_ip_handshake_rate: u32,
    /// How long an answered handshake waits for the client's first packet. Default 15 s
    /// (about the client's resend schedule).
    pub pending_timeout: Duration,
    /// How often the cookie secret is replaced; a cookie is valid until the secret after its
    /// own is replaced (one to two rotations). Default 120 s, as WireGuard.
    pub cookie_rotation: Duration,
    /// The generation every session id this endpoint hands out carries in its low byte
    /// ([`id_generation`](crate::id_generation)): the serving process's upgrade generation, so
    /// a reuseport program can give a datagram to the process that owns its session during an
    /// upgrade in place. The other 24 bits stay random. Default 0.
    pub generation: u8,
}

impl ServerConfig {
    /// The defaults with this key.
    pub fn new(private_key: PrivateKey) -> Self {
        Self {
            private_key,
            allowed_clients: None,
            transport: TransportConfig::default(),
            max_pending: 2048,
            under_load_pending: 128,
            handshake_rate: 1000,
            per_ip_handshake_rate: 8,
            pending_timeout: Duration::from_secs(15),
            cookie_rotation: Duration::from_secs(120),
            generation: 0,
        }
    }
}

/// Why [`Endpoint::handle`] dropped a packet. Each reason is counted in
/// [`EndpointStats::dropped`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Bad header, wrong length for its type, non-zero padding.
    Malformed,
    /// A type a server never receives (response, cookie reply), or an init of the other
    /// pattern than this server's (NK to a server with an allowlist, IK to one without).
    UnexpectedType,
    /// An init whose mac1 is wrong: not made for this server's key.
    BadMac,
    /// The init's Noise message did not process.
    HandshakeFailed,
    /// The first packet of a pending handshake did not authenticate.
    Unauthenticated,
    /// The first packet of a pending handshake was refused by its replay window.
    Replay,
    /// A transport packet for an id that is neither live nor pending.
    UnknownId,
    /// Under load, the source IP exceeded its handshakes per second.
    RateLimited,
    /// The pending table is full (or no free id was found).
    TableFull,
    /// An IK init (or the first packet after it) from a client whose static key is not in
    /// [`ServerConfig::allowed_clients`]; no answer is sent.
    UnknownClient,
}

impl DropReason {
    /// Every reason, in [`DropCounts`] order.
    pub const ALL: [DropReason; 10] = [
        Self::Malformed,
        Self::UnexpectedType,
        Self::BadMac,
        Self::HandshakeFailed,
        Self::Unauthenticated,
        Self::Replay,
        Self::UnknownId,
        Self::RateLimited,
        Self::TableFull,
        Self::UnknownClient,
    ];
}

/// Dropped packets per [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::ALL.len()]);

impl DropCounts {
    /// Packets dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0.get(reason as usize).copied().unwrap_or(0)
    }

    /// Packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.iter().fold(0u64, |a, b| a.saturating_add(*b))
    }

    fn add(&mut self, reason: DropReason) {
        if let Some(c) = self.0.get_mut(reason as usize) {
            *c = c.saturating_add(1);
        }
    }
}

/// Counters of an [`Endpoint`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Inits received with a valid length (before any other check).
    pub inits: u64,
    /// Handshake responses sent (a resent cached response included).
    pub responses: u64,
    /// Cookie replies sent.
    pub cookie_replies: u64,
    /// Handshakes completed by the client's first packet ([`Incoming::Accept`]).
    pub accepted: u64,
    /// Packets routed to live sessions ([`Incoming::Session`]).
    pub session_packets: u64,
    /// Dropped packets per reason.
    pub dropped: DropCounts,
    /// Bytes of every handshake packet received (their sources are not validated yet).
    pub unvalidated_rx_bytes: u64,
    /// Bytes sent in reply to them. Never above `unvalidated_rx_bytes` (anti-amplification;
    /// every single reply is also at most as long as the packet it answers).
    pub unvalidated_tx_bytes: u64,
    /// Handshakes pending now.
    pub pending: usize,
    /// Sessions live now (accepted and not [released](Endpoint::release)).
    pub live: usize,
}

/// What [`Endpoint::handle`] made of a packet.
#[derive(Debug)]
pub enum Incoming {
    /// A transport packet for the live session with this id: open it with that session's
    /// [`Transport::open`] (the endpoint did not authenticate it). If it opens with
    /// [`Opened::newest`] from a new address, the peer moved (NAT rebinding).
    Session(u32),
    /// The client's first packet of a handshake answered earlier opened with the pending
    /// transport: the client received our response at its address. Create the session now
    /// with this id (the KCP `conv`) and transport, and process `payload` as `opened.kind`.
    Accept {
        /// The session id.
        id: u32,
        /// The session's transport (boxed: it is large and moves once).
        transport: Box<Transport>,
        /// What the first packet was.
        opened: Opened,
        /// The first packet's payload.
        payload: Vec<u8>,
        /// The client's static public key when the server has an allowlist (Noise IK),
        /// `None` for anonymous (NK) clients: to tell clients apart, and to close a
        /// client's sessions after removing its key.
        client_key: Option<[u8; 32]>,
    },
    /// `reply` holds a datagram to send back to the packet's source: a handshake response
    /// or a cookie reply, never longer than the packet it answers.
    Reply,
    /// The packet was dropped (and counted).
    Drop(DropReason),
}

struct Pending {
    transport: Transport,
    ephemeral: [u8; 32],
    client_key: Option<[u8; 32]>,
    response: [u8; RESPONSE_LEN],
    expires: Instant,
}

/// Memory the endpoint holds per pending handshake, for the bound in [`Endpoint`]'s docs.
pub const PENDING_ENTRY_BYTES: usize =
    std::mem::size_of::<(u32, Pending)>() + std::mem::size_of::<([u8; 32], u32)>();

/// The server side of secure mode, one per listener. Sans-IO: the engine gives it every
/// datagram that arrives on the listener's socket and sends what it returns.
///
/// Bounds one peer (or a flood from many spoofed addresses) can cost:
/// - Memory: at most [`ServerConfig::max_pending`] pending handshakes of
///   [`PENDING_ENTRY_BYTES`] each (988 bytes on x86-64; with hash-table slack ≈ 1.15 KiB,
///   so ≈ 2.3 MiB at the default 2048), a per-IP rate table of at most the same number of
///   entries (≈ 24 bytes each, cleared every second), and the set of live ids (4 bytes per
///   session the engine holds). No state at all for an init answered with a cookie reply.
/// - CPU: at most [`ServerConfig::handshake_rate`] Diffie-Hellman handshakes (2 X25519
///   operations each) per second from senders that did not prove their address; beyond
///   that, per init one BLAKE2s (mac1) and, for a cookie reply, one more BLAKE2s and one
///   XChaCha20-Poly1305 of 16 bytes. A source that proved its address gets at most
///   [`ServerConfig::per_ip_handshake_rate`] handshakes per second under load. A resent or
///   replayed init (same client ephemeral key) is answered from the cache, without DH.
/// - Bytes: every reply is at most as long as the packet it answers (an init is padded to
///   128 bytes, an IK init is 144; the response is 68, a cookie reply 72).
/// - An unlisted client key costs the same DH work as a listed one (the key is only known
///   after decrypting message 1) and gets no reply, so the limits above cover it.
pub struct Endpoint {
    config: ServerConfig,
    public_key: [u8; 32],
    mac1_key: [u8; 32],
    cookie_key: [u8; 32],
    secret: Zeroizing<[u8; 32]>,
    previous_secret: Zeroizing<[u8; 32]>,
    rotated_at: Instant,
    pending: HashMap<u32, Pending>,
    by_ephemeral: HashMap<[u8; 32], u32>,
    live: HashSet<u32>,
    second_started: Option<Instant>,
    handshakes_this_second: u32,
    per_ip: HashMap<IpAddr, u32>,
    stats: EndpointStats,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn random_secret() -> Result<Zeroizing<[u8; 32]>, SecureError> {
    let mut s = Zeroizing::new([0u8; 32]);
    getrandom::fill(s.as_mut_slice()).map_err(|_| SecureError::Random)?;
    Ok(s)
}

impl Endpoint {
    /// Makes an endpoint. `now` is only the start of the cookie rotation clock; the first
    /// [`handle`](Endpoint::handle) call may pass any later instant.
    ///
    /// # Errors
    /// [`SecureError::BadConfig`] for zero limits or intervals, or `under_load_pending`
    /// above `max_pending`; [`SecureError::Random`] if the OS random source fails.
    pub fn new(config: ServerConfig, now: Instant) -> Result<Self, SecureError> {
        let public_key = config.private_key.public_key();
        Self::with_public_key(config, public_key, now)
    }

    /// [`Endpoint::new`] with the public key already derived (saves a scalar multiplication
    /// where endpoints are made in a loop: the fuzz harness).
    pub(crate) fn with_public_key(
        config: ServerConfig,
        public_key: [u8; 32],
        now: Instant,
    ) -> Result<Self, SecureError> {
        config.transport.validate()?;
        if config.max_pending == 0 || config.under_load_pending > config.max_pending {
            return Err(SecureError::BadConfig(
                "max_pending must be positive and at least under_load_pending",
            ));
        }
        if config.pending_timeout.is_zero() || config.cookie_rotation.is_zero() {
            return Err(SecureError::BadConfig(
                "pending_timeout and cookie_rotation must be positive",
            ));
        }
        Ok(Self {
            public_key,
            mac1_key: mac1_key(&public_key),
            cookie_key: cookie_key(&public_key),
            secret: random_secret()?,
            previous_secret: random_secret()?,
            rotated_at: now,
            pending: HashMap::new(),
            by_ephemeral: HashMap::new(),
            live: HashSet::new(),
            second_started: None,
            handshakes_this_second: 0,
            per_ip: HashMap::new(),
            stats: EndpointStats::default(),
            config,
        })
    }

    /// The server's public key (what clients pin).
    pub fn public_key(&self) -> &[u8; 32] {
        &self.public_key
    }

    /// The endpoint's counters.
    pub fn stats(&self) -> EndpointStats {
        EndpointStats {
            pending: self.pending.len(),
            live: self.live.len(),
            ..self.stats
        }
    }

    /// Forgets a live session's id (the engine closed the session): its packets are dropped
    /// as [`DropReason::UnknownId`] from now on, and the id may be handed out again.
    pub fn release(&mut self, id: u32) {
        self.live.remove(&id);
    }

    /// Whether the endpoint is under load now: inits need a valid cookie.
    pub fn under_load(&self) -> bool {
        self.pending.len() >= self.config.under_load_pending
            || self.handshakes_this_second >= self.config.handshake_rate
    }

    /// When [`handle_timeout`](Endpoint::handle_timeout) should run to expire pending
    /// handshakes; `None` when none are pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.expires).min()
    }

    /// Expires pending handshakes whose client never sent its first packet, rotates the
    /// cookie secret when due, and starts a new rate-limit second. [`handle`](Endpoint::handle)
    /// does the same on its way, so calling this is only needed to free memory when idle.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now.saturating_duration_since(self.rotated_at) >= self.config.cookie_rotation {
            if let Ok(fresh) = random_secret() {
                self.previous_secret = std::mem::replace(&mut self.secret, fresh);
                self.rotated_at = now;
            }
        }
        let second_over = self
            .second_started
            .is_none_or(|s| now.saturating_duration_since(s) >= Duration::from_secs(1));
        if second_over {
            self.second_started = Some(now);
            self.handshakes_this_second = 0;
            self.per_ip.clear();
            self.expire(now);
        }
    }

    fn expire(&mut self, now: Instant) {
        let by_ephemeral = &mut self.by_ephemeral;
        self.pending.retain(|_, p| {
            let keep = p.expires > now;
            if !keep {
                by_ephemeral.remove(&p.ephemeral);
            }
            keep
        });
    }

    fn drop(&mut self, reason: DropReason) -> Incoming {
        self.stats.dropped.add(reason);
        Incoming::Drop(reason)
    }

    /// Takes one datagram that arrived from `peer`. `reply` is cleared, and filled when the
    /// result is [`Incoming::Reply`].
    pub fn handle(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        packet: &[u8],
        reply: &mut Vec<u8>,
    ) -> Incoming {
        reply.clear();
        self.handle_timeout(now);
        let header = match Header::decode(packet) {
            Ok(h) => h,
            Err(_) => return self.drop(DropReason::Malformed),
        };
        if !header.typ.is_transport() {
            self.stats.unvalidated_rx_bytes = self
                .stats
                .unvalidated_rx_bytes
                .saturating_add(packet.len() as u64);
        }
        let result = match header.typ {
            PacketType::Init | PacketType::InitIk => {
                self.handle_init(now, peer, header, packet, reply)
            }
            PacketType::Response | PacketType::CookieReply => self.drop(DropReason::UnexpectedType),
            _ => self.handle_transport(now, header.receiver_id, packet),
        };
        if matches!(result, Incoming::Reply) {
            // Anti-amplification, enforced here whatever the code above did.
            if reply.len() > packet.len() {
                reply.clear();
                return self.drop(DropReason::Malformed);
            }
            self.stats.unvalidated_tx_bytes = self
                .stats
                .unvalidated_tx_bytes
                .saturating_add(reply.len() as u64);
        }
        result
    }

    fn handle_transport(&mut self, now: Instant, id: u32, packet: &[u8]) -> Incoming {
        if self.live.contains(&id) {
            self.stats.session_packets = self.stats.session_packets.saturating_add(1);
            return Incoming::Session(id);
        }
        let Some(pending) = self.pending.get_mut(&id) else {
            return self.drop(DropReason::UnknownId);
        };
        let mut payload = Vec::new();
        match pending.transport.open(now, packet, &mut payload) {
            Ok(opened) => {
                let Some(p) = self.pending.remove(&id) else {
                    return self.drop(DropReason::UnknownId);
                };
                self.by_ephemeral.remove(&p.ephemeral);
                if !self.still_allowed(p.client_key.as_ref()) {
                    return self.drop(DropReason::UnknownClient);
                }
                self.live.insert(id);
                self.stats.accepted = self.stats.accepted.saturating_add(1);
                Incoming::Accept {
                    id,
                    transport: Box::new(p.transport),
                    opened,
                    payload,
                    client_key: p.client_key,
                }
            }
            Err(SecureError::Replay) => self.drop(DropReason::Replay),
            Err(SecureError::Malformed) => self.drop(DropReason::Malformed),
            Err(_) => self.drop(DropReason::Unauthenticated),
        }
    }

    fn handle_init(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        header: Header,
        packet: &[u8],
        reply: &mut Vec<u8>,
    ) -> Incoming {
        let ik = header.typ == PacketType::InitIk;
        if ik != self.config.allowed_clients.is_some() {
            return self.drop(DropReason::UnexpectedType);
        }
        let (init_len, noise_len) = if ik {
            (INIT_IK_LEN, NOISE_INIT_IK_LEN)
        } else {
            (INIT_LEN, NOISE_INIT_LEN)
        };
        if packet.len() != init_len || header.receiver_id == 0 {
            return self.drop(DropReason::Malformed);
        }
        self.stats.inits = self.stats.inits.saturating_add(1);
        let mac1_at = init_len.saturating_sub(2 * MAC_LEN);
        let mac2_at = init_len.saturating_sub(MAC_LEN);
        let (covered1, macs) = packet.split_at(mac1_at);
        let (mac1, mac2) = macs.split_at(MAC_LEN);
        if !mac_eq(&mac(&self.mac1_key, covered1), mac1) {
            return self.drop(DropReason::BadMac);
        }
        let noise_end = HEADER_LEN.saturating_add(noise_len);
        let msg1 = packet.get(HEADER_LEN..noise_end).unwrap_or_default();
        let padding = packet.get(noise_end..mac1_at).unwrap_or_default();
        if padding.iter().any(|b| *b != 0) {
            return self.drop(DropReason::Malformed);
        }
        let Some(ephemeral) = msg1.get(..32).and_then(|e| <[u8; 32]>::try_from(e).ok()) else {
            return self.drop(DropReason::Malformed);
        };
        // A resent (or replayed) init: the same answer, without a new Diffie-Hellman, so
        // every copy of the response leads to the same session.
        if let Some(p) = self
            .by_ephemeral
            .get(&ephemeral)
            .and_then(|id| self.pending.get(id))
        {
            reply.extend_from_slice(&p.response);
            self.stats.responses = self.stats.responses.saturating_add(1);
            return Incoming::Reply;
        }
        if self.under_load() {
            let covered2 = packet.get(..mac2_at).unwrap_or_default();
            let valid = [&self.secret, &self.previous_secret]
                .iter()
                .any(|s| mac_eq(&mac(&cookie(s, peer), covered2), mac2));
            if !valid {
                let c = cookie(&self.secret, peer);
                if seal_cookie_reply(&self.cookie_key, header.receiver_id, mac1, &c, reply).is_err()
                {
                    reply.clear();
                    return self.drop(DropReason::RateLimited);
                }
                self.stats.cookie_replies = self.stats.cookie_replies.saturating_add(1);
                return Incoming::Reply;
            }
            let ip = peer.ip();
            let known =
                self.per_ip.len() < self.config.max_pending || self.per_ip.contains_key(&ip);
            let count = self.per_ip.get(&ip).copied().unwrap_or(0);
            if !known || count >= self.config.per_ip_handshake_rate {
                return self.drop(DropReason::RateLimited);
            }
            self.per_ip.insert(ip, count.saturating_add(1));
        }
        if self.pending.len() >= self.config.max_pending {
            self.expire(now);
            if self.pending.len() >= self.config.max_pending {
                return self.drop(DropReason::TableFull);
            }
        }
        self.handshakes_this_second = self.handshakes_this_second.saturating_add(1);
        match self.respond(now, header.receiver_id, ik, msg1, ephemeral) {
            Ok(response) => {
                reply.extend_from_slice(&response);
                self.stats.responses = self.stats.responses.saturating_add(1);
                Incoming::Reply
            }
            Err(reason) => self.drop(reason),
        }
    }

    /// Whether a pending handshake's client may still have a session: anonymous ones always,
    /// IK ones while their key is listed.
    fn still_allowed(&self, client_key: Option<&[u8; 32]>) -> bool {
        match (client_key, &self.config.allowed_clients) {
            (None, None) => true,
            (Some(key), Some(list)) => list.contains(key),
            _ => false,
        }
    }

    /// Runs the responder side of Noise NK or IK on `msg1`, checks an IK client's key against
    /// the allowlist, assigns a session id and stores the pending handshake. Returns the
    /// response packet.
    fn respond(
        &mut self,
        now: Instant,
        tag: u32,
        ik: bool,
        msg1: &[u8],
        ephemeral: [u8; 32],
    ) -> Result<[u8; RESPONSE_LEN], DropReason> {
        let params = noise_params(ik).map_err(|_| DropReason::HandshakeFailed)?;
        let mut noise = snow::Builder::new(params)
            .prologue(PROLOGUE)
            .and_then(|b| b.local_private_key(self.config.private_key.as_bytes()))
            .and_then(|b| b.build_responder())
            .map_err(|_| DropReason::HandshakeFailed)?;
        let mut payload = [0u8; 64];
        let n = noise
            .read_message(msg1, &mut payload)
            .map_err(|_| DropReason::HandshakeFailed)?;
        if n != 0 {
            return Err(DropReason::HandshakeFailed);
        }
        let client_key = match noise.get_remote_static() {
            Some(k) => Some(<[u8; 32]>::try_from(k).map_err(|_| DropReason::HandshakeFailed)?),
            None => None,
        };
        if client_key.is_some() != ik || !self.still_allowed(client_key.as_ref()) {
            return Err(DropReason::UnknownClient);
        }
        let id = self.allocate_id().ok_or(DropReason::TableFull)?;
        let mut response = [0u8; RESPONSE_LEN];
        let (head, msg2) = response.split_at_mut(HEADER_LEN);
        head.copy_from_slice(&Header::handshake(PacketType::Response, tag).encode());
        let written = noise
            .write_message(&id.to_le_bytes(), msg2)
            .map_err(|_| DropReason::HandshakeFailed)?;
        if written != NOISE_RESPONSE_LEN || !noise.is_handshake_finished() {
            return Err(DropReason::HandshakeFailed);
        }
        // Split(): the first key protects initiator → responder.
        let (from_client, to_client) = noise.dangerously_get_raw_split();
        let transport = Transport::new(
            id,
            Zeroizing::new(to_client),
            Zeroizing::new(from_client),
            self.config.transport,
            now,
        );
        self.pending.insert(
            id,
            Pending {
                transport,
                ephemeral,
                client_key,
                response,
                expires: now.checked_add(self.config.pending_timeout).unwrap_or(now),
            },
        );
        self.by_ephemeral.insert(ephemeral, id);
        Ok(response)
    }

    /// An id, never 0, unused by live and pending sessions: the configured generation in its
    /// low byte, 24 random bits above it (random so ids say nothing about how many sessions
    /// exist and cannot be guessed off-path).
    fn allocate_id(&self) -> Option<u32> {
        for _ in 0..32 {
            let mut b = [0u8; 4];
            getrandom::fill(&mut b).ok()?;
            let id = with_generation(u32::from_le_bytes(b), self.config.generation);
            if id != 0 && !self.live.contains(&id) && !self.pending.contains_key(&id) {
                return Some(id);
            }
        }
        None
    }

    /// Fuzz hook: marks an id live, as if its handshake had completed.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn insert_live(&mut self, id: u32) {
        self.live.insert(id);
    }

    #[cfg(any(test, feature = "fuzzing"))]
    #[doc(hidden)]
    /// Test hook: the bytes a pending handshake costs, summed (for the flood test).
    pub fn pending_bytes(&self) -> usize {
        self.pending.len().saturating_mul(PENDING_ENTRY_BYTES)
    }
}
