//! Topic pub/sub through the Rust API: subscribers on two reactors receive every message
//! published from another thread, in order, framed by their codec; a codec that encodes per
//! variant is asked once per publication, not once per subscriber.

mod common;

use common::{framed, length_field, spawn};
use riptide::codec::{Codec, CodecFactory, FrameError};
use riptide::{ConnId, Conns, Engine, EventHandler, LoadBalancing};
use std::io::Read;
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
