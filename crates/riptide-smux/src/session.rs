//! A smux session, sans-IO: bytes from the transport go into [`Session::receive`], bytes for
//! the transport come out of [`Session::take_output`]; streams are opened, accepted, read,
//! written and closed by id; time comes in as `Instant`s.
//!
//! Memory bounds (all enforced):
//! - input: one partial frame (8 + 65535 bytes);
//! - unread stream data, session-wide: `receive` consumes input only while it is below
//!   `max_receive_buffer` (as smux stops reading its connection), so it stays under that
//!   plus one frame; the caller keeps the unconsumed rest and stops reading its transport;
//! - per stream, v2: received minus reported-consumed may not pass the advertised window
//!   (the larger of smux's initial 256 KiB and `max_stream_buffer`): more is an error. v1 has
//!   no per-stream bound, only the session-wide one, as in smux;
//! - streams: at most `max_streams`; pending accepts: at most 1024 (smux's backlog; input is
//!   not consumed while it is full);
//! - output: `write` queues data only while the output is under `max_send_buffer`; control
//!   frames (8 or 16 bytes) are at most a few per call.

use std::collections::{HashMap, VecDeque};
use std::time::Instant;

use crate::frame::{push_frame, Cmd, FrameHeader, HEADER_LEN, INITIAL_PEER_WINDOW, UPD_LEN};
use crate::stream::Stream;
use crate::{Config, Error};

/// smux's accept backlog.
const ACCEPT_BACKLOG: usize = 1024;

/// Which end of the session this is: clients open odd stream ids, servers even ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Opens streams 3, 5, 7, … (smux starts its counter at 1 and adds 2 first).
    Client,
    /// Opens streams 2, 4, 6, ….
    Server,
}

/// Where the parser is between frames.
#[derive(Debug)]
enum Input {
    /// Collecting a header.
    Header {
        buf: [u8; HEADER_LEN],
        filled: usize,
    },
    /// Collecting a payload of `header.len` bytes.
    Payload { header: FrameHeader, buf: Vec<u8> },
}

/// One smux session (see the module docs for its memory bounds).
#[derive(Debug)]
pub struct Session {
    config: Config,
    streams: HashMap<u32, Stream>,
    accepts: VecDeque<u32>,
    next_id: u32,
    input: Input,
    output: Vec<u8>,
    buffered: usize,
    last_input: Instant,
    next_ping: Instant,
    dead: bool,
}

impl Session {
    /// A session for `role` with `config` (checked as smux's `VerifyConfig` does), its clocks
    /// started at `now`.
    pub fn new(role: Role, config: Config, now: Instant) -> Result<Session, Error> {
        config.verify()?;
        let next_ping = now.checked_add(config.keep_alive_interval).unwrap_or(now);
        Ok(Session {
            next_id: match role {
                Role::Client => 1,
                Role::Server => 0,
            },
            config,
            streams: HashMap::new(),
            accepts: VecDeque::new(),
            input: Input::Header {
                buf: [0; HEADER_LEN],
                filled: 0,
            },
            output: Vec::new(),
            buffered: 0,
            last_input: now,
            next_ping,
            dead: false,
        })
    }

    /// The session's settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the session died (a protocol error, the keepalive timeout) or was closed.
    pub fn is_closed(&self) -> bool {
        self.dead
    }

    /// Ends the session: every later call fails with [`Error::SessionClosed`]. smux sends
    /// nothing on close; the caller closes the transport.
    pub fn close(&mut self) {
        self.dead = true;
        self.streams.clear();
        self.accepts.clear();
        self.buffered = 0;
    }

    fn check_alive(&self) -> Result<(), Error> {
        if self.dead {
            Err(Error::SessionClosed)
        } else {
            Ok(())
        }
    }

    /// Opens a stream (queues its SYN) and returns its id.
    pub fn open(&mut self) -> Result<u32, Error> {
        self.check_alive()?;
        if self.streams.len() >= self.config.max_streams {
            return Err(Error::TooManyStreams);
        }
        // Skip ids the peer already used (a peer may SYN any id).
        loop {
            self.next_id = self.next_id.checked_add(2).ok_or(Error::GoAway)?;
            if !self.streams.contains_key(&self.next_id) {
                break;
            }
        }
        let sid = self.next_id;
        self.streams.insert(sid, Stream::new());
        push_frame(&mut self.output, self.config.version, Cmd::Syn, sid, &[]);
        Ok(sid)
    }

