//! Node-API binding of riptide. The only crate that knows about JavaScript: it owns the
//! same-thread driver, the boundary format (event batch out, staged writes in), the registry
//! that lets worker threads join an engine, and cross-thread completions. The public
//! TypeScript API in `index.ts` is built over the `NativeEngine` class exported here.

#![deny(clippy::undocumented_unsafe_blocks)]

mod batch;
mod carrier;
mod codec;
mod completions;
mod dns;
mod dns_resolver;
mod dns_tunnel;
mod drive;
mod event_log;
mod gather;
pub mod inherit;
mod js_batch;
mod js_end;
mod kcp;
mod metrics;
mod millis;
mod pubsub;
mod raw;
mod reactor_thread;
mod registry;
#[cfg(unix)]
mod same_thread_driver;
mod staged;
mod thread_driver;
mod tls;
#[cfg(unix)]
mod uv;
mod warn;
mod webrtc;

use codec::NativeListen;
use drive::{Drive, DriverKind, JsParts};
use napi::bindgen_prelude::*;
use napi::sys;
use napi_derive::napi;
use registry::Shared;
use riptide::{
    Admission, ConnId, FlowConfig, IdleTimeout, KeepAlive, LoadBalancing, PeerAddr, PubSub,
    Reactor, ReactorConfig, Remote, SocketOptions,
};
use std::sync::Arc;
use std::time::Duration;

/// Engine options, all given by the TypeScript layer (which validates them and owns the
/// defaults).
#[napi(object)]
pub struct NativeOptions {
    pub event_budget: u32,
    /// Bytes per stream read (`readBufferCap`).
    pub read_buffer_cap: u32,
    pub read_budget: u32,
    pub write_buffer_cap: u32,
    pub no_delay: bool,
    pub backlog: i32,
    pub reuse_addr: bool,
    pub reuse_port: bool,
    /// Keep-alive idle time in ms; 0 leaves keep-alive off.
    pub keep_alive_idle: u32,
    pub keep_alive_interval: u32,
    pub keep_alive_count: u32,
    /// `SO_RCVBUF`/`SO_SNDBUF`; 0 keeps the OS default.
    pub socket_recv_buffer: u32,
    pub socket_send_buffer: u32,
    /// `SO_BINDTODEVICE`; empty for none.
    pub bind_to_device: String,
    pub reactors: u32,
    /// `same-thread` (the JS thread's libuv loop watches the reactor) or `thread` (the reactor
    /// turns on a thread of its own and hands batches to the JS thread).
    pub driver: String,
    /// `round-robin`, `least-connections` or `source-addr-hash`.
    pub load_balancing: String,
    /// UDP session idle timeout in ms; 0 turns sessions off.
    pub udp_session_timeout: u32,
    pub max_udp_sessions: u32,
    /// IPv4 address of the multicast interface; empty for any.
    pub multicast_interface: String,
    pub multicast_interface_index: u32,
    pub write_high_water_mark: u32,
    pub write_low_water_mark: u32,
    /// 0: no hard cap.
    pub max_outbound: u32,
    /// ms; 0: wait as long as the peer reads.
    pub close_timeout: u32,
    pub allow_half_open: bool,
    /// Idle timeouts in ms; 0 for none.
    pub idle_read: u32,
    pub idle_write: u32,
    pub idle_all: u32,
    pub observe_output: bool,
    /// 0: no cap.
    pub max_connections: u32,
    pub max_connections_per_ip: u32,
    /// ms a partial frame may wait; 0 for no limit.
    pub frame_timeout: u32,
    /// What a publish does for a slow subscriber: `buffer`, `drop` or `close`.
    pub backpressure: String,
    /// Bytes queued beyond which `drop` and `close` apply.
    pub max_backpressure: u32,
}

impl NativeOptions {
    fn reactor_config(&self) -> ReactorConfig {
        let opt = |n: u32| (n > 0).then_some(n as usize);
        let ms = |n: u32| (n > 0).then(|| Duration::from_millis(u64::from(n)));
        ReactorConfig {
            event_budget: self.event_budget.max(1) as usize,
            read_buffer_cap: self.read_buffer_cap.max(1) as usize,
            read_budget: self.read_budget as usize,
            write_buffer_cap: self.write_buffer_cap as usize,
            socket: SocketOptions {
                no_delay: self.no_delay,
                backlog: self.backlog,
                reuse_addr: self.reuse_addr,
                reuse_port: self.reuse_port,
                reuse_port_listeners: if self.reuse_port {
                    self.reactors.max(1)
                } else {
                    1
                },
                keep_alive: (self.keep_alive_idle > 0).then(|| KeepAlive {
                    idle: Duration::from_millis(u64::from(self.keep_alive_idle)),
                    interval: Duration::from_millis(u64::from(self.keep_alive_interval)),
                    count: self.keep_alive_count,
                }),
                recv_buffer: opt(self.socket_recv_buffer),
                send_buffer: opt(self.socket_send_buffer),
                bind_to_device: (!self.bind_to_device.is_empty())
                    .then(|| self.bind_to_device.clone()),
                multicast_interface: self.multicast_interface.parse().ok(),
                multicast_interface_index: self.multicast_interface_index,
            },
            udp_session_timeout: (self.udp_session_timeout > 0)
                .then(|| Duration::from_millis(u64::from(self.udp_session_timeout))),
            max_udp_sessions: self.max_udp_sessions.max(1) as usize,
            flow: FlowConfig {
                write_high_water_mark: self.write_high_water_mark as usize,
                write_low_water_mark: self.write_low_water_mark as usize,
                max_outbound: opt(self.max_outbound),
                close_timeout: ms(self.close_timeout),
                allow_half_open: self.allow_half_open,
                idle_timeout: IdleTimeout {
                    read: ms(self.idle_read),
                    write: ms(self.idle_write),
                    all: ms(self.idle_all),
                    observe_output: self.observe_output,
                },
                frame_timeout: ms(self.frame_timeout),
            },
            admission: Arc::new(Admission::new(
                opt(self.max_connections),
                opt(self.max_connections_per_ip),
            )),
            pubsub: Arc::new(PubSub::new(pubsub::backpressure(
                &self.backpressure,
                self.max_backpressure,
            ))),
        }
    }

