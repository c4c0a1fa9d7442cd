//! The write path: codec, then stream layers, then the transport (straight to the socket when
//! nothing is queued, the outbound queue otherwise, or the KCP session). Corking, write
//! markers, water marks and the flush after the socket turns writable.

use super::connection::{Connection, State, Transport};
use super::{count_bytes, live_in, Conns, Notice};
use crate::slab::ConnId;
use crate::stream::Stream;
use crate::stream_stack::StreamStack;
use crate::Error;
use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};
use std::sync::Arc;
use std::time::Instant;

/// Shared frames shorter than this are copied into a subscriber's queue rather than
/// referenced.
const COPY_BELOW: usize = 512;

impl Conns {
    /// Queues `data` behind anything already queued, writing straight to the socket when the
    /// queue is empty. Accepted bytes are never dropped while the connection lives; a socket
    /// error closes the connection and is reported by `on_close`. Past the high water mark the
    /// connection turns unwritable (`on_writability(.., false)`); past `max_outbound` it is
    /// closed with [`Error::OutboundFull`] and the bytes are refused.
    pub fn write(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        self.writev(id, &[data])
    }

    /// Writes several buffers in order as one message (`writev(2)` when nothing is queued).
    /// With a codec the message is framed first; a message the codec cannot express is
    /// refused with [`Error::Frame`] and nothing is written.
    pub fn writev(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        // After what was published before it.
        self.settle();
        let mut framed = std::mem::take(&mut self.encoded);
        framed.clear();
        let conn = self.live(id)?;
        let Some(codec) = conn.framing.as_mut().map(|f| &mut f.encoder) else {
            self.encoded = framed;
            return self.write_unframed_v(id, bufs);
        };
        let encoded = match bufs {
            [one] => codec.encode(one, &mut framed),
            _ => codec.encode(&bufs.concat(), &mut framed),
        };
        let result = match encoded {
            Ok(()) => self.write_unframed_v(id, &[&framed]),
            Err(e) => Err(e.into()),
        };
        if result.is_ok() {
            self.count_message(id, false);
        }
        self.encoded = framed;
        result
    }

    /// Hands `message` to the connection's top stream layer outside the byte stream
    /// ([`crate::StreamLayer::control`]), after everything written before it: an HTTP
    /// listener's answer to a WebSocket upgrade, say. What the layer sends goes out as its
    /// writes do. A connection without layers refuses it with [`Error::InvalidOption`]; a
    /// layer refusing it closes the connection with the layer's error.
    pub fn control(&mut self, id: ConnId, message: &[u8]) -> Result<(), Error> {
        self.settle();
        if self.live(id)?.layers.is_none() {
            return Err(Error::InvalidOption(
                "this connection has no layers to take a control message".into(),
            ));
        }
        self.write_layered(id, Instant::now(), |stack, now, wire| {
            stack.control(now, message, wire)
        })
    }

    /// Writes bytes past the connection's codec (interim replies a codec asks for, such as
    /// HTTP's `100 Continue`); they still pass its stream layers.
    pub fn write_unframed(&mut self, id: ConnId, data: &[u8]) -> Result<(), Error> {
        self.settle();
        self.write_unframed_v(id, &[data])
    }

    /// Bytes past the codec: through the stream layers, then to the transport.
    fn write_unframed_v(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        if self.live(id)?.layers.is_none() {
            return self.write_transport(id, bufs);
        }
        self.write_layered(id, Instant::now(), |stack, now, wire| {
            bufs.iter().try_for_each(|b| stack.write(now, b, wire))
        })
    }

    /// Runs `write` on the connection's stream layers at `now` and sends the bytes it leaves
    /// in the wire buffer, if any, to the transport; returns what `write` returned.
    fn write_layered<T>(
        &mut self,
        id: ConnId,
        now: Instant,
        write: impl FnOnce(&mut StreamStack, Instant, &mut Vec<u8>) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let mut wire = std::mem::take(&mut self.layer_wire);
        wire.clear();
        let Some(stack) = self.slab.get_mut(id).and_then(|c| c.layers.as_mut()) else {
            self.layer_wire = wire;
            return Err(Error::ConnClosed);
        };
        // The transport write runs even when the layers left nothing: it is also where bytes
        // a layer holds (a handshake not done yet) count against the water marks.
        let result = match write(stack, now, &mut wire) {
            Ok(value) => self.write_transport(id, &[&wire]).map(|()| value),
            Err(e) => {
                // A layer that cannot encode (a TLS failure) leaves the stream unusable.
                let _ = self.destroy(id, Some(e));
                Err(Error::ConnClosed)
            }
        };
        self.layer_wire = wire;
        self.settle_layers(id);
        self.settle_written(id);
        result
    }

