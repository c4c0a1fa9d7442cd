//! The callbacks a reactor dispatches to. One handler serves every connection of a reactor,
//! like a gnet `EventHandler` or a netty pipeline's last handler.

use crate::carrier::DatagramCarrier;
use crate::conns::Conns;
use crate::flow::IdleKind;
use crate::slab::ConnId;
use crate::stream::PeerAddr;
use crate::Error;
use std::net::SocketAddr;
use std::time::Duration;

/// Receives a reactor's connection events. Every method runs on the reactor's thread, inside
/// [`crate::Reactor::turn`]; `conns` lets it write to or close any connection of this reactor,
/// not only the one the event is about.
pub trait EventHandler {
    /// The engine is listening on `addrs` (called once per engine, on reactor 0's handler).
    fn on_boot(&mut self, addrs: &[PeerAddr]) {
        let _ = addrs;
    }

    /// A connection was accepted. Its id stays valid until [`EventHandler::on_close`].
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = (conns, id);
    }

    /// Bytes arrived. `data` is borrowed from the reactor's read buffer: copy what you keep.
    /// Empty after a [`crate::Remote::wake`].
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]);

    /// Room for the next read of a connection whose bytes reach `on_traffic` as they are (no
    /// codec, no stream layers). A handler that would copy them into a buffer of its own (a
    /// driver filling an event batch) returns at least `want` bytes of that buffer's free
    /// space; the reactor reads straight into it and calls
    /// [`EventHandler::on_traffic_placed`] instead of `on_traffic`, so the bytes are not
    /// copied. The default, `None`, keeps the reactor's own read buffer.
    fn read_space(&mut self, want: usize) -> Option<&mut [u8]> {
        let _ = want;
        None
    }

    /// `len` bytes of the connection's traffic are at the start of the space
    /// [`EventHandler::read_space`] last returned: the bytes retained from before (if any),
    /// then the read's. Called only after `read_space` gave space.
    fn on_traffic_placed(&mut self, conns: &mut Conns, id: ConnId, len: usize) {
        let _ = (conns, id, len);
    }

    /// A datagram arrived on UDP socket `socket` from `peer` (UDP without sessions, gnet's
    /// model). Reply with [`Conns::send_to`].
    fn on_datagram(&mut self, conns: &mut Conns, socket: usize, peer: SocketAddr, data: &[u8]) {
        let _ = (conns, socket, peer, data);
    }

    /// A message arrived on a KCP session's unreliable channel ([`Conns::send_unreliable`]):
    /// one datagram, outside KCP and the codec, maybe lost or out of order (game state that
    /// the next update replaces). Ignored unless handled.
    fn on_unreliable(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = (conns, id, data);
    }

    /// A KCP session on `carrier` ([`crate::KcpOptions::carrier`]) sent `datagram` to the peer
    /// named `peer`: carry it there over the application's own transport. `datagram` is
    /// borrowed: copy what you keep. Dropped (as a lost datagram, which KCP resends) unless
    /// handled.
    fn on_carrier_send(
        &mut self,
        conns: &mut Conns,
        carrier: &DatagramCarrier,
        datagram: &[u8],
        peer: &str,
    ) {
        let _ = (conns, carrier, datagram, peer);
    }

    /// The connection is gone (the peer closed, an error, or [`Conns::close`]). `err` is `None`
    /// for an orderly close. The id is already stale here.
    fn on_close(&mut self, conns: &mut Conns, id: ConnId, err: Option<&Error>) {
        let _ = (conns, id, err);
    }

    /// The connection's codec rejected input (`Error::Frame`: too long, corrupt). The bad
    /// bytes were skipped and the connection goes on, as in netty; close it here if the
    /// protocol cannot recover.
    fn on_error(&mut self, conns: &mut Conns, id: ConnId, err: &Error) {
        let _ = (conns, id, err);
    }

    /// The connection crossed a water mark: `false` when its queue rose above the high mark,
    /// `true` when it fell back to the low mark (the "drain" moment to write again).
    fn on_writability(&mut self, conns: &mut Conns, id: ConnId, writable: bool) {
        let _ = (conns, id, writable);
    }

    /// The bytes written before [`Conns::mark`]`(id, token)` reached the kernel (`err` is
    /// `None`), or the connection closed first (`Some(ConnClosed)`). Once per token.
    fn on_write_done(&mut self, conns: &mut Conns, id: ConnId, token: u64, err: Option<&Error>) {
        let _ = (conns, id, token, err);
    }

    /// The peer half-closed (FIN) a connection of an engine that allows half-open
    /// connections; it can still write, then [`Conns::end`] or [`Conns::close`].
    fn on_end(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = (conns, id);
    }

    /// A graceful stop began ([`crate::Reactor::drain`]): the connection should end soon, and
    /// this is the moment to tell the peer (an HTTP/2 or WebSocket GOAWAY, a protocol's own
    /// "reconnect elsewhere"). Called once per open connection, also for those that open
    /// during the drain. The connection stays open until it closes or the drain's deadline,
    /// when it closes with FIN (reset only if its queued bytes could not go out). The
    /// default closes it at once after its queued bytes are written.
    fn on_drain(&mut self, conns: &mut Conns, id: ConnId) {
        let _ = conns.close(id);
    }

    /// A `webrtc://` listener with `authorize` holds this offer until
    /// [`Conns::webrtc_decide`] says whether to answer it (now or later; refused: `403`).
    /// The default allows it.
    fn on_webrtc_offer(&mut self, conns: &mut Conns, offer: &crate::WebRtcOffer) {
        conns.webrtc_decide(offer.request, true);
    }

    /// The connection was idle for the configured time (netty's `IdleStateEvent`).
    fn on_idle(&mut self, conns: &mut Conns, id: ConnId, kind: IdleKind) {
        let _ = (conns, id, kind);
    }

    /// A timer set with [`Conns::set_timer`] fired.
    fn on_timer(&mut self, conns: &mut Conns, id: ConnId, token: u64) {
        let _ = (conns, id, token);
    }

    /// Accepting failed for lack of resources (EMFILE...) and is paused briefly; called at
    /// most once a second with the running count of such failures.
    fn on_accept_error(&mut self, err: &Error, count: u64) {
        let _ = (err, count);
    }

    /// An accepted connection failed before it opened, so no other callback ever saw it
    /// (node:tls's `tlsClientError`): its TLS handshake failed (`ERR_TLS_HANDSHAKE`: an
    /// untrusted client certificate, garbage instead of a hello, the handshake timeout), its
    /// PROXY header was bad (`ERR_PROXY_PROTOCOL`), or the peer reset or closed it first
    /// (`ECONNRESET`). `peer` is the client's address (the one a PROXY header named, once
    /// read). Counted in [`crate::ReactorStats::handshake_errors`].
    fn on_handshake_error(&mut self, err: &Error, peer: &PeerAddr) {
        let _ = (err, peer);
    }

    /// The ticker fired (on reactor 0, when enabled). Return the delay until the next tick, or
    /// `None` to stop ticking.
    fn on_tick(&mut self, conns: &mut Conns) -> Option<Duration> {
        let _ = conns;
        None
    }

    /// The engine stopped; every connection has had its `on_close` (reactor 0's handler).
    fn on_shutdown(&mut self) {}
}
