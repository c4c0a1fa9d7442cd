//! Listeners and the way in for new connections: binding, accepting within the admission
//! caps, handing connections to the reactor the balancer picks, and backing off when the
//! process runs out of descriptors.

use super::{Reactor, FIRST_LISTENER};
use crate::address::Address;
use crate::config::ListenOptions;
use crate::conns::{NewConn, Place, Transport};
use crate::handler::EventHandler;
#[cfg(unix)]
use crate::inherit::{take_stream, take_udp};
use crate::kcp_options::KcpOptions;
use crate::layer::StreamLayer;
use crate::proxy_layer::ProxyLayer;
use crate::remote::Command;
use crate::stream::{Listener, PeerAddr, Stream};
use crate::stream_stack::StreamStack;
use crate::Error;
use mio::{Interest, Token};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// No socket is handed over on this platform (no descriptors to inherit).
#[cfg(not(unix))]
fn take_stream(_: &Address, _: &str) -> Option<Listener> {
    None
}

/// No socket is handed over on this platform (no descriptors to inherit).
#[cfg(not(unix))]
fn take_udp(_: &Address, _: &str) -> Option<mio::net::UdpSocket> {
    None
}

/// First pause of accepting after a resource error; it doubles up to [`MAX_ACCEPT_BACKOFF`].
pub(super) const MIN_ACCEPT_BACKOFF: Duration = Duration::from_millis(10);
/// Longest pause of accepting: new connections resume within this after fds free.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_millis(500);

impl Reactor {
    /// Binds and starts listening on `url` (`tcp://host:port`, `unix://path`, `udp://`,
    /// `kcp://`), or takes the handed-over socket for it ([`crate::inherit`]). Returns the bound address, which tells the port when the URL asked for
    /// port 0.
    pub fn listen(&mut self, url: &str) -> Result<PeerAddr, Error> {
        self.listen_with(url, ListenOptions::default())
    }

    /// Like [`Reactor::listen`], with the stack every connection of the listener gets: a
    /// codec framing its messages (`on_traffic` then gets whole frames and writes are
    /// framed), stream layers, a PROXY header expected first, KCP parameters (with a
    /// [`crate::KcpOptions::carrier`], the URL is `kcp://name` and nothing is bound). Codec and
    /// layers are ignored for `udp://`.
    pub fn listen_with(
        &mut self,
        url: &str,
        mut options: ListenOptions,
    ) -> Result<PeerAddr, Error> {
        if let Some(carrier) = options.kcp.as_ref().and_then(|k| k.carrier.clone()) {
            return self.listen_carried(url, carrier, options);
        }
        let address = Address::parse(url)?;
        if let Address::WebRtc(addr) = address {
            return self.listen_webrtc(addr, options);
        }
        let token = Token(FIRST_LISTENER - self.listeners.len());
        let index = u16::try_from(self.listeners.len())
            .map_err(|_| Error::InvalidOption("too many listeners".into()))?;
        if let Address::Kcp(_) = address {
            options
                .kcp
                .get_or_insert_with(KcpOptions::default)
                .validate()?;
        } else {
            options.kcp = None;
        }
        let listener = if let Address::Udp(addr) | Address::Kcp(addr) = address {
            let secure = matches!(
                options.kcp.as_ref().and_then(|k| k.secure.as_ref()),
                Some(crate::KcpSecure::Server { .. })
            );
            let mut udp = match take_udp(&address, url) {
                Some(udp) if secure => crate::generation::join_group(udp, &self.config.socket)?,
                Some(udp) => udp,
                None => self.config.socket.bind_udp(addr)?,
            };
            self.poll
                .registry()
                .register(&mut udp, token, Interest::READABLE)?;
            let local = udp.local_addr()?;
            let socket = self.conns.add_udp(udp, index);
            if let Some(gate) = options
                .kcp
                .as_ref()
                .map(|k| k.make_gate())
                .transpose()?
                .flatten()
            {
                self.conns.set_gate(socket, gate);
            }
            Listener::Datagram(socket, local)
        } else {
            let mut listener = match take_stream(&address, url) {
                Some(listener) => listener,
                None => self.config.socket.bind(&address)?,
            };
            self.poll
                .registry()
                .register(&mut listener, token, Interest::READABLE)?;
            listener
        };
        let local = listener.local_addr()?;
        self.listeners.push(listener);
        self.codecs.push(Arc::new(options));
        Ok(local)
    }

