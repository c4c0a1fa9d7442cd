//! Secure KCP across an upgrade in place, in one process: reactor `old` (generation 0) and
//! reactor `new` (generation 1, given `old`'s socket as riptide's upgrade hands it over) share
//! a `SO_REUSEPORT` group, and the routing program keeps every session with the reactor that
//! owns it. The negative control gives the new reactor the old one's generation: the program
//! then sends the old sessions to the new reactor, which does not know them, and none is
//! answered.
#![cfg(target_os = "linux")]

mod common;

use common::turbo;
use riptide::secure::{generate_keypair, Keypair};
use riptide::{
    ConnId, Conns, DialOptions, EventHandler, KcpOptions, KcpSecure, ListenOptions, PeerAddr,
    Reactor, ReactorConfig, SocketOptions,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Sessions opened before the upgrade.
const OLD_SESSIONS: usize = 200;
/// Sessions opened after it.
const NEW_SESSIONS: usize = 50;
/// Sessions of the negative control.
const CONTROL_SESSIONS: usize = 50;
/// Sessions opened at once: well under the secure mode's 128 pending handshakes, from which
/// on it asks for cookies and takes 8 handshakes a second from one address.
const BATCH: usize = 25;

/// A server that answers every message with its own tag followed by the message.
#[derive(Clone)]
struct Tagged(u8);

impl EventHandler for Tagged {
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        let mut answer = vec![self.0];
        answer.extend_from_slice(data);
        conns.write(id, &answer).unwrap();
    }
}

/// The clients: the tags of the answers each session got, in order.
#[derive(Default)]
struct Clients {
    answers: HashMap<ConnId, Vec<u8>>,
}

impl EventHandler for Clients {
    fn on_traffic(&mut self, _: &mut Conns, id: ConnId, data: &[u8]) {
        if let Some(&tag) = data.first() {
            self.answers.entry(id).or_default().push(tag);
        }
    }
}

/// Three reactors turned together by one thread.
struct World {
    old: (Reactor, Tagged),
    new: Option<(Reactor, Tagged)>,
    clients: (Reactor, Clients),
}

impl World {
    fn turn(&mut self) {
        let step = Some(Duration::from_millis(2));
        self.old.0.turn(&mut self.old.1, step).unwrap();
        if let Some((r, h)) = self.new.as_mut() {
            r.turn(h, step).unwrap();
        }
        self.clients.0.turn(&mut self.clients.1, step).unwrap();
    }

    /// Turns until `done` holds or `secs` pass; returns whether it held.
    fn turn_until(&mut self, secs: u64, done: impl Fn(&World) -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(self) {
            if Instant::now() >= deadline {
                return false;
            }
            self.turn();
        }
        true
    }

    /// Answers session `id` got so far.
    fn answers(&self, id: ConnId) -> &[u8] {
        self.clients.1.answers.get(&id).map_or(&[], Vec::as_slice)
    }

    /// Opens `n` sessions to `addr` in batches of [`BATCH`], each sending `hello`, and
    /// waits until each batch is answered (panics after 20 s).
    fn open(&mut self, addr: SocketAddr, keys: &Keypair, n: usize) -> Vec<ConnId> {
        let mut all = Vec::new();
        while all.len() < n {
            let batch = self.open_batch(addr, keys, BATCH.min(n - all.len()));
            assert!(
                self.turn_until(20, |w| batch.iter().all(|&id| !w.answers(id).is_empty())),
                "every session opened is answered"
            );
            all.extend(batch);
        }
        all
    }

    /// Opens `n` sessions to `addr`, each sending `hello`.
    fn open_batch(&mut self, addr: SocketAddr, keys: &Keypair, n: usize) -> Vec<ConnId> {
        let dial = DialOptions {
            kcp: Some(KcpOptions {
                secure: Some(KcpSecure::Client {
                    server_public_key: keys.public,
                    client_key: None,
                }),
                ..turbo()
            }),
            ..DialOptions::default()
        };
        (0..n)
            .map(|_| {
                let id = self
                    .clients
                    .0
                    .dial(&format!("kcp://{addr}"), dial.clone())
                    .unwrap();
                self.clients.0.conns().write(id, b"hello").unwrap();
                id
            })
            .collect()
    }
}

/// A reactor whose sockets join `SO_REUSEPORT` groups.
fn reuseport_reactor() -> Reactor {
    Reactor::new(ReactorConfig {
        socket: SocketOptions {
            reuse_port: true,
            ..SocketOptions::default()
        },
        ..ReactorConfig::default()
    })
    .unwrap()
}

