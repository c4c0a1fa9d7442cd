//! The way in: reading a connection's socket, passing the bytes up through its stream layers
//! (applying what they report), and the held bytes the codec works on.

use super::connection::{Place, State, Transport};
use super::{count_bytes, Conns};
use crate::flow::Timer;
use crate::layer::LayerReport;
use crate::slab::ConnId;
use crate::stream::{PeerAddr, Stream};
use crate::udp_batch::RecvBatch;
use crate::Error;
use riptide_codec::Codec;
use std::io::{self, Read as _};
use std::time::Instant;

/// A connection's held bytes and its decoder, taken out for a delivery.
pub(crate) type Held = (Vec<u8>, Option<Box<dyn Codec>>);

/// What one read of a connection's socket gave.
pub(crate) enum Read {
    /// Nothing to deliver (paused, closed, would block, or the close is already decided).
    Nothing,
    /// `n` bytes at the start of the buffer; `again` when the socket may hold more (the read
    /// filled the buffer, a datagram socket, or the peer's close is still to be read), and
    /// always where only `WouldBlock` re-arms the poll (Windows, see
    /// `platform::SHORT_READ_DRAINS`) and on kernel TLS (`Stream::short_read_drains`).
    Bytes { n: usize, again: bool },
    /// A KCP connection: its socket carries datagrams for the session.
    Kcp,
}

