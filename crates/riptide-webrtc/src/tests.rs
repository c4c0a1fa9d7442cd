//! The endpoint against str0m clients over an in-memory network with a simulated clock.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use str0m::change::SdpAnswer;
use str0m::channel::{ChannelConfig, ChannelId, Reliability};
use str0m::net::{Protocol, Receive};
use str0m::{Candidate, Input, Output, Rtc};

use crate::*;

mod geckos;

const SERVER: &str = "10.0.0.1:9208";

fn server_addr() -> SocketAddr {
    SERVER.parse().unwrap()
}

fn endpoint() -> Endpoint {
    Endpoint::new(EndpointConfig::new(server_addr())).unwrap()
}

fn channel_config(kind: ChannelKind) -> ChannelConfig {
    let (ordered, reliability) = match kind {
        ChannelKind::Unreliable => (false, Reliability::MaxRetransmits { retransmits: 0 }),
        ChannelKind::Reliable => (true, Reliability::Reliable),
    };
    ChannelConfig {
        label: kind.label().into(),
        ordered,
        reliability,
        negotiated: Some(kind.stream_id()),
        protocol: String::new(),
    }
}

/// A full-ICE str0m client, the role a browser or pion plays.
struct Client {
    addr: SocketAddr,
    rtc: Rtc,
    /// `None` for a geckos client until the server's channel opens (see `labels`).
    unreliable: Option<ChannelId>,
    reliable: Option<ChannelId>,
    deadline: Instant,
    received: Vec<(ChannelId, Vec<u8>)>,
    /// Every channel that opened, with its label.
    labels: Vec<(ChannelId, String)>,
    open: usize,
    closed: bool,
    /// Written on the first channel that opens, before anything else is polled: the ACK of
    /// the server's DCEP OPEN and this message leave together, as a browser's first
    /// `send` in its `open` handler does.
    hello: Option<Vec<u8>>,
}

impl Client {
    /// The client and its offer; `edit` may rewrite the offer's SDP.
    fn offer(addr: &str, now: Instant) -> (Client, str0m::change::SdpPendingOffer, String) {
        let addr: SocketAddr = addr.parse().unwrap();
        let mut rtc = Rtc::builder().build(now);
        rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
        let mut api = rtc.sdp_api();
        let unreliable = api.add_channel_with_config(channel_config(ChannelKind::Unreliable));
        let reliable = api.add_channel_with_config(channel_config(ChannelKind::Reliable));
        let (offer, pending) = api.apply().unwrap();
        let client = Client {
            addr,
            rtc,
            unreliable: Some(unreliable),
            reliable: Some(reliable),
            deadline: now,
            received: Vec::new(),
            labels: Vec::new(),
            open: 0,
            closed: false,
            hello: None,
        };
        (client, pending, offer.to_sdp_string())
    }

    fn id(&self, kind: ChannelKind) -> ChannelId {
        match kind {
            ChannelKind::Unreliable => self.unreliable.unwrap(),
            ChannelKind::Reliable => self.reliable.unwrap(),
        }
    }

    fn write(&mut self, kind: ChannelKind, data: &[u8]) -> bool {
        let id = self.id(kind);
        self.rtc.channel(id).unwrap().write(true, data).unwrap()
    }
}

/// Endpoint + clients + clock; datagrams are delivered instantly and in order.
struct Net {
    now: Instant,
    endpoint: Endpoint,
    clients: Vec<Client>,
    timers: HashMap<PeerId, Instant>,
    events: Vec<Event>,
}

impl Net {
    fn new() -> Net {
        Net {
            now: Instant::now(),
            endpoint: endpoint(),
            clients: Vec::new(),
            timers: HashMap::new(),
            events: Vec::new(),
        }
    }

    /// Adds a client at `addr` and runs signalling; returns its index and peer.
    fn connect(&mut self, addr: &str) -> (usize, PeerId) {
        self.connect_edited(addr, |sdp| sdp)
    }

