//! Command-line options of every mode (`MODE --name value` pairs, no dependency needed).

use riptide::crypt::Cipher;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One echo run.
#[derive(Clone, Debug)]
pub struct EchoArgs {
    /// Server address.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub conns: usize,
    /// Bytes per message (at least 8: the first 8 carry a sequence number that is checked).
    pub size: usize,
    /// Messages in flight per connection (1 = ping-pong).
    pub depth: usize,
    /// Measured time.
    pub duration: Duration,
    /// Time run before measuring.
    pub warmup: Duration,
}

/// One HTTP/1.1 run: every connection sends `pipeline` GET requests back to back, waits for
/// all their responses, and repeats (1 = plain keep-alive); over TLS with `tls`, and with a
/// new connection per request with `close`.
#[derive(Clone, Debug)]
pub struct HttpArgs {
    /// Server address.
    pub addr: SocketAddr,
    /// Concurrent connections.
    pub conns: usize,
    /// Requests sent back to back per connection before waiting.
    pub pipeline: usize,
    /// Request target.
    pub path: String,
    /// Speak TLS (rustls) instead of plain TCP.
    pub tls: bool,
    /// One request per connection (`Connection: close`): each connection sends one request,
    /// reads the response, waits for the server to close, and is replaced by a new one.
    pub close: bool,
    /// Measured time.
    pub duration: Duration,
    /// Time run before measuring.
    pub warmup: Duration,
}

/// One WebSocket pub/sub run (W2): `subscribers` connections on `/sub`, one publisher on
/// `/pub` at most `window` messages ahead of the slowest subscriber.
#[derive(Clone, Debug)]
pub struct PubSubArgs {
    /// Server address.
    pub addr: SocketAddr,
    /// Subscriber connections.
    pub subscribers: usize,
    /// Bytes per message (at least 8: the first 8 carry a sequence number that is checked).
    pub size: usize,
    /// Messages the publisher may be ahead of the slowest subscriber.
    pub window: usize,
    /// Measured time.
    pub duration: Duration,
    /// Time run before measuring.
    pub warmup: Duration,
}

/// Idle connections: open `conns`, report once all are connected, hold them for `hold`.
#[derive(Clone, Debug)]
pub struct IdleArgs {
    /// Server address.
    pub addr: SocketAddr,
    /// Connections to open.
    pub conns: usize,
    /// How long to keep them open at most (the runner usually stops the process earlier).
    pub hold: Duration,
}

/// A pure-Rust riptide server (engine crate, one reactor, no Node).
#[derive(Clone, Debug)]
pub struct ServeArgs {
    /// Address to listen on.
    pub addr: SocketAddr,
    /// `serve-http` over TLS: the certificate chain and key PEM files.
    pub tls: Option<(PathBuf, PathBuf)>,
}

/// KCP parameters of both K2 ends. The defaults are K1's (ikcp's fast profile: nodelay 1,
/// 10 ms interval, fast resend after 2, no congestion window, 128-segment windows), in stream
/// mode so the client's writes fill whole segments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KcpKnobs {
    /// `ikcp_nodelay`'s nodelay.
    pub nodelay: u32,
    /// Update interval, ms.
    pub interval: u32,
    /// Fast retransmit after this many duplicate ACKs (0: off).
    pub resend: u32,
    /// No congestion window.
    pub nc: bool,
    /// Send window, segments.
    pub sndwnd: u16,
    /// Receive window, segments.
    pub rcvwnd: u16,
    /// Stream mode (writes coalesce into full segments).
    pub stream: bool,
}

impl Default for KcpKnobs {
    fn default() -> Self {
        KcpKnobs {
            nodelay: 1,
            interval: 10,
            resend: 2,
            nc: true,
            sndwnd: 128,
            rcvwnd: 128,
            stream: true,
        }
    }
}

/// What wraps a K2 session's datagrams: riptide's secure mode, or kcp-go's encryption (by
/// kcptun's cipher name, key derived from a passphrase as kcptun does), and kcp-go's FEC.
#[derive(Clone, Debug, Default)]
pub struct KcpWire {
    /// kcp-go's cipher and passphrase (`--crypt NAME --key PASS`).
    pub crypt: Option<(Cipher, String)>,
    /// FEC data and parity shards (`--ds N --ps N`, both > 0).
    pub fec: Option<(usize, usize)>,
}