impl Conns {
    /// Reads the connection once into `buf` (at most `stream_cap` bytes of a byte stream; a
    /// datagram whole). `hup`: the poll said the peer closed or errored.
    pub(crate) fn read(
        &mut self,
        id: ConnId,
        buf: &mut [u8],
        stream_cap: usize,
        hup: bool,
    ) -> Read {
        let track_idle =
            self.flow.idle_timeout.read.is_some() || self.flow.idle_timeout.all.is_some();
        let Some(conn) = self.slab.get_mut(id) else {
            return Read::Nothing;
        };
        // Remembered even while paused: the poll is edge-triggered and will not say it again,
        // so a connection resumed later still reads on to the peer's close.
        conn.hup_seen |= hup;
        if conn.paused || conn.read_closed {
            // Left in the kernel: the peer's window closes until `resume`.
            return Read::Nothing;
        }
        let stream = match &mut conn.transport {
            Transport::Kcp(..) => return Read::Kcp,
            // Its messages come from the endpoint, not a read.
            Transport::Rtc(..) => return Read::Nothing,
            Transport::Plain(stream) => stream,
        };
        let datagram = stream.is_datagram();
        let drains = stream.short_read_drains();
        let cap = if datagram {
            buf.len()
        } else {
            stream_cap.clamp(1, buf.len())
        };
        let target = buf.get_mut(..cap).unwrap_or_default();
        let result = loop {
            match stream.read(target) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        match result {
            Ok(0) => {
                self.peer_ended(id);
                Read::Nothing
            }
            Ok(n) => {
                count_bytes(
                    &self.counters,
                    &self.listener_counts,
                    conn.listener,
                    n,
                    true,
                );
                if track_idle {
                    conn.last_read = Instant::now();
                }
                Read::Bytes {
                    n,
                    again: n == cap || conn.hup_seen || datagram || !drains,
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Read::Nothing,
            Err(e) => {
                self.doom(id, Some(e.into()));
                Read::Nothing
            }
        }
    }

    /// Passes bytes from the peer up through the connection's stream layers: `None` when it
    /// has none (deliver `data` as it is), else what reached the top (give the buffer back
    /// with [`Conns::recycle`]). Bytes the layers answer with are written; what they report
    /// is applied (a new peer address, an extension, the connection opening); an error
    /// closes the connection with it.
    pub(crate) fn through_layers(&mut self, id: ConnId, data: &[u8]) -> Option<Vec<u8>> {
        let stack = self.slab.get_mut(id)?.layers.as_mut()?;
        let mut app = std::mem::take(&mut self.layer_app);
        let mut wire = std::mem::take(&mut self.layer_wire);
        app.clear();
        wire.clear();
        let mut report = LayerReport::default();
        let result = stack.read(Instant::now(), data, &mut app, &mut wire, &mut report);
        if !wire.is_empty() {
            let _ = self.write_transport(id, &[&wire]);
        }
        self.layer_wire = wire;
        self.apply_layers(id, result, report, &mut app);
        self.hold_while_negotiating(id, &mut app);
        Some(app)
    }

    /// Bytes a layer let through before the connection opened wait in its held bytes; the
    /// reactor delivers them right after `on_open`.
    fn hold_while_negotiating(&mut self, id: ConnId, app: &mut Vec<u8>) {
        if let Some(conn) = self.slab.get_mut(id) {
            if conn.state == State::Negotiating && !app.is_empty() {
                conn.inbound.append(app);
            }
        }
    }

    /// Receives up to `max` datagrams into `batch` on the connected UDP socket of a dialed
    /// KCP session; returns how many.
    pub(crate) fn kcp_recv_batch(
        &mut self,
        id: ConnId,
        batch: &mut RecvBatch,
        max: usize,
    ) -> io::Result<usize> {
        let conn = self.slab.get_mut(id).ok_or(io::ErrorKind::NotFound)?;
        let Stream::Udp(udp) = conn.transport.stream_mut() else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let n = batch.recv(udp, max)?;
        count_bytes(
            &self.counters,
            &self.listener_counts,
            conn.listener,
            batch.bytes(),
            true,
        );
        Ok(n)
    }

    /// Gives back a buffer [`Conns::through_layers`] returned.
    pub(crate) fn recycle(&mut self, app: Vec<u8>) {
        self.layer_app = app;
    }

    /// A layer deadline passed: runs the layers that are due. Returns bytes that reached the
    /// top, for delivery, if any.
    pub(super) fn layer_timeout(&mut self, id: ConnId, now: Instant) -> Option<Vec<u8>> {
        let stack = self.slab.get_mut(id)?.layers.as_mut()?;
        stack.fired(now);
        if stack.poll_timeout().is_none_or(|at| at > now) {
            // A stale entry: a later deadline is armed.
            self.settle_layers(id);
            return None;
        }
        let (mut app, mut wire) = (Vec::new(), Vec::new());
        let mut report = LayerReport::default();
        let result = stack.handle_timeout(now, &mut app, &mut wire, &mut report);
        if !wire.is_empty() {
            let _ = self.write_transport(id, &[&wire]);
        }
        self.apply_layers(id, result, report, &mut app);
        self.hold_while_negotiating(id, &mut app);
        (!app.is_empty()).then_some(app)
    }

    /// Applies what the layers reported after they ran.
    fn apply_layers(
        &mut self,
        id: ConnId,
        result: Result<(), Error>,
        mut report: LayerReport,
        app: &mut Vec<u8>,
    ) {
        let result = match result {
            Ok(()) if report.kernel_tls => self.offload_tls(id, &mut report),
            other => other,
        };
        if let Err(e) = result {
            let _ = self.destroy(id, Some(e));
            app.clear();
            return;
        }
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if let Some(peer) = report.peer {
            if let (Place::Deferred, PeerAddr::Inet(a)) = (conn.place, &peer) {
                // Admitted before the real client was known: its per-IP place is taken now.
                if !self.admission.rehome(None, a.ip()) {
                    let _ = self.destroy(id, Some(Error::TooManyConnections));
                    app.clear();
                    return;
                }
                conn.place = Place::Held(Some(a.ip()));
            }
            conn.peer = peer;
        }
        if !report.extensions.is_empty() {
            let mut all = conn.extensions.take().map(Vec::from).unwrap_or_default();
            all.extend(report.extensions);
            conn.extensions = Some(all.into_boxed_slice());
        }
        self.settle_layers(id);
        if report.close {
            let _ = self.close(id);
        }
    }

    /// How many bytes the connection holds when its reads can go straight into a handler's
    /// space ([`crate::EventHandler::read_space`]): a byte stream with no codec and no
    /// stream layers, whose bytes reach `on_traffic` as they are. `None` for any other.
    pub(crate) fn reads_in_place(&self, id: ConnId) -> Option<usize> {
        let conn = self.slab.get(id)?;
        let plain = matches!(&conn.transport, Transport::Plain(s) if !s.is_datagram());
        (plain && conn.framing.is_none() && conn.layers.is_none()).then_some(conn.inbound.len())
    }

    /// Moves the connection's held bytes (as many as `front` holds, which
    /// [`Conns::reads_in_place`] counted) to `front`, in front of a read placed after them.
    pub(crate) fn take_held_into(&mut self, id: ConnId, front: &mut [u8]) {
        if let Some(conn) = self.slab.get_mut(id) {
            let n = front.len().min(conn.inbound.len());
            front[..n].copy_from_slice(&conn.inbound[..n]);
            conn.inbound.clear();
        }
    }

    /// Takes the connection's held bytes and its decoder for a delivery; `None` when it is
    /// gone.
    pub(crate) fn take_inbound(&mut self, id: ConnId) -> Option<Held> {
        let conn = self.slab.get_mut(id)?;
        let decoder = conn.framing.as_mut().and_then(|f| f.decoder.take());
        Some((std::mem::take(&mut conn.inbound), decoder))
    }

    /// Puts back what [`Conns::take_inbound`] took, with the bytes left undelivered.
    pub(crate) fn restore_inbound(&mut self, id: ConnId, rest: Vec<u8>, decoder: Box<dyn Codec>) {
        if let Some(conn) = self.slab.get_mut(id) {
            if let Some(framing) = conn.framing.as_mut() {
                framing.decoder = Some(decoder);
            }
            conn.inbound = rest;
            self.note_partial(id);
        }
    }

    /// Keeps `bytes` (the unconsumed end of what `on_traffic` was given) and delivers them
    /// again, in front of the next bytes that arrive (knet's model of custom framing in the
    /// handler). Replaces anything retained before.
    pub fn retain(&mut self, id: ConnId, bytes: &[u8]) -> Result<(), Error> {
        let conn = self.slab.get_mut(id).ok_or(Error::ConnClosed)?;
        if conn.framing.is_some() {
            return Err(Error::InvalidOption(
                "retain is for connections without a codec (a codec keeps partial frames itself)"
                    .into(),
            ));
        }
        conn.inbound.clear();
        conn.inbound.extend_from_slice(bytes);
        self.note_partial(id);
        Ok(())
    }

    /// Starts or stops the partial-frame clock after `inbound` changed.
    pub(crate) fn note_partial(&mut self, id: ConnId) {
        let timeout = self.flow.frame_timeout;
        let Some(conn) = self.slab.get_mut(id) else {
            return;
        };
        if conn.inbound.is_empty() {
            conn.partial_since = None;
        } else if conn.partial_since.is_none() {
            let now = Instant::now();
            conn.partial_since = Some(now);
            if let Some(t) = timeout {
                self.timers.insert(now + t, Timer::Frame(id));
            }
        }
    }
}
