//! The run loop: one reactor on this thread, its listener, and the dials the handler asks for
//! (a handler only sees `Conns`, and dialing takes the reactor).

use std::time::Duration;

use riptide::{DialOptions, KcpSecure, ListenOptions, Reactor, ReactorConfig};

use crate::cli::Command;
use crate::secure;
use crate::settings::Settings;
use crate::stats::{Stats, TICK};
use crate::tunnel::{Dial, Side, Tunnel};

/// Runs a command: a tunnel end until a fatal error (SIGINT/SIGTERM end the process), or
/// one of the key generators.
pub fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    let (side, listen, remote, settings, stats) = match command {
        Command::GenServer(a) => {
            print!("{}", secure::gen_server(&a)?);
            return Ok(());
        }
        Command::GenClient(a) => {
            print!("{}", secure::gen_client(&a)?);
            return Ok(());
        }
        Command::Client(a) => {
            let secure = secure::client(&a)?;
            let settings = Settings::new(&a.common, a.windows.sndwnd, a.windows.rcvwnd, secure)?;
            let stats = Stats::new(
                a.common.quiet,
                a.common.snmplog.clone(),
                Duration::from_secs(a.common.snmpperiod),
            );
            let listen = ("tcp", a.localaddr);
            (Side::Client, listen, a.remoteaddr, settings, stats)
        }
        Command::Server(a) => {
            let secure = secure::server(&a)?;
            if let (
                Some(path),
                Some(KcpSecure::Server {
                    allowed_clients: Some(set),
                    ..
                }),
            ) = (&a.allowed_clients, &secure)
            {
                eprintln!(
                    "riptide-tunnel: {} allowed clients from {}",
                    set.len(),
                    path.display()
                );
                secure::reload_on_sighup(path.clone(), set.clone())?;
            }
            let settings = Settings::new(&a.common, a.windows.sndwnd, a.windows.rcvwnd, secure)?;
            let stats = Stats::new(
                a.common.quiet,
                a.common.snmplog.clone(),
                Duration::from_secs(a.common.snmpperiod),
            );
            (Side::Server, ("kcp", a.listen), a.target, settings, stats)
        }
    };
    let mut config = ReactorConfig::default();
    config.socket.no_delay = true;
    let mut reactor = Reactor::new(config)?;
    let options = ListenOptions {
        kcp: (listen.0 == "kcp").then(|| settings.kcp.clone()),
        ..ListenOptions::default()
    };
    let bound = reactor.listen_with(&format!("{}://{}", listen.0, listen.1), options)?;
    eprintln!("riptide-tunnel: listening on {}://{bound}", listen.0);
    eprintln!(
        "riptide-tunnel: {} {remote}; KCP {:?}; smux v{}; compression {}",
        match side {
            Side::Client => "remote",
            Side::Server => "target",
        },
        settings.kcp,
        settings.smux.version,
        settings.compress,
    );
    reactor.schedule_tick(Some(TICK));
    let mut tunnel = Tunnel::new(side, settings, stats);
    loop {
        let timeout = reactor.conns().needs_turn().then_some(Duration::ZERO);
        reactor.turn(&mut tunnel, timeout)?;
        for dial in tunnel.take_dials() {
            dial_one(&mut reactor, &mut tunnel, dial, &remote);
        }
    }
}

/// Dials what the handler asked for and tells it the outcome.
fn dial_one(reactor: &mut Reactor, tunnel: &mut Tunnel, dial: Dial, remote: &str) {
    match dial {
        Dial::Kcp => {
            let options = DialOptions {
                kcp: Some(tunnel.settings().kcp.clone()),
                ..DialOptions::default()
            };
            match reactor.dial(&format!("kcp://{remote}"), options) {
                Ok(id) => tunnel.kcp_dialed(id),
                Err(e) => tunnel.kcp_dial_failed(reactor.conns(), &e),
            }
        }
        Dial::Tcp { kcp, sid } => {
            match reactor.dial(&format!("tcp://{remote}"), DialOptions::default()) {
                Ok(id) => tunnel.tcp_dialed(kcp, sid, id),
                Err(e) => tunnel.tcp_dial_failed(reactor.conns(), kcp, sid, &e),
            }
        }
    }
}
