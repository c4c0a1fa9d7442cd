//! Riptide's secure mode for KCP ([`riptide_secure`]: a Noise NK handshake, then
//! ChaCha20-Poly1305 per datagram with counter nonces and a replay window) as a listener gate
//! and packet layers. Authentication and replay checks run before any byte reaches FEC or
//! KCP; sessions exist only once a client proved its address; a session follows its client
//! to a new address after an authenticated, newest datagram.

use crate::layer::{Datagrams, Gate, GateOut, PacketGate, PacketLayer, Payload};
use crate::Error;
use riptide_secure::{
    AllowedClients, Endpoint, Incoming, Initiator, InitiatorEvent, Kind, PrivateKey, ServerConfig,
    Transport, TransportConfig,
};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Most KCP datagrams a client holds while its handshake runs (KCP resends the rest).
const MAX_HELD: usize = 64;

/// An error of the secure mode as the engine's.
fn secure_error(e: riptide_secure::SecureError) -> Error {
    Error::Handshake(e.to_string())
}

/// What a packet of `kind` carries for the layers above.
fn payload_of(kind: Kind) -> Option<Payload> {
    match kind {
        Kind::Data => Some(Payload::Kcp),
        Kind::Unreliable => Some(Payload::Unreliable),
        Kind::Keepalive => None,
    }
}

/// A server's front door: answers handshakes (with cookies under load), and opens a session
/// only for the first authenticated packet after one.
pub(crate) struct SecureGate {
    endpoint: Endpoint,
    reply: Vec<u8>,
}

impl SecureGate {
    /// A gate with the server's static key and, for per-client keys, the allowlist.
    pub(crate) fn new(
        private_key: &PrivateKey,
        allowed_clients: Option<AllowedClients>,
    ) -> Result<SecureGate, Error> {
        let mut config = ServerConfig::new(private_key.clone());
        config.allowed_clients = allowed_clients;
        config.generation = crate::generation::generation();
        let endpoint = Endpoint::new(config, Instant::now()).map_err(secure_error)?;
        Ok(SecureGate {
            endpoint,
            reply: Vec::new(),
        })
    }
}

impl PacketGate for SecureGate {
    fn admit(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        datagram: &[u8],
        out: &mut GateOut,
    ) -> Gate {
        // Expired handshakes and cookie secrets are renewed as datagrams come.
        if self.endpoint.poll_timeout().is_some_and(|at| at <= now) {
            self.endpoint.handle_timeout(now);
        }
        self.reply.clear();
        match self.endpoint.handle(now, peer, datagram, &mut self.reply) {
            Incoming::Session(id) => Gate::Session(u64::from(id)),
            Incoming::Accept {
                id,
                transport,
                opened,
                payload,
                ..
            } => {
                if let Some(kind) = payload_of(opened.kind) {
                    out.opened.push_as(kind, &payload);
                }
                Gate::Open {
                    key: u64::from(id),
                    layers: vec![Box::new(SecureLayer::new(transport))],
                }
            }
            Incoming::Reply => {
                out.reply.push(&self.reply);
                Gate::Done
            }
            Incoming::Drop(_) => Gate::Done,
        }
    }

    fn closed(&mut self, key: u64) {
        if let Ok(id) = u32::try_from(key) {
            self.endpoint.release(id);
        }
    }

    fn routes_by_generation(&self) -> bool {
        true
    }
}

/// An established secure session's transport as the bottom packet layer.
pub(crate) struct SecureLayer {
    transport: Box<Transport>,
    keepalive: Duration,
    /// The datagram last opened was newer than any before (the session may follow it).
    newest: bool,
    scratch: Vec<u8>,
}

impl SecureLayer {
    fn new(transport: Box<Transport>) -> SecureLayer {
        SecureLayer {
            transport,
            keepalive: TransportConfig::default().keepalive_interval,
            newest: false,
            scratch: Vec::new(),
        }
    }
}

impl PacketLayer for SecureLayer {
    fn overhead(&self) -> usize {
        Transport::overhead()
    }

    fn seal(&mut self, now: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        let kind = match payload {
            Payload::Unreliable => Kind::Unreliable,
            Payload::Kcp | Payload::Recovered => Kind::Data,
        };
        self.scratch.clear();
        // A datagram that cannot be sealed (the counter exhausted) is dropped; the session
        // then ends as a dead link.
        if self
            .transport
            .seal(now, kind, datagram, &mut self.scratch)
            .is_ok()
        {
            out.push(&self.scratch);
        }
    }

    fn open(
        &mut self,
        now: Instant,
        _: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        self.scratch.clear();
        self.newest = false;
        let opened = self
            .transport
            .open(now, datagram, &mut self.scratch)
            .map_err(secure_error)?;
        self.newest = opened.newest;
        if let Some(kind) = payload_of(opened.kind) {
            out.push_as(kind, &self.scratch);
        }
        Ok(())
    }

    fn carries_unreliable(&self) -> bool {
        true
    }

