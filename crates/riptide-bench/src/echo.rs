//! Echo load: each connection keeps `depth` messages in flight, checks that every echoed
//! message carries the sequence number it was sent with, and records its round-trip time.

use crate::args::EchoArgs;
use crate::clients::{connect_all, read_available, Progress};
use crate::window::{us, Window};
use hdrhistogram::Histogram;
use mio::net::TcpStream;
use mio::{Events, Poll};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::time::{Duration, Instant};

/// What one run measured.
pub struct EchoReport {
    /// Round trips completed in the measured window.
    pub messages: u64,
    /// Measured window length.
    pub elapsed: Duration,
    /// Round-trip times in nanoseconds.
    pub rtt: Histogram<u64>,
    /// Connections that made no progress for a second or more during the window.
    pub stalls: u64,
    /// The load generator's CPU seconds over the window.
    pub cpu_seconds: f64,
}

impl EchoReport {
    /// The JSON line the runner reads.
    pub fn json(&self, args: &EchoArgs) -> String {
        let secs = self.elapsed.as_secs_f64();
        format!(
            "{{\"workload\":\"echo\",\"conns\":{},\"size\":{},\"depth\":{},\"seconds\":{},\"messages\":{},\"rate\":{:.1},\"mib_per_s\":{:.2},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\"stalls\":{},\"loadgen_cpu_s\":{:.3}}}",
            args.conns,
            args.size,
            args.depth,
            secs,
            self.messages,
            self.messages as f64 / secs,
            (self.messages * args.size as u64) as f64 / secs / 1048576.0,
            us(&self.rtt, 0.5),
            us(&self.rtt, 0.99),
            us(&self.rtt, 0.999),
            self.stalls,
            self.cpu_seconds
        )
    }
}

struct Client {
    stream: TcpStream,
    /// Send time of each message in flight, oldest first.
    sent: VecDeque<Instant>,
    next_seq: u64,
    expect_seq: u64,
    out: Vec<u8>,
    out_pos: usize,
    inbuf: Vec<u8>,
    /// For stall detection.
    progress: Progress,
}

impl Client {
    fn queue_message(&mut self, size: usize, now: Instant) {
        let start = self.out.len();
        self.out.resize(start + size, 0xa5);
        self.out[start..start + 8].copy_from_slice(&self.next_seq.to_le_bytes());
        self.next_seq += 1;
        self.sent.push_back(now);
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.out_pos < self.out.len() {
            match self.stream.write(&self.out[self.out_pos..]) {
                Ok(n) => self.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        self.out.clear();
        self.out_pos = 0;
        Ok(())
    }
}

/// Runs the load and returns what the measured window saw. Fails on a connection error or a
/// corrupted echo.
pub fn run(args: &EchoArgs) -> Result<EchoReport, String> {
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(1024);
    let now = Instant::now();
    let mut clients = Vec::with_capacity(args.conns);
    for stream in connect_all(&poll, args.addr, args.conns)? {
        let mut c = Client {
            stream,
            sent: VecDeque::new(),
            next_seq: 0,
            expect_seq: 0,
            out: Vec::new(),
            out_pos: 0,
            inbuf: Vec::with_capacity(args.size * args.depth * 2),
            progress: Progress::new(now),
        };
        for _ in 0..args.depth {
            c.queue_message(args.size, now);
        }
        c.flush().map_err(|e| e.to_string())?;
        clients.push(c);
    }
    let mut rtt = Histogram::<u64>::new_with_bounds(100, 60_000_000_000, 3).expect("bounds");
    let mut window = Window::new(args.warmup, args.duration);
    let measure_from = window.measure_from;
    let mut messages = 0u64;
    let mut stalls = 0u64;
    let mut buf = vec![0u8; 256 * 1024];
    while let Some(left) = window.remaining(Instant::now()) {
        poll.poll(&mut events, Some(left.min(Duration::from_millis(100))))
            .map_err(|e| e.to_string())?;
        let now = Instant::now();
        let measuring = window.measuring(now);
        for ev in events.iter() {
            let c = &mut clients[ev.token().0];
            if ev.is_writable() {
                c.flush().map_err(|e| format!("write: {e}"))?;
            }
            if !(ev.is_readable() || ev.is_read_closed()) {
                continue;
            }
            read_available(&mut c.stream, &mut buf, &mut c.inbuf)?;
            let mut consumed = 0;
            while c.inbuf.len() - consumed >= args.size {
                let seq = u64::from_le_bytes(
                    c.inbuf[consumed..consumed + 8].try_into().expect("8 bytes"),
                );
                if seq != c.expect_seq {
                    return Err(format!(
                        "corrupt echo: expected message {} got {seq}",
                        c.expect_seq
                    ));
                }
                c.expect_seq += 1;
                consumed += args.size;
                let sent = c.sent.pop_front().ok_or("echo of a message never sent")?;
                if measuring && sent >= measure_from {
                    messages += 1;
                    let _ = rtt.record(now.duration_since(sent).as_nanos() as u64);
                }
                c.progress.made(now);
                c.queue_message(args.size, now);
            }
            c.inbuf.drain(..consumed);
            c.flush().map_err(|e| format!("write: {e}"))?;
        }
        if measuring {
            for c in &mut clients {
                if c.progress.newly_stalled(now) {
                    stalls += 1;
                }
            }
        }
    }
    Ok(EchoReport {
        messages,
        elapsed: args.duration,
        rtt,
        stalls,
        cpu_seconds: window.cpu_seconds(),
    })
}
