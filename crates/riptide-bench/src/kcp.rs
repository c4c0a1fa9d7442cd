//! The pure-Rust riptide KCP peers of workload K2, speaking kcpgo-peer's bulk/sink protocol
//! (tests/interop/kcp-go): `serve-kcp`, a sink that answers every delivery with the 8-byte
//! big-endian total of bytes received so far on that session, and `kcp`, a bulk client that
//! sends `--bytes` in `--size` writes and waits until the sink's total reaches them. Either
//! end runs riptide's secure mode or kcp-go's compat encryption, with or without kcp-go's
//! FEC, so each can face kcpgo-peer on the other side.

use crate::args::{KcpClientArgs, KcpKnobs, KcpWire, SecureKey, ServeKcpArgs};
use riptide::secure::{generate_keypair, PrivateKey};
use riptide::{
    ConnId, Conns, DialOptions, Error, EventHandler, KcpCrypt, KcpOptions, KcpSecure,
    ListenOptions, PeerAddr, Reactor,
};
use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// KCP options for `knobs` and `wire`, with `secure` (the side's half of secure mode).
fn options(knobs: &KcpKnobs, wire: &KcpWire, secure: Option<KcpSecure>) -> KcpOptions {
    let mut options = KcpOptions {
        crypt: wire
            .crypt
            .as_ref()
            .map(|(cipher, pass)| KcpCrypt::kcptun(*cipher, pass)),
        fec: wire.fec,
        secure,
        idle_timeout: Some(Duration::from_secs(30)),
        ..KcpOptions::default()
    };
    let c = &mut options.config;
    c.nodelay = knobs.nodelay;
    c.interval = knobs.interval;
    c.resend = knobs.resend;
    c.nc = knobs.nc;
    c.snd_wnd = knobs.sndwnd;
    c.rcv_wnd = knobs.rcvwnd;
    c.stream = knobs.stream;
    options
}

/// Prints one line on stdout and flushes it (the runner reads lines as they come).
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `s` as a JSON string literal.
fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Counts each session's bytes and answers every delivery with the running total.
#[derive(Default)]
struct Sink {
    totals: HashMap<ConnId, u64>,
}

impl EventHandler for Sink {
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let total = self.totals.entry(id).or_default();
        *total += data.len() as u64;
        let _ = conns.write(id, &total.to_be_bytes());
    }

    fn on_close(&mut self, _: &mut Conns, id: ConnId, _: Option<&Error>) {
        self.totals.remove(&id);
    }
}

/// Serves the sink until killed. The first stdout line is `{"listen":"HOST:PORT"}`, with
/// `"public_key":"HEX"` in secure mode.
pub fn serve(args: &ServeKcpArgs) -> Result<(), String> {
    let (mut reactor, addr, public) = listen(args)?;
    let key = public.map_or(String::new(), |k| {
        format!(",\"public_key\":\"{}\"", hex(&k))
    });
    say(&format!("{{\"listen\":\"{addr}\"{key}}}"));
    let mut sink = Sink::default();
    loop {
        reactor.turn(&mut sink, None).map_err(|e| e.to_string())?;
    }
}

/// A reactor with the sink's listener; its address, and its public key in secure mode.
fn listen(args: &ServeKcpArgs) -> Result<(Reactor, SocketAddr, Option<[u8; 32]>), String> {
    let private = match &args.secure {
        None => None,
        Some(SecureKey::Generate) => Some(generate_keypair().map_err(|e| e.to_string())?.private),
        Some(SecureKey::File(path)) => {
            let raw = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Some(PrivateKey::from_slice(&raw).map_err(|e| {
                format!("{}: {e} (the key file holds 32 raw bytes)", path.display())
            })?)
        }
    };
    let public = private.as_ref().map(PrivateKey::public_key);
    let secure = private.map(|private_key| KcpSecure::Server {
        private_key,
        allowed_clients: None,
    });
    let mut reactor = Reactor::new(Default::default()).map_err(|e| e.to_string())?;
    let listen = ListenOptions {
        kcp: Some(options(&args.knobs, &args.wire, secure)),
        ..ListenOptions::default()
    };
    match reactor
        .listen_with(&format!("kcp://{}", args.addr), listen)
        .map_err(|e| e.to_string())?
    {
        PeerAddr::Inet(addr) => Ok((reactor, addr, public)),
        other => Err(format!("listening on {other:?}")),
    }
}

