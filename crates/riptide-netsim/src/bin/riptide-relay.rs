//! `riptide-relay`: a lossy UDP relay on loopback for end-to-end tests (the test machines'
//! kernels have no netem). Run with `--help` for the flags.

#![forbid(unsafe_code)]

#[path = "../relay/mod.rs"]
mod relay;

use std::io::Write;
use std::process::ExitCode;

use relay::{install_stop_handlers, listen_json, Args, Relay, RelayError, USAGE};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("riptide-relay: {e}");
            if matches!(e, RelayError::Usage(_)) {
                eprintln!("\n{USAGE}");
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run() -> Result<(), RelayError> {
    let args = Args::parse(std::env::args().skip(1))?;
    if args.help {
        println!("{USAGE}");
        return Ok(());
    }
    install_stop_handlers()?;
    let relay = Relay::bind(args)?;
    print_line(&listen_json(relay.local_addr()?))?;
    let totals = relay.run()?;
    print_line(&totals.to_json())?;
    Ok(())
}

/// Prints one line and flushes, since tests read stdout through a pipe.
fn print_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}
