//! HTTP/1.1 load: every connection sends `pipeline` GET requests back to back, reads that many
//! responses (framed by `Content-Length`), records the batch's latency, and sends the next batch.
//! `pipeline = 1` is plain keep-alive. Non-2xx responses are counted as errors. With `tls`
//! the connections speak TLS (see [`crate::stream`]); with `close` each connection sends one
//! request with `Connection: close`, reads the response, waits for the server to close, and
//! is replaced by a new connection (latency then runs from the connect to the response).

use crate::args::HttpArgs;
use crate::clients::{connect_all, connect_one, Progress, ReadEnd};
use crate::stream::{client_config, Stream};
use crate::window::{us, Window};
use hdrhistogram::Histogram;
use mio::{Events, Poll, Token};
use rustls::ClientConfig;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one run measured.
pub struct HttpReport {
    /// Responses received in the measured window.
    pub responses: u64,
    /// Responses with a status outside 200..300.
    pub errors: u64,
    /// Measured window length.
    pub elapsed: Duration,
    /// Batch latency (first request sent → last response received) in nanoseconds.
    pub latency: Histogram<u64>,
    /// Connections that made no progress for a second or more during the window.
    pub stalls: u64,
    /// The load generator's CPU seconds over the window.
    pub cpu_seconds: f64,
    /// The TLS version and cipher suite the first connection negotiated (TLS runs).
    pub negotiated: Option<String>,
}

impl HttpReport {
    /// The JSON line the runner reads.
    pub fn json(&self, args: &HttpArgs) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{{\"workload\":\"http\",\"conns\":{},\"pipeline\":{},\"tls\":{},\"close\":{},\"seconds\":{},\"messages\":{},\"rate\":{:.1},\"errors\":{},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"stalls\":{},\"loadgen_cpu_s\":{:.3}}}",
            args.conns,
            args.pipeline,
            self.negotiated
                .as_ref()
                .map_or("null".to_string(), |n| format!("\"{n}\"")),
            args.close,
            secs,
            self.responses,
            self.responses as f64 / secs,
            self.errors,
            us(&self.latency, 0.5),
            us(&self.latency, 0.99),
            us(&self.latency, 0.999),
            self.stalls,
            self.cpu_seconds
        )
    }
}

/// Outcome of parsing the front of a response stream.
#[derive(Debug, PartialEq, Eq)]
enum Parsed {
    /// A whole response of `len` bytes with this status.
    Response { len: usize, status: u16 },
    /// More bytes are needed.
    Partial,
}

