//! Multi-reactor engine behaviour: balancing, Unix sockets, cross-thread writes, wake,
//! execute, the ticker and reuse-port.

mod common;

use common::{echo, inet, serve, spawn};
use riptide::{ConnId, Conns, Engine, EngineConfig, Error, EventHandler, LoadBalancing, Remote};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::Duration;

fn config(reactors: usize, lb: LoadBalancing) -> EngineConfig {
    EngineConfig {
        reactors,
        load_balancing: lb,
        ..EngineConfig::default()
    }
}

/// Counts opens per reactor (each clone knows its reactor by the thread it runs on).
#[derive(Clone)]
struct Counter {
    per_thread: Arc<Mutex<std::collections::HashMap<String, usize>>>,
    opened: Arc<AtomicUsize>,
}

impl EventHandler for Counter {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        let name = thread::current().name().unwrap_or("?").to_owned();
        *self.per_thread.lock().unwrap().entry(name).or_default() += 1;
        self.opened.fetch_add(1, Ordering::SeqCst);
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.write(id, data);
    }
}

fn spread(lb: LoadBalancing, conns: usize) -> Vec<usize> {
    let counter = Counter {
        per_thread: Default::default(),
        opened: Default::default(),
    };
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", config(2, lb), counter.clone());
    for _ in 0..conns {
        drop(TcpStream::connect(addr).unwrap());
    }
    while counter.opened.load(Ordering::SeqCst) < conns {
        thread::sleep(Duration::from_millis(5));
    }
    stop.stop();
    join.join().unwrap();
    let map = counter.per_thread.lock().unwrap();
    map.values().copied().collect()
}

#[test]
fn round_robin_spreads_10000_connections_within_5_percent() {
    let counts = spread(LoadBalancing::RoundRobin, 10_000);
    assert_eq!(counts.len(), 2, "both reactors got connections: {counts:?}");
    for c in counts {
        assert!((4750..=5250).contains(&c), "{c} not within 50 % ± 5 %");
    }
}

#[test]
fn source_addr_hash_keeps_one_host_on_one_reactor() {
    let counts = spread(LoadBalancing::SourceAddrHash, 200);
    assert_eq!(
        counts,
        vec![200],
        "every connection from 127.0.0.1 on one reactor"
    );
}

