//! How KCP runs on a `kcp://` listener's sessions or a dialed `kcp://` connection.

use crate::carrier::DatagramCarrier;
use crate::crypt_layer::CryptLayer;
use crate::fec_layer::FecLayer;
use crate::layer::{PacketGate, PacketGateFactory, PacketLayer, PacketLayerFactory};
use crate::secure_layer::{SecureClient, SecureGate};
use crate::Error;
use riptide_crypt::{BlockCrypt, Cipher};
use riptide_kcp::Kcp;
use std::time::Duration;

/// Smallest [`KcpOptions::max_buffered`] accepted: 64 KiB.
const MIN_BUFFERED: usize = 1 << 16;

/// How KCP runs on a `kcp://` listener's sessions or a dialed `kcp://` connection.
#[derive(Clone)]
pub struct KcpOptions {
    /// Protocol parameters: nodelay, interval, fast resend, congestion window, windows, MTU,
    /// stream mode (`stream: false`, the default, keeps message boundaries).
    pub config: riptide_kcp::Config,
    /// A session whose peer sent nothing for this long is closed with `ETIMEDOUT`. KCP has no
    /// close handshake, so this is how a quiet, vanished peer is noticed (a peer that vanishes
    /// while data is in flight is noticed sooner, as a dead link). `None`: never.
    pub idle_timeout: Option<Duration>,
    /// Listener only: sessions one source IP may hold on the listener (`0`: no cap). When an
    /// IP is at the cap, its oldest *unconfirmed* session (see [`KcpOptions::handshake_timeout`])
    /// makes room for the new one; if all its sessions are confirmed, the new one is refused.
    /// One datagram per conv from one socket otherwise fills the whole session table.
    /// Default 64: a NAT with dozens of clients behind one address, while one host costs at
    /// most 64 sessions' worth of memory.
    pub max_sessions_per_ip: usize,
    /// Listener only: how long an *unconfirmed* session lives without hearing from its peer
    /// (instead of `idle_timeout`). A session is confirmed once the peer acknowledged a data
    /// segment the server sent ([`Kcp::peer_acked`]): proof that it receives at its address
    /// and runs KCP, which a spoofed or one-shot datagram cannot give. Unconfirmed sessions
    /// are also the ones evicted, oldest first, when a new peer needs room (table full, IP
    /// at its cap, memory budget spent); confirmed ones never are. `None`: `idle_timeout`.
    /// Default 5 s: several initial RTOs (200 ms, doubling), so a real client whose first
    /// reply or ack was lost still confirms.
    pub handshake_timeout: Option<Duration>,
    /// Listener only: memory budget in bytes for the segments buffered by all its sessions
    /// ([`Kcp::buffered_bytes`]: segments × MSS). Past it, unconfirmed sessions are closed,
    /// oldest first, until it holds, and no new session opens while confirmed ones alone
    /// exceed it. Default 256 MiB.
    pub max_buffered: usize,
    /// Packet layers under KCP, bottom (nearest the socket) first: each session gets its own
    /// instance of each. KCP's segments shrink by their total overhead so a sealed datagram
    /// still fits `config.mtu`. With packet layers a listener keys sessions by peer address
    /// alone (kcp-go's model): the conv is only readable once a datagram is opened.
    pub packet_layers: Vec<PacketLayerFactory>,
    /// kcp-go's packet encryption, byte-compatible with kcp-go and kcptun (`None`: none, the
    /// same on the wire as kcptun's `null`). *Compatible, not secure*: see
    /// [`riptide_crypt`]. It runs under every other packet layer.
    pub crypt: Option<KcpCrypt>,
    /// kcp-go's forward error correction: `(data_shards, parity_shards)` per set, sent after
    /// every `data_shards` datagrams (`None`: off). The receiving side adapts to the peer's
    /// counts by itself (kcp-go's auto-tune). Runs over `crypt`, under the other layers.
    pub fec: Option<(usize, usize)>,
    /// Riptide's secure mode (a Noise handshake, then authenticated encryption with replay
    /// protection): a listener takes [`KcpSecure::Server`], a dial [`KcpSecure::Client`].
    /// Not with `crypt` (kcp-go's compat mode) or a `gate` of one's own.
    pub secure: Option<KcpSecure>,
    /// Listener only: a gate that sees every datagram first and keys sessions its own way
    /// (a secure mode's handshakes); its layers go under `packet_layers`. Ignored by dials.
    pub gate: Option<PacketGateFactory>,
    /// The application's carrier for the datagrams instead of a UDP socket (`None`: UDP).
    /// The URL is then `kcp://name`: a dial's peer, as the carrier names it; a listener's own
    /// name, which it does not use. Everything above the datagrams (KCP, FEC, crypt, secure
    /// mode) runs as over UDP. A carrier serves one listener or one dial at a time.
    pub carrier: Option<DatagramCarrier>,
}

