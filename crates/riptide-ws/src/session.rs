//! A WebSocket connection after its handshake, as a sans-IO state machine: bytes from the peer
//! in, whole messages and control events out; messages to send in, bytes for the peer out.
//! It never buffers more than one message (bounded by `max_message_size`) and a header.

use crate::close::{self, CloseFrame};
use crate::compressor::{Compressor, Decompressor};
use crate::frame::{
    apply_mask, encode_frame, FrameHeader, HeaderParse, Opcode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use crate::mask_source::MaskSource;
use crate::utf8::Utf8Validator;
use crate::{DeflateParams, Error};

/// Which end of the connection this session is: a client masks what it sends and refuses
/// masked frames; a server the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The end that sent the upgrade request.
    Client,
    /// The end that answered it.
    Server,
}

/// Limits and choices for one session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionConfig {
    /// The largest message accepted (after inflating); a bigger one is refused with 1009 as
    /// soon as its size shows, without buffering it.
    pub max_message_size: usize,
    /// Outgoing messages longer than this go out in fragments of this size; 0 never fragments.
    pub fragment_size: usize,
    /// The agreed permessage-deflate parameters, if the handshake negotiated them.
    pub deflate: Option<DeflateParams>,
    /// zlib's level for outgoing messages, 0-9.
    pub compression_level: u32,
    /// Outgoing messages shorter than this are not compressed.
    pub compression_threshold: usize,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            max_message_size: 16 << 20,
            fragment_size: 0,
            deflate: None,
            compression_level: 6,
            compression_threshold: 0,
        }
    }
}

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// This side sent a close frame and waits for the peer's; incoming messages still arrive.
    CloseSent,
    /// Both close frames are sent, or the peer broke the protocol and this side's close frame
    /// is queued: flush the output, then end the transport (a server ends it first, §7.1.1).
    Closed,
}

/// What the peer's bytes held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A whole message; text is valid UTF-8.
    Message {
        /// The payload, reassembled and inflated.
        data: Vec<u8>,
        /// Binary (opcode 2) or text (opcode 1).
        binary: bool,
    },
    /// A ping; the pong is already queued.
    Ping(Vec<u8>),
    /// A pong.
    Pong(Vec<u8>),
    /// The peer's close frame; this side's answer, if one was due, is queued.
    Close(CloseFrame),
}

/// What one call to [`Session::receive`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    /// Input bytes used; call again with the rest.
    pub consumed: usize,
    /// The event they completed, if any.
    pub event: Option<Event>,
}

/// The message being reassembled.
#[derive(Debug)]
struct Assembly {
    binary: bool,
    compressed: bool,
}

/// Where the reader is in the current frame.
#[derive(Debug)]
enum Reading {
    Header,
    Payload {
        header: FrameHeader,
        remaining: u64,
        offset: u64,
    },
}

/// One WebSocket connection's protocol state.
#[derive(Debug)]
pub struct Session {
    role: Role,
    config: SessionConfig,
    state: State,
    reading: Reading,
    head: [u8; MAX_HEADER_LEN],
    head_len: usize,
    assembly: Option<Assembly>,
    message: Vec<u8>,
    utf8: Utf8Validator,
    control: Vec<u8>,
    scratch: Vec<u8>,
    output: Vec<u8>,
    compressor: Option<Compressor>,
    decompressor: Option<Decompressor>,
    masks: MaskSource,
}

impl Session {
    /// A session for `role` with `config`.
    pub fn new(role: Role, config: SessionConfig) -> Self {
        let (compressor, decompressor) = match config.deflate {
            Some(p) => {
                let (own_reset, own_bits, peer_reset) = match role {
                    Role::Server => (
                        p.server_no_context_takeover,
                        p.server_max_window_bits,
                        p.client_no_context_takeover,
                    ),
                    Role::Client => (
                        p.client_no_context_takeover,
                        p.client_max_window_bits,
                        p.server_no_context_takeover,
                    ),
                };
                (
                    Some(Compressor::new(
                        config.compression_level,
                        own_bits,
                        own_reset,
                    )),
                    Some(Decompressor::new(peer_reset)),
                )
            }
            None => (None, None),
        };
        Self {
            role,
            config,
            state: State::Open,
            reading: Reading::Header,
            head: [0; MAX_HEADER_LEN],
            head_len: 0,
            assembly: None,
            message: Vec::new(),
            utf8: Utf8Validator::default(),
            control: Vec::new(),
            scratch: Vec::new(),
            output: Vec::new(),
            compressor,
            decompressor,
            masks: MaskSource::default(),
        }
    }

