//! The client side of the handshake: builds the init, resends it with exponential backoff,
//! takes a cookie reply under server load, and turns the server's response into a
//! [`Transport`].

use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::handshake::{
    cookie_key, mac, mac1_key, noise_params, open_cookie_reply, MacBytes, PROLOGUE,
};
use crate::keys::{public_key_from_slice, PrivateKey};
use crate::packet::{
    Header, PacketType, HEADER_LEN, INIT_IK_LEN, INIT_LEN, MAC_LEN, NOISE_INIT_IK_LEN,
    NOISE_INIT_LEN, RESPONSE_LEN,
};
use crate::transport::{Transport, TransportConfig};
use crate::SecureError;

/// Retransmission and cookie policy of an [`Initiator`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitiatorConfig {
    /// Keys and rekey schedule of the resulting transport.
    pub transport: TransportConfig,
    /// Wait before the first resend of the init; doubles after each resend. Default 1 s.
    pub first_resend: Duration,
    /// Cap of the doubling. Default 8 s.
    pub max_resend_interval: Duration,
    /// Inits sent in all (the first one included) before
    /// [`handle_timeout`](Initiator::handle_timeout) gives up with
    /// [`SecureError::HandshakeTimeout`]. Default 6 (about 1 + 2 + 4 + 8 + 8 + 8 = 31 s).
    pub max_attempts: u32,
    /// How long a cookie from a cookie reply is used. Default 110 s: a bit under the
    /// server's rotation (120 s), so a cookie is not used after the server forgot its secret.
    pub cookie_lifetime: Duration,
}

impl Default for InitiatorConfig {
    fn default() -> Self {
        Self {
            transport: TransportConfig::default(),
            first_resend: Duration::from_secs(1),
            max_resend_interval: Duration::from_secs(8),
            max_attempts: 6,
            cookie_lifetime: Duration::from_secs(110),
        }
    }
}

/// What [`Initiator::handle`] made of a packet from the server.
#[derive(Debug)]
pub enum InitiatorEvent {
    /// The handshake is done: use this transport (boxed: it is large and moves once) for the
    /// session. Send a packet at once
    /// (a KCP datagram, or a [`Kind::Keepalive`](crate::Kind::Keepalive) when there is
    /// nothing to say): the server creates the session only when the first one arrives.
    Established(Box<Transport>),
    /// The server is under load and sent a cookie: send this init (the same handshake, now
    /// carrying mac2) to the server now.
    Retry(Vec<u8>),
}

/// The client side of one handshake with a server whose public key the client pins.
///
/// The engine sends the init from [`Initiator::new`], feeds every handshake packet (type
/// response or cookie reply whose receiver id is [`tag`](Initiator::tag)) to
/// [`handle`](Initiator::handle), and calls [`handle_timeout`](Initiator::handle_timeout)
/// at [`poll_timeout`](Initiator::poll_timeout).
pub struct Initiator {
    noise: Option<snow::HandshakeState>,
    config: InitiatorConfig,
    tag: u32,
    init: Vec<u8>,
    mac1: MacBytes,
    cookie_key: [u8; 32],
    cookie: Option<(Zeroizing<MacBytes>, Instant)>,
    sent: u32,
    interval: Duration,
    next_resend: Option<Instant>,
}

impl std::fmt::Debug for Initiator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Initiator")
            .field("tag", &self.tag)
            .field("sent", &self.sent)
            .field("next_resend", &self.next_resend)
            .finish_non_exhaustive()
    }
}

impl Initiator {
    /// Starts a handshake with default settings; returns the initiator and the init packet
    /// to send to the server.
    ///
    /// # Errors
    /// [`SecureError::BadKey`] for a key that is not 32 bytes or is a small-order point;
    /// [`SecureError::Random`] if the OS random source fails.
    pub fn new(server_public_key: &[u8], now: Instant) -> Result<(Self, Vec<u8>), SecureError> {
        Self::with_config(server_public_key, InitiatorConfig::default(), now)
    }