    /// Bytes for the transport as they are.
    pub(super) fn write_transport(&mut self, id: ConnId, bufs: &[&[u8]]) -> Result<(), Error> {
        let conn = live_in(&mut self.slab, id)?;
        let stream = match &conn.transport {
            Transport::Kcp(..) => return self.kcp_write(id, bufs),
            Transport::Rtc(..) => return self.rtc_write(id, bufs),
            Transport::Plain(stream) => stream,
        };
        if conn.state == State::Connecting {
            // Queued until the connect completes (then flushed in order).
            for b in bufs {
                conn.outbound.push(b);
                self.counters.queued_bytes.add(b.len() as u64);
            }
            return Ok(());
        }
        match *stream {
            // One write is one datagram.
            Stream::Datagram { socket, peer } => return self.send_to(socket, peer, &bufs.concat()),
            // A connected UDP client: one datagram, dropped if the kernel cannot take it now.
            Stream::Udp(ref udp) => {
                return match udp.send(&bufs.concat()) {
                    Ok(n) => {
                        count_bytes(
                            &self.counters,
                            &self.listener_counts,
                            conn.listener,
                            n,
                            false,
                        );
                        Ok(())
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                    Err(e) => Err(e.into()),
                }
            }
            _ => {}
        }
        self.write_stream(id, bufs, None)
    }

    /// Writes a frame shared with other connections (a publication) past the codec. The top
    /// stream layer may take it as already in its wire format (a WebSocket frame made once
    /// for every subscriber); then, or without layers, a connected byte stream with nothing
    /// under it queues what the socket does not take as a reference to `frame` (a copy when
    /// it is short). Anything
    /// else (TLS, KCP, datagrams) takes a copy as any write. `now` is the layers' clock (one
    /// reading for a whole publication).
    pub(super) fn write_shared(
        &mut self,
        id: ConnId,
        frame: &Arc<[u8]>,
        now: Instant,
    ) -> Result<(), Error> {
        let at = if self.live(id)?.layers.is_some() {
            match self.write_layered(id, now, |stack, now, wire| {
                stack.write_shared(now, frame, wire)
            })? {
                Some(at) => at,
                None => return Ok(()),
            }
        } else {
            0
        };
        let conn = self.live(id)?;
        let direct = conn.state != State::Connecting
            && matches!(&conn.transport, Transport::Plain(s) if !s.is_datagram());
        let rest = frame.get(at..).unwrap_or_default();
        if direct {
            // A small frame is copied: appending it to the queue's buffer costs less than a
            // reference count touched twice, and the queue's writev gets one buffer, not one
            // per message.
            let shared = (rest.len() > COPY_BELOW).then_some((frame, at));
            self.write_stream(id, &[rest], shared)
        } else {
            self.write_transport(id, &[rest])
        }
    }

    /// The byte-stream write: straight to the socket when nothing is queued (and not corked),
    /// the rest behind the queue.
    /// `shared`, when given, is a buffer whose bytes from an offset on are the one buffer in
    /// `bufs`: what the socket does not take is queued by reference.
    fn write_stream(
        &mut self,
        id: ConnId,
        bufs: &[&[u8]],
        shared: Option<(&Arc<[u8]>, usize)>,
    ) -> Result<(), Error> {
        let track_idle =
            self.flow.idle_timeout.write.is_some() || self.flow.idle_timeout.all.is_some();
        let (high, max) = (self.flow.write_high_water_mark, self.flow.max_outbound);
        let corked = self.corked;
        let conn = live_in(&mut self.slab, id)?;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if max.is_some_and(|m| conn.queued().saturating_add(total) > m) {
            self.doom(id, Some(Error::OutboundFull));
            return Err(Error::OutboundFull);
        }
        if track_idle {
            conn.last_write = Instant::now();
        }
        let Transport::Plain(stream) = &mut conn.transport else {
            return Ok(());
        };
        let mut written = 0;
        // Corked: the first held write lists the connection for `uncork`.
        let hold = corked && conn.outbound.is_empty() && total > 0;
        if conn.outbound.is_empty() && !hold {
            while written < total {
                let result = match skip(bufs, written) {
                    (first, []) => stream.write(first),
                    (first, rest) => {
                        let mut v = Vec::with_capacity(rest.len() + 1);
                        v.push(IoSlice::new(first));
                        v.extend(rest.iter().map(|b| IoSlice::new(b)));
                        stream.write_vectored(&v)
                    }
                };
                match result {
                    Ok(n) => written += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        self.doom(id, Some(e.into()));
                        return Ok(());
                    }
                }
            }
            conn.sent += written as u64;
            count_bytes(
                &self.counters,
                &self.listener_counts,
                conn.listener,
                written,
                false,
            );
        }
        let mut skipped = 0;
        for b in bufs {
            if skipped + b.len() > written {
                let from = written.saturating_sub(skipped);
                match shared {
                    Some((frame, at)) => conn.outbound.push_shared(frame, at.saturating_add(from)),
                    None => conn.outbound.push(b.get(from..).unwrap_or_default()),
                }
            }
            skipped += b.len();
        }
        self.counters
            .queued_bytes
            .add(total.saturating_sub(written) as u64);
        if !conn.unwritable && conn.queued() > high {
            conn.unwritable = true;
            self.notices.push_back(Notice::Writability(id, false));
        }
        if hold {
            self.corked_conns.push(id);
        }
        Ok(())
    }

