//! Echo on several reactor threads with least-connections balancing, a ticker that reports the
//! connection count, and a clean stop on Enter:
//! `cargo run --release -p riptide-net --example multi -- 9000 4`.

use riptide::{ConnId, Conns, Engine, EngineConfig, EventHandler, LoadBalancing, PeerAddr};
use std::time::Duration;

#[derive(Clone)]
struct Echo;

impl EventHandler for Echo {
    fn on_boot(&mut self, addrs: &[PeerAddr]) {
        println!("listening on {}", addrs[0]);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.write(id, data);
    }
    fn on_tick(&mut self, conns: &mut Conns) -> Option<Duration> {
        println!("reactor 0 holds {} connections", conns.len());
        Some(Duration::from_secs(5))
    }
    fn on_shutdown(&mut self) {
        println!("stopped");
    }
}

fn main() -> Result<(), riptide::Error> {
    let mut args = std::env::args().skip(1);
    let port = args.next().unwrap_or_else(|| "9000".into());
    let reactors = args.next().and_then(|n| n.parse().ok()).unwrap_or(2);
    let config = EngineConfig {
        reactors,
        load_balancing: LoadBalancing::LeastConnections,
        ticker: true,
        ..EngineConfig::default()
    };
    let engine = Engine::bind_with([format!("tcp://127.0.0.1:{port}")], config)?;
    let stop = engine.stop_handle();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_line(&mut String::new());
        stop.stop();
    });
    engine.run(Echo)?;
    Ok(())
}