    fn policy(&self) -> LoadBalancing {
        match self.load_balancing.as_str() {
            "least-connections" => LoadBalancing::LeastConnections,
            "source-addr-hash" => LoadBalancing::SourceAddrHash,
            _ => LoadBalancing::RoundRobin,
        }
    }
}

/// A connection's place in its reactor's table.
#[napi(object)]
pub struct NativeConnId {
    pub slot: u32,
    pub generation: u32,
}

/// One PROXY protocol v2 extension.
#[napi(object)]
pub struct NativeTlv {
    pub r#type: u32,
    pub value: Buffer,
}

/// What a connection's PROXY protocol header said.
#[napi(object)]
pub struct NativeProxyHeader {
    pub source: Option<NativeAddress>,
    pub destination: Option<NativeAddress>,
    pub tlvs: Vec<NativeTlv>,
}

/// Operator counters of an engine.
#[napi(object)]
pub struct NativeStats {
    pub accept_errors: f64,
    pub rejected: f64,
    pub handshake_errors: f64,
    pub wakes: f64,
    pub js_calls: f64,
    pub events: f64,
}

/// A connection's peer, for a `Conn` made after its open event or for the target of a dial.
#[napi(object)]
pub struct NativePeer {
    /// The peer's address.
    pub addr: NativeAddress,
    /// The UDP listener socket of a UDP session.
    pub udp_socket: Option<u32>,
}

/// A bound or connected address (riptide's `PeerAddr`): an IP and port, or a Unix socket
/// path in `address` (port 0).
#[napi(object)]
pub struct NativeAddress {
    #[napi(ts_type = "'IPv4' | 'IPv6' | 'unix'")]
    pub family: String,
    pub address: String,
    pub port: u32,
}

impl From<PeerAddr> for NativeAddress {
    fn from(a: PeerAddr) -> Self {
        let family = match &a {
            PeerAddr::Inet(std::net::SocketAddr::V4(_)) => "IPv4",
            PeerAddr::Inet(std::net::SocketAddr::V6(_)) => "IPv6",
            PeerAddr::Unix(_) => "unix",
        };
        let (address, port) = a.host_port();
        NativeAddress {
            family: family.into(),
            address,
            port: u32::from(port),
        }
    }
}

/// Every `ERR_*` code the engine can report (`riptide::Error::CODES`); OS errors come as
/// errno names (`ECONNRESET`...) besides these. The TS layer has an error class for each.
#[napi]
pub fn error_codes() -> Vec<String> {
    riptide::Error::CODES
        .iter()
        .map(|c| c.to_string())
        .collect()
}

/// A fresh X25519 static key pair for secure mode, from the OS's random source.
#[napi]
pub fn generate_key_pair() -> napi::Result<kcp::NativeKeyPair> {
    let keys = riptide::secure::generate_keypair()
        .map_err(|e| napi::Error::from_reason(format!("generating a key pair: {e}")))?;
    Ok(kcp::NativeKeyPair {
        public_key: napi::bindgen_prelude::Uint8Array::new(keys.public.to_vec()),
        private_key: napi::bindgen_prelude::Uint8Array::new(keys.private.as_bytes().to_vec()),
    })
}

/// The JS result of a call into the reactor: its value, its error thrown with a code, or
/// `gone` thrown when the reactor has stopped (`with_reactor` gave `None`).
fn settle<T>(
    env: &Env,
    r: Option<std::result::Result<T, riptide::Error>>,
    gone: riptide::Error,
) -> Result<T> {
    match r {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(throw(env, e)),
        None => Err(throw(env, gone)),
    }
}

impl From<ConnId> for NativeConnId {
    fn from(id: ConnId) -> Self {
        NativeConnId {
            slot: id.slot,
            generation: id.generation,
        }
    }
}

/// Throws `err` as a JS `Error` whose `code` is the engine's stable code.
fn throw(env: &Env, err: riptide::Error) -> Error {
    throw_code(env, err.code(), &err.to_string())
}