fn secure_listen(reactor: &mut Reactor, url: &str, keys: &Keypair) -> SocketAddr {
    let options = ListenOptions {
        kcp: Some(KcpOptions {
            secure: Some(KcpSecure::Server {
                private_key: keys.private.clone(),
                allowed_clients: None,
            }),
            max_sessions_per_ip: 1000,
            ..turbo()
        }),
        ..ListenOptions::default()
    };
    match reactor.listen_with(url, options).unwrap() {
        PeerAddr::Inet(a) => a,
        PeerAddr::Unix(p) => panic!("not inet: {p}"),
    }
}

/// Generation 0 serves `old_sessions` sessions, then hands its listener to a reactor of
/// generation `new_generation`, as riptide's upgrade does, and every old session sends again.
/// Returns the world and the old sessions.
fn upgrade(new_generation: u8, old_sessions: usize) -> (World, Vec<ConnId>, SocketAddr, Keypair) {
    let keys = generate_keypair().unwrap();
    riptide::set_upgrade_generation(0);
    let mut old = reuseport_reactor();
    let addr = secure_listen(&mut old, "kcp://127.0.0.1:0", &keys);
    let mut world = World {
        old: (old, Tagged(b'o')),
        new: None,
        clients: (
            Reactor::new(ReactorConfig::default()).unwrap(),
            Clients::default(),
        ),
    };
    let sessions = world.open(addr, &keys, old_sessions);
    assert!(
        sessions.iter().all(|&id| world.answers(id) == b"o"),
        "every session is answered by generation 0 before the upgrade"
    );

    // The upgrade: the old reactor's socket goes to the pool, the new reactor's listener
    // takes it, and the old one releases its listeners.
    let url = format!("kcp://{addr}");
    for exported in world.old.0.export_listeners().unwrap() {
        riptide::inherit::inherit(exported.fd, url.clone()).unwrap();
    }
    riptide::set_upgrade_generation(new_generation);
    let mut new = reuseport_reactor();
    assert_eq!(secure_listen(&mut new, &url, &keys), addr);
    assert!(riptide::inherit::pending().is_empty());
    world.old.0.release_listeners();
    world.new = Some((new, Tagged(b'n')));

    for &id in &sessions {
        world.clients.0.conns().write(id, b"again").unwrap();
    }
    (world, sessions, addr, keys)
}

/// The one test of this binary (the generation is process-wide): the routed upgrade, then
/// its negative control.
#[test]
fn secure_kcp_sessions_stay_with_their_generation_across_an_upgrade() {
    let (mut world, sessions, addr, keys) = upgrade(1, OLD_SESSIONS);
    let all_twice = |w: &World| sessions.iter().all(|&id| w.answers(id).len() >= 2);
    assert!(
        world.turn_until(20, all_twice),
        "every old session is answered again"
    );
    let by_old = sessions
        .iter()
        .filter(|&&id| world.answers(id) == b"oo")
        .count();
    assert_eq!(
        by_old, OLD_SESSIONS,
        "the old reactor answers all its sessions"
    );

    let fresh = world.open(addr, &keys, NEW_SESSIONS);
    assert!(
        fresh.iter().all(|&id| world.answers(id) == b"n"),
        "new sessions go to the new generation"
    );

    // The old sessions end (the server closes them; an idle timeout does the same): the old
    // socket closes and leaves the group; new sessions are still served, by the new reactor.
    for id in world.old.0.conns().ids() {
        world.old.0.conns().close(id).unwrap();
    }
    assert!(
        world.turn_until(20, |w| w.old.0.local_addrs().is_empty()),
        "the retiring socket closes once its sessions are gone"
    );
    let late = world.open(addr, &keys, 10);
    assert!(
        late.iter().all(|&id| world.answers(id) == b"n"),
        "after the old socket left, the new reactor serves every new session"
    );
    println!("routed: {by_old} of {OLD_SESSIONS} old sessions answered by their owner");
    drop(world);

    // Negative control: the new reactor has the old generation, so the program sends the
    // old sessions' datagrams to it; it does not know them and none is answered.
    let (mut world, sessions, _, _) = upgrade(0, CONTROL_SESSIONS);
    let all_twice = |w: &World| sessions.iter().all(|&id| w.answers(id).len() >= 2);
    world.turn_until(3, all_twice);
    let answered = sessions
        .iter()
        .filter(|&&id| world.answers(id).len() >= 2)
        .count();
    println!("negative control: {answered} of {CONTROL_SESSIONS} old sessions answered");
    assert_eq!(
        answered, 0,
        "without a generation to route by, old sessions are lost"
    );
}
