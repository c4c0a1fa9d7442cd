//! The relay's command line.

use std::net::SocketAddr;
use std::time::Duration;

use riptide_netsim::LinkConfig;

use super::error::RelayError;

/// Help text printed for `--help` and after a usage error.
pub const USAGE: &str = "\
usage: riptide-relay --upstream ADDR [options]

A lossy UDP relay on loopback. Each client gets its own upstream socket and an independent
simulated link per direction (client->server, server->client).

  --listen ADDR          address to listen on (default 127.0.0.1:0)
  --upstream ADDR        server to relay to (required)
  --loss P               drop probability per datagram, 0..1 (default 0)
  --duplicate P          duplicate probability per surviving datagram, 0..1 (default 0)
  --delay-min MS         smallest one-way delay in ms (default 0)
  --delay-max MS         largest one-way delay in ms (default: delay-min)
  --no-fifo              let jitter reorder datagrams (default: FIFO)
  --bandwidth BYTES/S    per-direction bottleneck rate (default unlimited)
  --queue-limit N        datagrams held per direction per client (default 1000)
  --seed N               random seed (default 1)
  --duration SECS        exit after this long (default: run until SIGTERM/SIGINT)
  --idle-timeout SECS    forget a client after this long without traffic (default 60)

Addresses must be loopback IPs. Prints {\"listen\":\"ADDR\"} on start and a JSON stats line
on exit.";

/// Parsed command line.
#[derive(Clone, Debug)]
pub struct Args {
    /// Address of the client-facing socket.
    pub listen: SocketAddr,
    /// Address of the server every client is relayed to.
    pub upstream: SocketAddr,
    /// Impairments applied to each direction of each session.
    pub link: LinkConfig,
    /// Seed from which every link's seed is derived.
    pub seed: u64,
    /// Stop after this long, if given.
    pub duration: Option<Duration>,
    /// Drop a session after this long without traffic in either direction.
    pub idle_timeout: Duration,
    /// `--help` was given.
    pub help: bool,
}

impl Args {
    /// Parses the arguments after the program name; `--flag value` and `--flag=value` both work.
    pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Args, RelayError> {
        let mut listen = "127.0.0.1:0".to_string();
        let mut upstream = None;
        let mut link = LinkConfig::default();
        let mut delay_max = None;
        let mut seed = 1;
        let mut duration = None;
        let mut idle_timeout = Duration::from_secs(60);
        let mut help = false;

        let mut it = args.into_iter();
        while let Some(arg) = it.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
                _ => (arg, None),
            };
            let mut value = || -> Result<String, RelayError> {
                inline
                    .clone()
                    .or_else(|| it.next())
                    .ok_or_else(|| usage(format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--help" | "-h" => help = true,
                "--no-fifo" => link.fifo = false,
                "--listen" => listen = value()?,
                "--upstream" => upstream = Some(value()?),
                "--loss" => link.loss = probability(&flag, &value()?)?,
                "--duplicate" => link.duplicate = probability(&flag, &value()?)?,
                "--delay-min" => link.delay_min_ms = number(&flag, &value()?)?,
                "--delay-max" => delay_max = Some(number(&flag, &value()?)?),
                "--bandwidth" => {
                    let rate: u64 = number(&flag, &value()?)?;
                    if rate == 0 {
                        return Err(usage("--bandwidth must be positive".into()));
                    }
                    link.bandwidth_bytes_per_sec = Some(rate);
                }
                "--queue-limit" => link.queue_limit = number(&flag, &value()?)?,
                "--seed" => seed = number(&flag, &value()?)?,
                "--duration" => duration = Some(seconds(&flag, &value()?)?),
                "--idle-timeout" => idle_timeout = seconds(&flag, &value()?)?,
                other => return Err(usage(format!("unknown argument {other:?}"))),
            }
        }

        link.delay_max_ms = delay_max.unwrap_or(link.delay_min_ms);
        if link.delay_max_ms < link.delay_min_ms {
            return Err(usage("--delay-max must not be below --delay-min".into()));
        }
        let listen = loopback("listen", &listen)?;
        let upstream = match upstream {
            Some(u) => loopback("upstream", &u)?,
            None if help => listen,
            None => return Err(usage("--upstream is required".into())),
        };
        Ok(Args {
            listen,
            upstream,
            link,
            seed,
            duration,
            idle_timeout,
            help,
        })
    }
}

fn usage(message: String) -> RelayError {
    RelayError::Usage(message)
}

fn number<T: std::str::FromStr>(flag: &str, value: &str) -> Result<T, RelayError> {
    value
        .parse()
        .map_err(|_| usage(format!("{flag}: {value:?} is not a valid number")))
}

fn probability(flag: &str, value: &str) -> Result<f64, RelayError> {
    let p: f64 = number(flag, value)?;
    if !(0.0..=1.0).contains(&p) {
        return Err(usage(format!("{flag}: {value} is not between 0 and 1")));
    }
    Ok(p)
}

fn seconds(flag: &str, value: &str) -> Result<Duration, RelayError> {
    let s: f64 = number(flag, value)?;
    Duration::try_from_secs_f64(s).map_err(|_| usage(format!("{flag}: {value} is not a duration")))
}

fn loopback(flag: &'static str, value: &str) -> Result<SocketAddr, RelayError> {
    let addr: SocketAddr = value
        .parse()
        .map_err(|_| usage(format!("--{flag}: {value:?} is not an IP:PORT address")))?;
    if !addr.ip().is_loopback() {
        return Err(RelayError::NotLoopback { flag, addr });
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, RelayError> {
        Args::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn parses_every_flag() {
        let a = parse(&[
            "--listen=127.0.0.1:5000",
            "--upstream",
            "127.0.0.1:7000",
            "--loss",
            "0.1",
            "--duplicate=0.01",
            "--delay-min",
            "5",
            "--delay-max",
            "20",
            "--no-fifo",
            "--bandwidth",
            "1000000",
            "--queue-limit",
            "64",
            "--seed",
            "9",
            "--duration",
            "1.5",
            "--idle-timeout",
            "3",
        ])
        .unwrap();
        assert_eq!(a.listen.port(), 5000);
        assert_eq!(a.upstream.port(), 7000);
        assert_eq!(a.link.loss, 0.1);
        assert_eq!(a.link.duplicate, 0.01);
        assert_eq!((a.link.delay_min_ms, a.link.delay_max_ms), (5, 20));
        assert!(!a.link.fifo);
        assert_eq!(a.link.bandwidth_bytes_per_sec, Some(1_000_000));
        assert_eq!(a.link.queue_limit, 64);
        assert_eq!(a.seed, 9);
        assert_eq!(a.duration, Some(Duration::from_millis(1500)));
        assert_eq!(a.idle_timeout, Duration::from_secs(3));
    }

    #[test]
    fn refuses_non_loopback() {
        let e = parse(&["--upstream", "10.0.0.1:7000"]).unwrap_err();
        assert!(matches!(
            e,
            RelayError::NotLoopback {
                flag: "upstream",
                ..
            }
        ));
        assert_eq!(e.exit_code(), 2);
        let e = parse(&["--listen", "0.0.0.0:0", "--upstream", "[::1]:7000"]).unwrap_err();
        assert!(matches!(e, RelayError::NotLoopback { flag: "listen", .. }));
    }

    #[test]
    fn rejects_bad_values() {
        for bad in [
            &["--loss", "1.5", "--upstream", "127.0.0.1:1"][..],
            &["--upstream", "localhost:1"],
            &[],
            &[
                "--upstream",
                "127.0.0.1:1",
                "--delay-min",
                "9",
                "--delay-max",
                "3",
            ],
            &["--upstream", "127.0.0.1:1", "--bogus"],
            &["--upstream"],
        ] {
            assert!(matches!(parse(bad), Err(RelayError::Usage(_))), "{bad:?}");
        }
    }
}
