//! Topic pub/sub through the Rust API: subscribers on two reactors receive every message
//! published from another thread, in order, framed by their codec; a codec that encodes per
//! variant is asked once per publication, not once per subscriber.

mod common;

use common::{framed, length_field, spawn};
use riptide::codec::{Codec, CodecFactory, FrameError};
use riptide::{ConnId, Conns, Engine, EventHandler, LoadBalancing};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Subscribes every connection to "room" when it opens.
#[derive(Clone)]
struct Rooms;

impl EventHandler for Rooms {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        assert!(conns.subscribe(id, "room").unwrap());
    }
    fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {}
}

fn wait_for(cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "condition not met in time");
        thread::sleep(Duration::from_millis(2));
    }
}

/// A 2-byte length-field codec that counts how often it frames a publication.
#[derive(Debug)]
struct Counting {
    inner: riptide::SharedCodec,
    shared: AtomicUsize,
}

impl CodecFactory for Counting {
    fn new_codec(&self) -> Box<dyn Codec> {
        self.inner.new_codec()
    }
    fn encode_shared(
        &self,
        variant: u32,
        body: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), FrameError> {
        self.shared.fetch_add(1, Ordering::Relaxed);
        self.inner.encode_shared(variant, body, out)
    }
}

#[test]
fn subscribers_on_two_reactors_get_every_publish_in_order_encoded_once_each() {
    let codec = Arc::new(Counting {
        inner: length_field(2, 1024),
        shared: AtomicUsize::new(0),
    });
    let mut config = framed(codec.clone());
    config.reactors = 2;
    config.load_balancing = LoadBalancing::RoundRobin;
    let engine = Engine::bind_with(["tcp://127.0.0.1:0"], config).unwrap();
    let pubsub = engine.pubsub();
    let (addr, stop, join) = spawn(engine, Rooms);
    let addr = common::inet(&addr);
    let clients: Vec<TcpStream> = (0..20).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_for(|| pubsub.subscriber_count("room") == 20);
    const MESSAGES: u32 = 1000;
    for i in 0..MESSAGES {
        assert_eq!(pubsub.publish("room", &i.to_be_bytes()).unwrap(), 20);
    }
    let mut expected = Vec::new();
    for i in 0..MESSAGES {
        expected.extend_from_slice(&4u16.to_be_bytes());
        expected.extend_from_slice(&i.to_be_bytes());
    }
    for mut c in clients {
        let mut got = vec![0; expected.len()];
        c.read_exact(&mut got).unwrap();
        assert_eq!(got, expected);
    }
    assert_eq!(
        codec.shared.load(Ordering::Relaxed),
        MESSAGES as usize,
        "one encoding per publication, shared by both reactors"
    );
    assert!(pubsub.publish("", b"x").is_err());
    stop.stop();
    join.join().unwrap();
    assert_eq!(pubsub.subscriber_count("room"), 0);
}

/// Subscribes every connection to "room"; a connection that sends a command runs it within
/// one callback, so its publishes are held together on the reactor (no codec: the bytes are
/// the messages). Closes are recorded with their error code.
#[derive(Clone, Default)]
struct Script {
    closes: Arc<std::sync::Mutex<Vec<Option<&'static str>>>>,
}

impl EventHandler for Script {
    fn on_open(&mut self, conns: &mut Conns, id: ConnId) {
        assert!(conns.subscribe(id, "room").unwrap());
    }
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
        match data {
            b"write" => {
                assert_eq!(conns.publish("room", b"<a1>").unwrap(), 2);
                conns.write(id, b"<own>").unwrap();
                conns.publish("room", b"<a2>").unwrap();
            }
            b"unsubscribe" => {
                conns.publish("room", b"<b1>").unwrap();
                assert!(conns.unsubscribe(id, "room").unwrap());
                conns.publish("room", b"<b2>").unwrap();
                conns.write(id, b"<own>").unwrap();
            }
            b"close" => {
                conns.publish("room", b"<c1>").unwrap();
                conns.close(id).unwrap();
                conns.publish("room", b"<c2>").unwrap();
            }
            b"destroy" => {
                conns.publish("room", b"<d1>").unwrap();
                conns.destroy(id, None).unwrap();
                conns.publish("room", b"<d2>").unwrap();
            }
            _ => panic!("unknown command {data:?}"),
        }
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&riptide::Error>) {
        self.closes
            .lock()
            .unwrap()
            .push(err.map(riptide::Error::code));
    }
}