    fn connect_edited(&mut self, addr: &str, edit: impl Fn(String) -> String) -> (usize, PeerId) {
        let (mut client, pending, offer) = Client::offer(addr, self.now);
        let (peer, answer) = self.endpoint.accept_offer(self.now, &edit(offer)).unwrap();
        let answer = SdpAnswer::from_sdp_string(&answer).unwrap();
        client.rtc.sdp_api().accept_answer(pending, answer).unwrap();
        self.clients.push(client);
        (self.clients.len() - 1, peer)
    }

    /// Drains client `i`'s output into the endpoint; returns whether anything moved.
    fn drain_client(&mut self, i: usize) -> bool {
        let mut moved = false;
        let client = &mut self.clients[i];
        loop {
            match client.rtc.poll_output().unwrap() {
                Output::Timeout(t) => {
                    client.deadline = t;
                    return moved;
                }
                Output::Transmit(t) => {
                    moved = true;
                    assert_eq!(t.destination, server_addr());
                    self.endpoint
                        .handle_datagram(self.now, client.addr, &t.contents);
                }
                Output::Event(e) => {
                    moved = true;
                    match e {
                        str0m::Event::ChannelOpen(id, label) => {
                            client.open += 1;
                            client.labels.push((id, label));
                            if let Some(hello) = client.hello.take() {
                                client.rtc.channel(id).unwrap().write(true, &hello).unwrap();
                            }
                        }
                        str0m::Event::ChannelData(d) => client.received.push((d.id, d.data)),
                        str0m::Event::Closed => client.closed = true,
                        _ => {}
                    }
                }
            }
        }
    }

    /// Moves every pending datagram and event; returns whether anything moved. Each datagram
    /// for a client is followed by draining that client, as a real run loop does.
    fn pump(&mut self) -> bool {
        let mut moved = false;
        for i in 0..self.clients.len() {
            moved |= self.drain_client(i);
        }
        while let Some(t) = self.endpoint.poll_transmit() {
            moved = true;
            let Some(i) = self.clients.iter().position(|c| c.addr == t.destination) else {
                continue;
            };
            let client = &mut self.clients[i];
            let recv =
                Receive::new(Protocol::Udp, server_addr(), client.addr, &t.contents).unwrap();
            client
                .rtc
                .handle_input(Input::Receive(self.now, recv))
                .unwrap();
            self.drain_client(i);
        }
        while let Some(update) = self.endpoint.poll_timer() {
            match update.deadline {
                Some(at) => self.timers.insert(update.peer, at),
                None => self.timers.remove(&update.peer),
            };
        }
        while let Some(event) = self.endpoint.poll_event() {
            moved = true;
            self.events.push(event);
        }
        moved
    }

    /// Pumps until nothing moves, then advances the clock to the earliest deadline.
    fn step(&mut self) {
        while self.pump() {}
        let next = self
            .clients
            .iter()
            .filter(|c| !c.closed)
            .map(|c| c.deadline)
            .chain(self.timers.values().copied())
            .min()
            .unwrap_or(self.now + Duration::from_millis(100));
        self.now = self.now.max(next.min(self.now + Duration::from_secs(1)));
        let now = self.now;
        for client in &mut self.clients {
            if client.deadline <= now {
                client.rtc.handle_input(Input::Timeout(now)).unwrap();
            }
        }
        let due: Vec<PeerId> = self
            .timers
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(p, _)| *p)
            .collect();
        for peer in due {
            self.endpoint.handle_timeout(peer, now);
        }
        while self.pump() {}
    }

    /// Steps until `done` or `limit` of simulated time.
    fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Net) -> bool) {
        let start = self.now;
        while !done(self) {
            assert!(
                self.now - start < limit,
                "not done within {limit:?}: {:?}",
                self.events
            );
            self.step();
        }
    }

    fn opened(&self, peer: PeerId) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::Open { peer: p, .. } if *p == peer))
    }

    fn messages(&self, peer: PeerId, kind: ChannelKind) -> Vec<Vec<u8>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Message {
                    peer: p,
                    channel,
                    data,
                    ..
                } if *p == peer && *channel == kind => Some(data.clone()),
                _ => None,
            })
            .collect()
    }

    fn open_both(&mut self, peer: PeerId, client: usize) {
        self.run_until(Duration::from_secs(5), |n| {
            n.opened(peer) && n.clients[client].open == 2
        });
    }
}

