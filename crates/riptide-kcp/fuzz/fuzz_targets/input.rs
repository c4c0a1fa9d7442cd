//! Arbitrary bytes, cut into datagrams, through `Kcp::input`, then flush and `recv`: no
//! panic, and the invariants a caller relies on hold (peek agrees with recv, nothing we emit
//! exceeds the MTU or fails to parse, input only shrinks the send queue, deadlines move on).
//!
//! Layout: byte 0 picks the configuration; then `[len: u16 LE][len bytes]` datagrams. The
//! conversation id is taken from the first datagram so the fuzzer reaches the parser quickly.
#![no_main]
use libfuzzer_sys::fuzz_target;
use riptide_kcp::{conv_of, Config, Kcp, RecvError};

fn drain(k: &mut Kcp, now: u32, mtu: usize, conv: u32, buf: &mut [u8]) {
    while let Some(n) = k.poll_transmit(now, buf) {
        assert!(n <= mtu, "datagram of {n} bytes over mtu {mtu}");
        let mut rest = &buf[..n];
        assert!(rest.len() >= 24);
        while !rest.is_empty() {
            assert_eq!(conv_of(rest), Some(conv));
            assert!((81..=84).contains(&rest[4]), "command {}", rest[4]);
            let len = u32::from_le_bytes([rest[20], rest[21], rest[22], rest[23]]) as usize;
            rest = &rest[24 + len..];
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let cfg = Config {
        nodelay: u32::from(sel & 3),
        interval: 10,
        resend: u32::from((sel >> 2) & 3),
        nc: sel & 0x10 != 0,
        stream: sel & 0x20 != 0,
        mtu: if sel & 0x40 != 0 { 60 } else { 1400 },
        ..Config::default()
    };
    let conv = rest.get(2..).and_then(conv_of).unwrap_or(0);
    let mut k = Kcp::new(conv, &cfg).unwrap();
    let mut now: u32 = if sel & 0x80 != 0 { u32::MAX - 50 } else { 0 };
    let mut out = vec![0u8; cfg.mtu];
    let mut msg = vec![0u8; k.max_message()];
    for i in 0..4u8 {
        k.enqueue(&vec![i; 700 * usize::from(i)]).unwrap();
    }
    k.handle_timeout(now);
    drain(&mut k, now, cfg.mtu, conv, &mut out);

    while rest.len() >= 2 {
        let len = usize::from(u16::from_le_bytes([rest[0], rest[1]])).min(rest.len() - 2);
        let datagram = &rest[2..2 + len];
        rest = &rest[2 + len..];
        now = now.wrapping_add(7);

        let waiting = k.wait_snd();
        let _ = k.input(now, datagram);
        assert!(k.wait_snd() <= waiting, "input can only acknowledge");
        k.handle_timeout(now);
        drain(&mut k, now, cfg.mtu, conv, &mut out);
        if let Some(t) = k.poll_timeout() {
            // Right after handle_timeout(now) the next deadline is in the future: a caller
            // driven by poll_timeout never spins.
            assert!(
                t.wrapping_sub(now) as i32 > 0,
                "deadline {t} not after {now}"
            );
        }
        loop {
            let peek = k.peek_size();
            match k.recv(&mut msg) {
                Ok(n) => assert_eq!(Some(n), peek),
                Err(RecvError::Empty) => {
                    assert_eq!(peek, None);
                    break;
                }
                Err(RecvError::BufferTooSmall { needed }) => {
                    // A hostile peer can assemble "messages" beyond max_message.
                    assert_eq!(Some(needed), peek);
                    let mut big = vec![0u8; needed];
                    assert_eq!(k.recv(&mut big), Ok(needed));
                }
            }
        }
        k.flush(now);
        drain(&mut k, now, cfg.mtu, conv, &mut out);
    }
    let _ = k.stats();
});