    /// [`Initiator::new`] with explicit settings.
    ///
    /// # Errors
    /// As [`Initiator::new`], and [`SecureError::BadConfig`] for zero intervals or attempts.
    pub fn with_config(
        server_public_key: &[u8],
        config: InitiatorConfig,
        now: Instant,
    ) -> Result<(Self, Vec<u8>), SecureError> {
        Self::build(server_public_key, None, config, now)
    }

    /// Starts a handshake that also proves this client's identity (Noise IK): the server
    /// answers only if `client_key`'s public key is on its
    /// [`AllowedClients`](crate::AllowedClients). An unlisted key gets no answer, so the
    /// handshake ends in [`SecureError::HandshakeTimeout`], as in WireGuard.
    ///
    /// # Errors
    /// As [`Initiator::with_config`].
    pub fn with_client_key(
        server_public_key: &[u8],
        client_key: &PrivateKey,
        config: InitiatorConfig,
        now: Instant,
    ) -> Result<(Self, Vec<u8>), SecureError> {
        Self::build(server_public_key, Some(client_key), config, now)
    }

    fn build(
        server_public_key: &[u8],
        client_key: Option<&PrivateKey>,
        config: InitiatorConfig,
        now: Instant,
    ) -> Result<(Self, Vec<u8>), SecureError> {
        let server = public_key_from_slice(server_public_key)?;
        config.transport.validate()?;
        if config.first_resend.is_zero() || config.max_attempts == 0 {
            return Err(SecureError::BadConfig(
                "first_resend and max_attempts must be positive",
            ));
        }
        let builder = snow::Builder::new(noise_params(client_key.is_some())?)
            .prologue(PROLOGUE)
            .and_then(|b| b.remote_public_key(&server));
        let builder = match client_key {
            Some(k) => builder.and_then(|b| b.local_private_key(k.as_bytes())),
            None => builder,
        };
        let mut noise = builder
            .and_then(|b| b.build_initiator())
            .map_err(|_| SecureError::HandshakeFailed)?;
        let mut tag_bytes = [0u8; 4];
        let mut tag = 0;
        while tag == 0 {
            getrandom::fill(&mut tag_bytes).map_err(|_| SecureError::Random)?;
            tag = u32::from_le_bytes(tag_bytes);
        }
        let (typ, len, noise_len) = match client_key {
            Some(_) => (PacketType::InitIk, INIT_IK_LEN, NOISE_INIT_IK_LEN),
            None => (PacketType::Init, INIT_LEN, NOISE_INIT_LEN),
        };
        let mut init = vec![0u8; len];
        let (header, rest) = init.split_at_mut(HEADER_LEN);
        header.copy_from_slice(&Header::handshake(typ, tag).encode());
        let (msg1, _) = rest.split_at_mut(noise_len);
        let n = noise
            .write_message(&[], msg1)
            .map_err(|_| SecureError::HandshakeFailed)?;
        if n != noise_len {
            return Err(SecureError::HandshakeFailed);
        }
        let (covered, macs) = init.split_at_mut(len.saturating_sub(2 * MAC_LEN));
        let mac1 = mac(&mac1_key(&server), covered);
        let (mac1_slot, _) = macs.split_at_mut(MAC_LEN);
        mac1_slot.copy_from_slice(&mac1);
        let initiator = Self {
            noise: Some(noise),
            config,
            tag,
            init: init.clone(),
            mac1,
            cookie_key: cookie_key(&server),
            cookie: None,
            sent: 1,
            interval: config.first_resend,
            next_resend: now.checked_add(config.first_resend),
        };
        Ok((initiator, init))
    }

    /// The random handshake tag this client put in its init's receiver-id field; the
    /// server's response and cookie reply carry it back, so a client sharing one socket
    /// among several handshakes can route them.
    pub fn tag(&self) -> u32 {
        self.tag
    }

