//! KCP sessions on one reactor: a `kcp://` listener and a dialed `kcp://` client talk over
//! loopback UDP; messages keep their boundaries, silent peers end as dead links, junk opens
//! no session.

mod common;

use common::{kcp_dial, kcp_listen, turbo, turn_for, turn_until, Chat};
use riptide::kcp::Config;
use riptide::{ConnId, Conns, Error, EventHandler, Reactor};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// A reactor with a `kcp://` listener and a client dialed to it (both turbo), and the
/// handler that echoes on the server side and records on the client.
fn client_and_server() -> (Reactor, ConnId, Chat) {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let addr = kcp_listen(&mut reactor, turbo());
    let id = kcp_dial(&mut reactor, addr, turbo());
    let chat = Chat::with_client(id);
    (reactor, id, chat)
}

#[test]
fn messages_keep_their_boundaries_through_an_echo() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let addr = kcp_listen(&mut reactor, turbo());
    let id = kcp_dial(&mut reactor, addr, turbo());
    let mut chat = Chat::with_client(id);
    let sent: Vec<Vec<u8>> = (0..200)
        .map(|i: usize| {
            (0..(i * 131) % 9000 + 1)
                .map(|b| (b * 7 + i) as u8)
                .collect()
        })
        .collect();
    for m in &sent {
        reactor.conns().write(id, m).unwrap();
    }
    turn_until(&mut reactor, &mut chat, 10, |c| {
        c.received.len() == sent.len()
    });
    assert_eq!(chat.received, sent);
    let stats = reactor.conns().kcp_stats(id).unwrap();
    assert!(stats.out_segments > 0);
}

#[test]
fn a_peer_that_never_answers_is_a_dead_link() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut kcp = turbo();
    kcp.config.dead_link = 4;
    let id = kcp_dial(&mut reactor, sink.local_addr().unwrap(), kcp);
    let mut chat = Chat::with_client(id);
    reactor.conns().write(id, b"hello?").unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| !c.closed.is_empty());
    assert_eq!(chat.closed, vec![(id, Some("ERR_KCP_DEAD_LINK"))]);
}

#[test]
fn junk_and_foreign_convs_open_no_session() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let addr = kcp_listen(&mut reactor, turbo());
    let junk = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut chat = Chat::default();
    // Short, non-PUSH, and lying-length datagrams.
    let mut ack = vec![0u8; 24];
    ack[4] = 82;
    let mut liar = vec![0u8; 30];
    liar[4] = 81;
    liar[20..24].copy_from_slice(&1000u32.to_le_bytes());
    for d in [&b"x"[..], &ack, &liar, &[0xff; 100]] {
        junk.send_to(d, addr).unwrap();
    }
    turn_for(&mut reactor, &mut chat, 20, Duration::from_millis(5));
    assert_eq!(chat.opened, 0);
    assert!(chat.received.is_empty());
    let before = chat.opened;
    let id = kcp_dial(&mut reactor, addr, turbo());
    chat.client = Some(id);
    reactor.conns().write(id, b"still works").unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| c.received.len() == 1);
    assert_eq!(chat.received[0], b"still works");
    assert_eq!(
        chat.opened,
        before + 2,
        "the client's open and its server session"
    );
    assert!(reactor.conns().kcp_input_errors() >= 1);
}

#[test]
fn close_waits_for_the_queue_to_be_acknowledged() {
    let (mut reactor, id, mut chat) = client_and_server();
    let big = vec![9u8; 100_000];
    reactor.conns().write(id, &big).unwrap();
    reactor.conns().close(id).unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| {
        c.closed.iter().any(|&(closed, _)| closed == id)
    });
    assert_eq!(
        chat.closed[0],
        (id, None),
        "an orderly close after the acks"
    );
    assert!(matches!(
        reactor.conns().write(id, b"late"),
        Err(Error::ConnClosed)
    ));
}

#[test]
fn a_send_window_smaller_than_the_queue_still_carries_every_message() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut k = turbo();
    k.config.snd_wnd = 4;
    let addr = kcp_listen(&mut reactor, k.clone());
    let id = kcp_dial(&mut reactor, addr, k);
    let mut chat = Chat::with_client(id);
    for i in 0..12u8 {
        reactor.conns().write(id, &[i; 1376]).unwrap();
    }
    turn_until(&mut reactor, &mut chat, 5, |c| c.received.len() == 12);
    let firsts: Vec<u8> = chat.received.iter().map(|m| m[0]).collect();
    assert_eq!(firsts, (0..12).collect::<Vec<u8>>());
    assert!(chat.received.iter().all(|m| m.len() == 1376));
}