/// Runs `command` from one subscriber of "room" while another listens: the first reads
/// `mine`, then the end of the stream when `ends` (a reset or nothing more); the other reads
/// `others`.
fn scripted(command: &[u8], mine: &[u8], ends: bool, others: &[u8]) {
    let engine =
        Engine::bind_with(["tcp://127.0.0.1:0"], riptide::EngineConfig::default()).unwrap();
    let pubsub = engine.pubsub();
    let (addr, stop, join) = spawn(engine, Script::default());
    let addr = common::inet(&addr);
    let mut other = TcpStream::connect(addr).unwrap();
    let mut me = TcpStream::connect(addr).unwrap();
    wait_for(|| pubsub.subscriber_count("room") == 2);
    me.write_all(command).unwrap();
    let mut got = vec![0; mine.len()];
    me.read_exact(&mut got).unwrap();
    assert_eq!(got, mine);
    if ends {
        let mut rest = Vec::new();
        let _ = me.read_to_end(&mut rest);
        assert!(rest.is_empty(), "nothing after the end: {rest:?}");
    }
    let mut got = vec![0; others.len()];
    other.read_exact(&mut got).unwrap();
    assert_eq!(got, others);
    stop.stop();
    join.join().unwrap();
}

/// Two publishes in one callback around a subscriber's own write, an unsubscribe, a close or
/// a destroy: the subscriber gets what was published before it and its own write in order
/// (after a close, then the end; after a destroy, nothing), the other subscriber gets both.
#[test]
fn held_publications_keep_their_place_around_writes_unsubscribes_closes_and_destroys() {
    scripted(b"write", b"<a1><own><a2>", false, b"<a1><a2>");
    scripted(b"unsubscribe", b"<b1><own>", false, b"<b1><b2>");
    scripted(b"close", b"<c1>", true, b"<c1><c2>");
    scripted(b"destroy", b"", true, b"<d1><d2>");
}

#[test]
fn a_slow_subscriber_is_bounded_while_a_fast_one_keeps_receiving() {
    const MAX_OUTBOUND: usize = 256 * 1024;
    let mut config = riptide::EngineConfig::default();
    config.reactor.flow.max_outbound = Some(MAX_OUTBOUND);
    config.reactor.socket.send_buffer = Some(16 * 1024);
    let engine = Engine::bind_with(["tcp://127.0.0.1:0"], config).unwrap();
    let pubsub = engine.pubsub();
    let script = Script::default();
    let closes = script.closes.clone();
    let (addr, stop, join) = spawn(engine, script);
    let addr = common::inet(&addr);
    let slow = TcpStream::connect(addr).unwrap();
    let mut fast = TcpStream::connect(addr).unwrap();
    wait_for(|| pubsub.subscriber_count("room") == 2);
    // 4 MiB in 1 KiB messages, numbered; the fast subscriber reads each round before the
    // next is published, the slow one never reads.
    const ROUNDS: u32 = 64;
    const PER_ROUND: u32 = 64;
    let mut message = vec![0u8; 1024];
    let mut got = vec![0u8; 1024 * PER_ROUND as usize];
    for round in 0..ROUNDS {
        for i in 0..PER_ROUND {
            message[..4].copy_from_slice(&(round * PER_ROUND + i).to_be_bytes());
            pubsub.publish("room", &message).unwrap();
        }
        fast.read_exact(&mut got).unwrap();
        for (i, m) in got.chunks(1024).enumerate() {
            let n = u32::from_be_bytes(m[..4].try_into().unwrap());
            assert_eq!(n, round * PER_ROUND + i as u32, "in order, none missing");
        }
    }
    // The slow one passed `max_outbound` and was closed; the fast one was not.
    wait_for(|| pubsub.subscriber_count("room") == 1);
    assert_eq!(*closes.lock().unwrap(), vec![Some("ERR_OUTBOUND_FULL")]);
    drop(slow);
    stop.stop();
    join.join().unwrap();
}