fn numbered(i: usize, len: usize) -> Vec<u8> {
    let mut v = (i as u32).to_be_bytes().to_vec();
    v.resize(len.max(4), (i % 251) as u8);
    v
}

#[test]
fn connects_and_carries_both_channels_both_ways() {
    let mut net = Net::new();
    let (c, peer) = net.connect("10.0.0.2:5000");
    net.open_both(peer, c);
    assert!(net.endpoint.is_open(peer));
    assert_eq!(net.endpoint.address_count(), 1);

    for i in 0..200 {
        assert!(net.clients[c].write(ChannelKind::Reliable, &numbered(i, 300)));
        assert!(net.clients[c].write(ChannelKind::Unreliable, &numbered(i, 20)));
        net.pump();
    }
    net.run_until(Duration::from_secs(5), |n| {
        n.messages(peer, ChannelKind::Reliable).len() == 200
    });
    let reliable = net.messages(peer, ChannelKind::Reliable);
    assert_eq!(
        reliable,
        (0..200).map(|i| numbered(i, 300)).collect::<Vec<_>>()
    );
    // Lossless in-memory network: the unreliable ones arrive too, on their own channel.
    let mut unreliable = net.messages(peer, ChannelKind::Unreliable);
    unreliable.sort();
    assert_eq!(
        unreliable,
        (0..200).map(|i| numbered(i, 20)).collect::<Vec<_>>()
    );

    for i in 0..50 {
        let sent = net
            .endpoint
            .send(net.now, peer, ChannelKind::Reliable, &numbered(i, 1000))
            .unwrap();
        assert_eq!(sent, SendOutcome::Sent);
        let sent = net
            .endpoint
            .send(net.now, peer, ChannelKind::Unreliable, b"dot")
            .unwrap();
        assert_eq!(sent, SendOutcome::Sent);
    }
    let reliable_id = net.clients[c].reliable.unwrap();
    net.run_until(Duration::from_secs(5), |n| {
        n.clients[c]
            .received
            .iter()
            .filter(|(id, _)| *id == reliable_id)
            .count()
            == 50
    });
    let got: Vec<Vec<u8>> = net.clients[c]
        .received
        .iter()
        .filter(|(id, _)| *id == reliable_id)
        .map(|(_, d)| d.clone())
        .collect();
    assert_eq!(got, (0..50).map(|i| numbered(i, 1000)).collect::<Vec<_>>());
    let unreliable_id = net.clients[c].unreliable.unwrap();
    let dots = net.clients[c]
        .received
        .iter()
        .filter(|(id, _)| *id == unreliable_id)
        .count();
    assert_eq!(dots, 50);
}

#[test]
fn demultiplexes_many_peers_by_address_and_ufrag() {
    let mut net = Net::new();
    let peers: Vec<(usize, PeerId)> = (0..5)
        .map(|i| net.connect(&format!("10.0.1.{}:{}", i + 2, 6000 + i)))
        .collect();
    for &(c, peer) in &peers {
        net.open_both(peer, c);
    }
    assert_eq!(net.endpoint.peer_count(), 5);
    assert_eq!(net.endpoint.address_count(), 5);
    for &(c, _) in &peers {
        assert!(net.clients[c].write(ChannelKind::Reliable, format!("from {c}").as_bytes()));
    }
    net.run_until(Duration::from_secs(5), |n| {
        peers
            .iter()
            .all(|&(_, p)| n.messages(p, ChannelKind::Reliable).len() == 1)
    });
    for &(c, peer) in &peers {
        assert_eq!(
            net.messages(peer, ChannelKind::Reliable),
            vec![format!("from {c}").into_bytes()]
        );
    }
}