    /// Adds an admitted connection to this reactor's table; `on_open` follows once its layers
    /// are ready (at once without layers). A connection the table cannot take is refused (the
    /// stream is dropped) and its admission place given back.
    /// `listener` is the index of the listener that accepted it.
    pub(super) fn open<H: EventHandler>(
        &mut self,
        stream: Stream,
        peer: PeerAddr,
        options: &ListenOptions,
        listener: u16,
        handler: &mut H,
    ) {
        let ip = match peer {
            PeerAddr::Inet(a) => Some(a.ip()),
            PeerAddr::Unix(_) => None,
        };
        // A PROXY listener's peer is the balancer: its per-IP place is taken against the
        // client the header names.
        let place = if options.proxy_protocol.is_some() {
            Place::Deferred
        } else {
            Place::Held(ip)
        };
        let mut layers: Vec<Box<dyn StreamLayer>> = Vec::new();
        if let Some(mode) = options.proxy_protocol {
            layers.push(Box::new(ProxyLayer::new(mode, options.proxy_timeout)));
        }
        layers.extend(StreamStack::make(&options.layers));
        let inserted = self.conns.insert(NewConn {
            transport: Transport::Plain(stream),
            peer,
            place,
            codec: options.codec.as_ref(),
            layers,
            connecting: false,
            listener: Some(listener),
        });
        match inserted {
            Ok(_) => self.reap(handler),
            Err(_) => self.conns.admission().release(match place {
                Place::Held(ip) => ip,
                _ => None,
            }),
        }
    }

    /// Stops accepting for a while after a resource error; reports at most once a second.
    fn pause_accepting<H: EventHandler>(&mut self, err: io::Error, handler: &mut H) {
        let now = Instant::now();
        let count = self.counters.accept_error();
        self.accept_paused_until = Some(now + self.accept_backoff);
        self.accept_backoff = (self.accept_backoff * 2).min(MAX_ACCEPT_BACKOFF);
        if self
            .last_accept_report
            .is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1))
        {
            self.last_accept_report = Some(now);
            handler.on_accept_error(&err.into(), count);
        }
    }

    /// Accepts up to `budget` connections from listener `index`, keeping each or handing it
    /// to the reactor the balancer picks.
    pub(super) fn accept<H: EventHandler>(&mut self, index: usize, handler: &mut H, budget: usize) {
        let token = Token(FIRST_LISTENER - index);
        for _ in 0..budget.max(1) {
            let (Some(listener), Some(options)) =
                (self.listeners.get(index), self.codecs.get(index))
            else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(pair) => pair,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if crate::platform::is_resource_limit(&e) => {
                    self.pause_accepting(e, handler);
                    return;
                }
                // A connection that failed before we took it (ECONNABORTED): skip it.
                Err(_) => continue,
            };
            let stream = match stream {
                Stream::Tcp(tcp) if self.signals.serves(index) => {
                    self.signals.adopt(index, tcp, self.poll.registry());
                    continue;
                }
                stream => stream,
            };
            let options = options.clone();
            // `listen_with` refused more listeners than a u16 counts.
            let listener = u16::try_from(index).unwrap_or(u16::MAX);
            self.accept_backoff = MIN_ACCEPT_BACKOFF;
            let ip = match peer {
                PeerAddr::Inet(a) => Some(a.ip()),
                PeerAddr::Unix(_) => None,
            };
            // A PROXY listener counts the client the header names, not the balancer.
            let counted = if options.proxy_protocol.is_some() {
                None
            } else {
                ip
            };
            if !self.conns.admission().admit(counted) {
                // Over a cap: dropping the stream refuses the connection.
                continue;
            }
            let target = if self.peers.len() > 1 {
                self.balancer.pick(&self.peers, &peer)
            } else {
                self.remote.index
            };
            if target == self.remote.index {
                self.open(stream, peer, &options, listener, handler);
            } else if let Some(std) = stream.into_std() {
                let sent = match self.peers.get(target) {
                    Some(remote) => remote.try_send(Command::Adopt(std, peer, options, listener)),
                    None => Err(Command::Adopt(std, peer, options, listener)),
                };
                if let Err(Command::Adopt(std, peer, options, listener)) = sent {
                    // The chosen reactor stopped: serve the connection here instead.
                    if let Ok(stream) = std.into_stream() {
                        self.open(stream, peer, &options, listener, handler);
                    }
                }
            }
        }
        self.again.push(token);
    }
}
