//! Interop with kcptun's stack: `tests/interop/kcptun` (a Go program on kcp-go v5.7, smux and
//! golang/snappy, set up as kcptun's client and server are) against riptide-tunnel, both ways
//! round, through the lossy relay at 5 % loss each way, FEC 10/3: parallel TCP streams of
//! 1 MiB each to an echo target, every echo SHA-256-exact.
//!
//! By default a reduced matrix (four cases that together cover both directions, aes and
//! salsa20, smux v1 and v2, compression on and off) with 10 streams each;
//! `TUNNEL_INTEROP_FULL=1` runs all 16 combinations with 50 streams each. Skipped, with a
//! note, when `go` is not on PATH.

mod common;

use common::riptide_tunnel;
use common::{echo_target, go_peer, go_tunnel, lossy_relay, parallel_streams, riptide_server};

const SIZE: usize = 1 << 20;
const LOSS: f64 = 0.05;

/// One combination of the matrix.
#[derive(Debug, Clone, Copy)]
struct Case {
    /// riptide-tunnel is the server (the Go peer the client), or the other way round.
    riptide_server: bool,
    crypt: &'static str,
    smuxver: u8,
    comp: bool,
}

impl Case {
    fn args(&self, go: bool) -> Vec<String> {
        let dash = if go { "-" } else { "--" };
        let mut args = vec![
            format!("{dash}crypt"),
            self.crypt.into(),
            format!("{dash}smuxver"),
            self.smuxver.to_string(),
            format!("{dash}key"),
            "interop secret".into(),
        ];
        if go {
            // The Go peer's FEC flags are kcptun's short names; 10/3 is the default of both.
            args.extend(["-ds".into(), "10".into(), "-ps".into(), "3".into()]);
        }
        if !self.comp {
            args.push(format!("{dash}nocomp"));
        }
        args
    }
}

fn run(go: &std::path::Path, case: Case, streams: usize, seed: u64) {
    let started = std::time::Instant::now();
    let target = echo_target();
    let (_server, server_addr, _client, client_addr, _relay);
    if case.riptide_server {
        let mut args = case.args(false);
        args.extend(["--listen".into(), "127.0.0.1:0".into()]);
        args.extend(["--target".into(), target.to_string()]);
        let (s, addr) = riptide_server(&args);
        let (r, relay_addr) = lossy_relay(addr, LOSS, seed);
        let mut args = case.args(true);
        args.extend([
            "-l".into(),
            "127.0.0.1:0".into(),
            "-r".into(),
            relay_addr.to_string(),
        ]);
        let (c, caddr) = go_tunnel(go, "client", &args);
        (_server, server_addr, _client, client_addr, _relay) = (s, addr, c, caddr, r);
    } else {
        let mut args = case.args(true);
        args.extend([
            "-l".into(),
            "127.0.0.1:0".into(),
            "-t".into(),
            target.to_string(),
        ]);
        let (s, addr) = go_tunnel(go, "server", &args);
        let (r, relay_addr) = lossy_relay(addr, LOSS, seed);
        let mut args = case.args(false);
        args.extend(["--localaddr".into(), "127.0.0.1:0".into()]);
        args.extend(["--remoteaddr".into(), relay_addr.to_string()]);
        let (c, caddr) = riptide_tunnel("client", &args);
        (_server, server_addr, _client, client_addr, _relay) = (s, addr, c, caddr, r);
    }
    let _ = server_addr;
    parallel_streams(client_addr, streams, SIZE);
    eprintln!(
        "{case:?}: {streams} × 1 MiB echoed in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn kcptun_interop_through_lossy_relay() {
    let Some(go) = go_peer() else { return };
    let full = std::env::var_os("TUNNEL_INTEROP_FULL").is_some();
    let cases: Vec<Case> = if full {
        let mut all = Vec::new();
        for riptide_server in [true, false] {
            for crypt in ["aes", "salsa20"] {
                for smuxver in [1, 2] {
                    for comp in [true, false] {
                        all.push(Case {
                            riptide_server,
                            crypt,
                            smuxver,
                            comp,
                        });
                    }
                }
            }
        }
        all
    } else {
        vec![
            Case {
                riptide_server: true,
                crypt: "aes",
                smuxver: 1,
                comp: true,
            },
            Case {
                riptide_server: false,
                crypt: "salsa20",
                smuxver: 2,
                comp: false,
            },
            Case {
                riptide_server: true,
                crypt: "salsa20",
                smuxver: 2,
                comp: true,
            },
            Case {
                riptide_server: false,
                crypt: "aes",
                smuxver: 1,
                comp: false,
            },
        ]
    };
    let streams = if full { 50 } else { 10 };
    for (i, case) in cases.into_iter().enumerate() {
        run(&go, case, streams, i as u64 + 1);
    }
}
