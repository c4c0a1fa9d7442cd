//! RESP2 request framing (the Redis protocol, as redis-server reads it): arrays of bulk
//! strings (`*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n`) and inline commands (`PING\r\n`), pipelined.
//! Each command becomes one frame, a compact descriptor JS reads without copying
//! (`parseCommand` in `lib/resp.ts`, [`parse_command`] here):
//!
//! ```text
//! u32 argument count | (u32 length, bytes)*      (little endian)
//! ```
//!
//! With [`RespConfig::batch`], every whole command of one read is one frame instead: their
//! descriptors one after another (`RespCommands` in `lib/resp.ts`, [`parse_commands`] here).
//! A pipelined read then costs one delivery to JS, not one per command.
//!
//! Replies are written as bytes (the encoder passes them through; `lib/resp.ts` builds them).
//!
//! Hand-written: RESP requests are a few lines of grammar, and the maintained Rust RESP crates
//! (`redis-protocol`, `resp`) parse into owned trees or need their own buffer type, neither of
//! which fits the [`Decoder`] seam (caller-owned bytes, incremental, limits before buffering).
//!
//! # Limits and errors
//!
//! Every limit is checked on the declared number, before the bytes it announces arrive; the
//! decoder never allocates from a declared length (its own state grows with parsed arguments
//! only). A violation is an error whose message is redis-server's protocol error text, after
//! which the rest of the connection is discarded (a byte stream cannot be resynchronised);
//! the handler answers `-ERR <message>` and closes, as redis-server does:
//!
//! * `ERR_RESP_BULK_TOO_LONG`: a bulk length over `max_bulk_length`;
//! * `ERR_RESP_TOO_MANY_ELEMENTS`: an array header over `max_elements`;
//! * `ERR_RESP_INLINE_TOO_LONG`: an inline command over `max_inline_length` without its `\n`;
//! * `ERR_RESP_REQUEST_TOO_LARGE`: one command's wire bytes over `max_request_size`;
//! * `ERR_RESP_TOO_DEEP`: an array inside a request (requests nest one level; redis-server
//!   refuses the same bytes with the same text);
//! * `ERR_RESP_PROTOCOL`: anything else malformed (a bad length, a missing `\r\n`).

use crate::{Decoded, Decoder, Encoder, FrameError};

/// Limits of [`RespCodec`]; the defaults follow redis-server's where it has one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RespConfig {
    /// Longest bulk string: redis-server's `proto-max-bulk-len`, 512 MiB by default. At most
    /// `u32::MAX` (the descriptor's length field).
    pub max_bulk_length: usize,
    /// Most arguments of one command. redis-server accepts up to 2^31-1 and counts memory
    /// instead; riptide holds a whole command before delivering it, so the default is 65,536
    /// (raise it for an `MSET` of more keys).
    pub max_elements: usize,
    /// Longest inline command, `\n` excluded: redis-server's `PROTO_INLINE_MAX_SIZE`, 64 KiB.
    pub max_inline_length: usize,
    /// Most wire bytes of one command: redis-server's `client-query-buffer-limit`, 1 GiB.
    pub max_request_size: usize,
    /// Deliver the whole commands of one read as one frame (their descriptors concatenated),
    /// so a pipelined read is one handler call; off by default (one frame per command).
    pub batch: bool,
}

impl Default for RespConfig {
    fn default() -> Self {
        RespConfig {
            max_bulk_length: 512 << 20,
            max_elements: 1 << 16,
            max_inline_length: 64 << 10,
            max_request_size: 1 << 30,
            batch: false,
        }
    }
}

/// Longest `*<count>\r\n` or `$<length>\r\n` line: a sign, 19 digits and the marker fit.
const MAX_HEADER_LINE: usize = 32;

/// The RESP2 request decoder and pass-through reply encoder. After an error it discards
/// everything; the handler answers and closes.
#[derive(Clone, Debug)]
pub struct RespCodec {
    config: RespConfig,
    failed: bool,
    /// How far the array at the front of the buffer got.
    progress: Progress,
}

