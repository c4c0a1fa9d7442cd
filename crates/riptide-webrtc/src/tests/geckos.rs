//! geckos mode against a str0m client playing `@geckos.io/client`'s part: it POSTs for an
//! offer, answers through the remote-description route, and takes the server's `geckos.io`
//! channel when it opens.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use serde_json::{json, Value};
use str0m::change::SdpOffer;
use str0m::{Candidate, Rtc};

use super::{Client, Net};
use crate::geckos::http::{self, Route};
use crate::geckos::{codec, Decoded, Geckos, GeckosConfig, Repeat};
use crate::*;

/// A client at `addr` connected through the geckos routes; returns its index, peer and id.
fn connect(net: &mut Net, g: &mut Geckos, addr: &str) -> (usize, PeerId, String) {
    let (peer, body) = g
        .connect(&mut net.endpoint, net.now, &json!({"u": 1}))
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["userData"], json!({"u": 1}));
    assert_eq!(body["localDescription"]["type"], "offer");
    let id = body["id"].as_str().unwrap().to_owned();
    assert!(http::valid_id(&id), "{id}");
    let offer = SdpOffer::from_sdp_string(body["localDescription"]["sdp"].as_str().unwrap());
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let mut rtc = Rtc::builder().build(net.now);
    rtc.add_local_candidate(Candidate::host(addr, "udp").unwrap());
    let answer = rtc.sdp_api().accept_offer(offer.unwrap()).unwrap();
    let request = json!({"type": "answer", "sdp": answer.to_sdp_string()}).to_string();
    let path = format!("/.wrtc/v2/connections/{id}/remote-description");
    let route = http::route("POST", &path).unwrap();
    let response = g.respond(&mut net.endpoint, net.now, route, request.as_bytes());
    assert_eq!(response.status, 200);
    net.clients.push(Client {
        addr,
        rtc,
        unreliable: None,
        reliable: None,
        deadline: net.now,
        received: Vec::new(),
        labels: Vec::new(),
        open: 0,
        closed: false,
        hello: None,
    });
    (net.clients.len() - 1, peer, id)
}

/// A client's first message, sent the moment the server's channel opens at the client, can be
/// read before the DCEP ACK that opens the server's end: it is held and delivered after
/// `Event::Open`, not dropped.
#[test]
fn a_message_sent_as_the_channel_opens_is_delivered_after_open() {
    let mut net = Net::new();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let (c, peer, _) = connect(&mut net, &mut g, "127.0.0.1:40100");
    let hello = b"sent in the open handler".to_vec();
    net.clients[c].hello = Some(hello.clone());
    net.run_until(Duration::from_secs(10), |n| {
        n.events
            .iter()
            .any(|e| matches!(e, Event::Message { peer: p, .. } if *p == peer))
    });
    let open = net
        .events
        .iter()
        .position(|e| matches!(e, Event::Open { peer: p, .. } if *p == peer))
        .expect("the peer opened");
    let message = net
        .events
        .iter()
        .position(
            |e| matches!(e, Event::Message { peer: p, data, .. } if *p == peer && *data == hello),
        )
        .expect("the first message arrived");
    assert!(open < message, "{:?}", net.events);
}

/// Steps the network and fires the geckos repeat timer.
fn step(net: &mut Net, g: &mut Geckos) {
    net.step();
    if g.deadline().is_some_and(|d| d <= net.now) {
        g.handle_timeout(&mut net.endpoint, net.now);
        while net.pump() {}
    }
}

/// The client's messages on its geckos channel, decoded as text.
fn client_texts(net: &Net, c: usize) -> Vec<String> {
    net.clients[c]
        .received
        .iter()
        .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
        .collect()
}

/// What the endpoint delivered from `peer`, through `g.receive` (repeats dropped).
fn server_received(net: &mut Net, g: &mut Geckos, peer: PeerId) -> Vec<Decoded> {
    let now = net.now;
    let mut out = Vec::new();
    for e in std::mem::take(&mut net.events) {
        if let Event::Message {
            peer: p,
            channel,
            binary,
            data,
        } = &e
        {
            if *p == peer {
                assert_eq!(*channel, ChannelKind::Unreliable);
                out.extend(g.receive(now, peer, *binary, data));
            }
        }
        net.events.push(e);
    }
    net.events.retain(|e| !matches!(e, Event::Message { .. }));
    out
}

