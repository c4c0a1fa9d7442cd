//! The way in for bytes: reading ready connections, receiving a UDP listener's datagrams
//! (sessions, KCP, or plain `on_datagram`), and delivering what arrived through the
//! connection's codec to the handler.

use super::{sweep_period, Reactor, FIRST_LISTENER};
use crate::config::{ListenOptions, SharedCodec};
use crate::conns::{Conns, Input, Read};
use crate::handler::EventHandler;
use crate::kcp_options::KcpOptions;
use crate::slab::ConnId;
use crate::Error;
use mio::Token;
use riptide_codec::Decoded;
use std::io;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

impl Reactor {
    /// Receives up to `budget` datagrams on UDP socket `socket`: to the peer's KCP or UDP
    /// session when the listener has them, to `on_datagram` otherwise.
    pub(super) fn receive<H: EventHandler>(
        &mut self,
        socket: usize,
        token: Token,
        handler: &mut H,
        budget: usize,
    ) {
        let index = FIRST_LISTENER - token.0;
        let Some(options) = self.codecs.get(index).cloned() else {
            return;
        };
        // Lent out so the datagrams can be handed on while the reactor is borrowed.
        let mut batch = std::mem::take(&mut self.recv_batch);
        let mut left = budget.max(1);
        while left > 0 {
            let n = match self.conns.recv_batch(socket, &mut batch, left) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.recv_batch = batch;
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // ICMP errors surface here (ECONNREFUSED from an earlier send): not fatal.
                Err(_) => 1,
            };
            left = left.saturating_sub(n.max(1));
            for (data, peer) in batch.iter() {
                self.datagram(socket, peer, data, &options, handler);
            }
        }
        self.recv_batch = batch;
        self.again.push(token);
    }

    /// One datagram from `peer` on listener socket `socket`: to the peer's KCP or UDP session
    /// when the listener has them, to `on_datagram` otherwise.
    fn datagram<H: EventHandler>(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        data: &[u8],
        options: &ListenOptions,
        handler: &mut H,
    ) {
        if options.webrtc.is_some() {
            self.conns.rtc_datagram(socket, peer, data);
            self.reap(handler);
            return;
        }
        if let Some(kcp) = &options.kcp {
            self.kcp_datagram(socket, peer, data, kcp, options.codec.as_ref(), handler);
            return;
        }
        let max_sessions = self.max_sessions();
        match self.config.udp_session_timeout {
            None => handler.on_datagram(&mut self.conns, socket, peer, data),
            Some(idle) => {
                let Some((id, new)) = self.conns.udp_session(socket, peer, max_sessions) else {
                    return;
                };
                if new {
                    self.reap(handler);
                    self.sweep_at
                        .get_or_insert_with(|| Instant::now() + sweep_period(idle));
                }
                if self.conns.contains(id) {
                    handler.on_traffic(&mut self.conns, id, data);
                }
            }
        }
        self.reap(handler);
    }

    /// Sessions a datagram may still open: none during a graceful stop, which serves the
    /// sessions it has.
    fn max_sessions(&self) -> usize {
        if self.draining.is_some() {
            0
        } else {
            self.config.max_udp_sessions
        }
    }

    /// A datagram from `peer` for the `kcp://` listener on datagram socket `socket` (a UDP
    /// socket or a carrier): fed to its session, which it may open (or open anew, for a
    /// restarted client), then what KCP completed goes to the handler.
    pub(super) fn kcp_datagram<H: EventHandler>(
        &mut self,
        socket: usize,
        peer: SocketAddr,
        data: &[u8],
        kcp: &KcpOptions,
        codec: Option<&SharedCodec>,
        handler: &mut H,
    ) {
        let max_sessions = self.max_sessions();
        let id = match self
            .conns
            .kcp_accept(socket, peer, data, kcp, codec, max_sessions)
        {
            // Opened by this datagram (which it took in): on_open first.
            Some((id, true)) => {
                self.reap(handler);
                id
            }
            Some((id, false)) => match self.conns.kcp_input_from(id, Some(peer), data) {
                Input::NewConversation => {
                    // A restarted client: the old session ends, the datagram opens the new one.
                    self.conns.kcp_replace(id);
                    self.reap(handler);
                    match self
                        .conns
                        .kcp_accept(socket, peer, data, kcp, codec, max_sessions)
                    {
                        Some((id, true)) => {
                            self.reap(handler);
                            id
                        }
                        _ => return,
                    }
                }
                _ => id,
            },
            None => return,
        };
        self.kcp_deliver(id, handler);
    }

    /// One read from the connection in `token`'s slot; returns the bytes read. `read_closed`
    /// (the peer's FIN or an error came with the event) keeps the connection on the read list
    /// until the read that reports it: mio is edge-triggered and no second edge will come.
    pub(super) fn read<H: EventHandler>(
        &mut self,
        token: Token,
        read_closed: bool,
        handler: &mut H,
    ) -> usize {
        let Some(id) = self.conns.id_of_slot(token.0 as u32) else {
            return 0;
        };
        if self.conns.check_connected(id) {
            return 0;
        }
        self.reap(handler);
        let cap = self.config.read_buffer_cap;
        if let Some(n) = self.read_in_place(id, token, cap, read_closed, handler) {
            self.reap(handler);
            return n;
        }
        let n = match self.conns.read(id, &mut self.read_buf, cap, read_closed) {
            Read::Nothing => 0,
            Read::Kcp => return self.kcp_read(id, token, handler),
            Read::Bytes { n, again } => {
                let fresh = self.read_buf.get(..n).unwrap_or_default();
                match self.conns.through_layers(id, fresh) {
                    None => deliver(&mut self.conns, handler, id, fresh),
                    Some(app) => {
                        // on_open (a layer may just have opened the connection) before any
                        // traffic.
                        self.reap(handler);
                        if !app.is_empty() {
                            deliver(&mut self.conns, handler, id, &app);
                        }
                        self.conns.recycle(app);
                    }
                }
                if again {
                    self.again.push(token);
                }
                n
            }
        };
        self.reap(handler);
        n
    }

    /// The read of a connection whose bytes reach the handler as they are, straight into the
    /// handler's space ([`EventHandler::read_space`]), behind the bytes it held; `None` when
    /// the connection or the handler does not read that way. Returns the bytes read.
    fn read_in_place<H: EventHandler>(
        &mut self,
        id: ConnId,
        token: Token,
        cap: usize,
        read_closed: bool,
        handler: &mut H,
    ) -> Option<usize> {
        let held = self.conns.reads_in_place(id)?;
        let want = held.checked_add(cap)?;
        let space = handler.read_space(want)?.get_mut(..want)?;
        let (front, back) = space.split_at_mut(held);
        let Read::Bytes { n, again } = self.conns.read(id, back, cap, read_closed) else {
            // Nothing read (or the connection is closing): the held bytes stay held.
            return Some(0);
        };
        self.conns.take_held_into(id, front);
        handler.on_traffic_placed(&mut self.conns, id, held + n);
        // What the handler retained during the call (if anything) is held now.
        self.conns.note_partial(id);
        if again {
            self.again.push(token);
        }
        Some(n)
    }

    /// Reads a KCP client's datagrams into its session (a listener's sessions get theirs in
    /// [`Reactor::receive`]), then delivers what KCP completed. Returns the bytes read.
    fn kcp_read<H: EventHandler>(&mut self, id: ConnId, token: Token, handler: &mut H) -> usize {
        let mut total = 0;
        let mut batch = std::mem::take(&mut self.recv_batch);
        let mut left = self.config.event_budget.max(1);
        while left > 0 {
            let n = match self.conns.kcp_recv_batch(id, &mut batch, left) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                // ICMP errors (ECONNREFUSED from an earlier send) are not fatal for KCP: the
                // dead-link check decides when a silent peer is gone.
                Err(_) => 1,
            };
            left = left.saturating_sub(n.max(1));
            for (data, _) in batch.iter() {
                total += data.len();
                self.conns.kcp_input_from(id, None, data);
            }
            if total >= self.config.read_budget {
                self.again.push(token);
                break;
            }
        }
        self.recv_batch = batch;
        self.kcp_deliver(id, handler);
        total
    }

    /// Hands a KCP session's received messages (or stream bytes) to the handler, through its
    /// codec if it has one, then what came on its unreliable channel.
    pub(super) fn kcp_deliver<H: EventHandler>(&mut self, id: ConnId, handler: &mut H) {
        let mut buf = std::mem::take(&mut self.kcp_buf);
        while self.conns.kcp_recv(id, &mut buf) {
            deliver(&mut self.conns, handler, id, &buf);
            self.reap(handler);
        }
        self.kcp_buf = buf;
        while let Some(message) = self.conns.kcp_recv_unreliable(id) {
            handler.on_unreliable(&mut self.conns, id, &message);
            self.reap(handler);
        }
    }

    /// Delivers bytes a layer released on its deadline.
    pub(super) fn deliver_released<H: EventHandler>(
        &mut self,
        id: ConnId,
        bytes: &[u8],
        handler: &mut H,
    ) {
        self.reap(handler);
        deliver(&mut self.conns, handler, id, bytes);
    }
}

