//! Idle connections (workload M1): open `conns` TCP connections that never send, print one
//! JSON line once all are connected, then hold them. The runner measures the server's memory
//! meanwhile and stops this process when done.

use crate::args::IdleArgs;
use crate::window::raise_fd_limit;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Opens the connections, prints how long that took, and holds them for `args.hold`.
pub fn run(args: &IdleArgs) -> Result<(), String> {
    raise_fd_limit();
    let start = Instant::now();
    let mut held = Vec::with_capacity(args.conns);
    for i in 0..args.conns {
        let s = TcpStream::connect_timeout(&args.addr, Duration::from_secs(10))
            .map_err(|e| format!("connection {i} of {}: {e}", args.conns))?;
        held.push(s);
    }
    let connect_ms = start.elapsed().as_secs_f64() * 1000.0;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{{\"workload\":\"idle\",\"conns\":{},\"connect_ms\":{connect_ms:.1}}}",
        held.len()
    )
    .and_then(|_| out.flush())
    .map_err(|e| e.to_string())?;
    std::thread::sleep(args.hold);
    drop(held);
    Ok(())
}
