//! Command-line options of every mode (`MODE --name value` pairs, no dependency needed).

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

/// One HTTP/1.1 run: every connection sends `pipeline` GET requests back to back, waits for
/// all their responses, and repeats (1 = plain keep-alive).
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
}

/// What to do.
#[derive(Clone, Debug)]
pub enum Command {
    /// Echo load generator.
    Echo(EchoArgs),
    /// HTTP/1.1 load generator.
    Http(HttpArgs),
    /// Idle-connection holder.
    Idle(IdleArgs),
    /// riptide echo server.
    ServeEcho(ServeArgs),
    /// riptide minimal HTTP/1.1 responder.
    ServeHttp(ServeArgs),
}

/// Usage text.
pub const USAGE: &str = "usage:
  riptide-bench echo  --addr HOST:PORT [--conns 50] [--size 64] [--depth 1] [--duration 5] [--warmup 1]
  riptide-bench http  --addr HOST:PORT [--conns 50] [--pipeline 1] [--path /] [--duration 5] [--warmup 1]
  riptide-bench idle  --addr HOST:PORT [--conns 10000] [--hold 60]
  riptide-bench serve-echo --addr HOST:PORT
  riptide-bench serve-http --addr HOST:PORT";

/// Parses `MODE --flag value ...`.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mode = args.first().map(String::as_str).unwrap_or("");
    let flags = pairs(&args[1.min(args.len())..])?;
    let mut addr: SocketAddr = "127.0.0.1:9000".parse().expect("literal");
    let (mut conns, mut size, mut depth, mut pipeline) = (None, 64usize, 1usize, 1usize);
    let (mut duration, mut warmup, mut hold) = (
        Duration::from_secs(5),
        Duration::from_secs(1),
        Duration::from_secs(60),
    );
    let mut path = "/".to_string();
    for (flag, value) in &flags {
        let bad = || format!("bad value {value:?} for {flag}\n{USAGE}");
        let allowed = match mode {
            "echo" => [
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
                "--duration",
                "--warmup",
            ]
            .as_slice(),
            "idle" => ["--addr", "--conns", "--hold"].as_slice(),
            "serve-echo" | "serve-http" => ["--addr"].as_slice(),
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
            "--path" => path = value.clone(),
            "--duration" => duration = secs(value).ok_or_else(bad)?,
            "--warmup" => warmup = secs(value).ok_or_else(bad)?,
            "--hold" => hold = secs(value).ok_or_else(bad)?,
            _ => unreachable!("checked against the allowed list"),
        }
    }
    if conns == Some(0) {
        return Err(format!("--conns must be >= 1\n{USAGE}"));
    }
    Ok(match mode {
        "echo" => {
            if size < 8 || depth == 0 {
                return Err(format!("--size must be >= 8 and --depth >= 1\n{USAGE}"));
            }
            Command::Echo(EchoArgs {
                addr,
                conns: conns.unwrap_or(50),
                size,
                depth,
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
            Command::Http(HttpArgs {
                addr,
                conns: conns.unwrap_or(50),
                pipeline,
                path,
                duration,
                warmup,
            })
        }
        "idle" => Command::Idle(IdleArgs {
            addr,
            conns: conns.unwrap_or(10_000),
            hold,
        }),
        "serve-echo" => Command::ServeEcho(ServeArgs { addr }),
        "serve-http" => Command::ServeHttp(ServeArgs { addr }),
        _ => return Err(USAGE.into()),
    })
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
            Command::Http(h) => assert_eq!((h.pipeline, h.conns, h.path.as_str()), (16, 3, "/")),
            other => panic!("{other:?}"),
        }
        match parse(&argv("idle --conns 1000")).unwrap() {
            Command::Idle(i) => assert_eq!(i.conns, 1000),
            other => panic!("{other:?}"),
        }
        match parse(&argv("echo --size 4096 --depth 16")).unwrap() {
            Command::Echo(e) => assert_eq!((e.size, e.depth, e.conns), (4096, 16, 50)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse(&argv("serve-echo --addr 127.0.0.1:0")),
            Ok(Command::ServeEcho(_))
        ));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(parse(&argv("echo --size 4")).is_err());
        assert!(parse(&argv("echo --pipeline 4")).is_err());
        assert!(parse(&argv("http --conns 0")).is_err());
        assert!(parse(&argv("http --duration")).is_err());
        assert!(parse(&argv("nope")).is_err());
    }
}