/// Decoding progress on the command at the front of the buffer, kept across `decode` calls
/// (each call sees the same bytes again, plus more).
#[derive(Clone, Debug, Default)]
struct Progress {
    /// Length of the buffer at the last call: a shorter one means the caller started over.
    seen: usize,
    /// The array's declared element count, once its header was read.
    count: usize,
    /// Bytes parsed: the header and the complete arguments.
    at: usize,
    /// Where each complete argument lies in the buffer.
    args: Vec<(usize, usize)>,
    /// Bytes of an inline command already scanned for its `\n`, without finding it.
    scanned: usize,
}

impl Progress {
    /// Starts on the next command, keeping the argument list's allocation.
    fn reset(&mut self) {
        self.seen = 0;
        self.count = 0;
        self.at = 0;
        self.args.clear();
        self.scanned = 0;
    }
}

/// What one command's worth of decoding did.
enum Step {
    /// A command's descriptor was appended to the frame; its wire bytes were `consumed`.
    Command { consumed: usize },
    /// `consumed` bytes held no command (an empty inline line, `*0`, `*-1`).
    Skip { consumed: usize },
    /// The command at the front is incomplete.
    NeedMore,
}

type Fault = (&'static str, String);

fn protocol(msg: &str) -> Fault {
    ("ERR_RESP_PROTOCOL", format!("Protocol error: {msg}"))
}

/// What a `*` or `$` line at the front of `buf` holds.
enum Header {
    /// Its number, and the bytes of the line with its `\r\n`.
    Number(i64, usize),
    NeedMore,
    Bad,
}

/// Reads `<marker><number>\r\n` (the marker already checked): a number as redis-server's
/// `string2ll` takes it (optional `-`, digits, no leading zeros, fits an i64).
fn header(buf: &[u8]) -> Header {
    let window = buf
        .get(..buf.len().min(MAX_HEADER_LINE))
        .unwrap_or_default();
    let Some(cr) = memchr::memchr(b'\r', window) else {
        return if buf.len() >= MAX_HEADER_LINE {
            Header::Bad
        } else {
            Header::NeedMore
        };
    };
    match buf.get(cr.saturating_add(1)) {
        None => return Header::NeedMore,
        Some(b'\n') => {}
        Some(_) => return Header::Bad,
    }
    let digits = buf.get(1..cr).unwrap_or_default();
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    let leading_zero = digits.len() > 1 && digits.first() == Some(&b'0');
    if digits.is_empty() || leading_zero || !digits.iter().all(u8::is_ascii_digit) {
        return Header::Bad;
    }
    let mut n: i64 = 0;
    for &d in digits {
        let d = i64::from(d.wrapping_sub(b'0'));
        let next = n.checked_mul(10).and_then(|n| {
            if negative {
                n.checked_sub(d)
            } else {
                n.checked_add(d)
            }
        });
        match next {
            Some(v) => n = v,
            None => return Header::Bad,
        }
    }
    // The line is at most MAX_HEADER_LINE bytes.
    Header::Number(n, cr.saturating_add(2))
}

/// Appends `bytes` with its u32 length to a descriptor (lengths were checked against
/// `max_bulk_length`, itself at most `u32::MAX`, or `max_inline_length`).
fn push_field(out: &mut Vec<u8>, bytes: &[u8]) {
    let n = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&n.to_le_bytes());
    out.extend_from_slice(bytes);
}

impl RespCodec {
    /// Checks the limits.
    pub fn new(config: RespConfig) -> Result<Self, FrameError> {
        let bad = |m: &str| Err(FrameError::InvalidConfig(m.into()));
        if config.max_bulk_length == 0 || config.max_bulk_length as u64 > u64::from(u32::MAX) {
            return bad("maxBulkLength must be in [1, 4294967295]");
        }
        if config.max_elements == 0 || config.max_elements > i32::MAX as usize {
            return bad("maxElements must be in [1, 2147483647]");
        }
        if config.max_inline_length == 0 || config.max_request_size == 0 {
            return bad("maxInlineLength and maxRequestSize must be positive");
        }
        Ok(RespCodec {
            config,
            failed: false,
            progress: Progress::default(),
        })
    }

    fn fail(&mut self, buf: &[u8], (code, message): Fault) -> Decoded {
        self.failed = true;
        self.progress.reset();
        Decoded::Error {
            consumed: buf.len(),
            error: FrameError::Resp(code, message),
        }
    }