/// How a K2 sink server runs in secure mode.
#[derive(Clone, Debug)]
pub enum SecureKey {
    /// A fresh key pair (its public half is printed on the first line).
    Generate,
    /// The 32 raw bytes of the private key in this file.
    File(PathBuf),
}

/// The pure-Rust riptide KCP sink of workload K2 (kcpgo-peer's `server --mode sink`
/// protocol: each delivery is answered with the 8-byte big-endian byte total so far).
#[derive(Clone, Debug)]
pub struct ServeKcpArgs {
    /// Address to listen on (port 0: any).
    pub addr: SocketAddr,
    /// Secure mode (`--secure 1` or `--secure-key-file PATH`); not with `--crypt`.
    pub secure: Option<SecureKey>,
    /// Encryption and FEC.
    pub wire: KcpWire,
    /// KCP parameters.
    pub knobs: KcpKnobs,
}

/// The riptide KCP bulk client of workload K2: sends `bytes` in `size` writes to a sink and
/// waits until the sink's running total reaches them (kcpgo-peer's `client --mode bulk`).
#[derive(Clone, Debug)]
pub struct KcpClientArgs {
    /// Server (or relay) address.
    pub addr: SocketAddr,
    /// Bytes to send.
    pub bytes: u64,
    /// Bytes per write.
    pub size: usize,
    /// Secure mode, pinning this server public key; not with `--crypt`.
    pub server_public_key: Option<[u8; 32]>,
    /// Encryption and FEC.
    pub wire: KcpWire,
    /// KCP parameters.
    pub knobs: KcpKnobs,
    /// Give up after this long.
    pub timeout: Duration,
}

/// What to do.
#[derive(Clone, Debug)]
pub enum Command {
    /// Echo load generator.
    Echo(EchoArgs),
    /// WebSocket echo load generator (binary messages).
    WsEcho(EchoArgs),
    /// WebSocket pub/sub load generator.
    WsPubSub(PubSubArgs),
    /// HTTP/1.1 load generator.
    Http(HttpArgs),
    /// Idle-connection holder.
    Idle(IdleArgs),
    /// riptide echo server.
    ServeEcho(ServeArgs),
    /// riptide minimal HTTP/1.1 responder.
    ServeHttp(ServeArgs),
    /// riptide KCP sink server.
    ServeKcp(ServeKcpArgs),
    /// riptide KCP bulk client.
    Kcp(KcpClientArgs),
}

