//! Command-line options of the load generator (`--name value` pairs, no dependency needed).

use std::net::SocketAddr;
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

const USAGE: &str = "usage: riptide-bench echo --addr HOST:PORT [--conns 50] [--size 64] [--depth 1] [--duration 5] [--warmup 1]";

/// Parses `echo --flag value ...`.
pub fn parse(args: &[String]) -> Result<EchoArgs, String> {
    if args.first().map(String::as_str) != Some("echo") {
        return Err(USAGE.into());
    }
    let mut a = EchoArgs {
        addr: "127.0.0.1:9000".parse().expect("literal"),
        conns: 50,
        size: 64,
        depth: 1,
        duration: Duration::from_secs(5),
        warmup: Duration::from_secs(1),
    };
    let mut it = args[1..].iter();
    while let Some(flag) = it.next() {
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        match flag.as_str() {
            "--addr" => {
                a.addr = value
                    .parse()
                    .map_err(|_| format!("bad address {value:?}"))?
            }
            "--conns" => a.conns = value.parse().map_err(|_| bad())?,
            "--size" => a.size = value.parse().map_err(|_| bad())?,
            "--depth" => a.depth = value.parse().map_err(|_| bad())?,
            "--duration" => a.duration = secs(value).ok_or_else(bad)?,
            "--warmup" => a.warmup = secs(value).ok_or_else(bad)?,
            _ => return Err(format!("unknown flag {flag}\n{USAGE}")),
        }
    }
    if a.size < 8 || a.conns == 0 || a.depth == 0 {
        return Err(format!(
            "--size must be >= 8, --conns and --depth >= 1\n{USAGE}"
        ));
    }
    Ok(a)
}

fn secs(value: &str) -> Option<Duration> {
    value
        .parse::<f64>()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}