/// 1,000 peers that get an answer and never start ICE: each expires on its handshake
/// deadline, through its own timer, and leaves nothing behind.
#[test]
fn a_thousand_half_open_peers_expire_and_their_timers_are_cancelled() {
    let mut net = Net::new();
    let now = net.now;
    let (_client, _pending, offer) = Client::offer("10.0.2.2:7000", now);
    let peers: Vec<PeerId> = (0..1000)
        .map(|_| net.endpoint.accept_offer(now, &offer).unwrap().0)
        .collect();
    net.pump();
    assert_eq!(net.timers.len(), 1000);
    assert_eq!(net.endpoint.peer_count(), 1000);
    net.run_until(Duration::from_secs(30), |n| n.endpoint.peer_count() == 0);
    assert!(net.now - now >= net.endpoint.config().handshake_timeout);
    for peer in peers {
        assert!(net.events.contains(&Event::Closed {
            peer,
            reason: CloseReason::HandshakeTimeout
        }));
    }
    assert!(
        net.timers.is_empty(),
        "every timer cancelled: {:?}",
        net.timers.len()
    );
    assert_eq!(net.endpoint.address_count(), 0);
}

#[test]
fn enforces_the_negotiated_max_message_size() {
    let mut net = Net::new();
    let (c, peer) = net.connect_edited("10.0.0.3:5000", |sdp| {
        sdp.replace("a=max-message-size:262144", "a=max-message-size:1000")
    });
    net.open_both(peer, c);
    assert!(net.events.contains(&Event::Open {
        peer,
        max_message_size: 1000
    }));
    let now = net.now;
    assert_eq!(
        net.endpoint
            .send(now, peer, ChannelKind::Reliable, &[7; 1001]),
        Err(SendError::TooLarge {
            len: 1001,
            max: 1000
        })
    );
    assert_eq!(
        net.endpoint.send(now, peer, ChannelKind::Unreliable, &[]),
        Err(SendError::Empty)
    );
    assert_eq!(
        net.endpoint
            .send(now, peer, ChannelKind::Reliable, &[7; 1000]),
        Ok(SendOutcome::Sent)
    );
    assert_eq!(
        net.endpoint
            .send(now, PeerId(999), ChannelKind::Reliable, b"x"),
        Err(SendError::UnknownPeer)
    );
}