/// Counts opens and bytes; never writes.
#[derive(Default)]
struct Sink {
    opened: usize,
    bytes: usize,
}

impl EventHandler for Sink {
    fn on_open(&mut self, _: &mut Conns, _: ConnId) {
        self.opened += 1;
    }
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, data: &[u8]) {
        self.bytes += data.len();
    }
}

#[test]
fn idle_sessions_arm_no_protocol_deadline() {
    const PEERS: usize = 500;
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let addr = kcp_listen(&mut reactor, turbo());
    // Sans-IO clients over plain sockets: each sends one message, then stays quiet.
    let mut buf = vec![0u8; 2048];
    let mut sink = Sink::default();
    let peers: Vec<UdpSocket> = (0..PEERS)
        .map(|i| {
            if i % 50 == 0 {
                // Let the reactor drain its socket buffer between bursts.
                reactor
                    .turn(&mut sink, Some(Duration::from_millis(5)))
                    .unwrap();
            }
            let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
            let mut kcp = riptide::kcp::Kcp::new(1000 + i as u32, &Config::default()).unwrap();
            kcp.handle_timeout(0);
            kcp.send(b"hello").unwrap();
            kcp.flush(0);
            while let Some(n) = kcp.poll_transmit(0, &mut buf) {
                socket.send_to(&buf[..n], addr).unwrap();
            }
            socket
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.bytes < 5 * PEERS {
        assert!(
            Instant::now() < deadline,
            "only {} bytes arrived",
            sink.bytes
        );
        reactor
            .turn(&mut sink, Some(Duration::from_millis(5)))
            .unwrap();
    }
    assert_eq!(sink.opened, PEERS);
    // Every session acked at the end of its turn and has nothing left to do: with ikcp's
    // `check` each would wake every 10 ms interval; here only the timing wheel's own
    // cascades (and the idle-expiry checks, 30 s away) remain.
    let start = Instant::now();
    let mut wakes = 0;
    while start.elapsed() < Duration::from_secs(1) {
        reactor
            .turn(&mut sink, Some(Duration::from_secs(1)))
            .unwrap();
        wakes += 1;
    }
    assert!(
        wakes <= 10,
        "{wakes} wakes in a second with {PEERS} idle sessions"
    );
    // And every peer got its ack.
    for socket in &peers {
        socket
            .set_read_timeout(Some(Duration::from_secs(1)))
            .unwrap();
        let n = socket.recv(&mut buf).unwrap();
        assert_eq!(buf[4], 82, "an ACK segment");
        assert!(n >= 24);
    }
}

#[test]
fn a_graceful_stop_lets_kcp_sessions_finish_their_acks() {
    let (mut reactor, id, mut chat) = client_and_server();
    reactor.conns().write(id, &vec![5u8; 100_000]).unwrap();
    // Until the server session has echoed part of it, so both ends have bytes in flight.
    turn_until(&mut reactor, &mut chat, 10, |c| !c.received.is_empty());
    reactor.drain(Instant::now() + Duration::from_secs(10), &mut chat);
    turn_until(&mut reactor, &mut chat, 10, |c| c.closed.len() == 2);
    let (status, open) = reactor.drain_status().unwrap();
    assert_eq!(open, 0);
    assert_eq!((status.drained, status.reset), (2, 0), "{:?}", chat.closed);
    assert!(chat.closed.iter().all(|&(_, err)| err.is_none()));
}

#[test]
fn one_peer_can_run_several_conversations() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let addr = kcp_listen(&mut reactor, turbo());
    // Two sans-IO clients behind one UDP socket, told apart only by their conv.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_nonblocking(true).unwrap();
    let mut clients: Vec<riptide::kcp::Kcp> = [7u32, 8]
        .iter()
        .map(|&conv| riptide::kcp::Kcp::new(conv, &turbo().config).unwrap())
        .collect();
    let start = Instant::now();
    let ms = |at: Instant| at.duration_since(start).as_millis() as u32;
    for (i, k) in clients.iter_mut().enumerate() {
        k.handle_timeout(0);
        k.send(format!("from conv {}", 7 + i).as_bytes()).unwrap();
    }
    // The server echoes; each client must get its own message back.
    let mut chat = Chat::default();
    let mut buf = vec![0u8; 2048];
    let mut got: Vec<Option<Vec<u8>>> = vec![None, None];
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.iter().any(Option::is_none) {
        assert!(Instant::now() < deadline, "echoes did not arrive: {got:?}");
        let now = ms(Instant::now());
        for k in &mut clients {
            k.handle_timeout(now);
            while let Some(n) = k.poll_transmit(now, &mut buf) {
                socket.send_to(&buf[..n], addr).unwrap();
            }
        }
        reactor
            .turn(&mut chat, Some(Duration::from_millis(5)))
            .unwrap();
        while let Ok(n) = socket.recv(&mut buf) {
            let conv = riptide::kcp::conv_of(&buf[..n]).unwrap();
            let k = &mut clients[(conv - 7) as usize];
            k.input(ms(Instant::now()), &buf[..n]).unwrap();
            let mut msg = vec![0u8; 64];
            if let Ok(m) = k.recv(&mut msg) {
                got[(conv - 7) as usize] = Some(msg[..m].to_vec());
            }
        }
    }
    assert_eq!(chat.opened, 2, "one session per conversation");
    assert_eq!(got[0].as_deref(), Some(&b"from conv 7"[..]));
    assert_eq!(got[1].as_deref(), Some(&b"from conv 8"[..]));
}

/// One 25-byte first datagram (a PUSH of one byte, sn 0) for conversation `conv`: the
/// cheapest way to open a session.
fn opener(conv: u32) -> Vec<u8> {
    let mut d = vec![0u8; 25];
    d[..4].copy_from_slice(&conv.to_le_bytes());
    d[4] = 81;
    d[6..8].copy_from_slice(&128u16.to_le_bytes());
    d[20..24].copy_from_slice(&1u32.to_le_bytes());
    d[24] = b'!';
    d
}

/// Sends `opener(conv)` for each conv from `socket`, turning the reactor as it goes.
fn flood(
    reactor: &mut Reactor,
    chat: &mut Chat,
    socket: &UdpSocket,
    target: SocketAddr,
    convs: std::ops::Range<u32>,
) {
    for conv in convs {
        socket.send_to(&opener(conv), target).unwrap();
        if conv % 64 == 0 {
            reactor.turn(chat, Some(Duration::ZERO)).unwrap();
        }
    }
    turn_for(reactor, chat, 20, Duration::from_millis(1));
}

#[test]
fn one_source_ip_holds_at_most_its_cap_and_real_clients_still_connect() {
    // Security issue item 4: one socket, one datagram per conv, fills the table.
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut kcp = turbo();
    kcp.max_sessions_per_ip = 16;
    let addr = kcp_listen(&mut reactor, kcp.clone());
    let attacker = UdpSocket::bind("127.0.0.2:0").unwrap();
    let mut chat = Chat::default();
    flood(&mut reactor, &mut chat, &attacker, addr, 1..3000);
    let ip = "127.0.0.2".parse().unwrap();
    assert_eq!(reactor.conns().kcp_sessions_of(ip), 16);
    assert!(reactor.conns().kcp_evictions() >= 3000 - 1 - 16);
    // A real client (another address) connects and echoes meanwhile.
    let id = kcp_dial(&mut reactor, addr, turbo());
    chat.client = Some(id);
    reactor.conns().write(id, b"still there?").unwrap();
    flood(&mut reactor, &mut chat, &attacker, addr, 3000..4000);
    turn_until(&mut reactor, &mut chat, 10, |c| !c.received.is_empty());
    assert_eq!(chat.received, vec![b"still there?".to_vec()]);
    assert!(reactor.conns().kcp_sessions_of(ip) <= 16);
}

#[test]
fn confirmed_sessions_are_never_evicted_by_newcomers() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut kcp = turbo();
    kcp.max_sessions_per_ip = 4;
    let addr = kcp_listen(&mut reactor, kcp);
    // The client is on 127.0.0.1, as is the attacker: same IP, same cap.
    let id = kcp_dial(&mut reactor, addr, turbo());
    let mut chat = Chat::with_client(id);
    reactor.conns().write(id, b"one").unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| c.received.len() == 1);
    // The server's echo was acknowledged: confirmed. Let the ack arrive.
    turn_for(&mut reactor, &mut chat, 20, Duration::from_millis(2));
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    flood(&mut reactor, &mut chat, &attacker, addr, 1..500);
    let ip = "127.0.0.1".parse().unwrap();
    assert_eq!(
        reactor.conns().kcp_sessions_of(ip),
        4,
        "the confirmed one and 3 newest"
    );
    reactor.conns().write(id, b"two").unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| c.received.len() == 2);
    assert!(chat.closed.iter().all(|&(c, _)| c != id));
    assert!(chat.closed.iter().all(|&(_, e)| e == Some("ECONNABORTED")));
}