/// Usage text.
pub const USAGE: &str = "usage:
  riptide-bench echo  --addr HOST:PORT [--conns 50] [--size 64] [--depth 1] [--duration 5] [--warmup 1]
  riptide-bench ws-echo --addr HOST:PORT [--conns 50] [--size 64] [--depth 1] [--duration 5] [--warmup 1]
  riptide-bench ws-pubsub --addr HOST:PORT [--conns 1000] [--size 64] [--window 32] [--duration 5]
                [--warmup 1]
  riptide-bench http  --addr HOST:PORT [--conns 50] [--pipeline 1] [--path /] [--tls 0] [--close 0]
                [--duration 5] [--warmup 1]
  riptide-bench idle  --addr HOST:PORT [--conns 10000] [--hold 60]
  riptide-bench serve-echo --addr HOST:PORT
  riptide-bench serve-http --addr HOST:PORT [--cert PEM-FILE --key PEM-FILE]
  riptide-bench serve-kcp --addr HOST:PORT [--secure 1 | --secure-key-file PATH | --crypt NAME [--key PASS]]
                [--ds N --ps N] [knobs]
  riptide-bench kcp   --addr HOST:PORT [--bytes 1048576] [--size 1024] [--timeout 60]
                [--server-public-key HEX | --crypt NAME [--key PASS]] [--ds N --ps N] [knobs]
  knobs (defaults: K1's profile, stream mode): [--nodelay 1] [--interval 10] [--resend 2] [--nc 1]
                [--sndwnd 128] [--rcvwnd 128] [--stream 1]";

/// kcp-go's (and kcptun's) default passphrase, typo included.
const DEFAULT_KEY: &str = "it's a secrect";

/// Parses `MODE --flag value ...`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mode = args.first().map(String::as_str).unwrap_or("");
    let flags = pairs(&args[1.min(args.len())..])?;
    if mode == "serve-kcp" || mode == "kcp" {
        return parse_kcp(mode, &flags);
    }
    let mut addr: SocketAddr = "127.0.0.1:9000".parse().expect("literal");
    let (mut conns, mut size, mut depth, mut pipeline) = (None, 64usize, 1usize, 1usize);
    let mut window = 32usize;
    let (mut duration, mut warmup, mut hold) = (
        Duration::from_secs(5),
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    let mut path = "/".to_string();
    let (mut tls, mut close) = (false, false);
    let (mut cert, mut key) = (None, None);
    for (flag, value) in &flags {
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        let allowed = match mode {
            "echo" | "ws-echo" => [
                "--addr",
                "--conns",
                "--size",
                "--depth",
                "--duration",
                "--warmup",
            ]
            .as_slice(),
            "http" => [
                "--addr",
                "--conns",
                "--pipeline",
                "--path",
                "--tls",
                "--close",
                "--duration",
                "--warmup",
            ]
            .as_slice(),
            "ws-pubsub" => [
                "--addr",
                "--conns",
                "--size",
                "--window",
                "--duration",
                "--warmup",
            ]
            .as_slice(),
            "idle" => ["--addr", "--conns", "--hold"].as_slice(),
            "serve-echo" => ["--addr"].as_slice(),
            "serve-http" => ["--addr", "--cert", "--key"].as_slice(),
            _ => return Err(USAGE.into()),
        };
        if !allowed.contains(&flag.as_str()) {
            return Err(format!("unknown flag {flag} for {mode}\n{USAGE}"));
        }
        match flag.as_str() {
            "--addr" => {
                addr = value
                    .parse()
                    .map_err(|_| format!("bad address {value:?}"))?
            }
            "--conns" => conns = Some(value.parse::<usize>().map_err(|_| bad())?),
            "--size" => size = value.parse().map_err(|_| bad())?,
            "--depth" => depth = value.parse().map_err(|_| bad())?,
            "--pipeline" => pipeline = value.parse().map_err(|_| bad())?,
            "--window" => window = value.parse().map_err(|_| bad())?,
            "--path" => path = value.clone(),
            "--tls" => tls = boolean(value).ok_or_else(bad)?,
            "--close" => close = boolean(value).ok_or_else(bad)?,
            "--duration" => duration = secs(value).ok_or_else(bad)?,
            "--warmup" => warmup = secs(value).ok_or_else(bad)?,
            "--hold" => hold = secs(value).ok_or_else(bad)?,
            "--cert" => cert = Some(PathBuf::from(value)),
            "--key" => key = Some(PathBuf::from(value)),
            _ => unreachable!("checked against the allowed list"),
        }
    }
    if conns == Some(0) {
        return Err(format!("--conns must be >= 1\n{USAGE}"));
    }
    Ok(match mode {
        "echo" | "ws-echo" => {
            if size < 8 || depth == 0 {
                return Err(format!("--size must be >= 8 and --depth >= 1\n{USAGE}"));
            }
            let args = EchoArgs {
                addr,
                conns: conns.unwrap_or(50),
                size,
                depth,
                duration,
                warmup,
            };
            if mode == "echo" {
                Command::Echo(args)
            } else {
                Command::WsEcho(args)
            }
        }
        "ws-pubsub" => {
            if size < 8 || window == 0 {
                return Err(format!("--size must be >= 8 and --window >= 1\n{USAGE}"));
            }
            Command::WsPubSub(PubSubArgs {
                addr,
                subscribers: conns.unwrap_or(1000),
                size,
                window,
                duration,
                warmup,
            })
        }
        "http" => {
            if pipeline == 0 || !path.starts_with('/') || path.contains(char::is_whitespace) {
                return Err(format!(
                    "--pipeline must be >= 1 and --path an origin-form target\n{USAGE}"
                ));
            }
            if close && pipeline != 1 {
                return Err(format!(
                    "--close 1 sends one request per connection: --pipeline must be 1\n{USAGE}"
                ));
            }
            Command::Http(HttpArgs {
                addr,
                conns: conns.unwrap_or(50),
                pipeline,
                path,
                tls,
                close,
                duration,
                warmup,
            })
        }
        "idle" => Command::Idle(IdleArgs {
            addr,
            conns: conns.unwrap_or(10_000),
            hold,
        }),
        "serve-echo" => Command::ServeEcho(ServeArgs { addr, tls: None }),
        "serve-http" => Command::ServeHttp(ServeArgs {
            addr,
            tls: match (cert, key) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => return Err(format!("--cert and --key go together\n{USAGE}")),
            },
        }),
        _ => return Err(USAGE.into()),
    })
}

