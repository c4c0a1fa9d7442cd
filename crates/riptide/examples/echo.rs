//! Echo server on the engine alone, no Node: `cargo run --release -p riptide-net --example echo -- 9000`.

use riptide::{ConnId, Conns, Engine};

fn main() -> Result<(), riptide::Error> {
    let port = std::env::args().nth(1).unwrap_or_else(|| "9000".into());
    let engine = Engine::bind([format!("tcp://127.0.0.1:{port}")])?;
    println!("echo listening on {}", engine.local_addrs()[0]);
    let _echo = engine.run(|conns: &mut Conns, id: ConnId, data: &[u8]| {
        let _ = conns.write(id, data);
    })?;
    Ok(())
}