#[test]
fn a_full_table_evicts_the_oldest_unconfirmed_session() {
    let config = riptide::ReactorConfig {
        max_udp_sessions: 8,
        ..Default::default()
    };
    let mut reactor = Reactor::new(config).unwrap();
    let mut kcp = turbo();
    kcp.max_sessions_per_ip = 0;
    let addr = kcp_listen(&mut reactor, kcp);
    let attacker = UdpSocket::bind("127.0.0.3:0").unwrap();
    let mut chat = Chat::default();
    flood(&mut reactor, &mut chat, &attacker, addr, 1..100);
    assert_eq!(
        reactor
            .conns()
            .kcp_sessions_of("127.0.0.3".parse().unwrap()),
        8
    );
    let id = kcp_dial(&mut reactor, addr, turbo());
    chat.client = Some(id);
    reactor.conns().write(id, b"room for me").unwrap();
    turn_until(&mut reactor, &mut chat, 10, |c| !c.received.is_empty());
}

#[test]
fn unconfirmed_sessions_expire_after_the_handshake_timeout() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut kcp = turbo();
    kcp.handshake_timeout = Some(Duration::from_millis(150));
    let addr = kcp_listen(&mut reactor, kcp);
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut chat = Chat::default();
    flood(&mut reactor, &mut chat, &attacker, addr, 1..4);
    assert_eq!(chat.opened, 3);
    let start = Instant::now();
    turn_until(&mut reactor, &mut chat, 5, |c| c.closed.len() == 3);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "not the 30 s idle timeout"
    );
    assert!(chat.closed.iter().all(|&(_, e)| e == Some("ETIMEDOUT")));
}