/// The two KCP modes (`serve-kcp`, `kcp`).
fn parse_kcp(mode: &str, flags: &[(String, String)]) -> Result<Command, String> {
    let server = mode == "serve-kcp";
    let mut addr: SocketAddr = "127.0.0.1:0".parse().expect("literal");
    let mut knobs = KcpKnobs::default();
    let (mut cipher, mut key, mut ds, mut ps) = (None, None, 0usize, 0usize);
    let (mut secure, mut public_key) = (None, None);
    let (mut bytes, mut size, mut timeout) = (1u64 << 20, 1024usize, Duration::from_secs(60));
    for (flag, value) in flags {
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        let flag_bool = || boolean(value).ok_or_else(bad);
        match (flag.as_str(), server) {
            ("--addr", _) => {
                addr = value
                    .parse()
                    .map_err(|_| format!("bad address {value:?}"))?
            }
            ("--crypt", _) => {
                cipher = Some(
                    value
                        .parse::<Cipher>()
                        .map_err(|e| format!("--crypt: {e}\n{USAGE}"))?,
                )
            }
            ("--key", _) => key = Some(value.clone()),
            ("--ds", _) => ds = value.parse().map_err(|_| bad())?,
            ("--ps", _) => ps = value.parse().map_err(|_| bad())?,
            ("--nodelay", _) => knobs.nodelay = value.parse().map_err(|_| bad())?,
            ("--interval", _) => knobs.interval = value.parse().map_err(|_| bad())?,
            ("--resend", _) => knobs.resend = value.parse().map_err(|_| bad())?,
            ("--nc", _) => knobs.nc = flag_bool()?,
            ("--sndwnd", _) => knobs.sndwnd = value.parse().map_err(|_| bad())?,
            ("--rcvwnd", _) => knobs.rcvwnd = value.parse().map_err(|_| bad())?,
            ("--stream", _) => knobs.stream = flag_bool()?,
            ("--secure", true) => {
                if flag_bool()? {
                    secure.get_or_insert(SecureKey::Generate);
                }
            }
            ("--secure-key-file", true) => secure = Some(SecureKey::File(value.into())),
            ("--server-public-key", false) => public_key = Some(hex32(value).ok_or_else(bad)?),
            ("--bytes", false) => bytes = value.parse().map_err(|_| bad())?,
            ("--size", false) => size = value.parse().map_err(|_| bad())?,
            ("--timeout", false) => timeout = secs(value).ok_or_else(bad)?,
            _ => return Err(format!("unknown flag {flag} for {mode}\n{USAGE}")),
        }
    }
    if (ds == 0) != (ps == 0) {
        return Err(format!(
            "--ds and --ps go together (both > 0: FEC on)\n{USAGE}"
        ));
    }
    if key.is_some() && cipher.is_none() {
        return Err(format!("--key needs --crypt\n{USAGE}"));
    }
    if cipher.is_some() && (secure.is_some() || public_key.is_some()) {
        return Err(format!(
            "secure mode and --crypt (kcp-go's compat mode) do not combine\n{USAGE}"
        ));
    }
    let wire = KcpWire {
        crypt: cipher.map(|c| (c, key.unwrap_or_else(|| DEFAULT_KEY.into()))),
        fec: (ds > 0).then_some((ds, ps)),
    };
    if server {
        return Ok(Command::ServeKcp(ServeKcpArgs {
            addr,
            secure,
            wire,
            knobs,
        }));
    }
    if bytes == 0 || size == 0 {
        return Err(format!("--bytes and --size must be > 0\n{USAGE}"));
    }
    Ok(Command::Kcp(KcpClientArgs {
        addr,
        bytes,
        size,
        server_public_key: public_key,
        wire,
        knobs,
        timeout,
    }))
}

/// 32 bytes from 64 hex digits.
fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn pairs(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        out.push((flag.clone(), value.clone()));
    }
    Ok(out)
}

/// A boolean flag's value: `1`/`true` or `0`/`false`.
fn boolean(value: &str) -> Option<bool> {
    match value {
        "0" | "false" => Some(false),
        "1" | "true" => Some(true),
        _ => None,
    }
}