/// Throws a JS `Error` with `code` and `message` (codes the core's error type has no variant
/// for, such as `ERR_UNSUPPORTED_PLATFORM`), for `Err(...)?` like [`throw`].
fn throw_code(env: &Env, code: &str, message: &str) -> Error {
    let code = std::ffi::CString::new(code).unwrap_or_default();
    let msg = std::ffi::CString::new(message).unwrap_or_default();
    // SAFETY: `env` is the live env of the current call (we are on its JS thread), and both
    // strings are NUL-terminated and outlive the call, which copies them.
    unsafe { sys::napi_throw_error(env.raw(), code.as_ptr(), msg.as_ptr()) };
    Error::new(Status::PendingException, "")
}

fn js_parts(dispatch: Unknown<'_>, ops: Int32ArraySlice<'_>, data: Uint8ArraySlice<'_>) -> JsParts {
    JsParts {
        dispatch: dispatch.raw(),
        staged_ops: ops.raw(),
        staged_data: data.raw(),
    }
}

/// The inbox of `reactor` in engine `engine`, or `ERR_ENGINE_STOPPED`.
fn remote_of(engine: u32, reactor: u32) -> std::result::Result<Remote, riptide::Error> {
    registry::get(engine)
        .and_then(|s| s.remote(reactor as usize))
        .ok_or(riptide::Error::EngineStopped)
}

/// One reactor of an engine, driven from this JS thread's loop.
#[napi]
pub struct NativeEngine {
    driver: Drive,
    shared: Arc<Shared>,
    engine_id: u32,
    index: u32,
}

#[napi]
impl NativeEngine {
    /// Binds `urls` and starts reactor 0 of a new engine. `dispatch(count, meta, arena)`
    /// receives each batch of events; `stagedOps`/`stagedData` are where JS queues writes
    /// during a batch. Other reactors join with [`NativeEngine::join`].
    #[napi(factory)]
    pub fn listen(
        env: Env,
        listeners: Vec<NativeListen>,
        options: NativeOptions,
        #[napi(ts_arg_type = "(count: number, meta: Int32Array, arena: Uint8Array) => void")]
        dispatch: Unknown<'_>,
        staged_ops: Int32ArraySlice<'_>,
        staged_data: Uint8ArraySlice<'_>,
    ) -> Result<NativeEngine> {
        let config = options.reactor_config();
        let kind = DriverKind::parse(&options.driver).map_err(|e| throw(&env, e))?;
        let mut reactor = Reactor::new(config.clone()).map_err(|e| throw(&env, e))?;
        let mut resolved = Vec::with_capacity(listeners.len());
        let mut tls = Vec::new();
        let mut allowed_clients = None;
        for l in &listeners {
            let (mut options, context) = l.options().map_err(|e| throw(&env, e))?;
            tls.extend(context);
            kcp::share_allowed_clients(&mut options, &mut allowed_clients);
            let transport = l.transport_url().map_err(|e| throw(&env, e))?;
            let bound = reactor
                .listen_with(&transport, options.clone())
                .map_err(|e| throw(&env, e))?;
            let url = match bound {
                PeerAddr::Inet(a) => {
                    format!("{}://{a}", transport.split("://").next().unwrap_or("tcp"))
                }
                PeerAddr::Unix(_) => transport,
            };
            resolved.push((url, options));
        }
        let reactors = options.reactors.max(1) as usize;
        let shared = Arc::new(Shared::new(
            config,
            options.policy(),
            resolved,
            tls,
            allowed_clients,
            reactors,
        ));
        shared.set_remote(0, Some(reactor.remote()));
        let engine_id = registry::register(shared.clone());
        Self::start(
            env,
            kind,
            reactor,
            js_parts(dispatch, staged_ops, staged_data),
            shared,
            engine_id,
            0,
        )
    }

    /// Starts reactor `index` of engine `engineId` on this (worker) thread under `driver`
    /// (as in [`NativeOptions::driver`]). With `reusePort` it binds its own listeners;
    /// otherwise it serves what reactor 0 hands it.
    #[napi(factory)]
    pub fn join(
        env: Env,
        engine_id: u32,
        index: u32,
        driver: String,
        #[napi(ts_arg_type = "(count: number, meta: Int32Array, arena: Uint8Array) => void")]
        dispatch: Unknown<'_>,
        staged_ops: Int32ArraySlice<'_>,
        staged_data: Uint8ArraySlice<'_>,
    ) -> Result<NativeEngine> {
        let kind = DriverKind::parse(&driver).map_err(|e| throw(&env, e))?;
        let shared =
            registry::get(engine_id).ok_or_else(|| throw(&env, riptide::Error::EngineStopped))?;
        let mut reactor = Reactor::with_index(shared.config.clone(), index as usize)
            .map_err(|e| throw(&env, e))?;
        if shared.config.socket.reuse_port {
            // A carrier serves one listener, and a `webrtc://` listener's peers live in one
            // endpoint: only reactor 0 has them.
            let own = |o: &riptide::ListenOptions| {
                o.kcp.as_ref().is_none_or(|k| k.carrier.is_none()) && o.webrtc.is_none()
            };
            for (url, options) in shared.listeners.iter().filter(|(_, o)| own(o)) {
                reactor
                    .listen_with(url, options.clone())
                    .map_err(|e| throw(&env, e))?;
            }
        }
        if !shared.set_remote(index as usize, Some(reactor.remote())) {
            return Err(throw(
                &env,
                riptide::Error::InvalidOption(format!("reactor index {index} is out of range")),
            ));
        }
        Self::start(
            env,
            kind,
            reactor,
            js_parts(dispatch, staged_ops, staged_data),
            shared,
            engine_id,
            index,
        )
    }

