//! kcptun's compression: the smux byte stream in golang/snappy's framing format (kcptun wraps
//! its connection in `snappy.NewBufferedWriter`, flushed after every write, and
//! `snappy.NewReader`). The `snap` crate does the format; these adapters make it sans-IO.
//!
//! Bounds: the encoder holds at most one 64 KiB block until flushed; the decoder holds one
//! chunk (at most [`MAX_CHUNK_LEN`] bytes, larger is an error) plus its decompressed block.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

use snap::read::FrameDecoder;
use snap::write::FrameEncoder;

use crate::Error;

/// The largest chunk body the decoder accepts: a checksum and a compressed 64 KiB block, as
/// golang/snappy's and `snap`'s readers bound it.
pub const MAX_CHUNK_LEN: usize = 76_490 + 4;

/// The chunk header: a type byte and a 24-bit little-endian length.
const CHUNK_HEADER_LEN: usize = 4;

/// Compresses a byte stream into snappy frames.
#[derive(Debug)]
pub struct SnappyEncoder {
    inner: FrameEncoder<Vec<u8>>,
}

impl Default for SnappyEncoder {
    fn default() -> Self {
        SnappyEncoder {
            inner: FrameEncoder::new(Vec::new()),
        }
    }
}

impl SnappyEncoder {
    /// A new stream (its first output starts with the stream identifier chunk).
    pub fn new() -> SnappyEncoder {
        SnappyEncoder::default()
    }

    /// Compresses `data` and returns every byte ready to send (flushed, as kcptun flushes after
    /// each write, so the peer never waits for a block to fill).
    pub fn encode(&mut self, data: &[u8]) -> Result<Vec<u8>, Error> {
        self.inner.write_all(data).map_err(snappy_error)?;
        self.inner.flush().map_err(snappy_error)?;
        Ok(std::mem::take(self.inner.get_mut()))
    }
}

/// Feeds `snap`'s decoder whole chunks only, so it never sees a chunk cut in two and its
/// "end of input" is always at a chunk boundary, where it resumes cleanly.
#[derive(Debug, Default)]
struct Chunks {
    ready: VecDeque<u8>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.ready.read(buf)
    }
}

/// Decompresses snappy frames back into the byte stream.
#[derive(Debug)]
pub struct SnappyDecoder {
    inner: FrameDecoder<Chunks>,
    partial: Vec<u8>,
}

impl Default for SnappyDecoder {
    fn default() -> Self {
        SnappyDecoder {
            inner: FrameDecoder::new(Chunks::default()),
            partial: Vec::new(),
        }
    }
}

impl SnappyDecoder {
    /// A new stream (it must start with the stream identifier chunk).
    pub fn new() -> SnappyDecoder {
        SnappyDecoder::default()
    }

    /// Takes compressed bytes and appends what they decompress to (whole chunks only; a cut
    /// chunk waits for its rest) to `out`. Errors (bad chunk type, length, checksum or data)
    /// are final.
    pub fn decode(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        while !data.is_empty() {
            let need = self.chunk_len()?;
            let take = need.saturating_sub(self.partial.len()).min(data.len());
            let (head, tail) = data.split_at(take);
            self.partial.extend_from_slice(head);
            data = tail;
            if self.partial.len() >= CHUNK_HEADER_LEN && self.partial.len() == self.chunk_len()? {
                self.inner.get_mut().ready.extend(self.partial.drain(..));
                self.inner.read_to_end(out).map_err(snappy_error)?;
            }
        }
        Ok(())
    }
}

impl SnappyDecoder {
    /// The whole size of the chunk being collected: its header's, until the header is in.
    fn chunk_len(&self) -> Result<usize, Error> {
        let Some(&[_, l0, l1, l2]) = self.partial.get(..CHUNK_HEADER_LEN) else {
            return Ok(CHUNK_HEADER_LEN);
        };
        let len = usize::from(l0) | usize::from(l1) << 8 | usize::from(l2) << 16;
        if len > MAX_CHUNK_LEN {
            return Err(Error::Snappy(format!("chunk of {len} bytes")));
        }
        Ok(CHUNK_HEADER_LEN.saturating_add(len))
    }
}

fn snappy_error(e: io::Error) -> Error {
    Error::Snappy(e.to_string())
}
