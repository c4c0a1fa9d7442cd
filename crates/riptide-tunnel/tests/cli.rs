//! The command line: numbers out of kcptun's ranges, unknown ciphers and flags, and flag
//! combinations that cannot work are refused before anything binds; `--snmplog` writes
//! kcptun-style CSV rows.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{echo_stream, echo_target, riptide_server, riptide_tunnel};

/// Runs `riptide-tunnel ARGS` and returns (success, stderr).
fn tunnel(args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_riptide-tunnel"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn out_of_range_and_unknown_values_are_refused() {
    let bad: &[&[&str]] = &[
        &["client", "--mtu", "99"],
        &["client", "--mtu", "1501"],
        &["client", "--mtu", "1e3"],
        &["client", "--sndwnd", "0"],
        &["client", "--rcvwnd", "65536"],
        &["client", "--sndwnd", "-1"],
        &["server", "--interval", "9"],
        &["server", "--nodelay", "3"],
        &["server", "--nc", "2"],
        &["server", "--smuxver", "3"],
        &["server", "--smuxbuf", "1024"],
        &["server", "--keepalive", "0"],
        &["server", "--datashard", "256"],
        &["server", "--mode", "turbo"],
        &["server", "--crypt", "blowfish"],
        &["server", "--no-such-flag"],
        &["server", "--listen", "127.0.0.1:0", "--datashard", "0"],
        &[
            "server",
            "--listen",
            "127.0.0.1:0",
            "--smuxbuf",
            "65536",
            "--streambuf",
            "131072",
        ],
    ];
    for args in bad {
        let (ok, stderr) = tunnel(args);
        assert!(!ok, "{args:?} was accepted");
        assert!(!stderr.is_empty(), "{args:?}: no message");
    }
}

#[test]
fn snmplog_writes_kcptun_columns() {
    let dir = std::env::temp_dir().join(format!("riptide-tunnel-snmp-{}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    let target = echo_target();
    let (_server, kcp) = riptide_server(&[
        "--listen".into(),
        "127.0.0.1:0".into(),
        "--target".into(),
        target.to_string(),
    ]);
    let (_client, local) = riptide_tunnel(
        "client",
        &[
            "--localaddr".into(),
            "127.0.0.1:0".into(),
            "--remoteaddr".into(),
            kcp.to_string(),
            "--snmplog".into(),
            dir.display().to_string(),
            "--snmpperiod".into(),
            "1".into(),
        ],
    );
    echo_stream(local, 1, 256 * 1024).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let rows = loop {
        let text = std::fs::read_to_string(&dir).unwrap_or_default();
        let rows: Vec<String> = text.lines().map(String::from).collect();
        if rows.len() >= 2 || Instant::now() > deadline {
            break rows;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let _ = std::fs::remove_file(&dir);
    assert!(rows.len() >= 2, "{rows:?}");
    let header: Vec<&str> = rows[0].split(',').collect();
    assert_eq!(header[..3], ["Unix", "BytesSent", "BytesReceived"]);
    assert!(header.contains(&"FECRecovered") && header.contains(&"RetransSegs"));
    let row: Vec<u64> = rows[1].split(',').map(|v| v.parse().unwrap()).collect();
    assert_eq!(row.len(), header.len());
    assert!(row[1] >= 256 * 1024 && row[2] >= 256 * 1024, "{row:?}");
}

#[test]
fn secure_flag_mistakes_are_refused_with_a_message_naming_the_flag() {
    let dir =
        std::env::temp_dir().join(format!("riptide-tunnel-cli-secure-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_riptide-tunnel"))
        .arg("gen-server")
        .output()
        .unwrap();
    let out = String::from_utf8(out.stdout).unwrap();
    let key = |label: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(label))
            .unwrap()
            .to_string()
    };
    let private = key("server private key (secret): ");
    let public = key("server public key: ");
    let bad_list = dir.join("bad.txt");
    std::fs::write(
        &bad_list,
        format!("{public}\n# ok so far\n{}\n", &public[..40]),
    )
    .unwrap();
    let bad_list = bad_list.display().to_string();
    let missing = dir.join("missing.key").display().to_string();
    let listen = ["--listen", "127.0.0.1:0"];
    let cases: &[(&[&str], &str)] = &[
        (&["server", "--secure"], "--secure needs --server-key"),
        (
            &["server", "--server-key", &private],
            "--server-key (or RIPTIDE_TUNNEL_SERVER_KEY) needs --secure",
        ),
        (
            &["server", "--allowed-clients", &bad_list],
            "--allowed-clients needs --secure",
        ),
        (
            &[
                "server",
                "--secure",
                "--server-key",
                &private,
                "--crypt",
                "salsa20",
            ],
            "--crypt salsa20 does not combine",
        ),
        (
            &[
                "server",
                "--secure",
                "--server-key",
                &private,
                "--key",
                "pass",
            ],
            "leave out --key",
        ),
        (
            &["server", "--secure", "--server-key", &missing],
            "--server-key: neither a base64 key",
        ),
        (
            &[
                "server",
                "--secure",
                "--server-key",
                &private,
                "--allowed-clients",
                &bad_list,
            ],
            "line 3: not a base64 X25519 public key",
        ),
        (&["client", "--secure"], "--secure needs --server-pub"),
        (
            &["client", "--client-key", &private],
            "--client-key (or RIPTIDE_TUNNEL_CLIENT_KEY) needs --secure",
        ),
        (
            &["client", "--secure", "--server-pub", &public[..43]],
            "--server-pub: neither a base64 key",
        ),
        (
            &[
                "client",
                "--secure",
                "--server-pub",
                "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ],
            "small-order point",
        ),
        (&["gen-client", "--remote", "vps:29900"], "--server-pub"),
        (
            &[
                "gen-client",
                "--server-pub",
                &public,
                "--remote",
                "vps:1",
                "--name",
                "a\nb",
            ],
            "--name: no control characters",
        ),
    ];
    for (args, message) in cases {
        let mut args = args.to_vec();
        if args[0] == "server" {
            args.extend(listen);
        }
        let (ok, stderr) = tunnel(&args);
        assert!(!ok, "{args:?} was accepted");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(
            !stderr.contains(&private),
            "{args:?}: the private key is in the message"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
