//! `webrtc://` listeners: a UDP socket whose datagrams go to one WebRTC endpoint, and a TCP
//! listener on the same port whose connections are its signalling (or none: signalling
//! attached to an HTTP listener, whose requests arrive as commands).

use super::{Reactor, FIRST_LISTENER};
use crate::address::Address;
use crate::config::ListenOptions;
use crate::handler::EventHandler;
use crate::stream::{Listener, PeerAddr};
use crate::webrtc_attach::SignalReply;
use crate::webrtc_options::WebRtcOptions;
use crate::webrtc_table::RtcListener;
use crate::Error;
use mio::{Interest, Token};
use riptide_webrtc::geckos::{Geckos, GeckosConfig};
use riptide_webrtc::Endpoint;
use std::net::SocketAddr;
use std::sync::Arc;

/// How many ephemeral UDP ports are tried for one whose TCP twin is free too (port 0).
const PORT_TRIES: usize = 16;

impl Reactor {
    /// Binds a `webrtc://` listener at `addr`: UDP and TCP on the same port (with port 0, the
    /// port the kernel picks for UDP, tried again while its TCP twin is taken). Two listeners
    /// are added, the UDP one first; the returned address is both's. Without signalling
    /// (`webrtc.signalling` false) only the UDP one.
    pub(super) fn listen_webrtc(
        &mut self,
        addr: SocketAddr,
        mut options: ListenOptions,
    ) -> Result<PeerAddr, Error> {
        options.kcp = None;
        let rtc = options
            .webrtc
            .get_or_insert_with(WebRtcOptions::default)
            .clone();
        let first = self.listeners.len();
        let index = u16::try_from(first + 1)
            .map_err(|_| Error::InvalidOption("too many listeners".into()))?
            - 1;
        let tries = if addr.port() == 0 { PORT_TRIES } else { 1 };
        let mut tried = 0;
        let (mut udp, tcp, local) = loop {
            let udp = self.config.socket.bind_udp(addr)?;
            let local = udp.local_addr()?;
            if !rtc.signalling {
                break (udp, None, local);
            }
            match self.config.socket.bind(&Address::Tcp(local)) {
                Ok(tcp) => break (udp, Some(tcp), local),
                Err(e) => {
                    tried += 1;
                    if tried >= tries {
                        return Err(e);
                    }
                }
            }
        };
        let endpoint = Endpoint::new(rtc.endpoint_config(local)?)
            .map_err(|e| Error::InvalidOption(format!("webrtc: {e}")))?;
        let registry = self.poll.registry();
        registry.register(&mut udp, Token(FIRST_LISTENER - first), Interest::READABLE)?;
        let mut tcp = tcp;
        if let Some(tcp) = tcp.as_mut() {
            registry.register(tcp, Token(FIRST_LISTENER - first - 1), Interest::READABLE)?;
        }
        let socket = self.conns.add_udp(udp, index);
        let codec = options.codec.clone();
        let mut listener = RtcListener::new(endpoint, rtc.path.clone(), rtc.max_body, codec);
        listener.static_dir = rtc.static_dir.clone();
        listener.authorize = rtc.authorize;
        if rtc.geckos {
            let geckos = Geckos::new(GeckosConfig::default())
                .map_err(|e| Error::InvalidOption(format!("webrtc: {e}")))?;
            listener.geckos = Some(geckos);
        }
        self.conns.rtc_listen(socket, listener);
        let signalling = tcp.is_some().then_some(first + 1);
        self.signals
            .add_listener(signalling, socket, rtc.request_timeout);
        let options = Arc::new(options);
        self.listeners.push(Listener::Datagram(socket, local));
        self.codecs.push(options.clone());
        if let Some(tcp) = tcp {
            self.listeners.push(tcp);
            self.codecs.push(options);
        }
        Ok(PeerAddr::Inet(local))
    }

    /// A signalling request an HTTP listener received (`request`: its `http1` frame, from
    /// `remote`) for the `webrtc://` listener bound at `webrtc_address` (a `webrtc://` URL, as
    /// bound: port 0 resolved): answered through `reply`, or held for the handler's
    /// `on_webrtc_offer` when the listener has `authorize`.
    pub(super) fn webrtc_signal<H: EventHandler>(
        &mut self,
        webrtc_address: &str,
        (request, remote): (&[u8], SocketAddr),
        reply: SignalReply,
        handler: &mut H,
    ) {
        let wanted = match Address::parse(webrtc_address) {
            Ok(Address::WebRtc(a)) => Some(a),
            _ => None,
        };
        let socket = self.listeners.iter().find_map(|l| match l {
            Listener::Datagram(socket, local)
                if Some(*local) == wanted && self.conns.rtc_signal_limits(*socket).is_some() =>
            {
                Some(*socket)
            }
            _ => None,
        });
        let Some(socket) = socket else {
            reply.send(Err(Error::InvalidAddress(format!(
                "{webrtc_address:?} is not a webrtc:// listener of this engine (give the \
                 webrtc:// URL as bound)"
            ))));
            return;
        };
        let offer = self
            .signals
            .attach(&mut self.conns, socket, (request, remote), reply);
        if let Some(offer) = offer {
            handler.on_webrtc_offer(&mut self.conns, &offer);
        }
    }
}
