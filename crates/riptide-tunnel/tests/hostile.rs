//! A hostile peer on the server's UDP port, from a raw socket: garbage datagrams of boundary
//! lengths, then real KCP segments carrying broken smux (a wrong version, an unknown command,
//! a UPD in v1, a frame cut short). The server must not die or hang: each bad session is
//! closed, and a real client is served afterwards. With `--crypt null` and no FEC the bytes
//! reach the KCP and smux parsers directly.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use common::{echo_stream, echo_target, riptide_server, riptide_tunnel};

/// A KCP PUSH segment (ikcp's 24-byte header) for `conv` carrying `data` as segment `sn`.
fn kcp_push(conv: u32, sn: u32, data: &[u8]) -> Vec<u8> {
    let mut seg = Vec::with_capacity(24 + data.len());
    seg.extend_from_slice(&conv.to_le_bytes());
    seg.push(81); // IKCP_CMD_PUSH
    seg.push(0); // frg
    seg.extend_from_slice(&128u16.to_le_bytes()); // wnd
    seg.extend_from_slice(&0u32.to_le_bytes()); // ts
    seg.extend_from_slice(&sn.to_le_bytes());
    seg.extend_from_slice(&0u32.to_le_bytes()); // una
    seg.extend_from_slice(&(data.len() as u32).to_le_bytes());
    seg.extend_from_slice(data);
    seg
}

#[test]
fn garbage_and_broken_smux_do_not_hurt_the_server() {
    let plain = [
        "--crypt",
        "null",
        "--datashard",
        "0",
        "--parityshard",
        "0",
        "--nocomp",
    ];
    let plain: Vec<String> = plain.iter().map(|s| s.to_string()).collect();
    let target = echo_target();
    let mut args = vec![
        "--listen".to_string(),
        "127.0.0.1:0".into(),
        "--target".into(),
        target.to_string(),
    ];
    args.extend(plain.iter().cloned());
    let (mut server, kcp) = riptide_server(&args);

    let bad_smux: [&[u8]; 5] = [
        &[9, 0, 0, 0, 1, 0, 0, 0],                         // version 9
        &[1, 7, 0, 0, 1, 0, 0, 0],                         // unknown command
        &[1, 4, 8, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], // UPD in v1
        &[1, 0, 5, 0, 3, 0, 0, 0, 1, 2, 3, 4, 5],          // SYN with a payload
        &[1, 2, 255, 255, 3, 0, 0, 0, 1], // PSH cut short (waits, then the peer goes)
    ];
    for round in 0..3u32 {
        let raw = UdpSocket::bind("127.0.0.1:0").unwrap();
        for len in [0usize, 1, 23, 24, 25, 100, 1350, 1500, 9000] {
            let junk = riptide_testkit::pattern(u64::from(round) * 100 + len as u64, len);
            raw.send_to(&junk, kcp).unwrap();
        }
        // Each raw socket is one session (sessions are keyed by address): one broken stream
        // each, from fresh sockets.
        for (i, frame) in bad_smux.iter().enumerate() {
            let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
            let conv = 0x1000 + round * 16 + i as u32;
            sock.send_to(&kcp_push(conv, 0, frame), kcp).unwrap();
            // A wild segment length and sequence numbers far out of window.
            let mut wild = kcp_push(conv, u32::MAX, &[0; 8]);
            wild[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
            sock.send_to(&wild, kcp).unwrap();
        }
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");

    let mut args = vec![
        "--localaddr".to_string(),
        "127.0.0.1:0".into(),
        "--remoteaddr".into(),
        kcp.to_string(),
    ];
    args.extend(plain.iter().cloned());
    let (_client, local) = riptide_tunnel("client", &args);
    echo_stream(local, 7, 512 * 1024).unwrap();
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
}