/// The client's side of a bulk transfer.
struct Bulk {
    id: ConnId,
    total: u64,
    sent: u64,
    /// The sink's latest running total.
    acked: u64,
    /// Bytes of an acknowledgement not complete yet.
    partial: Vec<u8>,
    chunk: Vec<u8>,
    /// The send queue's length (`Conns::outbound_len`) when it first filled the window.
    full: Option<usize>,
    /// Why the session ended early.
    failed: Option<String>,
}

impl Bulk {
    /// Writes `--size` pieces while the session's send queue is below the send window, as
    /// kcp-go's `Write` does (it blocks at `WaitSnd() >= snd_wnd` and resumes as soon as acks
    /// free a slot). The engine's writable event comes back only at half the window (a Node
    /// stream's low water mark), which would leave the window half empty between refills, so
    /// the queue is read directly: `full` is its length when the session first reported
    /// itself full (`snd_wnd` segments at one MSS each).
    fn pump(&mut self, conns: &mut Conns) {
        while self.sent < self.total && self.failed.is_none() {
            let writable = conns.is_writable(self.id).unwrap_or(false);
            if !writable {
                let queued = conns.outbound_len(self.id).unwrap_or(usize::MAX);
                let full = *self.full.get_or_insert(queued);
                if queued >= full {
                    return;
                }
            }
            let n = (self.total - self.sent).min(self.chunk.len() as u64) as usize;
            if let Err(e) = conns.write(self.id, &self.chunk[..n]) {
                self.failed = Some(format!("write: {e}"));
                return;
            }
            self.sent += n as u64;
        }
    }
}

impl EventHandler for Bulk {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        if id == self.id {
            self.pump(conns);
        }
    }

    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if id != self.id {
            return;
        }
        // The sink's answers come with KCP acks that may have freed the window.
        self.pump(conns);
        self.partial.extend_from_slice(data);
        let whole = self.partial.len() / 8 * 8;
        if let Some(last) = self.partial[..whole].chunks_exact(8).last() {
            self.acked = u64::from_be_bytes(last.try_into().expect("8 bytes"));
        }
        self.partial.drain(..whole);
        if self.acked > self.total {
            self.failed = Some("sink reports more bytes than were sent".into());
        }
    }

    fn on_writability(&mut self, conns: &mut Conns, id: ConnId, writable: bool) {
        if writable && id == self.id {
            self.pump(conns);
        }
    }

    fn on_close(&mut self, _: &mut Conns, id: ConnId, err: Option<&Error>) {
        if id == self.id && self.failed.is_none() {
            self.failed = Some(format!(
                "session closed after {} of {} bytes acknowledged: {}",
                self.acked,
                self.total,
                err.map_or("no error".into(), |e| e.to_string())
            ));
        }
    }
}

/// Runs one bulk transfer and prints kcpgo-peer's client result line:
/// `{"ok":true,"bytes":N,"seconds":F,"goodput_mbps":F}` (megabits of payload per second), or
/// `{"ok":false,"error":"..."}` (then the process exits 1).
pub fn client(args: &KcpClientArgs) -> Result<(), String> {
    match transfer(args) {
        Ok(seconds) => {
            say(&format!(
                "{{\"ok\":true,\"bytes\":{},\"seconds\":{seconds:.6},\"goodput_mbps\":{:.3}}}",
                args.bytes,
                args.bytes as f64 * 8.0 / seconds / 1e6
            ));
            Ok(())
        }
        Err(msg) => {
            say(&format!("{{\"ok\":false,\"error\":{}}}", json_str(&msg)));
            Err(msg)
        }
    }
}