    fn start(
        env: Env,
        kind: DriverKind,
        reactor: Reactor,
        js: JsParts,
        shared: Arc<Shared>,
        engine_id: u32,
        index: u32,
    ) -> Result<NativeEngine> {
        let on_release = {
            let shared = shared.clone();
            Box::new(move || {
                shared.set_remote(index as usize, None);
                if index == 0 {
                    registry::unregister(engine_id);
                }
            })
        };
        let counters = shared.boundary(index as usize);
        let driver = Drive::start(kind, env.raw(), reactor, js, counters, on_release)?;
        Ok(NativeEngine {
            driver,
            shared,
            engine_id,
            index,
        })
    }

    /// This engine's id in the process (what connection handles carry).
    #[napi(getter)]
    pub fn engine_id(&self) -> u32 {
        self.engine_id
    }

    /// This reactor's index within its engine.
    #[napi(getter)]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// Dials `url` without blocking. The connection opens (an open event) or fails (a close
    /// event with the code) later; `timeoutMs` > 0 bounds the connect. A `kcp://name` dial
    /// whose `kcp.carrier` names an application carrier sends its datagrams there.
    #[napi]
    pub fn dial(
        &self,
        env: Env,
        url: String,
        codec: Option<codec::NativeCodec>,
        timeout_ms: f64,
        kcp: Option<kcp::NativeKcp>,
        tls: Option<&tls::NativeTlsDial>,
    ) -> Result<NativeConnId> {
        let timeout = millis::millis("timeout", timeout_ms).map_err(|e| throw(&env, e))?;
        let timeout = (!timeout.is_zero()).then_some(timeout);
        // A WebSocket client: its layer (above TLS) makes the handshake, bounded by the
        // connect timeout too; the codec carries its records.
        let (codec, ws) = match codec {
            Some(c) if c.kind == "websocket" => {
                let ws = c.ws_client_options(timeout).map_err(|e| throw(&env, e))?;
                (
                    Some(std::sync::Arc::new(ws.codec()) as riptide::SharedCodec),
                    Some(ws),
                )
            }
            other => {
                let codec = other.map(|c| c.shared()).transpose();
                (codec.map_err(|e| throw(&env, e.into()))?, None)
            }
        };
        let url = tls::transport(&url, tls.is_some()).map_err(|e| throw(&env, e))?;
        let layers = tls
            .map(|t| t.factory())
            .into_iter()
            .chain(ws.as_ref().map(riptide::WsClientOptions::client_factory))
            .collect();
        let kcp = kcp
            .map(|k| k.options())
            .transpose()
            .map_err(|e| throw(&env, e))?;
        let id = self.driver.with_reactor(|r| {
            r.dial(
                &url,
                riptide::DialOptions {
                    codec,
                    connect_timeout: timeout,
                    kcp,
                    layers,
                },
            )
        });
        settle(&env, id, riptide::Error::EngineStopped).map(Into::into)
    }

    /// Adopts a connected socket by descriptor (gnet's `Enroll`). The reactor takes ownership
    /// of `fd` (the caller must not close or use it again); an open event follows.
    ///
    /// Unix only: `fd` is a POSIX file descriptor, which Windows does not have (a socket there
    /// is a `SOCKET` handle, and Node's `fd` numbers are CRT emulations of it), so on Windows it
    /// throws `ERR_UNSUPPORTED_PLATFORM`. The method exists everywhere so the class has one
    /// shape, and one `binding.d.ts`, on every platform.
    #[napi]
    pub fn enroll(
        &self,
        env: Env,
        fd: i32,
        codec: Option<codec::NativeCodec>,
    ) -> Result<NativeConnId> {
        #[cfg(unix)]
        {
            use std::os::fd::{FromRawFd, OwnedFd};
            let codec = codec
                .map(|c| c.shared())
                .transpose()
                .map_err(|e| throw(&env, e.into()))?;
            if fd < 0 {
                return Err(throw(
                    &env,
                    riptide::Error::InvalidOption("fd must be >= 0".into()),
                ));
            }
            // SAFETY: the caller hands over ownership of an open descriptor (documented).
            let owned = unsafe { OwnedFd::from_raw_fd(fd) };
            let options = riptide::ListenOptions {
                codec,
                ..riptide::ListenOptions::default()
            };
            let id = self.driver.with_reactor(|r| r.enroll(owned, &options));
            settle(&env, id, riptide::Error::EngineStopped).map(Into::into)
        }
        #[cfg(not(unix))]
        {
            let _ = (fd, codec);
            Err(throw_code(
                &env,
                "ERR_UNSUPPORTED_PLATFORM",
                "enroll(fd) adopts a POSIX file descriptor and is not available on this platform",
            ))
        }
    }