#[test]
fn unreliable_drops_and_reliable_blocks_then_resumes_when_congested() {
    let mut net = Net::new();
    let (c, peer) = net.connect("10.0.0.4:5000");
    net.open_both(peer, c);
    let now = net.now;
    let chunk = vec![1u8; 8192];
    // Nothing is acknowledged while the network is not pumped.
    let mut dropped = 0;
    for _ in 0..64 {
        if net
            .endpoint
            .send(now, peer, ChannelKind::Unreliable, &chunk)
            == Ok(SendOutcome::Congested)
        {
            dropped += 1;
        }
    }
    assert!(
        dropped > 0,
        "unreliable sends beyond the high water are dropped"
    );
    let mut blocked = false;
    let mut sent = 0usize;
    for i in 0..200 {
        match net
            .endpoint
            .send(now, peer, ChannelKind::Reliable, &numbered(i, 8192))
        {
            Ok(SendOutcome::Sent) => sent += 1,
            Ok(SendOutcome::Congested) => {
                blocked = true;
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(blocked, "the reliable channel fills its send buffer");
    net.run_until(Duration::from_secs(10), |n| {
        n.events.contains(&Event::Writable { peer })
    });
    let reliable_id = net.clients[c].reliable.unwrap();
    net.run_until(Duration::from_secs(10), |n| {
        n.clients[c]
            .received
            .iter()
            .filter(|(id, _)| *id == reliable_id)
            .count()
            == sent
    });
}

#[test]
fn local_close_reaches_the_client() {
    let mut net = Net::new();
    let (c, peer) = net.connect("10.0.0.5:5000");
    net.open_both(peer, c);
    net.endpoint.close(peer);
    net.run_until(Duration::from_secs(5), |n| n.clients[c].closed);
    assert!(net.events.contains(&Event::Closed {
        peer,
        reason: CloseReason::Local
    }));
    assert_eq!(net.endpoint.peer_count(), 0);
    assert_eq!(net.endpoint.address_count(), 0);
    assert!(net.timers.is_empty());
}

#[test]
fn bad_offers_are_refused_and_leave_no_peer() {
    let mut ep = endpoint();
    let now = Instant::now();
    assert!(matches!(
        ep.accept_offer(now, "hello"),
        Err(OfferError::NoDataChannel)
    ));
    assert!(matches!(
        ep.accept_offer(
            now,
            "v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"
        ),
        Err(OfferError::Sdp(_))
    ));
    assert!(matches!(
        ep.accept_offer(now, &"x".repeat(20_000)),
        Err(OfferError::TooLarge { len: 20_000, .. })
    ));
    assert!(matches!(
        signal::answer_json(&mut ep, now, b"{\"type\":\"answer\",\"sdp\":\"\"}"),
        Err(OfferError::Body(_))
    ));
    assert!(matches!(
        signal::answer_json(&mut ep, now, b"{\"type\":\"offer\"}"),
        Err(OfferError::Body(_))
    ));
    assert!(matches!(
        signal::answer_json(&mut ep, now, b"\xff\xfe"),
        Err(OfferError::Body(_))
    ));
    assert_eq!(ep.peer_count(), 0);
}

#[test]
fn json_signalling_round_trip() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (_client, _pending, offer) = Client::offer("10.0.0.6:5000", now);
    let body = format!(
        "{{\"type\":\"offer\",\"sdp\":{}}}",
        serde_json::to_string(&offer).unwrap()
    );
    let (peer, answer) = signal::answer_json(&mut ep, now, body.as_bytes()).unwrap();
    let answer: serde_json::Value = serde_json::from_slice(&answer).unwrap();
    assert_eq!(answer["type"], "answer");
    let sdp = answer["sdp"].as_str().unwrap();
    assert!(sdp.contains("a=ice-lite"));
    assert!(sdp.contains("10.0.0.1 9208 typ host"));
    assert!(ep.deadline(peer).is_some());
}

#[test]
fn full_endpoint_refuses_offers() {
    let mut config = EndpointConfig::new(server_addr());
    config.max_peers = 1;
    let mut ep = Endpoint::new(config).unwrap();
    let now = Instant::now();
    let (_a, _pa, offer_a) = Client::offer("10.0.0.7:5000", now);
    let (_b, _pb, offer_b) = Client::offer("10.0.0.8:5000", now);
    ep.accept_offer(now, &offer_a).unwrap();
    assert_eq!(ep.accept_offer(now, &offer_b), Err(OfferError::Full(1)));
}

#[test]
fn config_is_validated() {
    let bad_addr = EndpointConfig::new("0.0.0.0:9208".parse().unwrap());
    assert!(matches!(
        Endpoint::new(bad_addr),
        Err(ConfigError::PublicAddr(_))
    ));
    let mut config = EndpointConfig::new(server_addr());
    config.max_peers = 0;
    assert!(matches!(
        Endpoint::new(config),
        Err(ConfigError::OutOfRange {
            name: "max_peers",
            ..
        })
    ));
    let mut config = EndpointConfig::new(server_addr());
    config.handshake_timeout = Duration::ZERO;
    assert!(matches!(
        Endpoint::new(config),
        Err(ConfigError::HandshakeTimeout(_))
    ));
}

/// A STUN binding request header with a USERNAME attribute naming `ufrag`, then `tail`.
fn stun_with_username(username: &str, tail: &[u8]) -> Vec<u8> {
    let mut attr = Vec::new();
    attr.extend_from_slice(&0x0006u16.to_be_bytes());
    attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
    attr.extend_from_slice(username.as_bytes());
    while attr.len() % 4 != 0 {
        attr.push(0);
    }
    attr.extend_from_slice(tail);
    let mut msg = vec![0x00, 0x01];
    msg.extend_from_slice(&(attr.len() as u16).to_be_bytes());
    msg.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    msg.extend_from_slice(&[9; 12]);
    msg.extend_from_slice(&attr);
    msg
}

fn answer_ufrag(answer: &str) -> String {
    answer
        .lines()
        .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
        .unwrap()
        .trim()
        .to_owned()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random, truncated and forged datagrams from strangers and from the peer's own address
    /// never panic, never reach a peer from an unknown address, never grow the address map,
    /// and leave a connected peer working.
    #[test]
    fn random_datagrams_do_no_harm(
        datagrams in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..1400), 0u8..4, any::<u16>()),
            1..120,
        ),
    ) {
        let mut net = Net::new();
        let (c, peer) = net.connect("10.0.0.9:5000");
        net.open_both(peer, c);
        let ufrag = {
            let now = net.now;
            let (_x, _p, offer) = Client::offer("10.0.3.1:1", now);
            let (victim, answer) = net.endpoint.accept_offer(now, &offer).unwrap();
            (victim, answer_ufrag(&answer))
        };
        let client_addr = net.clients[c].addr;
        let now = net.now;
        for (bytes, kind, port) in &datagrams {
            let stranger: SocketAddr = format!("10.9.9.9:{port}").parse().unwrap();
            let (source, payload) = match kind {
                // Raw noise from a stranger.
                0 => (stranger, bytes.clone()),
                // STUN naming the half-open victim, with garbage attributes: must fail integrity.
                1 => (stranger, stun_with_username(&format!("{}:zz", ufrag.1), bytes)),
                // A DTLS-looking record from a stranger.
                2 => (stranger, [&[22u8, 254, 253][..], bytes].concat()),
                // Noise from the connected peer's own address.
                _ => (client_addr, bytes.clone()),
            };
            let outcome = net.endpoint.handle_datagram(now, source, &payload);
            if source != client_addr {
                prop_assert!(
                    matches!(outcome, DatagramOutcome::Dropped(_)),
                    "{outcome:?} for {kind}"
                );
            }
            // Truncations of a forged check.
            let forged = stun_with_username(&format!("{}:zz", ufrag.1), bytes);
            for cut in [0, 1, 19, 20, 21, forged.len() / 2] {
                let outcome = net.endpoint.handle_datagram(now, stranger, &forged[..cut.min(forged.len())]);
                prop_assert!(matches!(outcome, DatagramOutcome::Dropped(_)));
            }
        }
        prop_assert!(net.endpoint.address_count() <= 1);
        net.pump();
        // The peer, if the noise from its own address did not kill it, still carries messages.
        if net.endpoint.is_open(peer) {
            prop_assert!(net.clients[c].write(ChannelKind::Reliable, b"still here"));
            net.run_until(Duration::from_secs(5), |n| {
                !n.messages(peer, ChannelKind::Reliable).is_empty() || !n.endpoint.is_open(peer)
            });
        }
        // The half-open victim expires on schedule regardless.
        net.run_until(Duration::from_secs(30), |n| n.events.iter().any(|e| matches!(e,
            Event::Closed { peer: p, reason: CloseReason::HandshakeTimeout } if *p == ufrag.0)));
    }
}

#[test]
fn a_peer_has_one_timer_update_however_often_it_is_touched() {
    let mut ep = endpoint();
    let now = Instant::now();
    let (_client, _pending, offer) = Client::offer("10.0.0.10:5000", now);
    let (peer, _) = ep.accept_offer(now, &offer).unwrap();
    for i in 0..100 {
        ep.handle_timeout(peer, now + Duration::from_millis(i));
    }
    let first = ep.poll_timer().expect("one update");
    assert_eq!(first.peer, peer);
    assert_eq!(first.deadline, ep.deadline(peer));
    assert_eq!(ep.poll_timer(), None);
    ep.close(peer);
    assert_eq!(
        ep.poll_timer(),
        Some(TimerUpdate {
            peer,
            deadline: None
        })
    );
    assert_eq!(ep.poll_timer(), None);
}
