//! Codecs on live connections: framed echo under random splits, frame errors that do not end
//! the connection, custom framing with `retain`, and the partial-frame timeout.

mod common;

use common::{framed, length_field, serve};
use riptide::codec::{CodecSpec, LineConfig};
use riptide::{ConnId, Conns, EngineConfig, Error, EventHandler, StopHandle};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Clone)]
struct Framed {
    tx: mpsc::Sender<String>,
}

impl EventHandler for Framed {
    fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, frame: &[u8]) {
        let _ = self
            .tx
            .send(format!("frame {}", String::from_utf8_lossy(frame)));
        conns.write(id, frame).unwrap();
    }
    fn on_error(&mut self, _: &mut Conns, _: ConnId, err: &Error) {
        let _ = self.tx.send(format!("error {}", err.code()));
    }
    fn on_close(&mut self, _: &mut Conns, _: ConnId, err: Option<&Error>) {
        let _ = self
            .tx
            .send(format!("close {}", err.map_or("none", Error::code)));
    }
}

/// Serves [`Framed`] on loopback TCP with `config`; returns the address, the stop handle and
/// the handler's event lines.
fn start(config: EngineConfig) -> (SocketAddr, StopHandle, mpsc::Receiver<String>) {
    let (tx, rx) = mpsc::channel();
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", config, Framed { tx });
    (addr, stop, rx)
}

#[test]
fn length_field_echo_is_frame_exact_under_byte_splits() {
    let (addr, stop, rx) = start(framed(length_field(2, 1024)));
    let mut c = TcpStream::connect(addr).unwrap();
    let mut wire = Vec::new();
    for msg in ["hello", "", "world!"] {
        wire.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        wire.extend_from_slice(msg.as_bytes());
    }
    for b in &wire {
        c.write_all(&[*b]).unwrap();
        thread::sleep(Duration::from_micros(200));
    }
    let mut back = vec![0u8; wire.len()];
    c.read_exact(&mut back).unwrap();
    assert_eq!(back, wire, "echoed frames are framed again by the encoder");
    let frames: Vec<String> = (0..3).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(frames, vec!["frame hello", "frame ", "frame world!"]);
    stop.stop();
}

#[test]
fn an_oversized_frame_is_reported_and_the_connection_goes_on() {
    let (addr, stop, rx) = start(framed(length_field(2, 1024)));
    let mut c = TcpStream::connect(addr).unwrap();
    let mut wire = vec![0xff, 0xff];
    wire.extend(vec![0u8; 0xffff]);
    wire.extend_from_slice(&[0, 2, b'o', b'k']);
    c.write_all(&wire).unwrap();
    assert_eq!(rx.recv().unwrap(), "error ERR_FRAME_TOO_LONG");
    assert_eq!(rx.recv().unwrap(), "frame ok");
    let mut back = [0u8; 4];
    c.read_exact(&mut back).unwrap();
    assert_eq!(&back, &[0, 2, b'o', b'k']);
    stop.stop();
}

#[test]
fn frame_timeout_closes_a_slowloris() {
    let mut config = framed(Arc::new(CodecSpec::Line(LineConfig::default())));
    config.reactor.flow.frame_timeout = Some(Duration::from_millis(150));
    let (addr, stop, rx) = start(config);
    let mut c = TcpStream::connect(addr).unwrap();
    let started = Instant::now();
    c.write_all(b"complete\nnever ends").unwrap();
    assert_eq!(rx.recv().unwrap(), "frame complete");
    for _ in 0..3 {
        thread::sleep(Duration::from_millis(40));
        let _ = c.write_all(b".");
    }
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        "close ETIMEDOUT"
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(2),
        "{waited:?}"
    );
    stop.stop();
}