    fn may_migrate(&self) -> bool {
        self.newest
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = self.transport.stats();
        vec![
            ("secureSealed", s.sealed),
            ("secureOpened", s.opened),
            ("secureUnauthenticated", s.unauthenticated),
            ("secureReplayed", s.replayed),
            ("secureStaleKey", s.stale_key),
            ("secureMalformed", s.malformed),
        ]
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Some(self.transport.last_sent() + self.keepalive)
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Datagrams) -> Result<(), Error> {
        if self.transport.needs_keepalive(now) {
            self.scratch.clear();
            self.transport
                .seal(now, Kind::Keepalive, &[], &mut self.scratch)
                .map_err(secure_error)?;
            out.push(&self.scratch);
        }
        Ok(())
    }
}

/// A client's bottom layer: runs the handshake (holding KCP's first datagrams meanwhile),
/// then is the session's transport.
pub(crate) struct SecureClient {
    state: ClientState,
    /// Something is due at once (a retry after a cookie, held datagrams to release).
    due: Option<Instant>,
}

enum ClientState {
    Handshaking {
        /// Boxed: the handshake state is large next to an established session's.
        initiator: Box<Initiator>,
        /// The init to send, until the first KCP datagram asks for it.
        init: Option<Vec<u8>>,
        /// A retry carrying a cookie, to send at the next deadline.
        retry: Option<Vec<u8>>,
        held: Vec<(Payload, Vec<u8>)>,
    },
    Established {
        layer: SecureLayer,
        held: Vec<(Payload, Vec<u8>)>,
    },
}

impl SecureClient {
    /// A client pinning the server's public key, proving its own static key if it has one.
    pub(crate) fn new(
        server_public_key: &[u8; 32],
        client_key: Option<&PrivateKey>,
    ) -> Result<SecureClient, Error> {
        let now = Instant::now();
        let (initiator, init) = match client_key {
            Some(k) => Initiator::with_client_key(server_public_key, k, Default::default(), now),
            None => Initiator::new(server_public_key, now),
        }
        .map_err(secure_error)?;
        Ok(SecureClient {
            state: ClientState::Handshaking {
                initiator: Box::new(initiator),
                init: Some(init),
                retry: None,
                held: Vec::new(),
            },
            due: None,
        })
    }
}

impl PacketLayer for SecureClient {
    fn overhead(&self) -> usize {
        Transport::overhead()
    }

    fn seal(&mut self, now: Instant, payload: Payload, datagram: &[u8], out: &mut Datagrams) {
        match &mut self.state {
            ClientState::Established { layer, .. } => layer.seal(now, payload, datagram, out),
            ClientState::Handshaking { init, held, .. } => {
                if let Some(init) = init.take() {
                    out.push(&init);
                }
                if held.len() < MAX_HELD {
                    held.push((payload, datagram.to_vec()));
                }
            }
        }
    }

    fn open(
        &mut self,
        now: Instant,
        payload: Payload,
        datagram: &[u8],
        out: &mut Datagrams,
    ) -> Result<(), Error> {
        let ClientState::Handshaking {
            initiator,
            retry,
            held,
            ..
        } = &mut self.state
        else {
            let ClientState::Established { layer, .. } = &mut self.state else {
                return Ok(());
            };
            return layer.open(now, payload, datagram, out);
        };
        match initiator.handle(now, datagram).map_err(secure_error)? {
            InitiatorEvent::Established(transport) => {
                let held = std::mem::take(held);
                self.state = ClientState::Established {
                    layer: SecureLayer::new(transport),
                    held,
                };
            }
            InitiatorEvent::Retry(packet) => *retry = Some(packet),
        }
        self.due = Some(now);
        Ok(())
    }

    fn carries_unreliable(&self) -> bool {
        true
    }

    fn may_migrate(&self) -> bool {
        matches!(&self.state, ClientState::Established { layer, .. } if layer.newest)
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        match &self.state {
            ClientState::Established { layer, .. } => layer.counters(),
            ClientState::Handshaking { .. } => Vec::new(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let own = match &self.state {
            ClientState::Handshaking { initiator, .. } => initiator.poll_timeout(),
            ClientState::Established { layer, .. } => layer.poll_timeout(),
        };
        own.into_iter().chain(self.due).min()
    }

    fn handle_timeout(&mut self, now: Instant, out: &mut Datagrams) -> Result<(), Error> {
        self.due = None;
        match &mut self.state {
            ClientState::Handshaking {
                initiator, retry, ..
            } => {
                if let Some(packet) = retry.take() {
                    out.push(&packet);
                } else if initiator.poll_timeout().is_some_and(|at| at <= now) {
                    if let Some(packet) = initiator.handle_timeout(now).map_err(secure_error)? {
                        out.push(&packet);
                    }
                }
                Ok(())
            }
            ClientState::Established { layer, held } => {
                // What KCP sent during the handshake goes now (KCP would resend it later).
                for (payload, datagram) in std::mem::take(held) {
                    layer.seal(now, payload, &datagram, out);
                }
                layer.handle_timeout(now, out)
            }
        }
    }
}
