//! One KCP session's smux side: the [`Session`], kcptun's optional snappy framing around its
//! bytes, the input the session has not taken yet, and the TCP connection behind each stream.
//!
//! Bounds: `raw` holds at most one KCP delivery (the engine's read, up to 64 KiB) because the
//! tunnel pauses the KCP connection while anything is left in it; `input` holds what one
//! [`DECODE_SLICE`] of `raw` decompresses to (snappy expands at most ~21×, and a chunk is at
//! most 64 KiB decoded, so under 160 KiB) plus, without compression, nothing (the raw bytes
//! go to the session directly).

use std::collections::HashMap;
use std::time::Instant;

use riptide::ConnId;
use riptide_smux::{Config, Error, Role, Session, SnappyDecoder, SnappyEncoder};

/// How many compressed bytes are decoded at a time: what one step may add to `input`.
pub const DECODE_SLICE: usize = 4096;

/// The TCP side of one stream.
#[derive(Debug, Default)]
pub struct Link {
    /// The TCP connection: `None` once it closed.
    pub tcp: Option<ConnId>,
    /// The TCP connection is open (a server's dial may still be under way).
    pub connected: bool,
    /// Bytes read from TCP that smux has not taken yet (at most one TCP read: the TCP
    /// connection is paused while this is not empty).
    pub upload: Vec<u8>,
    /// The TCP connection is paused because of `upload`.
    pub paused: bool,
    /// The TCP connection closed: the stream closes once `upload` is sent.
    pub tcp_closed: bool,
    /// The peer's FIN was read and the TCP connection is closing.
    pub eof_delivered: bool,
}

/// A smux session over one KCP connection.
#[derive(Debug)]
pub struct Mux {
    /// The smux session.
    pub session: Session,
    encoder: Option<SnappyEncoder>,
    decoder: Option<SnappyDecoder>,
    raw: Vec<u8>,
    raw_pos: usize,
    input: Vec<u8>,
    input_pos: usize,
    /// The KCP connection is open (a dial's `on_open` came).
    pub open: bool,
    /// The KCP connection is paused because input is waiting.
    pub paused: bool,
    /// When the keepalive timer is armed for.
    pub timer_at: Option<Instant>,
    /// Streams by id.
    pub links: HashMap<u32, Link>,
}

impl Mux {
    /// A session for `role`; `compress` wraps its bytes in snappy framing.
    pub fn new(role: Role, config: Config, compress: bool, now: Instant) -> Result<Mux, Error> {
        Ok(Mux {
            session: Session::new(role, config, now)?,
            encoder: compress.then(SnappyEncoder::new),
            decoder: compress.then(SnappyDecoder::new),
            raw: Vec::new(),
            raw_pos: 0,
            input: Vec::new(),
            input_pos: 0,
            open: false,
            paused: false,
            timer_at: None,
            links: HashMap::new(),
        })
    }

    /// Takes bytes the KCP connection delivered (kept until the session takes them).
    pub fn offer(&mut self, data: &[u8]) {
        self.raw.extend_from_slice(data);
    }

    /// Input is waiting that the session did not take (its buffers are full).
    pub fn has_backlog(&self) -> bool {
        self.raw_pos < self.raw.len() || self.input_pos < self.input.len()
    }

    /// Hands the session as much input as it takes; returns whether anything moved.
    pub fn feed(&mut self, now: Instant) -> Result<bool, Error> {
        let mut moved = false;
        loop {
            if self.input_pos < self.input.len() {
                let rest = self.input.get(self.input_pos..).unwrap_or_default();
                let n = self.session.receive(rest, now)?;
                self.input_pos = self.input_pos.saturating_add(n);
                moved |= n > 0;
                if self.input_pos < self.input.len() {
                    return Ok(moved);
                }
            }
            self.input.clear();
            self.input_pos = 0;
            if self.raw_pos >= self.raw.len() {
                self.raw.clear();
                self.raw_pos = 0;
                return Ok(moved);
            }
            let rest = self.raw.get(self.raw_pos..).unwrap_or_default();
            match &mut self.decoder {
                Some(decoder) => {
                    let slice = rest.get(..DECODE_SLICE).unwrap_or(rest);
                    decoder.decode(slice, &mut self.input)?;
                    self.raw_pos = self.raw_pos.saturating_add(slice.len());
                }
                None => {
                    let n = self.session.receive(rest, now)?;
                    self.raw_pos = self.raw_pos.saturating_add(n);
                    moved |= n > 0;
                    if self.raw_pos < self.raw.len() {
                        return Ok(moved);
                    }
                }
            }
            moved = true;
        }
    }

    /// The session's output, framed for the wire.
    pub fn take_output(&mut self) -> Result<Vec<u8>, Error> {
        let out = self.session.take_output();
        match &mut self.encoder {
            Some(encoder) if !out.is_empty() => encoder.encode(&out),
            _ => Ok(out),
        }
    }
}