#[test]
fn retain_redelivers_unconsumed_bytes_with_the_next_ones() {
    /// Consumes 4-byte records only; keeps any remainder.
    #[derive(Clone)]
    struct Records(mpsc::Sender<Vec<u8>>);
    impl EventHandler for Records {
        fn on_traffic(&mut self, conns: &mut Conns, id: ConnId, data: &[u8]) {
            let whole = data.len() / 4 * 4;
            for r in data[..whole].chunks(4) {
                self.0.send(r.to_vec()).unwrap();
            }
            conns.retain(id, &data[whole..]).unwrap();
        }
    }
    let (tx, rx) = mpsc::channel();
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", EngineConfig::default(), Records(tx));
    send_split_records(addr, &rx);
    stop.stop();
}

#[test]
fn reads_placed_in_the_handlers_space_come_behind_the_retained_bytes() {
    /// Lends its own buffer for reads (as a driver's event batch does), then frames 4-byte
    /// records from what was placed there and retains any remainder.
    #[derive(Clone)]
    struct Placed {
        space: Vec<u8>,
        tx: mpsc::Sender<Vec<u8>>,
    }
    impl EventHandler for Placed {
        fn on_traffic(&mut self, _: &mut Conns, _: ConnId, _: &[u8]) {
            panic!("every read of a plain connection goes to the lent space");
        }
        fn read_space(&mut self, want: usize) -> Option<&mut [u8]> {
            self.space.resize(want, 0);
            Some(&mut self.space)
        }
        fn on_traffic_placed(&mut self, conns: &mut Conns, id: ConnId, len: usize) {
            let data = &self.space[..len];
            let whole = len / 4 * 4;
            for r in data[..whole].chunks(4) {
                self.tx.send(r.to_vec()).unwrap();
            }
            conns.retain(id, &data[whole..]).unwrap();
        }
    }
    let (tx, rx) = mpsc::channel();
    let handler = Placed {
        space: Vec::new(),
        tx,
    };
    let (addr, stop, _) = serve("tcp://127.0.0.1:0", EngineConfig::default(), handler);
    send_split_records(addr, &rx);
    stop.stop();
}

/// Sends three 4-byte records split across reads; checks that the handler saw each whole.
fn send_split_records(addr: SocketAddr, rx: &mpsc::Receiver<Vec<u8>>) {
    let mut c = TcpStream::connect(addr).unwrap();
    for part in [&b"abcde"[..], b"fg", b"hijkl"] {
        c.write_all(part).unwrap();
        thread::sleep(Duration::from_millis(30));
    }
    let got: Vec<Vec<u8>> = (0..3).map(|_| rx.recv().unwrap()).collect();
    assert_eq!(
        got,
        vec![b"abcd".to_vec(), b"efgh".to_vec(), b"ijkl".to_vec()]
    );
}

/// A codec with a bug: it panics on a `!` in its input, and frames each byte otherwise.
#[derive(Debug)]
struct Panicky;

impl riptide::codec::Decoder for Panicky {
    fn decode(&mut self, buf: &[u8]) -> riptide::codec::Decoded {
        match buf.first() {
            None => riptide::codec::Decoded::NeedMore,
            Some(b'!') => panic!("codec bug on purpose"),
            Some(_) => riptide::codec::Decoded::Frame {
                consumed: 1,
                start: 0,
                end: 1,
            },
        }
    }
}

impl riptide::codec::Encoder for Panicky {
    fn encode(&mut self, body: &[u8], out: &mut Vec<u8>) -> Result<(), riptide::codec::FrameError> {
        out.extend_from_slice(body);
        Ok(())
    }
}

impl riptide::codec::CodecFactory for Panicky {
    fn new_codec(&self) -> Box<dyn riptide::codec::Codec> {
        Box::new(Panicky)
    }
}

#[test]
fn a_panicking_codec_costs_its_connection_with_err_internal_and_nothing_else() {
    let (addr, stop, rx) = start(framed(Arc::new(Panicky)));
    let mut bad = TcpStream::connect(addr).unwrap();
    bad.write_all(b"a!").unwrap();
    assert_eq!(rx.recv().unwrap(), "frame a");
    assert_eq!(rx.recv().unwrap(), "close ERR_INTERNAL");
    let mut good = TcpStream::connect(addr).unwrap();
    good.write_all(b"ok").unwrap();
    let mut back = [0u8; 2];
    good.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"ok", "the reactor goes on serving others");
    stop.stop();
}
