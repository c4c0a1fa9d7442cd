//! Pure-Rust riptide servers (the engine crate on one reactor, no Node): the echo peer of
//! workload R1 and a minimal HTTP/1.1 responder shaped like the C floor's and gnet's (counts
//! `\r\n\r\n`, one canned response per request, all of one read in one write), also over TLS
//! (workload T1) when given a certificate.

use crate::args::ServeArgs;
use riptide::{ConnId, Conns, Engine, EngineConfig, TlsServerOptions};

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: riptide\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

/// Serves echo until killed.
pub fn echo(args: &ServeArgs) -> Result<(), String> {
    let engine = bind(args)?;
    engine
        .run(|conns: &mut Conns, id: ConnId, data: &[u8]| {
            let _ = conns.write(id, data);
        })
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Serves the minimal HTTP/1.1 responder until killed.
pub fn http(args: &ServeArgs) -> Result<(), String> {
    let engine = bind(args)?;
    let mut out = Vec::new();
    engine
        .run(move |conns: &mut Conns, id: ConnId, data: &[u8]| {
            let (requests, consumed) = count_requests(data);
            out.clear();
            for _ in 0..requests {
                out.extend_from_slice(RESPONSE);
            }
            if !out.is_empty() {
                let _ = conns.write(id, &out);
            }
            if consumed < data.len() {
                let _ = conns.retain(id, &data[consumed..]);
            }
        })
        .map(drop)
        .map_err(|e| e.to_string())
}

fn bind(args: &ServeArgs) -> Result<Engine, String> {
    crate::window::raise_fd_limit();
    let mut config = EngineConfig::default();
    if let Some((cert, key)) = &args.tls {
        let read = |path: &std::path::Path| {
            std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let tls = TlsServerOptions::new(read(cert)?, read(key)?);
        config
            .listen
            .layers
            .push(tls.factory().map_err(|e| e.to_string())?);
    }
    let engine =
        Engine::bind_with([format!("tcp://{}", args.addr)], config).map_err(|e| e.to_string())?;
    let tls = if args.tls.is_some() { " (TLS)" } else { "" };
    println!("riptide (Rust) listening on {}{tls}", args.addr);
    Ok(engine)
}

/// Complete requests (ending in `\r\n\r\n`) at the front of `data`, and the bytes they span.
fn count_requests(data: &[u8]) -> (usize, usize) {
    let (mut n, mut consumed, mut i) = (0, 0, 0);
    while i + 4 <= data.len() {
        if &data[i..i + 4] == b"\r\n\r\n" {
            n += 1;
            i += 4;
            consumed = i;
        } else {
            i += 1;
        }
    }
    (n, consumed)
}

#[cfg(test)]
mod tests {
    use super::count_requests;

    #[test]
    fn counts_whole_requests_and_keeps_the_tail() {
        let r = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut two = r.repeat(2);
        assert_eq!(count_requests(&two), (2, two.len()));
        two.extend_from_slice(b"GET / HT");
        assert_eq!(count_requests(&two), (2, r.len() * 2));
        assert_eq!(count_requests(b"GET / HTTP/1.1\r\n\r"), (0, 0));
    }
}