/// Frames one response at the front of `buf` (status line, headers, `Content-Length` body).
fn parse_response(buf: &[u8]) -> Result<Parsed, String> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > 64 * 1024 {
            Err("response head over 64 KiB".into())
        } else {
            Ok(Parsed::Partial)
        };
    };
    let head = &buf[..head_end];
    if head.len() < 12 || !head.starts_with(b"HTTP/1.") {
        return Err(format!(
            "not an HTTP/1.x response: {:?}",
            String::from_utf8_lossy(&head[..head.len().min(40)])
        ));
    }
    let status = std::str::from_utf8(&head[9..12])
        .ok()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("bad status code")?;
    let mut body = None;
    for line in head.split(|&b| b == b'\n').skip(1) {
        const NAME: &[u8] = b"content-length:";
        if line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME) {
            let v = std::str::from_utf8(&line[NAME.len()..]).map_err(|_| "bad Content-Length")?;
            body = Some(
                v.trim()
                    .parse::<usize>()
                    .map_err(|_| "bad Content-Length")?,
            );
        }
    }
    let body = body.ok_or("response without Content-Length (chunked is not supported)")?;
    let len = head_end + 4 + body;
    Ok(if buf.len() >= len {
        Parsed::Response { len, status }
    } else {
        Parsed::Partial
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Client {
    stream: Stream,
    /// When the current batch was sent (with `close`: when its connection was started).
    batch_sent: Instant,
    awaiting: usize,
    out_pos: usize,
    inbuf: Vec<u8>,
    /// For stall detection.
    progress: Progress,
}

impl Client {
    fn new(stream: Stream, now: Instant) -> Client {
        Client {
            stream,
            batch_sent: now,
            awaiting: 0,
            out_pos: 0,
            inbuf: Vec::with_capacity(64 * 1024),
            progress: Progress::new(now),
        }
    }

    fn send_batch(&mut self, batch: &[u8], pipeline: usize, now: Instant) -> io::Result<()> {
        self.batch_sent = now;
        self.awaiting = pipeline;
        self.out_pos = 0;
        self.flush(batch)
    }

    fn flush(&mut self, batch: &[u8]) -> io::Result<()> {
        while self.out_pos < batch.len() {
            match self.stream.write(&batch[self.out_pos..])? {
                0 => return Ok(()),
                n => self.out_pos += n,
            }
        }
        self.stream.push()
    }
}

/// A new connection for `token` (`close` mode), with its request already queued.
fn reconnect(
    poll: &Poll,
    args: &HttpArgs,
    tls: Option<&Arc<ClientConfig>>,
    token: Token,
    batch: &[u8],
    now: Instant,
) -> Result<Client, String> {
    let tcp = connect_one(poll, args.addr, token)?;
    let mut c = Client::new(Stream::new(tcp, tls)?, now);
    c.send_batch(batch, 1, now)
        .map_err(|e| format!("write: {e}"))?;
    Ok(c)
}

/// Runs the load and returns what the measured window saw. Fails on a connection error or a
/// malformed response.
pub fn run(args: &HttpArgs) -> Result<HttpReport, String> {
    let connection = if args.close {
        "Connection: close\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: riptide-bench\r\nAccept: */*\r\n{connection}\r\n",
        args.path, args.addr
    );
    let batch = request.repeat(args.pipeline).into_bytes();
    let tls = args.tls.then(client_config);
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let now = Instant::now();
    let mut clients = Vec::with_capacity(args.conns);
    for tcp in connect_all(&poll, args.addr, args.conns)? {
        let mut c = Client::new(Stream::new(tcp, tls.as_ref())?, now);
        c.send_batch(&batch, args.pipeline, now)
            .map_err(|e| e.to_string())?;
        clients.push(c);
    }
    let mut latency = Histogram::<u64>::new_with_bounds(100, 60_000_000_000, 3).expect("bounds");
    let mut window = Window::new(args.warmup, args.duration);
    let (mut responses, mut errors, mut stalls) = (0u64, 0u64, 0u64);
    let mut negotiated = None;
    let mut buf = vec![0u8; 256 * 1024];
    while let Some(left) = window.remaining(Instant::now()) {
        poll.poll(&mut events, Some(left.min(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let measuring = window.measuring(now);
        for ev in events.iter() {
            let token = ev.token();
            let c = &mut clients[token.0];
            if ev.is_writable() {
                c.flush(&batch).map_err(|e| format!("write: {e}"))?;
            }
            if !(ev.is_readable() || ev.is_read_closed()) {
                continue;
            }
            let end = c.stream.read_available(&mut buf, &mut c.inbuf)?;
            let mut consumed = 0;
            while let Parsed::Response { len, status } = parse_response(&c.inbuf[consumed..])? {
                if c.awaiting == 0 {
                    return Err("a response nobody asked for".into());
                }
                consumed += len;
                c.awaiting -= 1;
                if measuring && c.batch_sent >= window.measure_from {
                    responses += 1;
                    if !(200..300).contains(&status) {
                        errors += 1;
                    }
                }
                c.progress.made(now);
            }
            c.inbuf.drain(..consumed);
            if negotiated.is_none() {
                negotiated = c.stream.negotiated();
            }
            let closed = end == ReadEnd::Closed;
            if c.awaiting == 0 && (closed || !args.close) {
                if measuring && c.batch_sent >= window.measure_from {
                    let _ = latency.record(now.duration_since(c.batch_sent).as_nanos() as u64);
                }
                if args.close {
                    *c = reconnect(&poll, args, tls.as_ref(), token, &batch, now)?;
                } else {
                    c.send_batch(&batch, args.pipeline, now)
                        .map_err(|e| format!("write: {e}"))?;
                }
            } else if closed {
                return Err("server closed a connection".into());
            }
        }
        if measuring {
            for c in &mut clients {
                if c.progress.newly_stalled(now) {
                    stalls += 1;
                }
            }
        }
    }
    Ok(HttpReport {
        responses,
        errors,
        elapsed: args.duration,
        latency,
        stalls,
        cpu_seconds: window.cpu_seconds(),
        negotiated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &[u8] =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

    #[test]
    fn frames_responses_by_content_length() {
        let mut two = OK.to_vec();
        two.extend_from_slice(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            parse_response(&two).unwrap(),
            Parsed::Response {
                len: OK.len(),
                status: 200
            }
        );
        assert_eq!(
            parse_response(&two[OK.len()..]).unwrap(),
            Parsed::Response {
                len: two.len() - OK.len(),
                status: 404
            }
        );
        for cut in [0, 5, 20, OK.len() - 1] {
            assert_eq!(parse_response(&OK[..cut]).unwrap(), Parsed::Partial);
        }
    }

    #[test]
    fn rejects_what_it_cannot_frame() {
        assert!(parse_response(b"SSH-2.0-x\r\n\r\n").is_err());
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").is_err());
    }
}
