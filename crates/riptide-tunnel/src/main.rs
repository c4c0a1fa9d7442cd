//! `riptide-tunnel`: a kcptun-compatible tunnel on riptide's engine. `client` listens on TCP
//! and carries each connection as a smux stream over one KCP session to the server;
//! `server` accepts KCP sessions and dials its target for each stream; `gen-server` and
//! `gen-client` make the keys of `--secure`. See `docs/tunnel.md`.

#![forbid(unsafe_code)]

mod cli;
mod mux;
mod run;
mod secure;
mod settings;
mod stats;
mod tunnel;

use clap::Parser;

fn main() {
    let cli = cli::Cli::parse();
    if let Err(e) = run::run(cli.command) {
        eprintln!("riptide-tunnel: {e}");
        std::process::exit(1);
    }
}
