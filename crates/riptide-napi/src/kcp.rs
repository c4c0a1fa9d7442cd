//! KCP options from JS (`serve('kcp://…', h, { kcp })`, `connect('kcp://…', h, { kcp })`) to
//! the engine's [`riptide::KcpOptions`]. The TS layer fills the defaults and checks types;
//! this checks ranges that only the protocol knows, and turns the packet layers' options
//! (`fec`, `crypt`, `secure`) into the engine's. Key bytes are copied into the engine's
//! options and never formatted into a message.

use napi::bindgen_prelude::Uint8Array;
use napi_derive::napi;
use riptide::secure::AllowedClients;
use riptide::{KcpCrypt, KcpSecure};
use std::time::Duration;

/// kcp-go's forward error correction (`options.fec`).
#[napi(object)]
pub struct NativeFec {
    pub data_shards: u32,
    pub parity_shards: u32,
}

/// kcp-go's packet encryption (`options.crypt`): a kcptun cipher name and either a raw key
/// or a passphrase for kcptun's PBKDF2 derivation.
#[napi(object)]
pub struct NativeCrypt {
    pub cipher: String,
    /// The raw key (exactly the cipher's key length).
    pub key: Option<Uint8Array>,
    /// A passphrase (kcptun's key derivation).
    pub pass: Option<String>,
}

/// Riptide's secure mode (`options.secure`): a listener's private key (and the client keys
/// it allows), or a dial's pinned server public key (and its own key).
#[napi(object)]
pub struct NativeSecure {
    /// Listener: its static private key.
    pub private_key: Option<Uint8Array>,
    /// Listener: the client public keys allowed (Noise IK); none: anonymous clients (NK).
    pub allowed_clients: Option<Vec<Uint8Array>>,
    /// Dial: the server's public key, pinned.
    pub server_public_key: Option<Uint8Array>,
    /// Dial: this client's static private key, for a listener with `allowedClients`.
    pub client_key: Option<Uint8Array>,
}

/// KCP parameters as JS gives them (every field filled in by TS).
#[napi(object)]
pub struct NativeKcp {
    /// Faster retransmission (minimum RTO 30 ms, gentler RTO backoff).
    pub nodelay: bool,
    /// ms between KCP's internal flushes (10…5000).
    pub interval: u32,
    /// Retransmit after this many later segments were acknowledged (0: off).
    pub resend: u32,
    /// No congestion window (only the send and receive windows limit).
    pub nc: bool,
    /// Send window in segments.
    pub snd_wnd: u32,
    /// Receive window in segments (at least 128, as in ikcp).
    pub rcv_wnd: u32,
    /// Largest datagram in bytes.
    pub mtu: u32,
    /// Stream mode: bytes without message boundaries.
    pub stream: bool,
    /// Transmissions of one segment after which the link counts as dead.
    pub dead_link: u32,
    /// ms of silence from the peer after which the session closes (0: never).
    pub idle_timeout: f64,
    /// Listener: sessions one source IP may hold (0: no cap).
    pub max_sessions_per_ip: u32,
    /// Listener: ms of silence after which a session the peer never acknowledged closes
    /// (0: `idle_timeout` applies).
    pub handshake_timeout: f64,
    /// Listener: bytes of segments buffered across its sessions before unconfirmed ones are
    /// evicted and new ones refused.
    pub max_buffered: f64,
    /// FEC shard counts; none: off.
    pub fec: Option<NativeFec>,
    /// kcp-go's compat encryption; none: off.
    pub crypt: Option<NativeCrypt>,
    /// Secure mode; none: off.
    pub secure: Option<NativeSecure>,
    /// The id of an application carrier to carry the datagrams instead of UDP; none: UDP.
    pub carrier: Option<u32>,
}

