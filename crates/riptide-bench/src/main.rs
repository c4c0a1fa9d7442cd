//! riptide's benchmark binary. Load generators print one JSON object per run (after a
//! `{"phase":"measure"}` line when the warm-up ends): `echo` (round trips per second, RTT
//! percentiles in microseconds; `ws-echo` the same over WebSocket), `ws-pubsub` (messages
//! delivered per second to WebSocket subscribers), `http` (responses per second, batch latency; over TLS with `--tls 1`, a new connection per
//! request with `--close 1`), `idle` (holds
//! idle connections). `serve-echo` and `serve-http` are the pure-Rust riptide peers; `serve-kcp`
//! and `kcp` the pure-Rust riptide KCP sink and bulk client of workload K2 (kcpgo-peer's
//! protocol).

#![forbid(unsafe_code)]

mod args;
mod clients;
mod echo;
mod http;
mod idle;
mod kcp;
mod serve;
mod stream;
mod window;
mod ws;

use args::Command;

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let command = match args::parse(&argv) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let outcome = match &command {
        Command::Echo(a) => echo::run(a).map(|r| println!("{}", r.json(a))),
        Command::WsEcho(a) => ws::echo(a).map(|r| println!("{}", r.json(a))),
        Command::WsPubSub(a) => ws::pubsub(a).map(|r| println!("{}", r.json(a))),
        Command::Http(a) => http::run(a).map(|r| println!("{}", r.json(a))),
        Command::Idle(a) => idle::run(a),
        Command::ServeEcho(a) => serve::echo(a),
        Command::ServeHttp(a) => serve::http(a),
        Command::ServeKcp(a) => kcp::serve(a),
        Command::Kcp(a) => kcp::client(a),
    };
    if let Err(msg) = outcome {
        eprintln!("riptide-bench: {msg}");
        std::process::exit(1);
    }
}
