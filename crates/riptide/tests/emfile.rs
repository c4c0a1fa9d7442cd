//! T8: running out of descriptors pauses accepting instead of killing the engine; existing
//! connections keep working; accepting resumes once descriptors free. Its own test binary,
//! because it lowers this process's descriptor limit. Unix only (`setrlimit`, `/proc`).
#![cfg(unix)]

mod common;

use common::serve;
use riptide::{ConnId, Conns, EngineConfig, Error, EventHandler};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Echo {
    reports: Arc<Mutex<Vec<(String, u64)>>>,
    opened: mpsc::Sender<()>,
}

impl EventHandler for Echo {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        let _ = self.opened.send(());
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let _ = conns.write(id, data);
    }
    fn on_accept_error(&mut self, err: &Error, count: u64) {
        self.reports
            .lock()
            .unwrap()
            .push((err.code().to_string(), count));
    }
}

fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count() as u64)
        .unwrap_or(64)
}

fn set_nofile(n: u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid struct; the hard limit is kept.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = n.min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

#[test]
fn emfile_pauses_accepting_and_recovers() {
    let (tx, opened) = mpsc::channel();
    let reports = Arc::new(Mutex::new(Vec::new()));
    let handler = Echo {
        reports: reports.clone(),
        opened: tx,
    };
    let (addr, stop, join) = serve("tcp://127.0.0.1:0", EngineConfig::default(), handler);

    // Client sockets are made first (each takes a descriptor), then the limit drops so the
    // server can accept only a few of them.
    let sockets: Vec<socket2::Socket> = (0..60)
        .map(|_| socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap())
        .collect();
    let (old, _) = (open_fds(), ());
    set_nofile(old + 10);
    let mut clients: Vec<TcpStream> = sockets
        .into_iter()
        .map(|s| {
            s.connect(&addr.into()).unwrap();
            s.into()
        })
        .collect();
    thread::sleep(Duration::from_millis(1500));
    let accepted = opened.try_iter().count();
    assert!(accepted < 60, "the limit bit: {accepted} accepted");
    {
        let r = reports.lock().unwrap();
        assert!(!r.is_empty(), "accept errors are reported");
        assert!(r.len() <= 3, "at most one report a second: {r:?}");
        assert_eq!(r[0].0, "EMFILE");
    }
    // The engine is alive and serves an accepted connection.
    let first = &mut clients[0];
    first
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    first.write_all(b"alive").unwrap();
    let mut buf = [0u8; 5];
    first.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"alive");
    // Free descriptors: the rest are accepted within the backoff.
    set_nofile(old + 200);
    let freed = Instant::now();
    let mut total = accepted;
    while total < 60 {
        opened
            .recv_timeout(Duration::from_secs(2))
            .expect("accepting resumed");
        total += 1;
    }
    assert!(
        freed.elapsed() < Duration::from_secs(2),
        "resumed within {:?}",
        freed.elapsed()
    );
    for c in clients.iter_mut().skip(1) {
        c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
    }
    stop.stop();
    join.join().unwrap();
}