/// The transfer; its seconds from the dial to the sink's last acknowledgement.
fn transfer(args: &KcpClientArgs) -> Result<f64, String> {
    let secure = args
        .server_public_key
        .map(|server_public_key| KcpSecure::Client {
            server_public_key,
            client_key: None,
        });
    let mut reactor = Reactor::new(Default::default()).map_err(|e| e.to_string())?;
    let dial = DialOptions {
        kcp: Some(options(&args.knobs, &args.wire, secure)),
        ..DialOptions::default()
    };
    let start = Instant::now();
    let id = reactor
        .dial(&format!("kcp://{}", args.addr), dial)
        .map_err(|e| format!("dial {}: {e}", args.addr))?;
    let mut bulk = Bulk {
        id,
        total: args.bytes,
        sent: 0,
        acked: 0,
        partial: Vec::new(),
        // Not all zeros (xorshift64), reused for every write.
        chunk: riptide_testkit::pattern(1, args.size),
        full: None,
        failed: None,
    };
    let deadline = start + args.timeout;
    bulk.pump(reactor.conns());
    while bulk.acked < bulk.total {
        if let Some(msg) = bulk.failed.take() {
            return Err(msg);
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(format!(
                "timed out after {:.1} s: {} of {} bytes sent, {} acknowledged",
                args.timeout.as_secs_f64(),
                bulk.sent,
                bulk.total,
                bulk.acked
            ));
        }
        let wait = if reactor.conns().needs_turn() {
            Duration::ZERO
        } else {
            (deadline - now).min(Duration::from_millis(100))
        };
        reactor
            .turn(&mut bulk, Some(wait))
            .map_err(|e| e.to_string())?;
        bulk.pump(reactor.conns());
    }
    Ok(start.elapsed().as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse, Command};
    use riptide::crypt::Cipher;

    /// A sink on its own thread; returns its address and public key (secure mode).
    fn sink(args: ServeKcpArgs) -> (SocketAddr, Option<[u8; 32]>) {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut reactor, addr, public) = listen(&args).unwrap();
            tx.send((addr, public)).unwrap();
            let mut sink = Sink::default();
            loop {
                reactor.turn(&mut sink, None).unwrap();
            }
        });
        rx.recv().unwrap()
    }

    fn client_args(line: &str) -> KcpClientArgs {
        let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
        match parse(&argv).unwrap() {
            Command::Kcp(c) => c,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_secure_transfer_with_fec_completes() {
        let server = ServeKcpArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            secure: Some(SecureKey::Generate),
            wire: KcpWire {
                crypt: None,
                fec: Some((10, 3)),
            },
            knobs: KcpKnobs::default(),
        };
        let (addr, public) = sink(server);
        let args = client_args(&format!(
            "kcp --addr {addr} --bytes 300000 --size 1000 --ds 10 --ps 3 --timeout 20 --server-public-key {}",
            hex(&public.unwrap())
        ));
        assert!(transfer(&args).unwrap() > 0.0);
    }

    #[test]
    fn a_compat_salsa20_transfer_completes() {
        let server = ServeKcpArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            secure: None,
            wire: KcpWire {
                crypt: Some((Cipher::Salsa20, "k".into())),
                fec: Some((10, 3)),
            },
            knobs: KcpKnobs::default(),
        };
        let (addr, _) = sink(server);
        let args = client_args(&format!(
            "kcp --addr {addr} --bytes 300000 --size 1024 --crypt salsa20 --key k --ds 10 --ps 3 --timeout 20"
        ));
        assert!(transfer(&args).unwrap() > 0.0);
    }

    #[test]
    fn the_wrong_key_times_out() {
        let server = ServeKcpArgs {
            addr: "127.0.0.1:0".parse().unwrap(),
            secure: None,
            wire: KcpWire {
                crypt: Some((Cipher::Salsa20, "k".into())),
                fec: None,
            },
            knobs: KcpKnobs::default(),
        };
        let (addr, _) = sink(server);
        let args = client_args(&format!(
            "kcp --addr {addr} --bytes 1000 --crypt salsa20 --key other --timeout 1"
        ));
        assert!(transfer(&args).unwrap_err().contains("timed out"));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(json_str("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000a\"");
    }
}