    /// An inline command: words separated by spaces or tabs up to `\n` (a `\r` before it is
    /// dropped). Unlike redis-server, quotes are not interpreted; clients send arrays.
    fn inline(&mut self, buf: &[u8], frame: &mut Vec<u8>) -> Result<Step, Fault> {
        let limit = self
            .config
            .max_inline_length
            .min(self.config.max_request_size);
        let window = buf
            .get(..buf.len().min(limit.saturating_add(1)))
            .unwrap_or_default();
        // Only the bytes that arrived since the last call are scanned: a command arriving a
        // byte at a time costs time linear in its length.
        let from = self.progress.scanned.min(window.len());
        let found = memchr::memchr(b'\n', window.get(from..).unwrap_or_default());
        let Some(nl) = found.map(|i| i.saturating_add(from)) else {
            self.progress.scanned = window.len();
            if buf.len() > limit {
                return Err((
                    "ERR_RESP_INLINE_TOO_LONG",
                    "Protocol error: too big inline request".into(),
                ));
            }
            return Ok(Step::NeedMore);
        };
        let line = buf.get(..nl).unwrap_or_default();
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let words = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|w| !w.is_empty());
        let count = words.clone().count();
        let consumed = nl.saturating_add(1);
        if count == 0 {
            // Empty lines are skipped, as redis-server does.
            return Ok(Step::Skip { consumed });
        }
        if count > self.config.max_elements {
            return Err((
                "ERR_RESP_TOO_MANY_ELEMENTS",
                "Protocol error: invalid multibulk length".into(),
            ));
        }
        frame.reserve(
            line.len()
                .saturating_add(count.saturating_mul(4))
                .saturating_add(4),
        );
        frame.extend_from_slice(&u32::try_from(count).unwrap_or(u32::MAX).to_le_bytes());
        words.for_each(|w| push_field(frame, w));
        Ok(Step::Command { consumed })
    }

    /// Continues the array at the front of `buf`.
    fn array(&mut self, buf: &[u8], frame: &mut Vec<u8>) -> Result<Step, Fault> {
        let c = &self.config;
        if self.progress.at == 0 {
            let (n, len) = match header(buf) {
                Header::Number(n, len) => (n, len),
                Header::NeedMore => return Ok(Step::NeedMore),
                Header::Bad => return Err(protocol("invalid multibulk length")),
            };
            if n <= 0 {
                // `*0` and `*-1` hold no command; redis-server skips them.
                return Ok(Step::Skip { consumed: len });
            }
            if n as u64 > c.max_elements as u64 {
                return Err((
                    "ERR_RESP_TOO_MANY_ELEMENTS",
                    "Protocol error: invalid multibulk length".into(),
                ));
            }
            self.progress.count = n as usize;
            self.progress.at = len;
        }
        while self.progress.args.len() < self.progress.count {
            let at = self.progress.at;
            let rest = buf.get(at..).unwrap_or_default();
            match rest.first() {
                None => return Ok(Step::NeedMore),
                Some(b'$') => {}
                Some(b'*') => {
                    return Err((
                        "ERR_RESP_TOO_DEEP",
                        "Protocol error: expected '$', got '*'".into(),
                    ))
                }
                Some(&other) => {
                    return Err(protocol(&format!(
                        "expected '$', got '{}'",
                        char::from(other).escape_default()
                    )))
                }
            }
            let (n, len) = match header(rest) {
                Header::Number(n, len) => (n, len),
                Header::NeedMore => return Ok(Step::NeedMore),
                Header::Bad => return Err(protocol("invalid bulk length")),
            };
            if n < 0 {
                return Err(protocol("invalid bulk length"));
            }
            if n as u64 > c.max_bulk_length as u64 {
                return Err((
                    "ERR_RESP_BULK_TOO_LONG",
                    "Protocol error: invalid bulk length".into(),
                ));
            }
            // n <= max_bulk_length <= u32::MAX, at <= buf.len(): no overflow in u64.
            let end = (at as u64)
                .saturating_add(len as u64)
                .saturating_add(n as u64)
                .saturating_add(2);
            if end > c.max_request_size as u64 {
                return Err((
                    "ERR_RESP_REQUEST_TOO_LARGE",
                    "Protocol error: request too large".into(),
                ));
            }
            if (buf.len() as u64) < end {
                return Ok(Step::NeedMore);
            }
            // end <= buf.len() <= usize::MAX.
            let end = end as usize;
            let start = at.saturating_add(len);
            let data_end = end.saturating_sub(2);
            if buf.get(data_end..end) != Some(b"\r\n") {
                return Err(protocol("expected '\\r\\n' after a bulk string"));
            }
            self.progress
                .args
                .push((start, data_end.saturating_sub(start)));
            self.progress.at = end;
        }
        let progress = &self.progress;
        let size = progress
            .args
            .iter()
            .fold(4usize, |s, &(_, n)| s.saturating_add(n).saturating_add(4));
        frame.reserve(size);
        frame.extend_from_slice(
            &u32::try_from(progress.count)
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for &(start, n) in &progress.args {
            push_field(
                frame,
                buf.get(start..start.saturating_add(n)).unwrap_or_default(),
            );
        }
        Ok(Step::Command {
            consumed: progress.at,
        })
    }

    /// Decodes the command at the front of `buf` into `frame`, keeping its progress when it
    /// is incomplete (the next call sees the same front again).
    fn step(&mut self, buf: &[u8], frame: &mut Vec<u8>) -> Result<Step, Fault> {
        if buf.len() < self.progress.seen {
            // Not the bytes of the last call plus more: start over.
            self.progress.reset();
        }
        self.progress.seen = buf.len();
        let step = match buf.first() {
            None => Ok(Step::NeedMore),
            Some(b'*') => self.array(buf, frame),
            Some(_) => self.inline(buf, frame),
        };
        if !matches!(step, Ok(Step::NeedMore)) {
            self.progress.reset();
        }
        step
    }
}