    /// Holds writes back until [`Conns::uncork`]: each connection's writes made meanwhile
    /// then reach the socket together, in one syscall (a batch of pipelined responses, say),
    /// codec frames and all. Drivers that apply many writes at once cork around them.
    pub fn cork(&mut self) {
        self.corked = true;
    }

    /// Writes what publishes held back, unless a driver's cork is on (its `uncork` will):
    /// the reactor calls it at the end of every turn, so the messages published to a
    /// subscriber meanwhile leave in one syscall.
    pub(crate) fn write_held(&mut self) {
        if !self.corked {
            self.uncork();
        }
    }

    /// Writes what was held since [`Conns::cork`], and the publications held meanwhile.
    pub fn uncork(&mut self) {
        self.settle();
        self.corked = false;
        let mut held = std::mem::take(&mut self.corked_conns);
        for id in held.drain(..) {
            self.flush(id);
        }
        self.corked_conns = held;
    }

    /// Asks to hear (`on_write_done(.., token, Ok)`) when everything written so far has reached
    /// the kernel; if the connection closes first, `on_write_done` reports
    /// [`Error::ConnClosed`]. Each token is reported exactly once.
    /// On a KCP connection the bytes must also be acknowledged by the peer.
    pub fn mark(&mut self, id: ConnId, token: u64) -> Result<(), Error> {
        self.settle();
        let conn = self.live(id)?;
        if conn.busy() {
            // After what is queued and what the layers hold (counted as it was written: a
            // layer that adds bytes completes the mark a little early, never late).
            let held = conn.layers.as_ref().map_or(0, |l| l.buffered());
            let rtc = conn.transport.rtc().map_or(0, |p| p.pending_bytes());
            let at = conn
                .sent
                .saturating_add((conn.outbound.len() + rtc) as u64)
                .saturating_add(held as u64);
            conn.push_marker(at, token);
        } else {
            self.notices.push_back(Notice::Written(id, token));
        }
        Ok(())
    }

    /// [`Conns::write`] for writers that cannot take an error back (batched writes applied
    /// later): a framing error (or a KCP message too large) is reported through `on_error`
    /// instead; a closed connection is ignored (its close is reported already).
    pub fn write_or_report(&mut self, id: ConnId, data: &[u8]) {
        self.writev_or_report(id, &[data]);
    }