/// Riptide's secure mode ([`KcpOptions::secure`]).
#[derive(Clone)]
pub enum KcpSecure {
    /// A listener's static key; clients pin its public half
    /// ([`riptide_secure::generate_keypair`] makes a pair).
    Server {
        /// The private key (zeroized on drop).
        private_key: riptide_secure::PrivateKey,
        /// `None`: clients are anonymous (Noise NK). `Some`: only clients whose static
        /// public key is listed get a session (Noise IK, as WireGuard peers); keep a clone to
        /// change the list while the listener runs. A removal refuses new sessions and leaves
        /// live ones open.
        allowed_clients: Option<riptide_secure::AllowedClients>,
    },
    /// A dial pinning the server's public key: the handshake fails unless the server holds
    /// the private half.
    Client {
        /// The server's public key.
        server_public_key: [u8; 32],
        /// This client's static key, for a server with `allowed_clients` (which must list
        /// its public half); `None` for a server with anonymous clients.
        client_key: Option<riptide_secure::PrivateKey>,
    },
}

/// kcp-go's packet encryption for a KCP session ([`KcpOptions::crypt`]).
#[derive(Clone)]
pub struct KcpCrypt {
    /// The cipher, by kcptun's name (`salsa20`, `aes-128`, `aes-128-gcm`...).
    pub cipher: Cipher,
    /// The key: as long as [`Cipher::key_len`] says (`null` and `none` take any). kcptun
    /// derives it from a passphrase with [`riptide_crypt::kcptun_key`].
    pub key: Vec<u8>,
}

impl KcpCrypt {
    /// kcptun's key for `pass`, cut to what `cipher` takes.
    pub fn kcptun(cipher: Cipher, pass: &str) -> KcpCrypt {
        let full = riptide_crypt::kcptun_key(pass);
        let len = cipher.key_len().min(full.len());
        KcpCrypt {
            cipher,
            key: full.get(..len).unwrap_or_default().to_vec(),
        }
    }
}

impl std::fmt::Debug for KcpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KcpOptions")
            .field("config", &self.config)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_sessions_per_ip", &self.max_sessions_per_ip)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("max_buffered", &self.max_buffered)
            .field("packet_layers", &self.packet_layers.len())
            .field("crypt", &self.crypt.as_ref().map(|c| c.cipher))
            .field("fec", &self.fec)
            .field(
                "secure",
                &self.secure.as_ref().map(|s| match s {
                    KcpSecure::Server { .. } => "server",
                    KcpSecure::Client { .. } => "client",
                }),
            )
            .field("gate", &self.gate.is_some())
            .field("carrier", &self.carrier.as_ref().map(DatagramCarrier::id))
            .finish()
    }
}

impl Default for KcpOptions {
    /// ikcp's defaults, message mode, sessions expire after 90 s of silence (5 s until
    /// confirmed), 64 sessions per source IP, 256 MiB buffered per listener.
    fn default() -> Self {
        KcpOptions {
            config: riptide_kcp::Config::default(),
            idle_timeout: Some(Duration::from_secs(90)),
            max_sessions_per_ip: 64,
            handshake_timeout: Some(Duration::from_secs(5)),
            max_buffered: 256 << 20,
            packet_layers: Vec::new(),
            crypt: None,
            fec: None,
            secure: None,
            gate: None,
            carrier: None,
        }
    }
}