#[test]
fn an_idle_timeout_shorter_than_the_handshake_timeout_still_applies() {
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut kcp = turbo();
    kcp.handshake_timeout = Some(Duration::from_secs(30));
    kcp.idle_timeout = Some(Duration::from_millis(150));
    let addr = kcp_listen(&mut reactor, kcp);
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut chat = Chat::default();
    flood(&mut reactor, &mut chat, &attacker, addr, 1..2);
    let start = Instant::now();
    turn_until(&mut reactor, &mut chat, 5, |c| c.closed.len() == 1);
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn the_memory_budget_evicts_unconfirmed_sessions() {
    // Out-of-order full segments from many convs: each session holds up to rcv_wnd × mss.
    let mut reactor = Reactor::new(Default::default()).unwrap();
    let mut kcp = turbo();
    kcp.max_sessions_per_ip = 0;
    let mss = kcp.config.mtu - 24;
    kcp.max_buffered = 200 * mss;
    let addr = kcp_listen(&mut reactor, kcp);
    let attacker = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut chat = Chat::default();
    for conv in 1..20u32 {
        for sn in 0..60u32 {
            let mut d = opener(conv);
            d.truncate(24);
            // sn 0 opens, later ones are out of order (sn 1 never comes).
            let sn = if sn == 0 { 0 } else { sn + 1 };
            d[12..16].copy_from_slice(&sn.to_le_bytes());
            d[20..24].copy_from_slice(&(mss as u32).to_le_bytes());
            d.resize(24 + mss, 0xaa);
            attacker.send_to(&d, addr).unwrap();
        }
        turn_for(&mut reactor, &mut chat, 5, Duration::from_millis(1));
    }
    assert!(reactor.conns().kcp_evictions() > 0);
    // Open sessions together stay within the budget (each holds at most 60 segments).
    let open = chat.opened - chat.closed.len();
    assert!(
        open * 60 * mss <= 200 * mss + 60 * mss,
        "{open} sessions open"
    );
}
