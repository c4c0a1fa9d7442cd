//! What reactors, listeners and dials are configured with: the reactor's budgets and socket
//! options, and the stack each listener or dial gives its connections (codec, stream layers,
//! PROXY protocol, KCP).

use crate::admission::Admission;
use crate::flow::FlowConfig;
use crate::kcp_options::KcpOptions;
use crate::layer::StreamLayerFactory;
use crate::pubsub::PubSub;
use crate::socket::SocketOptions;
use crate::webrtc_options::WebRtcOptions;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// A codec factory shared by a listener's connections (each gets its own codec from it).
pub type SharedCodec = Arc<dyn riptide_codec::CodecFactory>;

/// Limits on the work one [`Reactor::turn`] does, so one busy peer cannot starve the others
/// or the JS thread, and the socket options of its listeners and connections.
#[derive(Clone, Debug)]
pub struct ReactorConfig {
    /// Most readiness events (and inbox commands) handled per turn; the rest wait.
    pub event_budget: usize,
    /// The most bytes one stream read delivers (gnet's `ReadBufferCap`). Datagrams are read
    /// whole whatever this says (into a buffer of at least [`crate::MAX_DATAGRAM`] bytes): a UDP read
    /// into a smaller buffer would cut the datagram silently.
    pub read_buffer_cap: usize,
    /// Once a turn has read this many bytes, further readable connections wait for the next
    /// turn. Bounds what one turn hands a driver to at most this plus one read buffer.
    pub read_budget: usize,
    /// Bytes of capacity a connection's drained outbound queue keeps for reuse (gnet's
    /// `WriteBufferCap`); beyond it the memory goes back, so idle connections stay small.
    pub write_buffer_cap: usize,
    /// Options of listening and accepted sockets.
    pub socket: SocketOptions,
    /// UDP sessions: with `Some(idle)`, each UDP peer becomes a connection (`on_open`,
    /// `on_traffic`, `on_close` after `idle` without datagrams). With `None` (gnet's model)
    /// each datagram goes to [`EventHandler::on_datagram`].
    pub udp_session_timeout: Option<Duration>,
    /// Most UDP sessions per reactor; datagrams from further new peers are dropped, so spoofed
    /// sources cannot grow the table without bound.
    pub max_udp_sessions: usize,
    /// Water marks, close timeout, half-open connections and idle detection.
    pub flow: FlowConfig,
    /// Caps on open connections, shared by every reactor whose config is cloned from this one.
    pub admission: Arc<Admission>,
    /// Topic pub/sub, shared like `admission`: every reactor made from a clone of this config
    /// receives the others' publishes.
    pub pubsub: Arc<PubSub>,
}

impl Default for ReactorConfig {
    fn default() -> Self {
        ReactorConfig {
            event_budget: 1024,
            read_buffer_cap: 64 * 1024,
            read_budget: 1024 * 1024,
            write_buffer_cap: 64 * 1024,
            socket: SocketOptions::default(),
            udp_session_timeout: None,
            max_udp_sessions: 65_536,
            flow: FlowConfig::default(),
            admission: Arc::new(Admission::default()),
            pubsub: Arc::new(PubSub::default()),
        }
    }
}

/// What a listener does to each connection it accepts before handing it to the handler: the
/// stack of layers and the codec.
#[derive(Clone, Default)]
pub struct ListenOptions {
    /// Framing of the connections (`None`: raw bytes).
    pub codec: Option<SharedCodec>,
    /// Stream layers between the socket and the codec, bottom (nearest the socket) first;
    /// each connection gets its own instances. Ignored by `udp://` and `kcp://` listeners.
    pub layers: Vec<StreamLayerFactory>,
    /// Expect a PROXY protocol header first (from a load balancer): `on_open` waits for it
    /// and the peer address becomes the original client's; a missing or bad header closes
    /// the connection with `ERR_PROXY_PROTOCOL`. It runs as the bottom stream layer.
    pub proxy_protocol: Option<riptide_codec::ProxyMode>,
    /// How long the PROXY header may take (then `ETIMEDOUT`).
    pub proxy_timeout: Duration,
    /// KCP parameters of a `kcp://` listener (`None`: [`KcpOptions::default`]); ignored by
    /// other transports.
    pub kcp: Option<KcpOptions>,
    /// Parameters of a `webrtc://` listener (`None`: [`WebRtcOptions::default`]); ignored by
    /// other transports.
    pub webrtc: Option<WebRtcOptions>,
}

impl fmt::Debug for ListenOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenOptions")
            .field("codec", &self.codec)
            .field("layers", &self.layers.len())
            .field("proxy_protocol", &self.proxy_protocol)
            .field("proxy_timeout", &self.proxy_timeout)
            .field("kcp", &self.kcp)
            .field("webrtc", &self.webrtc)
            .finish()
    }
}

/// How [`crate::Reactor::dial`] makes a connection: the same stack as a listener's, seen from
/// the client side.
#[derive(Clone, Default)]
pub struct DialOptions {
    /// Framing of the connection (`None`: raw bytes).
    pub codec: Option<SharedCodec>,
    /// Stream layers between the socket and the codec, bottom first (`tcp://`, `unix://`).
    pub layers: Vec<StreamLayerFactory>,
    /// How long the connect may take before the connection closes with `ETIMEDOUT`
    /// (`None`: as long as the kernel tries).
    pub connect_timeout: Option<Duration>,
    /// KCP parameters of a `kcp://` dial (`None`: [`KcpOptions::default`]).
    pub kcp: Option<KcpOptions>,
}

impl fmt::Debug for DialOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DialOptions")
            .field("codec", &self.codec)
            .field("layers", &self.layers.len())
            .field("connect_timeout", &self.connect_timeout)
            .field("kcp", &self.kcp)
            .finish()
    }
}