/// Hands freshly read bytes to the handler: whole frames through the connection's codec
/// (straight from the read buffer when nothing was held), or the bytes themselves after any
/// the handler retained. What is left (a partial frame) is kept for the next read.
pub(super) fn deliver<H: EventHandler>(
    conns: &mut Conns,
    handler: &mut H,
    id: ConnId,
    fresh: &[u8],
) {
    let Some((mut held, decoder)) = conns.take_inbound(id) else {
        return;
    };
    let Some(mut codec) = decoder else {
        if held.is_empty() {
            handler.on_traffic(conns, id, fresh);
        } else {
            held.extend_from_slice(fresh);
            handler.on_traffic(conns, id, &held);
        }
        // What the handler retained during the call (if anything) replaced the held bytes.
        conns.note_partial(id);
        return;
    };
    // Held bytes grow in place (amortised), so a large frame arriving in many reads costs
    // linear time; fresh bytes are decoded straight from the read buffer.
    let from_held = !held.is_empty();
    if from_held {
        held.extend_from_slice(fresh);
    }
    let src: &[u8] = if from_held { &held } else { fresh };
    let mut used = 0;
    while conns.is_open(id) {
        let rest = src.get(used..).unwrap_or_default();
        // A codec bug (a panic on some input) costs this connection, not the process.
        let decoded = match catch_unwind(AssertUnwindSafe(|| codec.decode(rest))) {
            Ok(d) => d,
            Err(panic) => {
                let _ = conns.destroy(id, Some(Error::from_panic(&*panic)));
                used = src.len();
                break;
            }
        };
        // A codec never claims more than it was given; clamping keeps a faulty one in range.
        let advance = |used: usize, consumed: usize| used.saturating_add(consumed).min(src.len());
        match decoded {
            Decoded::Frame {
                consumed,
                start,
                end,
            } => {
                if let Some(frame) = rest.get(start..end) {
                    conns.count_message(id, true);
                    handler.on_traffic(conns, id, frame);
                }
                used = advance(used, consumed);
            }
            Decoded::Owned { consumed, frame } => {
                conns.count_message(id, true);
                handler.on_traffic(conns, id, &frame);
                used = advance(used, consumed);
            }
            Decoded::Reply { bytes } => {
                let _ = conns.write_unframed(id, bytes);
            }
            Decoded::Skip { consumed } => used = advance(used, consumed),
            Decoded::Error { consumed, error } => {
                used = advance(used, consumed);
                handler.on_error(conns, id, &Error::Frame(error));
            }
            Decoded::NeedMore => break,
        }
    }
    let rest = if from_held {
        // Only consumed frames move the rest down; a partial frame keeps its buffer.
        held.drain(..used);
        held
    } else {
        fresh.get(used..).unwrap_or_default().to_vec()
    };
    conns.restore_inbound(id, rest, codec);
}