    /// Takes a packet from the server.
    ///
    /// # Errors
    /// A per-packet error leaves the handshake running (a forged or stray packet cannot end
    /// it): [`SecureError::Malformed`], [`SecureError::WrongId`] (another tag),
    /// [`SecureError::UnexpectedPacket`] (not a response or cookie reply, or the handshake
    /// already finished), [`SecureError::Unauthenticated`] (a cookie reply that is not for
    /// our init), [`SecureError::HandshakeFailed`] (a response that does not authenticate
    /// against the pinned key).
    pub fn handle(&mut self, now: Instant, packet: &[u8]) -> Result<InitiatorEvent, SecureError> {
        let h = Header::decode(packet)?;
        if self.noise.is_none() {
            return Err(SecureError::UnexpectedPacket);
        }
        match h.typ {
            PacketType::Response | PacketType::CookieReply if h.receiver_id != self.tag => {
                Err(SecureError::WrongId)
            }
            PacketType::Response => self.handle_response(now, packet),
            PacketType::CookieReply => {
                let cookie = open_cookie_reply(&self.cookie_key, &self.mac1, packet)?;
                self.cookie = Some((Zeroizing::new(cookie), now));
                if let Some(at) = now.checked_add(self.interval) {
                    self.next_resend = Some(at);
                }
                Ok(InitiatorEvent::Retry(self.current_init(now)))
            }
            _ => Err(SecureError::UnexpectedPacket),
        }
    }

    fn handle_response(
        &mut self,
        now: Instant,
        packet: &[u8],
    ) -> Result<InitiatorEvent, SecureError> {
        if packet.len() != RESPONSE_LEN {
            return Err(SecureError::Malformed);
        }
        let noise = self.noise.as_mut().ok_or(SecureError::UnexpectedPacket)?;
        let mut payload = [0u8; 64];
        let n = noise
            .read_message(packet.get(HEADER_LEN..).unwrap_or_default(), &mut payload)
            .map_err(|_| SecureError::HandshakeFailed)?;
        let id = match payload.get(..n) {
            Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
            _ => 0,
        };
        if id == 0 || !noise.is_handshake_finished() {
            // Authenticated by the server's key yet invalid: this handshake cannot go on.
            self.noise = None;
            self.next_resend = None;
            return Err(SecureError::HandshakeFailed);
        }
        let (send, recv) = noise.dangerously_get_raw_split();
        let transport = Transport::new(
            id,
            Zeroizing::new(send),
            Zeroizing::new(recv),
            self.config.transport,
            now,
        );
        self.noise = None;
        self.next_resend = None;
        Ok(InitiatorEvent::Established(Box::new(transport)))
    }

    /// The init as it should be sent now: with mac2 when a fresh cookie is held.
    fn current_init(&mut self, now: Instant) -> Vec<u8> {
        let mut init = self.init.clone();
        if let Some((cookie, at)) = &self.cookie {
            if now.saturating_duration_since(*at) < self.config.cookie_lifetime {
                let mac2_at = init.len().saturating_sub(MAC_LEN);
                let (covered, mac2) = init.split_at_mut(mac2_at);
                mac2.copy_from_slice(&mac(cookie.as_slice(), covered));
            } else {
                self.cookie = None;
            }
        }
        init
    }

    /// When [`handle_timeout`](Initiator::handle_timeout) should run next: the next resend.
    /// `None` once the handshake finished or failed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_resend
    }

    /// Resends the init when its timer expired: `Ok(Some(init))` to send, `Ok(None)` when
    /// nothing is due.
    ///
    /// # Errors
    /// [`SecureError::HandshakeTimeout`] once [`InitiatorConfig::max_attempts`] inits went
    /// unanswered; the initiator is finished then.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<Option<Vec<u8>>, SecureError> {
        match self.next_resend {
            Some(at) if now >= at => {}
            _ => return Ok(None),
        }
        if self.sent >= self.config.max_attempts {
            self.noise = None;
            self.next_resend = None;
            return Err(SecureError::HandshakeTimeout);
        }
        self.sent = self.sent.saturating_add(1);
        self.interval = self.interval.saturating_mul(2).min(
            self.config
                .max_resend_interval
                .max(self.config.first_resend),
        );
        self.next_resend = now.checked_add(self.interval);
        Ok(Some(self.current_init(now)))
    }
}