impl NativeKcp {
    /// The engine's KCP options.
    pub fn options(&self) -> Result<riptide::KcpOptions, riptide::Error> {
        let window = |v: u32, name: &str| {
            u16::try_from(v)
                .ok()
                .filter(|&w| w > 0)
                .ok_or_else(|| riptide::Error::InvalidOption(format!("kcp.{name} must be 1-65535")))
        };
        let config = riptide::kcp::Config {
            nodelay: u32::from(self.nodelay),
            interval: self.interval,
            resend: self.resend,
            nc: self.nc,
            snd_wnd: window(self.snd_wnd, "sndWnd")?,
            rcv_wnd: window(self.rcv_wnd, "rcvWnd")?,
            mtu: self.mtu as usize,
            stream: self.stream,
            dead_link: self.dead_link,
            ..riptide::kcp::Config::default()
        };
        let options = riptide::KcpOptions {
            config,
            idle_timeout: never_or("kcp.idleTimeout", self.idle_timeout)?,
            max_sessions_per_ip: self.max_sessions_per_ip as usize,
            handshake_timeout: never_or("kcp.handshakeTimeout", self.handshake_timeout)?,
            // TS checked a finite integer in range; `as` saturates anyway.
            max_buffered: self.max_buffered as usize,
            fec: self
                .fec
                .as_ref()
                .map(|f| (f.data_shards as usize, f.parity_shards as usize)),
            crypt: self.crypt.as_ref().map(NativeCrypt::options).transpose()?,
            secure: self
                .secure
                .as_ref()
                .map(NativeSecure::options)
                .transpose()?,
            carrier: self.carrier.map(crate::carrier::lookup).transpose()?,
            ..riptide::KcpOptions::default()
        };
        options.validate()?;
        Ok(options)
    }
}

impl NativeCrypt {
    fn options(&self) -> Result<KcpCrypt, riptide::Error> {
        let cipher: riptide::crypt::Cipher = self
            .cipher
            .parse()
            .map_err(|e| riptide::Error::InvalidOption(format!("crypt.cipher: {e}")))?;
        match (&self.key, &self.pass) {
            (Some(key), None) => {
                let need = cipher.key_len();
                // `null` and `none` take any key (they use none).
                if need != 0 && key.len() != need {
                    return Err(riptide::Error::InvalidOption(format!(
                        "crypt.key must be {need} bytes for {}, got {}",
                        self.cipher,
                        key.len()
                    )));
                }
                Ok(KcpCrypt {
                    cipher,
                    key: key.to_vec(),
                })
            }
            (None, Some(pass)) => Ok(KcpCrypt::kcptun(cipher, pass)),
            _ => Err(riptide::Error::InvalidOption(
                "crypt.key must be a passphrase string or a Uint8Array".into(),
            )),
        }
    }
}

impl NativeSecure {
    fn options(&self) -> Result<KcpSecure, riptide::Error> {
        let bad = |what: &str| {
            riptide::Error::InvalidOption(format!("secure.{what} must be a 32-byte Uint8Array"))
        };
        match (&self.private_key, &self.server_public_key) {
            (Some(key), None) if self.client_key.is_none() => Ok(KcpSecure::Server {
                private_key: riptide::secure::PrivateKey::from_slice(key)
                    .map_err(|_| bad("privateKey"))?,
                allowed_clients: self
                    .allowed_clients
                    .as_deref()
                    .map(allowed_clients)
                    .transpose()?,
            }),
            (None, Some(key)) if self.allowed_clients.is_none() => Ok(KcpSecure::Client {
                server_public_key: riptide::secure::public_key_from_slice(key)
                    .map_err(|_| bad("serverPublicKey (a valid X25519 public key)"))?,
                client_key: self
                    .client_key
                    .as_ref()
                    .map(|k| riptide::secure::PrivateKey::from_slice(k))
                    .transpose()
                    .map_err(|_| bad("clientKey"))?,
            }),
            _ => Err(riptide::Error::InvalidOption(
                "secure takes privateKey and allowedClients (listeners) or serverPublicKey and \
                 clientKey (dials)"
                    .into(),
            )),
        }
    }
}

/// A listener's set of allowed client keys (`secure.allowedClients`).
pub fn allowed_clients(keys: &[Uint8Array]) -> Result<AllowedClients, riptide::Error> {
    AllowedClients::new(keys.iter().map(|k| &k[..])).map_err(|_| bad_client_key(keys))
}

