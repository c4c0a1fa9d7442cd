//! Interop with unmodified kcp-go (`tests/golden/`, kcp-go v5.7.6).
//!
//! - Go → Rust, always: `tests/golden/vectors.json` holds datagrams kcp-go sealed (through its
//!   BlockCrypt constructors, and captured from real UDPSessions) and kcptun keys from Go's
//!   PBKDF2; every one must open here to the exact plaintext. Regenerate with
//!   `cd tests/golden && go run . gen > vectors.json`.
//! - Rust → Go, when `go` is on PATH: datagrams sealed here are handed to
//!   `go run . verify`, which opens them with kcp-go and feeds KCP segments to real kcp-go
//!   sessions. Without Go the test prints a note and passes.

use std::path::{Path, PathBuf};
use std::process::Command;

use riptide_crypt::{kcptun_key, BlockCrypt, Cipher};
use serde_json::{json, Value};

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn vectors() -> Value {
    let path = golden_dir().join("vectors.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd hex length");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing in {v}"))
}

fn cipher_of(v: &Value) -> Cipher {
    str_of(v, "cipher").parse().unwrap()
}

/// A KCP PUSH segment (24-byte header, `ikcp_encode_seg` layout) carrying `data` as sn 0.
fn kcp_push(conv: u32, data: &[u8]) -> Vec<u8> {
    let mut seg = Vec::new();
    seg.extend_from_slice(&conv.to_le_bytes());
    seg.push(81); // IKCP_CMD_PUSH
    seg.push(0); // frg
    seg.extend_from_slice(&128u16.to_le_bytes()); // wnd
    seg.extend_from_slice(&0u32.to_le_bytes()); // ts
    seg.extend_from_slice(&0u32.to_le_bytes()); // sn
    seg.extend_from_slice(&0u32.to_le_bytes()); // una
    seg.extend_from_slice(&(data.len() as u32).to_le_bytes());
    seg.extend_from_slice(data);
    seg
}

#[test]
fn kcptun_key_matches_go_pbkdf2() {
    let v = vectors();
    let keys = v["kcptun_keys"].as_array().unwrap();
    assert!(keys.len() >= 3);
    for k in keys {
        assert_eq!(
            hex(&kcptun_key(str_of(k, "pass"))),
            str_of(k, "key"),
            "pass {:?}",
            str_of(k, "pass")
        );
    }
}

#[test]
fn go_vectors_open_byte_exact() {
    let v = vectors();
    let pass = str_of(&v, "pass");
    let crypts: Vec<BlockCrypt> = Cipher::ALL
        .into_iter()
        .map(|c| BlockCrypt::kcptun(c, pass))
        .collect();
    let mut seen = [0usize; 8];
    for (i, vec) in v["vectors"].as_array().unwrap().iter().enumerate() {
        let cipher = cipher_of(vec);
        let idx = Cipher::ALL.iter().position(|&c| c == cipher).unwrap();
        let plain = unhex(str_of(vec, "plain"));
        let packet = unhex(str_of(vec, "packet"));
        assert_eq!(
            packet.len(),
            plain.len() + cipher.overhead(),
            "vector {i} ({cipher}): kcp-go's overhead differs from ours"
        );
        let mut out = b"prefix".to_vec();
        crypts[idx]
            .open(&packet, &mut out)
            .unwrap_or_else(|e| panic!("vector {i} ({cipher}, {} bytes): {e}", plain.len()));
        assert_eq!(&out[6..], &plain[..], "vector {i} ({cipher})");
        seen[idx] += 1;
    }
    assert!(
        seen.iter().all(|&n| n >= 30),
        "vectors per cipher: {seen:?}"
    );
}

#[test]
fn go_session_datagrams_open_to_kcp_segments() {
    let v = vectors();
    let pass = str_of(&v, "pass");
    let sessions = v["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), Cipher::ALL.len());
    for s in sessions {
        let cipher = cipher_of(s);
        let conv = s["conv"].as_u64().unwrap() as u32;
        let payload = unhex(str_of(s, "payload"));
        let mut seg = Vec::new();
        BlockCrypt::kcptun(cipher, pass)
            .open(&unhex(str_of(s, "packet")), &mut seg)
            .unwrap_or_else(|e| panic!("{cipher}: {e}"));
        // One PUSH segment: conv, cmd 81, frg 0, ..., len, data.
        assert_eq!(seg.len(), 24 + payload.len(), "{cipher}");
        assert_eq!(u32::from_le_bytes(seg[0..4].try_into().unwrap()), conv);
        assert_eq!(seg[4], 81, "{cipher}: PUSH");
        let len = u32::from_le_bytes(seg[20..24].try_into().unwrap()) as usize;
        assert_eq!(&seg[24..24 + len], &payload[..], "{cipher}");
    }
}

/// Whether a usable Go toolchain is on PATH.
fn have_go() -> bool {
    Command::new("go")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn rust_datagrams_open_in_kcp_go() {
    if !have_go() {
        eprintln!("NOTE: `go` is not on PATH: skipped the Rust → kcp-go direction (the Go → Rust vectors still ran)");
        return;
    }
    let pass = "riptide-golden";
    let lengths = [
        0usize, 1, 11, 12, 13, 15, 16, 17, 28, 29, 44, 45, 127, 128, 129, 1376, 1452, 1453, 1500,
    ];
    let mut vectors = Vec::new();
    let mut sessions = Vec::new();
    for (ci, cipher) in Cipher::ALL.into_iter().enumerate() {
        let mut crypt = BlockCrypt::kcptun(cipher, pass);
        for n in lengths {
            let plain: Vec<u8> = (0..n).map(|i| (i * 31 + ci * 7 + 3) as u8).collect();
            let mut packet = Vec::new();
            crypt.seal(&plain, &mut packet);
            vectors.push(
                json!({"cipher": cipher.as_str(), "plain": hex(&plain), "packet": hex(&packet)}),
            );
        }
        let conv = 0x7177_0000 + ci as u32;
        let payload = format!("hello from riptide over {cipher}");
        let mut packet = Vec::new();
        crypt.seal(&kcp_push(conv, payload.as_bytes()), &mut packet);
        sessions.push(json!({"cipher": cipher.as_str(), "conv": conv, "payload": hex(payload.as_bytes()), "packet": hex(&packet)}));
    }
    let file = json!({"pass": pass, "vectors": vectors, "sessions": sessions});
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("riptide-crypt-rust-vectors.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&file).unwrap()).unwrap();

    let out = Command::new("go")
        .args(["run", ".", "verify"])
        .arg(&path)
        .current_dir(golden_dir())
        .output()
        .expect("run go");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "kcp-go refused Rust datagrams:\n{stderr}"
    );
}