impl Decoder for RespCodec {
    fn decode(&mut self, buf: &[u8]) -> Decoded {
        if self.failed {
            return if buf.is_empty() {
                Decoded::NeedMore
            } else {
                Decoded::Skip {
                    consumed: buf.len(),
                }
            };
        }
        let mut frame = Vec::new();
        let mut used = 0usize;
        let mut commands = 0usize;
        // One command, or (batch) every whole command in `buf`; skipped bytes go with them.
        while commands == 0 || self.config.batch {
            let rest = buf.get(used..).unwrap_or_default();
            match self.step(rest, &mut frame) {
                Ok(Step::Command { consumed }) => {
                    used = used.saturating_add(consumed);
                    commands = commands.saturating_add(1);
                }
                Ok(Step::Skip { consumed }) => used = used.saturating_add(consumed),
                Ok(Step::NeedMore) => break,
                Err(fault) if commands == 0 => return self.fail(buf, fault),
                // The commands before the bad one are delivered first; the next call, which
                // starts at the bad one, reports it.
                Err(_) => break,
            }
        }
        match (commands, used) {
            (0, 0) => Decoded::NeedMore,
            (0, consumed) => Decoded::Skip { consumed },
            (_, consumed) => Decoded::Owned { consumed, frame },
        }
    }
}

impl Encoder for RespCodec {
    /// Replies are RESP already (built by `lib/resp.ts`, or [`encode_command`] for a client):
    /// the bytes go out as they are.
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), FrameError> {
        out.extend_from_slice(body);
        Ok(())
    }
}

/// Appends `args` as a RESP array of bulk strings, the form clients send commands in.
pub fn encode_command(args: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in args {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads the descriptor at `at` in `frame`: its arguments, borrowed, and where it ends;
/// `None` when it is malformed or runs past the end.
fn descriptor(frame: &[u8], at: usize) -> Option<(Vec<&[u8]>, usize)> {
    let u32_at = |at: usize| -> Option<usize> {
        let b: [u8; 4] = frame.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(b)).ok()
    };
    let count = u32_at(at)?;
    let mut at = at.checked_add(4)?;
    // Each argument takes at least its 4-byte length: a count beyond that is malformed.
    if count > frame.len().saturating_sub(at) / 4 {
        return None;
    }
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let n = u32_at(at)?;
        let start = at.checked_add(4)?;
        let end = start.checked_add(n)?;
        args.push(frame.get(start..end)?);
        at = end;
    }
    Some((args, at))
}