    /// The next stream the peer opened, if any.
    pub fn accept(&mut self) -> Option<u32> {
        while let Some(sid) = self.accepts.pop_front() {
            if self.streams.contains_key(&sid) {
                return Some(sid);
            }
        }
        None
    }

    /// The ids of the open streams (in no order).
    pub fn stream_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.streams.keys().copied()
    }

    /// Unread bytes across all streams (the session receive buffer's fill).
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// Feeds bytes from the transport; returns how many were consumed. Fewer than given means
    /// the receive buffer (or the accept backlog) is full: keep the rest, read streams, and
    /// offer it again. An error is a protocol violation and ends the session.
    pub fn receive(&mut self, data: &[u8], now: Instant) -> Result<usize, Error> {
        self.check_alive()?;
        let mut rest = data;
        while !rest.is_empty() {
            match &mut self.input {
                Input::Header { buf, filled } => {
                    if *filled == 0
                        && (self.buffered >= self.config.max_receive_buffer
                            || self.accepts.len() >= ACCEPT_BACKLOG)
                    {
                        break;
                    }
                    let want = HEADER_LEN.saturating_sub(*filled);
                    let take = want.min(rest.len());
                    let (head, tail) = rest.split_at(take);
                    let end = filled.saturating_add(take);
                    if let Some(dst) = buf.get_mut(*filled..end) {
                        dst.copy_from_slice(head);
                    }
                    *filled = end;
                    rest = tail;
                    if end < HEADER_LEN {
                        break;
                    }
                    let header = match FrameHeader::parse(*buf, self.config.version) {
                        Ok(h) => h,
                        Err(e) => return Err(self.fail(e)),
                    };
                    self.input = Input::Payload {
                        header,
                        buf: Vec::with_capacity(usize::from(header.len)),
                    };
                }
                Input::Payload { header, buf } => {
                    let want = usize::from(header.len).saturating_sub(buf.len());
                    let take = want.min(rest.len());
                    let (head, tail) = rest.split_at(take);
                    buf.extend_from_slice(head);
                    rest = tail;
                    if buf.len() < usize::from(header.len) {
                        break;
                    }
                }
            }
            if let Input::Payload { header, buf } = &mut self.input {
                if buf.len() == usize::from(header.len) {
                    let header = *header;
                    let payload = std::mem::take(buf);
                    self.input = Input::Header {
                        buf: [0; HEADER_LEN],
                        filled: 0,
                    };
                    if let Err(e) = self.dispatch(header, payload) {
                        return Err(self.fail(e));
                    }
                }
            }
        }
        let consumed = data.len().saturating_sub(rest.len());
        if consumed > 0 {
            self.last_input = now;
        }
        Ok(consumed)
    }

    fn fail(&mut self, e: Error) -> Error {
        self.close();
        e
    }

    fn dispatch(&mut self, header: FrameHeader, payload: Vec<u8>) -> Result<(), Error> {
        let sid = header.sid;
        match header.cmd {
            Cmd::Nop => {}
            Cmd::Syn => {
                if !self.streams.contains_key(&sid) {
                    if self.streams.len() >= self.config.max_streams {
                        return Err(Error::TooManyStreams);
                    }
                    self.streams.insert(sid, Stream::new());
                    self.accepts.push_back(sid);
                }
            }
            Cmd::Fin => {
                if let Some(stream) = self.streams.get_mut(&sid) {
                    stream.fin_received = true;
                }
            }
            // smux skips empty data frames.
            Cmd::Psh if payload.is_empty() => {}
            Cmd::Psh => {
                // Data for an unknown (or locally closed) stream is dropped, as smux does.
                let Some(stream) = self.streams.get_mut(&sid) else {
                    return Ok(());
                };
                if stream.fin_received {
                    return Err(Error::DataAfterFin(sid));
                }
                let len = u32::from(header.len);
                if self.config.version >= 2 {
                    let window = INITIAL_PEER_WINDOW
                        .max(u32::try_from(self.config.max_stream_buffer).unwrap_or(u32::MAX));
                    let received = stream.received.wrapping_add(len);
                    if received.wrapping_sub(stream.reported_consumed) > window {
                        return Err(Error::WindowExceeded(sid));
                    }
                    stream.received = received;
                }
                stream.recv.extend(&payload);
                self.buffered = self.buffered.saturating_add(payload.len());
            }
            Cmd::Upd => {
                let Some(stream) = self.streams.get_mut(&sid) else {
                    return Ok(());
                };
                let mut fields = [0u8; UPD_LEN];
                if let Some(src) = payload.get(..UPD_LEN) {
                    fields.copy_from_slice(src);
                }
                let [c0, c1, c2, c3, w0, w1, w2, w3] = fields;
                let consumed = u32::from_le_bytes([c0, c1, c2, c3]);
                let window = u32::from_le_bytes([w0, w1, w2, w3]);
                // smux's security check: in flight (written - consumed) must not go negative.
                if i32::from_ne_bytes(stream.num_written.wrapping_sub(consumed).to_ne_bytes()) < 0 {
                    return Err(Error::ConsumedBeyondWritten(sid));
                }
                stream.peer_consumed = consumed;
                stream.peer_window = window;
            }
        }
        Ok(())
    }

    /// Reads a stream's data into `buf`: `Some(n)` with `n > 0` bytes, `Some(0)` at the end
    /// (the peer's FIN, everything read), `None` when nothing is there yet. In v2 this queues
    /// the window update smux would send (on the first read, then each half window read).
    /// Once the end was read and this side has closed its direction too, the stream is gone.
    pub fn read(&mut self, sid: u32, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        self.check_alive()?;
        let stream = self
            .streams
            .get_mut(&sid)
            .ok_or(Error::UnknownStream(sid))?;
        if stream.recv.is_empty() {
            if stream.fin_received {
                stream.eof_read = true;
                if stream.write_closed {
                    self.streams.remove(&sid);
                }
                return Ok(Some(0));
            }
            return Ok(None);
        }
        if buf.is_empty() {
            return Ok(None);
        }
        // Reading from a VecDeque cannot fail; it copies whole slices.
        let n = std::io::Read::read(&mut stream.recv, buf).unwrap_or(0);
        self.buffered = self.buffered.saturating_sub(n);
        if self.config.version >= 2 {
            let n32 = u32::try_from(n).unwrap_or(u32::MAX);
            stream.num_read = stream.num_read.wrapping_add(n32);
            stream.incr = stream.incr.wrapping_add(n32);
            let threshold = u32::try_from(self.config.max_stream_buffer / 2).unwrap_or(u32::MAX);
            if stream.incr >= threshold || stream.num_read == n32 {
                stream.incr = 0;
                stream.reported_consumed = stream.num_read;
                let mut upd = [0u8; UPD_LEN];
                let window = u32::try_from(self.config.max_stream_buffer).unwrap_or(u32::MAX);
                for (dst, src) in upd.iter_mut().zip(
                    stream
                        .num_read
                        .to_le_bytes()
                        .into_iter()
                        .chain(window.to_le_bytes()),
                ) {
                    *dst = src;
                }
                push_frame(&mut self.output, self.config.version, Cmd::Upd, sid, &upd);
            }
        }
        Ok(Some(n))
    }

    /// How many bytes `write` would accept on a stream now: the v2 peer window left, and the
    /// room in the output buffer.
    pub fn send_capacity(&self, sid: u32) -> Result<usize, Error> {
        self.check_alive()?;
        let stream = self.streams.get(&sid).ok_or(Error::UnknownStream(sid))?;
        if stream.write_closed {
            return Err(Error::WriteClosed(sid));
        }
        let room = self
            .config
            .max_send_buffer
            .saturating_sub(self.output.len());
        // Each frame costs a header too: leave room for them.
        let frames = room
            .checked_div(self.config.max_frame_size.saturating_add(HEADER_LEN))
            .unwrap_or(0)
            .saturating_add(1);
        let room = room.saturating_sub(frames.saturating_mul(HEADER_LEN));
        if self.config.version < 2 {
            return Ok(room);
        }
        let inflight = stream.num_written.wrapping_sub(stream.peer_consumed);
        let window = stream.peer_window.saturating_sub(inflight);
        Ok(room.min(usize::try_from(window).unwrap_or(usize::MAX)))
    }

    /// Queues up to [`send_capacity`](Session::send_capacity) bytes of `data` on a stream as
    /// PSH frames of at most `max_frame_size`; returns how many (0: blocked until the peer's
    /// window update or until the output is taken).
    pub fn write(&mut self, sid: u32, data: &[u8]) -> Result<usize, Error> {
        let n = self.send_capacity(sid)?.min(data.len());
        let version = self.config.version;
        let taken = data.get(..n).unwrap_or_default();
        for chunk in taken.chunks(self.config.max_frame_size) {
            push_frame(&mut self.output, version, Cmd::Psh, sid, chunk);
        }
        if let Some(stream) = self.streams.get_mut(&sid) {
            stream.num_written = stream
                .num_written
                .wrapping_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
        Ok(n)
    }

    /// Ends this side's direction of a stream (queues FIN); reading goes on until the peer's
    /// FIN. smux's `CloseWrite`. A stream whose end was read and whose FIN is sent is gone.
    pub fn close_write(&mut self, sid: u32) -> Result<(), Error> {
        self.check_alive()?;
        let stream = self
            .streams
            .get_mut(&sid)
            .ok_or(Error::UnknownStream(sid))?;
        if stream.write_closed {
            return Err(Error::WriteClosed(sid));
        }
        stream.write_closed = true;
        if stream.eof_read {
            self.streams.remove(&sid);
        }
        push_frame(&mut self.output, self.config.version, Cmd::Fin, sid, &[]);
        Ok(())
    }

    /// Closes a stream both ways: queues FIN unless already sent, drops unread data (its room
    /// returns to the session buffer) and forgets the stream; later data for it is dropped.
    pub fn close_stream(&mut self, sid: u32) -> Result<(), Error> {
        self.check_alive()?;
        let stream = self.streams.remove(&sid).ok_or(Error::UnknownStream(sid))?;
        self.buffered = self.buffered.saturating_sub(stream.recv.len());
        if !stream.write_closed {
            push_frame(&mut self.output, self.config.version, Cmd::Fin, sid, &[]);
        }
        Ok(())
    }

    /// Takes the bytes to send on the transport, in order.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// Bytes waiting in the output.
    pub fn output_len(&self) -> usize {
        self.output.len()
    }

    /// When [`handle_timeout`](Session::handle_timeout) must next run: the next NOP, or the
    /// keepalive deadline. `None` with keepalive disabled or the session closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.dead || self.config.keep_alive_disabled {
            return None;
        }
        let deadline = self
            .last_input
            .checked_add(self.config.keep_alive_timeout)
            .unwrap_or(self.last_input);
        Some(self.next_ping.min(deadline))
    }

    /// Runs the keepalive at `now`: queues a NOP each interval, and ends the session with
    /// [`Error::KeepAliveTimeout`] after `keep_alive_timeout` without input, unless this side
    /// stopped consuming (its receive buffer full), as smux does.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        self.check_alive()?;
        if self.config.keep_alive_disabled {
            return Ok(());
        }
        if now >= self.next_ping {
            push_frame(&mut self.output, self.config.version, Cmd::Nop, 0, &[]);
            self.next_ping = now
                .checked_add(self.config.keep_alive_interval)
                .unwrap_or(now);
        }
        let deadline = self
            .last_input
            .checked_add(self.config.keep_alive_timeout)
            .unwrap_or(self.last_input);
        if now >= deadline {
            if self.buffered >= self.config.max_receive_buffer {
                self.last_input = now;
            } else {
                return Err(self.fail(Error::KeepAliveTimeout));
            }
        }
        Ok(())
    }
}
