//! `webrtc://` listeners: a UDP socket whose datagrams go to one WebRTC endpoint, and a TCP
//! listener on the same port whose connections are its signalling.

use super::{Reactor, FIRST_LISTENER};
use crate::address::Address;
use crate::config::ListenOptions;
use crate::stream::{Listener, PeerAddr};
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
    /// are added, the UDP one first; the returned address is both's.
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
            match self.config.socket.bind(&Address::Tcp(local)) {
                Ok(tcp) => break (udp, tcp, local),
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
        registry.register(
            &mut tcp,
            Token(FIRST_LISTENER - first - 1),
            Interest::READABLE,
        )?;
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
        self.signals
            .add_listener(first + 1, socket, rtc.request_timeout);
        let options = Arc::new(options);
        self.listeners.push(Listener::Datagram(socket, local));
        self.codecs.push(options.clone());
        self.listeners.push(tcp);
        self.codecs.push(options);
        Ok(PeerAddr::Inet(local))
    }
}