/// The arguments of a command frame (the descriptor [`RespCodec`] delivers), borrowed from
/// it; `None` when `frame` is not a well-formed descriptor.
pub fn parse_command(frame: &[u8]) -> Option<Vec<&[u8]>> {
    let (args, end) = descriptor(frame, 0)?;
    (end == frame.len()).then_some(args)
}

/// The commands of a batch frame ([`RespConfig::batch`]: descriptors one after another), each
/// as its arguments borrowed from it; `None` when `frame` is not a well-formed batch.
pub fn parse_commands(frame: &[u8]) -> Option<Vec<Vec<&[u8]>>> {
    let mut commands = Vec::new();
    let mut at = 0;
    while at < frame.len() {
        let (args, end) = descriptor(frame, at)?;
        commands.push(args);
        at = end;
    }
    Some(commands)
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::decode_all;

    fn codec() -> RespCodec {
        RespCodec::new(RespConfig::default()).unwrap()
    }

    fn commands(input: &[u8]) -> (Vec<Vec<Vec<u8>>>, Vec<FrameError>) {
        let (frames, errors, _) = decode_all(&mut codec(), input);
        let cmds = frames
            .iter()
            .map(|f| {
                parse_command(f)
                    .unwrap()
                    .into_iter()
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .collect();
        (cmds, errors)
    }

    #[test]
    fn arrays_and_inline_commands_pipelined_in_order() {
        let (cmds, errors) = commands(
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\nPING\r\n\r\n*0\r\nSET  k\tv\n*1\r\n$4\r\nPING\r\n",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(
            cmds,
            vec![
                vec![b"ECHO".to_vec(), b"".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()],
                vec![b"PING".to_vec()],
            ]
        );
    }

    #[test]
    fn each_limit_has_its_code_and_redis_text() {
        let cases: &[(&[u8], &str, &str)] = &[
            (
                b"*1\r\n$2147483648\r\n",
                "ERR_RESP_BULK_TOO_LONG",
                "invalid bulk length",
            ),
            (
                b"*1000000\r\n",
                "ERR_RESP_TOO_MANY_ELEMENTS",
                "invalid multibulk length",
            ),
            (
                b"*1\r\n*1\r\n*1\r\n",
                "ERR_RESP_TOO_DEEP",
                "expected '$', got '*'",
            ),
            (b"*1\r\n$-1\r\n", "ERR_RESP_PROTOCOL", "invalid bulk length"),
            (
                b"*1\r\n:1\r\n",
                "ERR_RESP_PROTOCOL",
                "expected '$', got ':'",
            ),
            (b"*x\r\n", "ERR_RESP_PROTOCOL", "invalid multibulk length"),
            (
                b"*9223372036854775808\r\n",
                "ERR_RESP_PROTOCOL",
                "invalid multibulk length",
            ),
            (b"*01\r\n", "ERR_RESP_PROTOCOL", "invalid multibulk length"),
            (
                b"*1\r\n$1\r\nabc\r\n",
                "ERR_RESP_PROTOCOL",
                "expected '\\r\\n'",
            ),
        ];
        for (input, code, text) in cases {
            let (cmds, errors) = commands(input);
            assert!(cmds.is_empty());
            assert_eq!(errors.len(), 1, "{input:?}");
            assert_eq!(errors[0].code(), *code, "{input:?}");
            assert!(errors[0].to_string().contains(text), "{}", errors[0]);
        }
        let (_, errors) = commands(&vec![b'a'; (64 << 10) + 1]);
        assert_eq!(errors[0].code(), "ERR_RESP_INLINE_TOO_LONG");
    }

    #[test]
    fn a_declared_length_is_refused_before_its_bytes_and_nothing_after_an_error_is_read() {
        let mut c = RespCodec::new(RespConfig {
            max_request_size: 100,
            ..RespConfig::default()
        })
        .unwrap();
        let (frames, errors, left) = decode_all(&mut c, b"*1\r\n$200\r\n*1\r\n$4\r\nPING\r\n");
        assert!(frames.is_empty() && left == 0);
        assert_eq!(errors[0].code(), "ERR_RESP_REQUEST_TOO_LARGE");
        assert_eq!(c.decode(b"PING\r\n"), Decoded::Skip { consumed: 6 });
    }

    #[test]
    fn a_command_in_many_reads_resumes_where_it_stopped() {
        let mut c = codec();
        let mut input = Vec::new();
        encode_command(&[b"SET", b"key", &[b'x'; 1000]], &mut input);
        for n in 1..input.len() {
            assert_eq!(c.decode(&input[..n]), Decoded::NeedMore, "at {n}");
        }
        let Decoded::Owned { consumed, frame } = c.decode(&input) else {
            panic!("no frame")
        };
        assert_eq!(consumed, input.len());
        assert_eq!(parse_command(&frame).unwrap()[2], &[b'x'; 1000][..]);
    }

    fn batch() -> RespCodec {
        RespCodec::new(RespConfig {
            batch: true,
            ..RespConfig::default()
        })
        .unwrap()
    }

    #[test]
    fn a_batch_frame_holds_every_whole_command_of_a_read_and_the_partial_one_waits() {
        let mut c = batch();
        let input = b"*1\r\n$4\r\nPING\r\n\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\nk";
        let Decoded::Owned { consumed, frame } = c.decode(input) else {
            panic!("no frame")
        };
        let tail = b"*2\r\n$3\r\nGET\r\n$1\r\nk";
        assert_eq!(consumed, input.len() - tail.len());
        let cmds = parse_commands(&frame).unwrap();
        assert_eq!(
            cmds,
            vec![vec![&b"PING"[..]], vec![&b"ECHO"[..], &b"hi"[..]]]
        );
        assert_eq!(parse_command(&frame), None, "two descriptors are not one");
        // The partial command resumes where it stopped once its bytes arrive.
        assert_eq!(c.decode(tail), Decoded::NeedMore);
        let whole = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
        let Decoded::Owned { consumed, frame } = c.decode(whole) else {
            panic!("no frame")
        };
        assert_eq!(consumed, whole.len());
        assert_eq!(
            parse_commands(&frame).unwrap(),
            vec![vec![&b"GET"[..], &b"k"[..]]]
        );
    }

    #[test]
    fn a_batch_delivers_the_commands_before_a_protocol_error_then_the_error() {
        let mut c = batch();
        let input = b"PING\r\n*1\r\n:1\r\nPING\r\n";
        let Decoded::Owned { consumed, frame } = c.decode(input) else {
            panic!("no frame")
        };
        assert_eq!(consumed, 6);
        assert_eq!(parse_commands(&frame).unwrap(), vec![vec![&b"PING"[..]]]);
        let Decoded::Error { consumed, error } = c.decode(&input[6..]) else {
            panic!("no error")
        };
        assert_eq!(
            (consumed, error.code()),
            (input.len() - 6, "ERR_RESP_PROTOCOL")
        );
        assert_eq!(c.decode(b"PING\r\n"), Decoded::Skip { consumed: 6 });
        // Only skipped lines: a skip, not an empty frame.
        assert_eq!(batch().decode(b"\r\n*0\r\n"), Decoded::Skip { consumed: 6 });
    }

    #[test]
    fn malformed_descriptors_are_none() {
        assert_eq!(parse_commands(&[1, 0, 0, 0, 0, 0, 0, 0, 9]), None);
        assert_eq!(parse_commands(&[]), Some(vec![]));
        assert_eq!(parse_command(&[]), None);
        assert_eq!(parse_command(&[255, 255, 255, 255]), None);
        assert_eq!(parse_command(&[1, 0, 0, 0, 9, 0, 0, 0, 1]), None);
        assert_eq!(parse_command(&[0, 0, 0, 0]), Some(vec![]));
    }

    #[test]
    fn config_checks() {
        assert!(RespCodec::new(RespConfig {
            max_bulk_length: 0,
            ..RespConfig::default()
        })
        .is_err());
        assert!(RespCodec::new(RespConfig {
            max_elements: 0,
            ..RespConfig::default()
        })
        .is_err());
    }
}