impl KcpOptions {
    /// Checks the parameters once, so a bad option fails at listen or dial time rather than
    /// at the first datagram.
    pub fn validate(&self) -> Result<(), Error> {
        if self.secure.is_some() && self.crypt.is_some() {
            return Err(Error::InvalidOption(
                "kcp: secure mode and kcp-go's crypt do not combine".into(),
            ));
        }
        let mut config = self.kcp_config(&self.layers()?)?;
        if let Some(KcpSecure::Server { .. }) = &self.secure {
            if self.gate.is_some() {
                return Err(Error::InvalidOption(
                    "kcp: secure mode brings its own gate".into(),
                ));
            }
            // The gate puts the session's transport under the other layers.
            config.mtu = config
                .mtu
                .checked_sub(riptide_secure::OVERHEAD)
                .ok_or_else(|| Error::InvalidOption("kcp: the MTU is too small".into()))?;
        }
        Kcp::new(0, &config)
            .map(drop)
            .map_err(|e| Error::InvalidOption(format!("kcp: {e}")))?;
        // A smaller budget would refuse every session (TS enforces the same floor).
        if self.max_buffered < MIN_BUFFERED {
            return Err(Error::InvalidOption(format!(
                "kcp: max_buffered {} is below the minimum of {MIN_BUFFERED}",
                self.max_buffered
            )));
        }
        Ok(())
    }

    /// The gate of a listener with these options: its own, or the secure mode's.
    pub(crate) fn make_gate(&self) -> Result<Option<Box<dyn PacketGate>>, Error> {
        match (&self.secure, &self.gate) {
            (
                Some(KcpSecure::Server {
                    private_key,
                    allowed_clients,
                }),
                _,
            ) => Ok(Some(Box::new(SecureGate::new(
                private_key,
                allowed_clients.clone(),
            )?))),
            (Some(KcpSecure::Client { .. }), _) => Err(Error::InvalidOption(
                "kcp: a listener takes secure: Server (a dial takes Client)".into(),
            )),
            (None, Some(make)) => Ok(Some(make())),
            (None, None) => Ok(None),
        }
    }

    /// The packet layers one session runs, bottom first: kcp-go's encryption, FEC, then the
    /// extra layers.
    pub(crate) fn layers(&self) -> Result<Vec<Box<dyn PacketLayer>>, Error> {
        let mut layers: Vec<Box<dyn PacketLayer>> = Vec::new();
        if let Some(KcpSecure::Client {
            server_public_key,
            client_key,
        }) = &self.secure
        {
            layers.push(Box::new(SecureClient::new(
                server_public_key,
                client_key.as_ref(),
            )?));
        }
        if let Some(c) = &self.crypt {
            let crypt = BlockCrypt::new(c.cipher, &c.key)
                .map_err(|e| Error::InvalidOption(format!("kcp crypt: {e}")))?;
            layers.push(Box::new(CryptLayer::new(crypt)));
        }
        if let Some((data, parity)) = self.fec {
            layers.push(Box::new(FecLayer::new(data, parity)?));
        }
        layers.extend(self.packet_layers.iter().map(|make| make()));
        Ok(layers)
    }

    /// True when sessions run packet layers (they are then keyed by address, kcp-go's model,
    /// since the conv is only readable once a datagram is opened).
    pub(crate) fn has_layers(&self) -> bool {
        self.crypt.is_some()
            || self.fec.is_some()
            || self.secure.is_some()
            || !self.packet_layers.is_empty()
    }

    /// The KCP configuration a session with `layers` runs: `config` with the MTU reduced by
    /// their overhead. Fails when the layers leave no room for a segment.
    pub(crate) fn kcp_config(
        &self,
        layers: &[Box<dyn PacketLayer>],
    ) -> Result<riptide_kcp::Config, Error> {
        let overhead = layers
            .iter()
            .map(|l| l.overhead())
            .fold(0, usize::saturating_add);
        let mut config = self.config.clone();
        config.mtu = config.mtu.checked_sub(overhead).ok_or_else(|| {
            Error::InvalidOption(format!(
                "kcp: packet layers add {overhead} bytes, more than the MTU of {}",
                config.mtu
            ))
        })?;
        Ok(config)
    }
}