#[test]
fn geckos_client_connects_emits_reliably_and_raw() {
    let mut net = Net::new();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let (c, peer, id) = connect(&mut net, &mut g, "10.0.0.2:5000");
    assert_eq!(g.peer_of(&id), Some(peer));
    let path = format!("/.wrtc/v2/connections/{id}/additional-candidates");
    let route = http::route("GET", &path).unwrap();
    let candidates = g.respond(&mut net.endpoint, net.now, route, b"");
    assert_eq!(
        (candidates.status, candidates.body.as_slice()),
        (200, &b"[]"[..])
    );
    assert_eq!(candidates.content_type(), "application/json");
    net.run_until(Duration::from_secs(5), |n| {
        n.opened(peer) && n.clients[c].open == 1
    });
    assert_eq!(net.clients[c].labels[0].1, "geckos.io");
    let ch = net.clients[c].labels[0].0;
    assert!(net.endpoint.is_open(peer));
    assert_eq!(
        net.endpoint
            .send(net.now, peer, ChannelKind::Reliable, b"x"),
        Err(SendError::NoSuchChannel)
    );

    // Client → server: an emit, a reliable emit sent 3 times, raw text and binary.
    let reliable = br#"{"chat":{"MESSAGE":{"n":1},"RELIABLE":1,"ID":"abcdefghijklmnopqrstuvwx"}}"#;
    let sends: [(bool, &[u8]); 6] = [
        (false, br#"{"chat":"hi"}"#),
        (false, reliable),
        (false, reliable),
        (false, reliable),
        (false, b"plain"),
        (true, &[0, 1, 2]),
    ];
    for (binary, data) in sends {
        let mut channel = net.clients[c].rtc.channel(ch).unwrap();
        assert!(channel.write(binary, data).unwrap());
        net.step();
    }
    let got = server_received(&mut net, &mut g, peer);
    let emit = |e: &str, d: Value, r: Option<&str>| Decoded::Emit {
        event: e.into(),
        data: d,
        reliable_id: r.map(str::to_owned),
    };
    assert_eq!(
        got,
        vec![
            emit("chat", json!("hi"), None),
            emit("chat", json!({"n": 1}), Some("abcdefghijklmnopqrstuvwx")),
            Decoded::Raw {
                binary: false,
                data: b"plain".to_vec()
            },
            Decoded::Raw {
                binary: true,
                data: vec![0, 1, 2]
            },
        ]
    );

    // Server → client: an emit, raw binary, then a reliable emit repeated 10 times.
    let now = net.now;
    let sent = g.emit(&mut net.endpoint, now, peer, "chat", &json!("hi"), None);
    assert_eq!(sent, Ok(SendOutcome::Sent));
    let sent = g.raw(&mut net.endpoint, now, peer, true, &[9, 9]);
    assert_eq!(sent, Ok(SendOutcome::Sent));
    let repeat = Repeat::default();
    let sent = g.emit(
        &mut net.endpoint,
        now,
        peer,
        "chat",
        &json!([1]),
        Some(repeat),
    );
    assert_eq!(sent, Ok(SendOutcome::Sent));
    let start = net.now;
    while g.deadline().is_some() {
        assert!(net.now - start < Duration::from_secs(5));
        step(&mut net, &mut g);
    }
    // The runs are spread over (runs − 1) intervals at least.
    assert!(net.now - start >= repeat.interval * 9);
    let texts = client_texts(&net, c);
    assert_eq!(texts[0], r#"{"chat":"hi"}"#);
    assert_eq!(net.clients[c].received[1].1, vec![9, 9]);
    let reliable: Vec<&String> = texts.iter().skip(2).collect();
    assert_eq!(reliable.len(), 10, "{texts:?}");
    assert!(reliable.iter().all(|t| *t == reliable[0]));
    let parsed: Value = serde_json::from_str(reliable[0]).unwrap();
    assert_eq!(parsed["chat"]["MESSAGE"], json!([1]));
    assert_eq!(parsed["chat"]["RELIABLE"], json!(1));
    assert_eq!(parsed["chat"]["ID"].as_str().unwrap().len(), http::ID_LEN);

    // The close route closes the peer; its close forgets the id.
    let close = format!("/.wrtc/v2/connections/{id}/close");
    let route = http::route("POST", &close).unwrap();
    assert_eq!(
        g.respond(&mut net.endpoint, net.now, route, b"").status,
        200
    );
    while net.pump() {}
    assert!(net.events.iter().any(|e| matches!(
        e,
        Event::Closed { peer: p, reason: CloseReason::Local } if *p == peer
    )));
    g.closed(peer);
    assert_eq!(g.peer_count(), 0);
    assert_eq!(g.peer_of(&id), None);
    let route = http::route("GET", &path).unwrap();
    assert_eq!(
        g.respond(&mut net.endpoint, net.now, route, b"").status,
        404
    );
}

#[test]
fn unanswered_offers_count_against_max_peers_and_expire() {
    let mut config = EndpointConfig::new("10.0.0.1:9208".parse().unwrap());
    config.max_peers = 3;
    let mut net = Net::new();
    net.endpoint = Endpoint::new(config).unwrap();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let mut peers = Vec::new();
    // Falsy user data (which geckos's client refuses) goes as {}.
    for falsy in [Value::Null, json!(0), json!("")] {
        let (peer, body) = g.connect(&mut net.endpoint, net.now, &falsy).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["userData"], json!({}));
        peers.push(peer);
    }
    let full = g.connect(&mut net.endpoint, net.now, &json!({}));
    assert!(matches!(
        full,
        Err(crate::geckos::GeckosError::Offer(OfferError::Full(3)))
    ));
    let start = net.now;
    net.run_until(Duration::from_secs(30), |n| n.endpoint.peer_count() == 0);
    assert!(net.now - start >= Duration::from_secs(10));
    for peer in &peers {
        assert!(net.events.iter().any(|e| matches!(
            e,
            Event::Closed { peer: p, reason: CloseReason::HandshakeTimeout } if p == peer
        )));
        g.closed(*peer);
    }
    assert_eq!(g.peer_count(), 0);
    assert!(net.timers.is_empty());
}

#[test]
fn bad_answers_are_refused() {
    let mut net = Net::new();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let (peer, body) = g.connect(&mut net.endpoint, net.now, &json!({})).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let id = body["id"].as_str().unwrap();
    let path = format!("/.wrtc/v2/connections/{id}/remote-description");
    let route = http::route("POST", &path).unwrap();
    // Not JSON, or an offer: refused before str0m sees it; the peer still waits.
    for bad in [&b"{"[..], br#"{"type":"offer","sdp":"v=0"}"#] {
        assert_eq!(
            g.respond(&mut net.endpoint, net.now, route, bad).status,
            400
        );
        assert_eq!(net.endpoint.peer_count(), 1);
    }
    // An unknown id.
    let other = http::route(
        "POST",
        "/.wrtc/v2/connections/AAAAAAAAAAAAAAAAAAAAAAAA/remote-description",
    );
    assert_eq!(
        g.respond(&mut net.endpoint, net.now, other.unwrap(), b"{}")
            .status,
        404
    );
    // SDP str0m refuses: the peer is closed.
    let bad =
        br#"{"type":"answer","sdp":"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n"}"#;
    assert_eq!(
        g.respond(&mut net.endpoint, net.now, route, bad).status,
        400
    );
    assert_eq!(net.endpoint.peer_count(), 0);
    assert_eq!(
        net.endpoint.accept_answer(net.now, peer, "v=0"),
        Err(OfferError::NotAwaitingAnswer)
    );
    assert_eq!(
        g.respond(&mut net.endpoint, net.now, Route::Connect, b"")
            .status,
        500
    );
}

#[test]
fn answering_twice_is_refused() {
    let mut net = Net::new();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let (_, peer, _) = connect(&mut net, &mut g, "10.0.0.3:5000");
    assert_eq!(
        net.endpoint.accept_answer(net.now, peer, "v=0"),
        Err(OfferError::NotAwaitingAnswer)
    );
    assert_eq!(net.endpoint.peer_count(), 1);
}

#[test]
fn repeats_are_bounded_per_peer_and_dropped_with_the_peer() {
    let mut net = Net::new();
    let config = GeckosConfig {
        max_repeating_per_peer: 2,
        ..GeckosConfig::default()
    };
    let mut g = Geckos::new(config).unwrap();
    let (c, peer, _) = connect(&mut net, &mut g, "10.0.0.4:5000");
    net.run_until(Duration::from_secs(5), |n| {
        n.opened(peer) && n.clients[c].open == 1
    });
    let now = net.now;
    let r = Some(Repeat::default());
    for expected in [SendOutcome::Sent, SendOutcome::Sent, SendOutcome::Congested] {
        let sent = g.emit(&mut net.endpoint, now, peer, "e", &Value::Null, r);
        assert_eq!(sent, Ok(expected));
    }
    let bad = Repeat {
        runs: 0,
        ..Repeat::default()
    };
    let refused = g.emit(&mut net.endpoint, now, peer, "e", &Value::Null, Some(bad));
    assert_eq!(refused, Err(crate::geckos::GeckosError::Repeat));
    assert!(g.deadline().is_some());
    g.closed(peer);
    // The closed peer's repeats are dropped as they come due, and nothing more is sent.
    while net.pump() {}
    assert_eq!(
        net.clients[c].received.len(),
        2,
        "the first run of each emit"
    );
    let sent_before = net.clients[c].received.len();
    let later = now + Duration::from_secs(60);
    g.handle_timeout(&mut net.endpoint, later);
    assert_eq!(g.deadline(), None);
    while net.pump() {}
    assert_eq!(net.clients[c].received.len(), sent_before);
    let gone = g.emit(&mut net.endpoint, now, peer, "e", &Value::Null, None);
    assert_eq!(gone, Err(crate::geckos::GeckosError::UnknownPeer));
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        // Floats serde_json prints and parses back exactly.
        any::<i32>().prop_map(|i| Value::from(f64::from(i) / 4.0)),
        ".{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any bytes, and every truncation of a real message, decode without panicking; a
    /// binary message is always raw.
    #[test]
    fn decoding_is_total(data in prop::collection::vec(any::<u8>(), 0..300), binary: bool) {
        let decoded = codec::decode(binary, &data);
        if binary {
            prop_assert_eq!(decoded, Decoded::Raw { binary: true, data: data.clone() });
        }
        let text = String::from_utf8_lossy(&data);
        let _ = http::route("POST", &text);
        let _ = http::parse_remote_description(&data);
        let real = codec::encode_reliable("chat", &Value::from(text.as_ref()), "abc");
        for cut in 0..=real.len() {
            let _ = codec::decode(false, &real[..cut]);
        }
    }

    /// What the server encodes, a geckos client (and this decoder) reads back unchanged.
    #[test]
    fn emits_round_trip(event in ".{1,20}", data in json_value(), id in "[A-Za-z0-9]{24}") {
        let plain = codec::decode(false, &codec::encode_emit(&event, &data));
        let reliable_shaped = data.get("RELIABLE").is_some();
        if !reliable_shaped {
            prop_assert_eq!(plain, Decoded::Emit {
                event: event.clone(), data: data.clone(), reliable_id: None
            });
        }
        let reliable = codec::decode(false, &codec::encode_reliable(&event, &data, &id));
        prop_assert_eq!(reliable, Decoded::Emit { event, data, reliable_id: Some(id) });
    }
}

#[test]
fn dedup_window_is_per_peer() {
    let mut net = Net::new();
    let mut g = Geckos::new(GeckosConfig::default()).unwrap();
    let (a, _) = g.connect(&mut net.endpoint, net.now, &json!({})).unwrap();
    let (b, _) = g.connect(&mut net.endpoint, net.now, &json!({})).unwrap();
    let msg = br#"{"e":{"MESSAGE":1,"RELIABLE":1,"ID":"same"}}"#;
    let now = Instant::now();
    assert!(g.receive(now, a, false, msg).is_some());
    assert!(g.receive(now, a, false, msg).is_none());
    assert!(g.receive(now, b, false, msg).is_some());
    assert!(g
        .receive(now + Duration::from_secs(15), a, false, msg)
        .is_some());
    assert!(g.receive(now, PeerId(999), false, msg).is_none());
}