/// Unix-domain sockets exist on Unix only.
#[cfg(unix)]
#[test]
fn unix_socket_echo_and_file_cleanup() {
    let path = std::env::temp_dir().join(format!("riptide-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let engine = Engine::bind([format!("unix://{}", path.display())]).unwrap();
    assert!(path.exists());
    let (_, stop, join) = spawn(engine, echo);
    let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
    s.write_all(b"over unix").unwrap();
    let mut got = [0u8; 9];
    s.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"over unix");
    stop.stop();
    join.join().unwrap();
    assert!(!path.exists(), "socket file removed on stop");
}

/// Publishes each connection's id and its reactor's remote on open.
#[derive(Clone)]
struct Publish {
    tx: mpsc::Sender<(ConnId, Remote)>,
    remotes: Arc<Mutex<Vec<Remote>>>,
    ticks: Arc<AtomicUsize>,
}

impl EventHandler for Publish {
    fn on_open(&mut self, _: &mut Conns, id: ConnId) {
        // Reactor index from the thread name; reactor 0 runs on the test's spawned thread.
        let name = thread::current().name().unwrap_or("").to_owned();
        let index = name
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let remote = self.remotes.lock().unwrap()[index].clone();
        self.tx.send((id, remote)).unwrap();
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        if data.is_empty() {
            conns.write(id, b"woken").unwrap();
        }
    }
    fn on_tick(&mut self, _: &mut Conns) -> Option<Duration> {
        let n = self.ticks.fetch_add(1, Ordering::SeqCst);
        (n < 4).then_some(Duration::from_millis(5))
    }
}

#[test]
fn async_write_from_threads_keeps_per_sender_order_and_reports_stale_ids() {
    let cfg = EngineConfig {
        ticker: true,
        ..config(2, LoadBalancing::RoundRobin)
    };
    let engine = Engine::bind_with(["tcp://127.0.0.1:0"], cfg).unwrap();
    let (tx, rx) = mpsc::channel();
    let ticks = Arc::new(AtomicUsize::new(0));
    let handler = Publish {
        tx,
        remotes: Arc::new(Mutex::new(engine.remotes())),
        ticks: ticks.clone(),
    };
    let (addr, stop, join) = spawn(engine, handler);
    let addr = inet(&addr);

    const N: u32 = 100_000;
    for _ in 0..2 {
        let mut client = TcpStream::connect(addr).unwrap();
        let (id, remote) = rx.recv().unwrap();
        // Two sender threads, each writing a numbered stream tagged with its sender.
        let senders: Vec<_> = (0..2u8)
            .map(|tag| {
                let remote = remote.clone();
                thread::spawn(move || {
                    for i in 0..N {
                        let mut msg = vec![tag];
                        msg.extend_from_slice(&i.to_le_bytes());
                        remote.async_write(id, msg, None).unwrap();
                    }
                })
            })
            .collect();
        let mut buf = vec![0u8; 2 * N as usize * 5];
        client.read_exact(&mut buf).unwrap();
        let mut next = [0u32; 2];
        for m in buf.chunks(5) {
            let tag = m[0] as usize;
            let seq = u32::from_le_bytes(m[1..5].try_into().unwrap());
            assert_eq!(seq, next[tag], "sender {tag} out of order");
            next[tag] += 1;
        }
        for s in senders {
            s.join().unwrap();
        }
        // Wake delivers an empty on_traffic; execute runs on the reactor thread.
        remote.wake(id).unwrap();
        let mut woken = [0u8; 5];
        client.read_exact(&mut woken).unwrap();
        assert_eq!(&woken, b"woken");
        let (etx, erx) = mpsc::channel();
        remote
            .execute(move |conns| etx.send(conns.len()).unwrap())
            .unwrap();
        assert!(erx.recv().unwrap() >= 1);
        // Close from another thread, then the stale id is rejected with a callback.
        remote.close(id).unwrap();
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).unwrap();
        let (ctx, crx) = mpsc::channel();
        remote
            .async_write(
                id,
                b"late".to_vec(),
                Some(Box::new(move |r| {
                    ctx.send(r.map_err(|e| e.code())).unwrap()
                })),
            )
            .unwrap();
        assert_eq!(crx.recv().unwrap(), Err("ERR_CONN_CLOSED"));
    }
    stop.stop();
    join.join().unwrap();
    assert!(
        ticks.load(Ordering::SeqCst) >= 5,
        "ticker ran until it returned None"
    );
    assert_eq!(ticks.load(Ordering::SeqCst), 5, "no tick after None");
}

#[test]
fn reuse_port_gives_every_reactor_a_listener() {
    let mut cfg = config(2, LoadBalancing::RoundRobin);
    cfg.reactor.socket.reuse_port = true;
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", cfg, echo);
    for i in 0..50u8 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&[i]).unwrap();
        let mut b = [0u8];
        s.read_exact(&mut b).unwrap();
        assert_eq!(b[0], i);
    }
    stop.stop();
    join.join().unwrap();
}

#[test]
fn remote_of_a_stopped_engine_fails_with_engine_stopped() {
    let engine = Engine::bind(["tcp://127.0.0.1:0"]).unwrap();
    let remote = engine.remotes().remove(0);
    let stop = engine.stop_handle();
    stop.stop();
    let _ = engine.run(|_: &mut Conns, _: ConnId, _: &[u8]| {}).unwrap();
    let err = remote
        .wake(ConnId {
            slot: 0,
            generation: 0,
        })
        .unwrap_err();
    assert!(matches!(err, Error::EngineStopped));
    assert_eq!(err.code(), "ERR_ENGINE_STOPPED");
}

#[test]
fn zero_reactors_is_an_invalid_option() {
    let err = Engine::bind_with(["tcp://127.0.0.1:0"], config(0, LoadBalancing::RoundRobin))
        .err()
        .unwrap();
    assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE");
}