    /// A driver's batch of writes to one connection without message boundaries, gathered in
    /// order: they go out now as one message (one `writev(2)` when nothing is queued), even
    /// while corked, and only what the socket does not take is queued (copied). The gather is
    /// the batch's join, so holding the bytes for [`Conns::uncork`] would only add a copy.
    /// Errors are reported as by [`Conns::write_or_report`].
    pub fn write_gathered(&mut self, id: ConnId, bufs: &[&[u8]]) {
        let corked = std::mem::replace(&mut self.corked, false);
        self.writev_or_report(id, bufs);
        self.corked = corked;
    }

    /// [`Conns::writev`], reporting a framing error through `on_error`.
    fn writev_or_report(&mut self, id: ConnId, bufs: &[&[u8]]) {
        if let Err(e @ (Error::Frame(_) | Error::MessageTooLarge { .. })) = self.writev(id, bufs) {
            self.notices.push_back(Notice::Error(id, e));
        }
    }

    /// Promises an `on_writability(.., true)` to a producer that was told to wait (by an
    /// estimate made before its writes reached this table): at once when the queue is already
    /// at or below the low water mark, else when it drains there.
    pub fn expect_drain(&mut self, id: ConnId) -> Result<(), Error> {
        self.settle();
        let low = self.flow.write_low_water_mark;
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        let drained = match conn.transport.kcp() {
            Some(session) => session.drained(),
            None => conn.queued() <= low,
        };
        if !conn.unwritable {
            if drained {
                self.notices.push_back(Notice::Writability(id, true));
            } else {
                conn.unwritable = true;
            }
        }
        Ok(())
    }

    /// Writes queued bytes after the socket became writable; reports completed markers and a
    /// return under the low water mark; completes a pending close or half-close.
    pub(crate) fn flush(&mut self, id: ConnId) {
        let keep = self.write_buffer_cap;
        let observe = self.flow.idle_timeout.observe_output;
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.outbound.is_empty() || conn.state == State::Connecting {
            self.settle_written(id);
            return;
        }
        let Transport::Plain(stream) = &mut conn.transport else {
            return;
        };
        let before = conn.sent;
        let result = conn.outbound.write_to(stream, keep, &mut conn.sent);
        let written = conn.sent.wrapping_sub(before);
        self.counters.queued_bytes.sub(written);
        count_bytes(
            &self.counters,
            &self.listener_counts,
            conn.listener,
            written as usize,
            false,
        );
        if observe && conn.sent > before {
            conn.last_write = Instant::now();
        }
        let (state, end) = (conn.state, conn.end_requested);
        self.settle_written(id);
        if matches!(result, Ok(true)) && (state == State::Closing || end) {
            self.kernel_tls_goodbye(id);
        }
        match result {
            Ok(true) if state == State::Closing => self.doom(id, None),
            Ok(true) if end => self.shut_write(id),
            Ok(_) => {}
            Err(e) => self.doom(id, Some(e.into())),
        }
    }
}

impl Conns {
    /// Completes the write markers the kernel has passed and reports a return under the low
    /// water mark, for bytes that went straight to the socket (what a layer held, released
    /// without passing the outbound queue).
    pub(super) fn settle_written(&mut self, id: ConnId) {
        let low = self.flow.write_low_water_mark;
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.transport.kcp().is_some() || conn.state == State::Connecting {
            return;
        }
        settle_markers(&mut self.notices, id, conn, low);
    }
}

/// Queues what the bytes that left `conn` complete: every write marker at or before
/// `conn.sent`, and writability back once its queue is at or under `low`.
pub(super) fn settle_markers(
    notices: &mut VecDeque<Notice>,
    id: ConnId,
    conn: &mut Connection,
    low: usize,
) {
    while let Some(token) = conn.pop_marker(conn.sent) {
        notices.push_back(Notice::Written(id, token));
    }
    if conn.unwritable && conn.queued() <= low {
        conn.unwritable = false;
        notices.push_back(Notice::Writability(id, true));
    }
}

/// The part of `bufs` after the first `written` bytes: the tail of the first unfinished buffer
/// and the whole buffers after it.
fn skip<'a>(bufs: &'a [&'a [u8]], written: usize) -> (&'a [u8], &'a [&'a [u8]]) {
    let mut at = 0;
    for (i, b) in bufs.iter().enumerate() {
        if at + b.len() > written {
            let first = b.get(written - at..).unwrap_or_default();
            return (first, bufs.get(i + 1..).unwrap_or_default());
        }
        at += b.len();
    }
    (&[], &[])
}