    /// Spreads new connections over every reactor that has joined (reactor 0, without
    /// `reusePort`). Call once all have joined.
    #[napi]
    pub fn balance(&self) {
        if self.index == 0 && !self.shared.config.socket.reuse_port {
            let peers = self.shared.running();
            let policy = self.shared.policy;
            self.driver.with_reactor(|r| r.set_balancer(peers, policy));
        }
    }

    /// Answers (`allow`) or refuses (`403`) an offer a `webrtc://` listener held for the
    /// `authorize` hook (`EV_WEBRTC_OFFER`); the request id as JS rebuilt it.
    #[napi]
    pub fn webrtc_decide(&self, request: f64, allow: bool) {
        if request.is_finite() && request >= 0.0 && request <= u64::MAX as f64 {
            self.driver
                .with_reactor(|r| r.conns().webrtc_decide(request as u64, allow));
        }
    }

    /// [`webrtc_decide`](Self::webrtc_decide) for a geckos listener's `POST /connections`:
    /// refused with `401`, or answered with `user_data` (JSON text; none or unparsable: `{}`)
    /// as the client's `userData`.
    #[napi]
    pub fn webrtc_decide_geckos(&self, request: f64, allow: bool, user_data: Option<String>) {
        if request.is_finite() && request >= 0.0 && request <= u64::MAX as f64 {
            let user_data = user_data.and_then(|t| serde_json::from_str(&t).ok());
            self.driver.with_reactor(|r| {
                r.conns()
                    .webrtc_decide_geckos(request as u64, allow, user_data)
            });
        }
    }