fn secs(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_each_mode() {
        match parse(&argv("http --addr 127.0.0.1:1 --pipeline 16 --conns 3")).unwrap() {
            Command::Http(h) => assert_eq!(
                (h.pipeline, h.conns, h.path.as_str(), h.tls, h.close),
                (16, 3, "/", false, false)
            ),
            other => panic!("{other:?}"),
        }
        match parse(&argv("http --tls 1 --close true")).unwrap() {
            Command::Http(h) => assert_eq!((h.tls, h.close, h.pipeline), (true, true, 1)),
            other => panic!("{other:?}"),
        }
        match parse(&argv("idle --conns 1000")).unwrap() {
            Command::Idle(i) => assert_eq!(i.conns, 1000),
            other => panic!("{other:?}"),
        }
        match parse(&argv("ws-pubsub --conns 10 --window 4")).unwrap() {
            Command::WsPubSub(p) => assert_eq!((p.subscribers, p.window, p.size), (10, 4, 64)),
            other => panic!("{other:?}"),
        }
        assert!(parse(&argv("ws-pubsub --window 0")).is_err());
        assert!(parse(&argv("ws-echo --window 4")).is_err());
        match parse(&argv("echo --size 4096 --depth 16")).unwrap() {
            Command::Echo(e) => assert_eq!((e.size, e.depth, e.conns), (4096, 16, 50)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&argv("serve-echo --addr 127.0.0.1:0")),
            Ok(Command::ServeEcho(_))
        ));
        match parse(&argv("serve-http --cert c.pem --key k.pem")).unwrap() {
            Command::ServeHttp(s) => assert_eq!(s.tls, Some(("c.pem".into(), "k.pem".into()))),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&argv("echo --size 4")).is_err());
        assert!(parse(&argv("echo --pipeline 4")).is_err());
        assert!(parse(&argv("http --conns 0")).is_err());
        assert!(parse(&argv("http --duration")).is_err());
        assert!(parse(&argv("http --tls yes")).is_err());
        assert!(parse(&argv("http --close 1 --pipeline 2")).is_err());
        assert!(parse(&argv("echo --tls 1")).is_err());
        assert!(parse(&argv("serve-http --cert c.pem")).is_err());
        assert!(parse(&argv("serve-echo --cert c.pem --key k.pem")).is_err());
        assert!(parse(&argv("nope")).is_err());
    }

    #[test]
    fn parses_the_kcp_modes() {
        match parse(&argv("serve-kcp --crypt salsa20 --key k --ds 10 --ps 3")).unwrap() {
            Command::ServeKcp(s) => {
                assert!(s.secure.is_none());
                assert_eq!(s.wire.crypt, Some((Cipher::Salsa20, "k".into())));
                assert_eq!(s.wire.fec, Some((10, 3)));
                assert_eq!(s.knobs, KcpKnobs::default());
            }
            other => panic!("{other:?}"),
        }
        match parse(&argv("serve-kcp --secure 1 --stream 0")).unwrap() {
            Command::ServeKcp(s) => {
                assert!(matches!(s.secure, Some(SecureKey::Generate)));
                assert!(!s.knobs.stream);
                assert!(s.wire.crypt.is_none() && s.wire.fec.is_none());
            }
            other => panic!("{other:?}"),
        }
        let key = "00ff".repeat(16);
        match parse(&argv(&format!(
            "kcp --addr 127.0.0.1:5 --server-public-key {key} --bytes 100 --size 10"
        )))
        .unwrap()
        {
            Command::Kcp(c) => {
                let pk = c.server_public_key.unwrap();
                assert_eq!((pk[0], pk[1], c.bytes, c.size), (0, 255, 100, 10));
            }
            other => panic!("{other:?}"),
        }
        match parse(&argv("kcp --crypt aes-128-gcm")).unwrap() {
            Command::Kcp(c) => assert_eq!(
                c.wire.crypt,
                Some((Cipher::Aes128Gcm, DEFAULT_KEY.to_string()))
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rejects_bad_kcp_input() {
        assert!(parse(&argv("serve-kcp --crypt nope")).is_err());
        assert!(parse(&argv("serve-kcp --secure 1 --crypt salsa20")).is_err());
        assert!(parse(&argv("serve-kcp --ds 10")).is_err());
        assert!(parse(&argv("serve-kcp --key k")).is_err());
        assert!(parse(&argv("serve-kcp --bytes 10")).is_err());
        assert!(parse(&argv("kcp --secure 1")).is_err());
        assert!(parse(&argv("kcp --server-public-key abcd")).is_err());
        assert!(parse(&argv("kcp --size 0")).is_err());
        assert!(parse(&argv("kcp --nc 2")).is_err());
    }
}