    /// The close handshake's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// This side's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The permessage-deflate agreement, if the handshake made one (a fan-out reads it to
    /// know which shared encoding of a message this session can take).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.config.deflate
    }

    /// Changes the size outgoing messages are cut into (0: never cut) from the next message on.
    pub fn set_fragment_size(&mut self, size: usize) {
        self.config.fragment_size = size;
    }

    /// Bytes queued for the peer.
    pub fn output(&self) -> &[u8] {
        &self.output
    }

    /// Takes the bytes queued for the peer.
    pub fn take_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output)
    }

    /// How many bytes of a message under reassembly this session holds (for water marks).
    pub fn buffered(&self) -> usize {
        self.message.len()
    }

    /// Reads the peer's bytes until one event completes or `input` runs out. On a violation
    /// the close frame with its code is queued, the state becomes [`State::Closed`] and the
    /// error is returned; later input is ignored.
    pub fn receive(&mut self, input: &[u8]) -> Result<Received, Error> {
        if self.state == State::Closed {
            return Ok(Received {
                consumed: input.len(),
                event: None,
            });
        }
        match self.read(input) {
            Ok(received) => Ok(received),
            Err(error) => {
                self.fail(&error);
                Err(error)
            }
        }
    }

    fn read(&mut self, input: &[u8]) -> Result<Received, Error> {
        let mut pos = 0usize;
        while pos < input.len() || self.payload_done() {
            let rest = input.get(pos..).unwrap_or_default();
            match self.reading {
                Reading::Header => {
                    let used = self.read_header(rest)?;
                    pos = pos.saturating_add(used);
                    if used == 0 {
                        break;
                    }
                }
                Reading::Payload {
                    header,
                    remaining,
                    offset,
                } => {
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(rest.len());
                    let chunk = rest.get(..take).unwrap_or_default();
                    self.read_payload(header, chunk, offset)?;
                    pos = pos.saturating_add(take);
                    let left = remaining.saturating_sub(take as u64);
                    self.reading = Reading::Payload {
                        header,
                        remaining: left,
                        offset: offset.saturating_add(take as u64),
                    };
                    if left == 0 {
                        self.reading = Reading::Header;
                        if let Some(event) = self.end_frame(header)? {
                            return Ok(Received {
                                consumed: pos,
                                event: Some(event),
                            });
                        }
                    }
                }
            }
        }
        Ok(Received {
            consumed: pos,
            event: None,
        })
    }

    /// Whether a frame with nothing left to read is waiting to be ended.
    fn payload_done(&self) -> bool {
        matches!(self.reading, Reading::Payload { remaining: 0, .. })
    }

    /// Adds header bytes from `rest`; returns how many it took (0 when `rest` is empty).
    fn read_header(&mut self, rest: &[u8]) -> Result<usize, Error> {
        let mut used = 0usize;
        loop {
            let head = self.head.get(..self.head_len).unwrap_or_default();
            match FrameHeader::parse(head)? {
                HeaderParse::Complete { header, .. } => {
                    self.head_len = 0;
                    self.start_frame(header)?;
                    return Ok(used);
                }
                HeaderParse::NeedMore { needed } => {
                    let want = needed.saturating_sub(self.head_len);
                    let avail = rest.get(used..).unwrap_or_default();
                    if avail.is_empty() {
                        return Ok(used);
                    }
                    let take = want.min(avail.len());
                    let end = self.head_len.saturating_add(take);
                    let (Some(dst), Some(src)) =
                        (self.head.get_mut(self.head_len..end), avail.get(..take))
                    else {
                        return Ok(used);
                    };
                    dst.copy_from_slice(src);
                    self.head_len = end;
                    used = used.saturating_add(take);
                }
            }
        }
    }

    /// Checks a frame header in context and gets ready for its payload.
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), Error> {
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(Error::UnmaskedFrame),
            (Role::Client, true) => return Err(Error::MaskedFrame),
            _ => {}
        }
        if header.rsv2 || header.rsv3 {
            return Err(Error::ReservedBits);
        }
        let max = self.config.max_message_size;
        if header.opcode.is_control() {
            if header.rsv1 {
                return Err(Error::ReservedBits);
            }
            if !header.fin {
                return Err(Error::FragmentedControl);
            }
            if header.payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(Error::ControlTooLong);
            }
            self.control.clear();
        } else {
            match (header.opcode, &self.assembly) {
                (Opcode::Continuation, None) => return Err(Error::UnexpectedContinuation),
                (Opcode::Continuation, Some(_)) => {
                    if header.rsv1 {
                        return Err(Error::ReservedBits);
                    }
                }
                (_, Some(_)) => return Err(Error::ExpectedContinuation),
                (opcode, None) => {
                    if header.rsv1 && self.decompressor.is_none() {
                        return Err(Error::ReservedBits);
                    }
                    self.assembly = Some(Assembly {
                        binary: opcode == Opcode::Binary,
                        compressed: header.rsv1,
                    });
                    self.message.clear();
                    self.utf8.reset();
                }
            }
            // An uncompressed message is refused on the header that shows it too long. A
            // compressed one is checked as it inflates instead: its wire size says nothing of
            // its size (incompressible data grows a little), and it is never buffered whole.
            let compressed = self.assembly.as_ref().is_some_and(|a| a.compressed);
            let total = (self.message.len() as u64).saturating_add(header.payload_len);
            if !compressed && total > max as u64 {
                return Err(Error::MessageTooBig(max));
            }
        }
        self.reading = Reading::Payload {
            header,
            remaining: header.payload_len,
            offset: 0,
        };
        Ok(())
    }

    /// Takes one piece of a frame's payload.
    fn read_payload(
        &mut self,
        header: FrameHeader,
        chunk: &[u8],
        offset: u64,
    ) -> Result<(), Error> {
        let unmask = |buf: &mut Vec<u8>, from: usize| {
            if let (Some(key), Some(tail)) = (header.mask, buf.get_mut(from..)) {
                apply_mask(tail, key, offset);
            }
        };
        if header.opcode.is_control() {
            let from = self.control.len();
            self.control.extend_from_slice(chunk);
            unmask(&mut self.control, from);
            return Ok(());
        }
        let Some(assembly) = &self.assembly else {
            return Err(Error::UnexpectedContinuation);
        };
        let (binary, compressed) = (assembly.binary, assembly.compressed);
        if compressed {
            self.scratch.clear();
            self.scratch.extend_from_slice(chunk);
            unmask(&mut self.scratch, 0);
            let decompressor = self.decompressor.as_mut().ok_or(Error::ReservedBits)?;
            decompressor.inflate(
                &self.scratch,
                &mut self.message,
                self.config.max_message_size,
            )?;
        } else {
            let from = self.message.len();
            self.message.extend_from_slice(chunk);
            unmask(&mut self.message, from);
        }
        if !binary && !self.utf8.check(&self.message) {
            return Err(Error::InvalidUtf8);
        }
        Ok(())
    }

    /// Ends a frame whose payload is all in: a control frame is answered and reported; a final
    /// data frame completes its message.
    fn end_frame(&mut self, header: FrameHeader) -> Result<Option<Event>, Error> {
        match header.opcode {
            Opcode::Ping => {
                let payload = std::mem::take(&mut self.control);
                if self.state == State::Open {
                    self.queue(Opcode::Pong, &payload, false)?;
                }
                Ok(Some(Event::Ping(payload)))
            }
            Opcode::Pong => Ok(Some(Event::Pong(std::mem::take(&mut self.control)))),
            Opcode::Close => {
                let frame = CloseFrame::parse(&self.control)?;
                if self.state == State::Open {
                    let echo = if frame.code == close::NO_STATUS {
                        Vec::new()
                    } else {
                        frame.code.to_be_bytes().to_vec()
                    };
                    self.queue(Opcode::Close, &echo, false)?;
                }
                self.state = State::Closed;
                self.assembly = None;
                self.message = Vec::new();
                Ok(Some(Event::Close(frame)))
            }
            Opcode::Continuation | Opcode::Text | Opcode::Binary => {
                if !header.fin {
                    return Ok(None);
                }
                let Some(assembly) = self.assembly.take() else {
                    return Err(Error::UnexpectedContinuation);
                };
                if assembly.compressed {
                    let decompressor = self.decompressor.as_mut().ok_or(Error::ReservedBits)?;
                    decompressor.finish(&mut self.message, self.config.max_message_size)?;
                }
                if !assembly.binary && !self.utf8.finish(&self.message) {
                    return Err(Error::InvalidUtf8);
                }
                let data = std::mem::take(&mut self.message);
                Ok(Some(Event::Message {
                    data,
                    binary: assembly.binary,
                }))
            }
        }
    }

    /// Gives up after a violation: queues a close frame with the error's code unless one was
    /// already sent.
    fn fail(&mut self, error: &Error) {
        if self.state == State::Open {
            let payload = error.close_code().to_be_bytes();
            // Queuing a close frame fails only for want of a masking key; the transport ends anyway.
            let _ = self.queue(Opcode::Close, &payload, false);
        }
        self.state = State::Closed;
        self.assembly = None;
        self.message = Vec::new();
        self.control = Vec::new();
    }

    /// Queues a text message (a `&str` is UTF-8 by construction).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send(text.as_bytes(), false)
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send(data, true)
    }

    /// Queues a message: compressed when deflate was agreed and it reaches the threshold,
    /// fragmented per `fragment_size`. For text the caller vouches for UTF-8.
    pub fn send(&mut self, data: &[u8], binary: bool) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::Closed);
        }
        let opcode = if binary { Opcode::Binary } else { Opcode::Text };
        let compressed;
        let mut packed = Vec::new();
        let payload = match &mut self.compressor {
            Some(c) if data.len() >= self.config.compression_threshold => {
                c.compress(data, &mut packed)?;
                compressed = true;
                &packed[..]
            }
            _ => {
                compressed = false;
                data
            }
        };
        let size = match self.config.fragment_size {
            0 => payload.len().max(1),
            n => n,
        };
        let mut pieces = payload.chunks(size).peekable();
        let mut first = true;
        if pieces.peek().is_none() {
            return self.queue(opcode, &[], compressed);
        }
        while let Some(piece) = pieces.next() {
            let header = FrameHeader {
                fin: pieces.peek().is_none(),
                rsv1: first && compressed,
                opcode: if first { opcode } else { Opcode::Continuation },
                mask: self.next_mask()?,
                ..FrameHeader::new(opcode)
            };
            encode_frame(header, piece, &mut self.output);
            first = false;
        }
        Ok(())
    }

    /// Queues whole messages framed elsewhere, as they are: a fan-out frames (and compresses)
    /// a message once for every session that can take the same bytes (a server's frames
    /// are unmasked; compressed ones only where `server_no_context_takeover` was agreed) and
    /// hands each session the result. The caller vouches that `frames` holds only whole
    /// messages this session may send; since every send here queues a whole message at once,
    /// they never land inside a fragmented one.
    pub fn send_framed(&mut self, frames: &[u8]) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::Closed);
        }
        self.output.extend_from_slice(frames);
        Ok(())
    }

    /// Queues a ping with up to 125 bytes of payload.
    pub fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.control_frame(Opcode::Ping, payload)
    }

    /// Queues an unsolicited pong (a heartbeat that expects no answer).
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.control_frame(Opcode::Pong, payload)
    }

    /// Starts the close handshake with `code` and `reason` ([`close::NO_STATUS`] with an empty
    /// reason sends an empty close frame). Messages may still arrive until the peer's close.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::Closed);
        }
        let payload = CloseFrame {
            code,
            reason: reason.to_owned(),
        }
        .payload()?;
        self.queue(Opcode::Close, &payload, false)?;
        self.state = State::CloseSent;
        Ok(())
    }

    fn control_frame(&mut self, opcode: Opcode, payload: &[u8]) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlTooLong);
        }
        self.queue(opcode, payload, false)
    }

    /// Appends one final frame to the output.
    fn queue(&mut self, opcode: Opcode, payload: &[u8], rsv1: bool) -> Result<(), Error> {
        let header = FrameHeader {
            rsv1,
            mask: self.next_mask()?,
            ..FrameHeader::new(opcode)
        };
        encode_frame(header, payload, &mut self.output);
        Ok(())
    }

    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, Error> {
        match self.role {
            Role::Client => self.masks.next_key().map(Some),
            Role::Server => Ok(None),
        }
    }
}