    /// geckos's `emit(event, data, { reliable })` to a geckos peer's client (`data` as JSON
    /// text); false when dropped because the channel is congested.
    #[napi]
    pub fn geckos_emit(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        event: String,
        data: String,
        reliable: bool,
    ) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            let data: serde_json::Value = serde_json::from_str(&data)
                .map_err(|_| riptide::Error::InvalidOption("emit data must be JSON".into()))?;
            r.conns().geckos_emit(id, &event, &data, reliable)
        })
    }

    /// The held request a WebRTC peer's connection came from (to attach what `authorize`
    /// returned as its context); none for other connections.
    #[napi]
    pub fn webrtc_request(&self, slot: u32, generation: u32) -> Option<f64> {
        let id = ConnId { slot, generation };
        self.driver
            .with_reactor(|r| r.conns().webrtc_request(id))
            .flatten()
            .map(|r| r as f64)
    }

    /// What this reactor's `webrtc://` listeners hold (peers, half-open ones included).
    #[napi]
    pub fn webrtc_counts(&self) -> webrtc::NativeWebRtcCounts {
        self.driver
            .with_reactor(|r| r.conns().webrtc_counts().into())
            .unwrap_or_default()
    }

    /// The bound listener addresses, in the order given.
    #[napi]
    pub fn listeners(&self) -> Vec<NativeAddress> {
        self.driver
            .with_reactor(|r| r.local_addrs().into_iter().map(Into::into).collect())
            .unwrap_or_default()
    }

    /// Number of open connections on this reactor.
    #[napi]
    pub fn count_connections(&self) -> u32 {
        self.driver
            .with_reactor(|r| r.conns().len() as u32)
            .unwrap_or(0)
    }

    /// Accept pauses (EMFILE...), connections refused by the engine's caps, accepted
    /// connections that failed before they opened (TLS handshakes) and the boundary counts,
    /// summed over every reactor of the engine (the workers' too).
    #[napi]
    pub fn stats(&self) -> NativeStats {
        let (s, b) = self.shared.stats();
        NativeStats {
            accept_errors: s.accept_errors as f64,
            rejected: s.rejected as f64,
            handshake_errors: s.handshake_errors as f64,
            wakes: b.wakes as f64,
            js_calls: b.js_calls as f64,
            events: b.events as f64,
        }
    }

    /// Every running reactor's counters, per listener too, with its driver's boundary counts
    /// and handler time, in reactor order.
    #[napi]
    pub fn metrics(&self) -> Vec<metrics::NativeReactorMetrics> {
        self.shared.metrics().into_iter().map(Into::into).collect()
    }

    /// Open connections on every reactor of the engine.
    #[napi]
    pub fn count_all_connections(&self) -> u32 {
        self.shared
            .running()
            .iter()
            .map(|r| r.connections() as u32)
            .sum()
    }

    /// Applies the writes and closes JS has staged.
    #[napi]
    pub fn flush(&self) {
        self.driver.flush_staged();
    }

    /// Writes now (straight to the socket when nothing is queued). Returns whether the
    /// connection is still under its high water mark.
    #[napi]
    pub fn write(&self, env: Env, slot: u32, generation: u32, data: &[u8]) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().write(id, data)?;
            r.conns().is_writable(id)
        })
    }

    /// Reports `token` (a write-done event) once everything written so far reached the kernel.
    #[napi]
    pub fn mark(&self, env: Env, slot: u32, generation: u32, token: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().mark(id, u64::from(token))
        })
    }

    /// Stops reading the connection (the peer's TCP window closes).
    #[napi]
    pub fn pause(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().pause(id))
    }

    /// Reads the connection again.
    #[napi]
    pub fn resume(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().resume(id))
    }

    /// Half-closes: FIN after the queued bytes.
    #[napi]
    pub fn end(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().end(id))
    }

    /// Hands `message` to the connection's top stream layer outside the byte stream, after
    /// everything written before it (`Conns::control`): an HTTP listener's answer to a
    /// WebSocket upgrade.
    #[napi]
    pub fn control(&self, env: Env, slot: u32, generation: u32, message: &[u8]) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().control(id, message)
        })
    }

    /// Resets the connection now (the JS layer reports its own error, if any, in `onClose`).
    #[napi]
    pub fn destroy(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().destroy(id, None))
    }

    /// A one-shot timer event (`token`) for the connection after `ms`.
    #[napi]
    pub fn set_timer(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        ms: f64,
        token: u32,
    ) -> Result<()> {
        let delay = millis::millis("ms", ms).map_err(|e| throw(&env, e))?;
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().set_timer(id, delay, u64::from(token))
        })
    }

    /// Keeps `data` (what `onTraffic` did not consume) to deliver again in front of the next
    /// bytes: the path for tails too large to stage.
    #[napi]
    pub fn retain(&self, env: Env, slot: u32, generation: u32, data: &[u8]) -> Result<()> {
        let id = ConnId { slot, generation };
        settle(
            &env,
            self.driver.retain(id, data),
            riptide::Error::ConnClosed,
        )
    }

    /// Writes several buffers as one (`writev`).
    #[napi]
    pub fn writev(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        data: Vec<Uint8Array>,
    ) -> Result<()> {
        let bufs: Vec<&[u8]> = data.iter().map(|b| b.as_ref()).collect();
        self.on_conn(&env, slot, generation, |r, id| r.conns().writev(id, &bufs))
    }

    /// Closes after pending writes; `onClose` follows from the loop.
    #[napi]
    pub fn close(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().close(id))
    }

    /// Sends one datagram from UDP socket `socket` to `address:port`.
    #[napi]
    pub fn send_to(
        &self,
        env: Env,
        socket: u32,
        address: String,
        port: u32,
        data: &[u8],
    ) -> Result<()> {
        let ip: std::net::IpAddr = address.parse().map_err(|_| {
            throw(
                &env,
                riptide::Error::InvalidAddress(format!("{address:?} is not an IP address")),
            )
        })?;
        let port = u16::try_from(port).map_err(|_| {
            throw(
                &env,
                riptide::Error::InvalidOption(format!("port must be in [0, 65535], got {port}")),
            )
        })?;
        let peer = std::net::SocketAddr::new(ip, port);
        match self
            .driver
            .with_reactor(|r| r.conns().send_to(socket as usize, peer, data))
        {
            Some(r) => r.map_err(|e| throw(&env, e)),
            None => Err(throw(&env, riptide::Error::EngineStopped)),
        }
    }

    /// Schedules an `onTraffic` with no data for the connection.
    #[napi]
    pub fn wake(&self, env: Env, slot: u32, generation: u32) -> Result<()> {
        let remote = self.driver.with_reactor(|r| r.remote());
        let id = ConnId { slot, generation };
        remote
            .ok_or(riptide::Error::EngineStopped)
            .and_then(|r| r.wake(id))
            .map_err(|e| throw(&env, e))
    }

    /// Serves `tls` on every `tls://` listener of the engine (all its reactors) to connections
    /// accepted from now on; open connections keep their configuration. Checked before
    /// anything changes; throws `ERR_INVALID_ARG_VALUE` (also when there is no `tls://`
    /// listener).
    #[napi]
    pub fn set_tls_context(&self, env: Env, tls: tls::NativeTlsServer) -> Result<()> {
        let options = tls.options().map_err(|e| throw(&env, e))?;
        if self.shared.tls.is_empty() {
            return Err(throw(
                &env,
                riptide::Error::InvalidOption("the engine has no tls:// listener".into()),
            ));
        }
        // Built once to check it, so that no listener changes unless all can.
        riptide::TlsServerContext::new(&options).map_err(|e| throw(&env, e))?;
        for context in &self.shared.tls {
            context.set(&options).map_err(|e| throw(&env, e))?;
        }
        Ok(())
    }

    /// Replaces the client public keys the engine's secure `kcp://` listeners allow (on all
    /// reactors) for sessions created from now on; live sessions stay open. Checked before
    /// anything changes; throws `ERR_INVALID_ARG_VALUE` (also when no listener has
    /// `secure.allowedClients`).
    #[napi]
    pub fn set_allowed_clients(&self, env: Env, keys: Vec<Uint8Array>) -> Result<()> {
        let Some(set) = &self.shared.allowed_clients else {
            return Err(throw(
                &env,
                riptide::Error::InvalidOption(
                    "the engine has no kcp:// listener with secure.allowedClients".into(),
                ),
            ));
        };
        kcp::replace_allowed_clients(set, &keys).map_err(|e| throw(&env, e))
    }

    /// What the connection's TLS handshake negotiated (none without TLS).
    #[napi]
    pub fn tls_info(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
    ) -> Result<Option<tls::NativeTlsInfo>> {
        self.on_conn(&env, slot, generation, |r, id| {
            Ok(r.conns().tls_info(id)?.map(|t| tls::NativeTlsInfo {
                alpn_protocol: t
                    .alpn_protocol
                    .as_ref()
                    .map(|p| String::from_utf8_lossy(p).into_owned()),
                version: t.version.into(),
                resumed: t.resumed,
                kernel: t.kernel,
            }))
        })
    }

    /// The certificates the TLS peer presented, DER, leaf first (none without TLS or without
    /// a peer certificate).
    #[napi]
    pub fn tls_peer_certificates(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
    ) -> Result<Option<Vec<Uint8Array>>> {
        self.on_conn(&env, slot, generation, |r, id| {
            Ok(r.conns().tls_info(id)?.and_then(|t| {
                (!t.peer_certificates.is_empty()).then(|| {
                    t.peer_certificates
                        .iter()
                        .map(|c| Uint8Array::new(c.clone()))
                        .collect()
                })
            }))
        })
    }

    /// The PROXY protocol header the connection arrived with (none without one).
    #[napi]
    pub fn proxy_header(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
    ) -> Result<Option<NativeProxyHeader>> {
        self.on_conn(&env, slot, generation, |r, id| {
            Ok(r.conns().proxy_header(id)?.map(|h| NativeProxyHeader {
                source: h.source.map(|a| PeerAddr::Inet(a).into()),
                destination: h.destination.map(|a| PeerAddr::Inet(a).into()),
                tlvs: h
                    .tlvs
                    .iter()
                    .map(|(t, v)| NativeTlv {
                        r#type: u32::from(*t),
                        value: v.clone().into(),
                    })
                    .collect(),
            }))
        })
    }

    /// Bytes received and held for the next delivery (a partial frame or retained bytes).
    #[napi]
    pub fn inbound_buffered(&self, env: Env, slot: u32, generation: u32) -> Result<u32> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().inbound_len(id))
            .map(|n| n as u32)
    }

    /// Bytes accepted for the connection and not yet written to the socket.
    #[napi]
    pub fn outbound_buffered(&self, env: Env, slot: u32, generation: u32) -> Result<u32> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().outbound_len(id))
            .map(|n| n as u32)
    }

    /// KCP statistics of a `kcp://` connection, with its packet layers' counters.
    #[napi]
    pub fn kcp_stats(&self, env: Env, slot: u32, generation: u32) -> Result<kcp::NativeKcpStats> {
        self.on_conn(&env, slot, generation, |r, id| {
            let conns = r.conns();
            let mut stats = kcp::NativeKcpStats::from(conns.kcp_stats(id)?);
            stats.layers = conns
                .kcp_counters(id)?
                .into_iter()
                .map(|(name, value)| kcp::NativeKcpCounter {
                    name: name.into(),
                    value: value as f64,
                })
                .collect();
            Ok(stats)
        })
    }

    /// Sends one message on a KCP session's or WebRTC peer's unreliable channel
    /// (`conn.send(data, { reliable: false })`): `ERR_INVALID_ARG_VALUE` when no packet layer
    /// carries it (FEC or secure mode), `ERR_MESSAGE_TOO_LARGE` past one datagram or the
    /// peer's maximum message size. False when a WebRTC peer's channel was congested and the
    /// message dropped.
    #[napi]
    pub fn send_unreliable(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        data: &[u8],
    ) -> Result<bool> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().send_unreliable(id, data)
        })
    }

    /// The peer of a connection: of one JS has not seen yet (it was opened without an
    /// `onOpen` handler, so no `Conn` was made), or the target of a dial. With its UDP
    /// listener socket, for a UDP session.
    #[napi]
    pub fn peer(&self, env: Env, slot: u32, generation: u32) -> Result<NativePeer> {
        self.on_conn(&env, slot, generation, |r, id| {
            let conns = r.conns();
            Ok(NativePeer {
                addr: conns.peer_addr(id)?.into(),
                udp_socket: conns.udp_socket(id).map(|s| s as u32),
            })
        })
    }

    /// The connection's local address.
    #[napi]
    pub fn local_address(&self, env: Env, slot: u32, generation: u32) -> Result<NativeAddress> {
        self.on_conn(&env, slot, generation, |r, id| r.conns().local_addr(id))
            .map(Into::into)
    }

    /// `TCP_NODELAY`.
    #[napi]
    pub fn set_no_delay(&self, env: Env, slot: u32, generation: u32, on: bool) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().set_no_delay(id, on)
        })
    }

    /// TCP keep-alive; `idleMs` 0 turns it off.
    #[napi]
    pub fn set_keep_alive(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        idle_ms: u32,
        interval_ms: u32,
        count: u32,
    ) -> Result<()> {
        let ka = (idle_ms > 0).then(|| KeepAlive {
            idle: Duration::from_millis(u64::from(idle_ms)),
            interval: Duration::from_millis(u64::from(interval_ms.max(1))),
            count: count.max(1),
        });
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().set_keep_alive(id, ka)
        })
    }

    /// `SO_LINGER` in seconds; negative turns lingering off.
    #[napi]
    pub fn set_linger(&self, env: Env, slot: u32, generation: u32, seconds: i32) -> Result<()> {
        let linger = u64::try_from(seconds).ok().map(Duration::from_secs);
        self.on_conn(&env, slot, generation, |r, id| {
            r.conns().set_linger(id, linger)
        })
    }

    /// `SO_RCVBUF` (`recv`) or `SO_SNDBUF` (`send`).
    #[napi]
    pub fn set_buffer_size(
        &self,
        env: Env,
        slot: u32,
        generation: u32,
        #[napi(ts_arg_type = "'recv' | 'send'")] which: String,
        bytes: u32,
    ) -> Result<()> {
        self.on_conn(&env, slot, generation, |r, id| {
            if which == "recv" {
                r.conns().set_recv_buffer(id, bytes as usize)
            } else {
                r.conns().set_send_buffer(id, bytes as usize)
            }
        })
    }

    /// Schedules the next `onTick` in `ms` milliseconds; negative stops the ticker.
    #[napi]
    pub fn schedule_tick(&self, env: Env, ms: f64) -> Result<()> {
        let delay = if ms == -1.0 {
            None
        } else {
            Some(millis::millis("the next tick", ms).map_err(|e| throw(&env, e))?)
        };
        self.driver.with_reactor(|r| r.schedule_tick(delay));
        Ok(())
    }

    /// Test hook: the reactor's next wake panics in the middle of its batch, to test that a
    /// panic leaves the engine and the JS thread working. Refused unless the process runs
    /// with `RIPTIDE_TEST_HOOKS=1`.
    #[napi]
    pub fn inject_panic(&self, env: Env) -> Result<()> {
        if std::env::var_os("RIPTIDE_TEST_HOOKS").is_none_or(|v| v != "1") {
            return Err(throw(
                &env,
                riptide::Error::InvalidOption(
                    "injectPanic is a test hook (RIPTIDE_TEST_HOOKS=1)".into(),
                ),
            ));
        }
        self.driver.inject_panic();
        Ok(())
    }

    /// Delivers an execute event in the next batch of this reactor (`engine.execute`).
    #[napi]
    pub fn request_execute(&self) {
        self.driver.request_execute();
    }

    /// Stops this reactor: closes its connections and listeners; JS receives the closes, then
    /// shutdown. With `drainMs` > 0 connections first get that long to flush (graceful stop).
    #[napi]
    pub fn stop(&self, env: Env, drain_ms: f64) -> Result<()> {
        let drain = millis::millis("drainTimeout", drain_ms).map_err(|e| throw(&env, e))?;
        self.driver.stop((!drain.is_zero()).then_some(drain));
        Ok(())
    }

    /// Whether the reactor keeps its thread's loop alive (like `net.Server#ref/unref`).
    #[napi]
    pub fn set_ref(&self, keep_alive: bool) {
        self.driver.set_ref(keep_alive);
    }

    /// True until this reactor has stopped.
    #[napi(getter)]
    pub fn running(&self) -> bool {
        self.driver.running()
    }

    /// Installs this JS thread's handler for `asyncWrite`/`asyncClose` completions: it gets an
    /// array of `token, code` pairs (`code` is `''` on success).
    #[napi]
    pub fn set_completion_handler(
        env: Env,
        #[napi(ts_arg_type = "(pairs: Array<number | string>) => void")] handler: Unknown<'_>,
    ) -> Result<()> {
        completions::install(env.raw(), handler.raw())
    }

    /// Keeps this JS thread alive while `asyncWrite` callbacks are outstanding.
    #[napi]
    pub fn set_completion_ref(env: Env, keep_alive: bool) {
        completions::set_ref(env.raw(), keep_alive);
    }

    /// Writes to a connection of any reactor of any engine, from any JS thread. The write is
    /// queued on the owning reactor in order; with a non-zero `token` the completion handler
    /// later reports `token` with the outcome (exactly once).
    #[napi]
    pub fn async_write(
        env: Env,
        engine: u32,
        reactor: u32,
        slot: u32,
        generation: u32,
        data: &[u8],
        token: f64,
    ) -> Result<()> {
        let done = completions::completion_for(token);
        let id = ConnId { slot, generation };
        match remote_of(engine, reactor) {
            Ok(remote) => remote
                .async_write(id, data.to_vec(), done)
                .map_err(|e| throw(&env, e)),
            Err(e) => match done {
                Some(done) => {
                    done(Err(e));
                    Ok(())
                }
                None => Err(throw(&env, e)),
            },
        }
    }

    /// Closes a connection of any reactor from any JS thread, after its pending writes.
    #[napi]
    pub fn async_close(
        env: Env,
        engine: u32,
        reactor: u32,
        slot: u32,
        generation: u32,
    ) -> Result<()> {
        remote_of(engine, reactor)
            .and_then(|r| r.close(ConnId { slot, generation }))
            .map_err(|e| throw(&env, e))
    }
}

impl NativeEngine {
    /// Runs `f` for a connection of this reactor; stale ids and a stopped engine throw
    /// `ERR_CONN_CLOSED`.
    fn on_conn<T>(
        &self,
        env: &Env,
        slot: u32,
        generation: u32,
        f: impl FnOnce(&mut Reactor, ConnId) -> std::result::Result<T, riptide::Error>,
    ) -> Result<T> {
        let id = ConnId { slot, generation };
        settle(
            env,
            self.driver.with_reactor(|r| f(r, id)),
            riptide::Error::ConnClosed,
        )
    }
}
