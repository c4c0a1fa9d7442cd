//! The codec of a WebSocket server's records (`ws_record.rs`), with the encode-once side of
//! publishing: a message published to many WebSocket subscribers is framed, and compressed,
//! once per kind of session, and every session of that kind is sent the same bytes as a
//! [`kind::FRAMED`] record that its layer passes below itself as it is.
//!
//! The kinds ([`shared_variant`]): a session without permessage-deflate takes the plain
//! frame; one that agreed on `server_no_context_takeover` takes a frame compressed on its own
//! (one per window size), since it keeps no compression history; one with context takeover
//! compresses with its own history, which no other session shares, so it is sent the
//! message as a text or binary record and compresses it itself. This is the choice uWS makes
//! between its shared compressor (one compression for all) and a dedicated one per socket
//! (better ratios, each socket's own work).

use crate::codec::{Codec, CodecFactory, CodecSpec, FrameError};
use crate::ws_record::{kind, put_length, whole_kind, LENGTH};
use riptide_ws::{DeflateParams, Role, Session, SessionConfig};

/// The variant for a message as a text or binary record, framed by the session itself.
const RECORD: u32 = 0;
/// The variant for the plain (uncompressed) frame.
const PLAIN: u32 = 1;
/// The variant for a frame compressed on its own, with the window bits in the low byte.
const DEFLATE: u32 = 0x100;

/// Which shared encoding of a published message `session` takes: see the module's doc.
pub(crate) fn shared_variant(session: &Session) -> u32 {
    if session.role() != Role::Server {
        // A client masks every frame with a key of its own: nothing can be shared.
        return RECORD;
    }
    match session.deflate() {
        None => PLAIN,
        Some(p) if p.server_no_context_takeover => DEFLATE | u32::from(p.server_max_window_bits),
        Some(_) => RECORD,
    }
}

/// A WebSocket server's codec factory: the length-field records between layer and
/// application ([`crate::WsOptions::codec`]), and shared frames for publications.
#[derive(Debug)]
pub struct WsCodec {
    records: CodecSpec,
    session: SessionConfig,
}

impl WsCodec {
    /// Records framed by `records`; published messages framed per `session`'s compression
    /// level, threshold and fragment size.
    pub fn new(records: CodecSpec, session: SessionConfig) -> Self {
        Self { records, session }
    }

    /// Whole frames of `data` as a server session of this kind sends them.
    fn frames(&self, variant: u32, data: &[u8], binary: bool) -> Result<Vec<u8>, FrameError> {
        let deflate = (variant & DEFLATE != 0).then(|| DeflateParams {
            server_no_context_takeover: true,
            // The low byte: the value 9-15 came from a handshake this engine answered.
            server_max_window_bits: u8::try_from(variant & 0xff).unwrap_or(15),
            // The client's side of the agreement plays no part in what the server sends.
            client_no_context_takeover: false,
            client_max_window_bits: 15,
            client_window_offered: false,
        });
        let config = SessionConfig {
            deflate,
            ..self.session
        };
        let mut session = Session::new(Role::Server, config);
        session
            .send(data, binary)
            .map_err(|e| FrameError::InvalidConfig(e.to_string()))?;
        Ok(session.take_output())
    }
}

impl CodecFactory for WsCodec {
    fn new_codec(&self) -> Box<dyn Codec> {
        self.records.new_codec()
    }

    /// `body` is a message record (a [`kind::TEXT`] or [`kind::BINARY`] byte, then the
    /// message, as `lib/websocket.ts` publishes). For [`shared_variant`]'s framed kinds it
    /// becomes a [`kind::FRAMED`] record; anything else stays the record it is.
    fn encode_shared(
        &self,
        variant: u32,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        let mut codec = self.records.new_codec();
        let binary = match body.first() {
            Some(&kind::TEXT) => false,
            Some(&kind::BINARY) => true,
            _ => return codec.encode(body, out),
        };
        if variant == RECORD {
            return codec.encode(body, out);
        }
        let data = body.get(1..).unwrap_or_default();
        let frames = self.frames(variant, data, binary)?;
        // Framed by hand rather than by the records codec: a message of `maxPayload` bytes
        // is a little longer once framed, and the layer reading it has no bound to keep
        // (the records' 4-byte length holds any frame of a message the session accepts).
        put_length(out, frames.len().saturating_add(1));
        out.push(kind::FRAMED);
        out.extend_from_slice(&frames);
        Ok(())
    }

    /// [`kind::FRAMED`] records become one record holding all their frames (whole messages
    /// in order, which the layer passes below itself as one run of bytes); any other mix,
    /// or more than a record's length field holds, stays a run of records.
    fn join_shared(&self, variant: u32, frames: &[&[u8]], out: &mut Vec<u8>) {
        let _ = variant;
        let framed = || {
            frames
                .iter()
                .map(|f| f.get(LENGTH + 1..).unwrap_or_default())
        };
        let total = framed()
            .map(<[u8]>::len)
            .fold(1usize, usize::saturating_add);
        // A record's length field holds at most `u32::MAX`: past that they stay records.
        if total > u32::MAX as usize || !frames.iter().all(|f| whole_kind(f) == Some(kind::FRAMED))
        {
            frames.iter().for_each(|f| out.extend_from_slice(f));
            return;
        }
        put_length(out, total);
        out.push(kind::FRAMED);
        framed().for_each(|f| out.extend_from_slice(f));
    }
}

#[cfg(test)]
#[path = "ws_codec_tests.rs"]
mod tests;