/// Replaces the keys of `set` (`engine.setAllowedClients`); nothing changes on an error.
pub fn replace_allowed_clients(
    set: &AllowedClients,
    keys: &[Uint8Array],
) -> Result<(), riptide::Error> {
    set.replace(keys.iter().map(|k| &k[..]))
        .map_err(|_| bad_client_key(keys))
}

/// Makes a `kcp://` listener use `engine`'s set of allowed client keys, or makes its set the
/// engine's when it is the first: every listener of an engine has the same `secure` option,
/// and one shared set lets `setAllowedClients` change them all at once. The worker reactors'
/// copies of the listener options (`reusePort`) share it too.
pub fn share_allowed_clients(
    options: &mut riptide::ListenOptions,
    engine: &mut Option<AllowedClients>,
) {
    let secure = options.kcp.as_mut().and_then(|k| k.secure.as_mut());
    if let Some(KcpSecure::Server {
        allowed_clients: Some(set),
        ..
    }) = secure
    {
        match engine {
            Some(first) => *set = first.clone(),
            None => *engine = Some(set.clone()),
        }
    }
}

/// The error for a list of client keys that was refused, naming the first bad one by index
/// (only called once the list failed, so the common path checks each key once).
fn bad_client_key(keys: &[Uint8Array]) -> riptide::Error {
    let index = keys
        .iter()
        .position(|k| riptide::secure::public_key_from_slice(k).is_err())
        .unwrap_or_default();
    riptide::Error::InvalidOption(format!(
        "secure.allowedClients[{index}] must be a valid X25519 public key (32 bytes, not a \
         small-order point)"
    ))
}

/// A key pair for secure mode (`generateKeyPair()`).
#[napi(object)]
pub struct NativeKeyPair {
    /// The public key: a server's goes to its clients (`secure.serverPublicKey`), a client's
    /// to the server's `secure.allowedClients`.
    pub public_key: Uint8Array,
    /// The private key: a server's `secure.privateKey` or a client's `secure.clientKey`. Keep
    /// it secret.
    pub private_key: Uint8Array,
}

/// One named counter of a KCP session's packet layers.
#[napi(object)]
pub struct NativeKcpCounter {
    pub name: String,
    pub value: f64,
}

/// A number of ms as a duration, `0` meaning "never" (`None`); checked by [`crate::millis`].
fn never_or(what: &str, ms: f64) -> Result<Option<Duration>, riptide::Error> {
    crate::millis::millis(what, ms).map(|d| (!d.is_zero()).then_some(d))
}

/// A KCP session's statistics, for `conn.kcpStats()`.
#[napi(object)]
pub struct NativeKcpStats {
    /// Smoothed round-trip time in ms.
    pub srtt: f64,
    /// Round-trip time variation in ms.
    pub rttvar: f64,
    /// Current retransmission timeout in ms.
    pub rto: f64,
    /// Segments resent after their timeout.
    pub retransmits: f64,
    /// Segments resent early because later ones were acknowledged.
    pub fast_retransmits: f64,
    /// Send window in segments.
    pub snd_wnd: f64,
    /// Receive window in segments.
    pub rcv_wnd: f64,
    /// The peer's last advertised receive window in segments.
    pub rmt_wnd: f64,
    /// Congestion window in segments.
    pub cwnd: f64,
    /// Segments received.
    pub in_segments: f64,
    /// Segments sent (retransmissions included).
    pub out_segments: f64,
    /// The packet layers' named counters (`fecRecovered`, `secureReplayed`...), in order.
    pub layers: Vec<NativeKcpCounter>,
}

impl From<riptide::kcp::Stats> for NativeKcpStats {
    fn from(s: riptide::kcp::Stats) -> Self {
        NativeKcpStats {
            srtt: f64::from(s.srtt),
            rttvar: f64::from(s.rttvar),
            rto: f64::from(s.rto),
            retransmits: s.retransmits as f64,
            fast_retransmits: s.fast_retransmits as f64,
            snd_wnd: f64::from(s.snd_wnd),
            rcv_wnd: f64::from(s.rcv_wnd),
            rmt_wnd: f64::from(s.rmt_wnd),
            cwnd: f64::from(s.cwnd),
            in_segments: s.in_segments as f64,
            out_segments: s.out_segments as f64,
            layers: Vec::new(),
        }
    }
}
