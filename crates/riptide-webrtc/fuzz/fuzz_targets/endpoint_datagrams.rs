//! Fuzz target `endpoint_datagrams`: what one UDP socket of a WebRTC listener receives, into an
//! endpoint holding one half-open peer (made by `Endpoint::offer`, so it has a real ICE ufrag).
//! The input is records of `<control byte><length byte><bytes>`: the control byte's low two
//! bits pick one of four source addresses, and its bit 2 puts a STUN binding request header
//! naming the peer's ufrag in front of the bytes (so the fuzzer reaches the integrity check and
//! the STUN attribute parsers, not only the router). Checks: no panic; the endpoint never holds
//! more than the one peer, nor more addresses than `max_addresses_per_peer`; a datagram from an
//! address it never learned is delivered only when it is STUN naming the peer; every transmit
//! goes to one of the four sources; closing the peer leaves no peer and no address.
#![no_main]
use std::cell::RefCell;
use std::net::SocketAddr;
use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use riptide_webrtc::{DatagramOutcome, Endpoint, EndpointConfig, OfferedChannel};

thread_local! {
    /// One endpoint for the whole run: making one generates a DTLS certificate.
    static ENDPOINT: RefCell<Endpoint> = RefCell::new(
        Endpoint::new(EndpointConfig::new("127.0.0.1:9208".parse().unwrap())).unwrap(),
    );
}

/// A STUN binding request header with a USERNAME attribute `<ufrag>:fz`, its length field
/// covering `tail`, which the caller appends.
fn stun_header(ufrag: &str, tail_len: usize) -> Vec<u8> {
    let username = format!("{ufrag}:fz");
    let padded = username.len().div_ceil(4) * 4;
    let mut msg = vec![0x00, 0x01];
    let length = u16::try_from(4 + padded + tail_len).unwrap_or(u16::MAX);
    msg.extend_from_slice(&length.to_be_bytes());
    msg.extend_from_slice(&0x2112_A442u32.to_be_bytes());
    msg.extend_from_slice(&[7; 12]);
    msg.extend_from_slice(&0x0006u16.to_be_bytes());
    msg.extend_from_slice(&u16::try_from(username.len()).unwrap().to_be_bytes());
    msg.extend_from_slice(username.as_bytes());
    msg.resize(20 + 4 + padded, 0);
    msg
}

fuzz_target!(|data: &[u8]| {
    ENDPOINT.with(|cell| {
        let mut ep = cell.borrow_mut();
        let now = Instant::now();
        let (peer, offer) = ep.offer(now, &OfferedChannel::geckos()).unwrap();
        let ufrag = offer
            .lines()
            .find_map(|l| l.strip_prefix("a=ice-ufrag:"))
            .unwrap()
            .trim()
            .to_owned();
        let sources: [SocketAddr; 4] = [
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.2:40001".parse().unwrap(),
            "[::1]:40002".parse().unwrap(),
            "10.0.0.1:65535".parse().unwrap(),
        ];
        let max_addresses = ep.config().max_addresses_per_peer;
        let mut rest = data;
        while let [control, len, tail @ ..] = rest {
            let take = usize::from(*len).min(tail.len());
            let (bytes, next) = tail.split_at(take);
            rest = next;
            let source = sources[usize::from(control & 3)];
            let named = control & 4 != 0;
            let datagram = if named {
                let mut d = stun_header(&ufrag, bytes.len());
                d.extend_from_slice(bytes);
                d
            } else {
                bytes.to_vec()
            };
            let known_before = ep.address_count();
            let outcome = ep.handle_datagram(now, source, &datagram);
            if known_before == 0 && !named {
                assert!(
                    !matches!(outcome, DatagramOutcome::Delivered(_)),
                    "a stranger's datagram reached the peer"
                );
            }
            assert!(ep.peer_count() <= 1);
            assert!(ep.address_count() <= max_addresses);
            while let Some(t) = ep.poll_transmit() {
                assert!(sources.contains(&t.destination), "a transmit to {}", t.destination);
            }
            while ep.poll_event().is_some() {}
            while ep.poll_timer().is_some() {}
        }
        ep.close(peer);
        assert_eq!(ep.peer_count(), 0);
        assert_eq!(ep.address_count(), 0);
        while ep.poll_transmit().is_some() {}
        while ep.poll_event().is_some() {}
        while ep.poll_timer().is_some() {}
    });
});
