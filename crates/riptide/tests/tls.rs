//! The TLS stream layer without sockets: a client layer and a server layer talking through
//! byte buffers, with certificates made by rcgen at test time.

use riptide::{
    Error, LayerReport, LayerStatus, StreamLayer, TlsClientOptions, TlsInfo, TlsServerContext,
    TlsServerOptions, TlsSniCertificate,
};
use rustls::pki_types::pem::PemObject;
use std::time::{Duration, Instant};

/// A self-signed certificate for `localhost` and its key, PEM; the certificate is its own CA.
fn self_signed() -> (String, String) {
    let key = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    (key.cert.pem(), key.signing_key.serialize_pem())
}

/// A self-signed certificate for `name` and its key, PEM.
fn self_signed_for(name: &str) -> (String, String) {
    let key = rcgen::generate_simple_self_signed(vec![name.into()]).unwrap();
    (key.cert.pem(), key.signing_key.serialize_pem())
}

/// One side: its layer, the plaintext it received, the report it produced.
struct Side {
    layer: Box<dyn StreamLayer>,
    plain: Vec<u8>,
    report: LayerReport,
    status: LayerStatus,
}

impl Side {
    fn new(layer: Box<dyn StreamLayer>) -> Side {
        Side {
            layer,
            plain: Vec::new(),
            report: LayerReport::default(),
            status: LayerStatus::Pending,
        }
    }

    /// Feeds `wire` in pieces of at most `piece` bytes; returns what it answers with.
    fn feed(&mut self, now: Instant, wire: &[u8], piece: usize) -> Result<Vec<u8>, Error> {
        let mut down = Vec::new();
        for chunk in wire.chunks(piece.max(1)) {
            self.status = self.layer.read(
                now,
                chunk,
                &mut riptide::StreamOut {
                    up: &mut self.plain,
                    down: &mut down,
                    report: &mut self.report,
                },
            )?;
        }
        Ok(down)
    }

    fn info(&self) -> Option<&TlsInfo> {
        self.report
            .extensions
            .iter()
            .find_map(|e| e.downcast_ref::<TlsInfo>())
    }
}

/// Runs the handshake between `client` and `server` to the end, cutting every flight into
/// pieces of `piece` bytes; the first error either side meets is returned.
fn handshake(
    client: &mut Side,
    server: &mut Side,
    now: Instant,
    piece: usize,
) -> Result<(), Error> {
    let mut to_server = Vec::new();
    assert_eq!(
        client.layer.start(now, &mut to_server)?,
        LayerStatus::Pending
    );
    let mut nothing = Vec::new();
    assert_eq!(server.layer.start(now, &mut nothing)?, LayerStatus::Pending);
    assert!(nothing.is_empty(), "a server speaks second");
    for _ in 0..10 {
        let to_client = server.feed(now, &to_server, piece)?;
        to_server = client.feed(now, &to_client, piece)?;
        if to_server.is_empty() && to_client.is_empty() {
            return Ok(());
        }
    }
    panic!("the handshake did not settle in 10 flights");
}

fn pair(alpn_server: &[&str], alpn_client: &[&str]) -> (Side, Side) {
    let (cert, key) = self_signed();
    let mut s = TlsServerOptions::new(cert.clone(), key);
    s.alpn = alpn_server.iter().map(|p| p.as_bytes().to_vec()).collect();
    let mut c = TlsClientOptions::new(cert, "localhost");
    c.alpn = alpn_client.iter().map(|p| p.as_bytes().to_vec()).collect();
    let server = Side::new(s.factory().unwrap()());
    let client = Side::new(c.factory().unwrap()());
    (client, server)
}

#[test]
fn handshake_then_bytes_both_ways_whatever_the_cuts() {
    for piece in [1, 7, 100, 1 << 20] {
        let now = Instant::now();
        let (mut client, mut server) = pair(&["h2", "http/1.1"], &["http/1.1"]);
        // Written before the handshake finished: held, counted, sent once it is done.
        let mut early = Vec::new();
        client.layer.write(now, b"early ", &mut early).unwrap();
        assert!(early.is_empty());
        assert_eq!(client.layer.buffered(), 6);
        handshake(&mut client, &mut server, now, piece).unwrap();
        assert_eq!(client.status, LayerStatus::Ready);
        assert_eq!(server.status, LayerStatus::Ready);
        assert_eq!(client.layer.buffered(), 0);
        for side in [&client, &server] {
            let info = side.info().expect("a TlsInfo extension");
            assert_eq!(info.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
            assert_eq!(info.version, "TLSv1.3");
            assert_eq!(side.report.extensions.len(), 1, "reported once");
        }
        let served = &client.info().unwrap().peer_certificates;
        assert_eq!(served.len(), 1, "the server's self-signed leaf");
        assert!(
            server.info().unwrap().peer_certificates.is_empty(),
            "no client certificate asked for"
        );
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut wire = Vec::new();
        for chunk in data.chunks(piece.max(1000)) {
            client.layer.write(now, chunk, &mut wire).unwrap();
        }
        assert!(
            !wire.windows(16).any(|w| w == &data[1000..1016]),
            "ciphertext"
        );
        server.feed(now, &wire, piece.max(13)).unwrap();
        let mut expected = b"early ".to_vec();
        expected.extend_from_slice(&data);
        assert_eq!(server.plain, expected);

        let mut back = Vec::new();
        server.layer.write(now, b"pong", &mut back).unwrap();
        client.feed(now, &back, piece).unwrap();
        assert_eq!(client.plain, b"pong");
    }
}

#[test]
fn no_common_alpn_protocol_fails_the_handshake() {
    let (mut client, mut server) = pair(&["h2"], &["http/1.1"]);
    let err = handshake(&mut client, &mut server, Instant::now(), 1000).unwrap_err();
    assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
    assert!(err.to_string().contains("any known protocol"), "{err}");
}

#[test]
fn no_alpn_on_either_side_reports_none() {
    let (mut client, mut server) = pair(&[], &[]);
    handshake(&mut client, &mut server, Instant::now(), 1000).unwrap();
    assert_eq!(client.info().unwrap().alpn_protocol, None);
}

#[test]
fn an_untrusted_certificate_fails_with_err_tls_handshake() {
    let (cert, key) = self_signed();
    let (other_ca, _) = self_signed();
    let server = TlsServerOptions::new(cert, key).factory().unwrap()();
    let client = TlsClientOptions::new(other_ca, "localhost")
        .factory()
        .unwrap()();
    let (mut client, mut server) = (Side::new(client), Side::new(server));
    let err = handshake(&mut client, &mut server, Instant::now(), 1000).unwrap_err();
    assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
    assert!(
        err.to_string().contains("invalid peer certificate"),
        "{err}"
    );
}

#[test]
fn the_wrong_servername_fails_and_reject_unauthorized_false_accepts_it() {
    let (cert, key) = self_signed();
    let server = TlsServerOptions::new(cert.clone(), key);
    let mut options = TlsClientOptions::new(cert, "example.org");
    let mut client = Side::new(options.factory().unwrap()());
    let mut s = Side::new(server.factory().unwrap()());
    let err = handshake(&mut client, &mut s, Instant::now(), 1000).unwrap_err();
    assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
    assert!(err.to_string().contains("not valid for name"), "{err}");

    options.reject_unauthorized = false;
    options.ca_pem.clear();
    let mut client = Side::new(options.factory().unwrap()());
    let mut s = Side::new(server.factory().unwrap()());
    handshake(&mut client, &mut s, Instant::now(), 1000).unwrap();
}

#[test]
fn a_handshake_that_never_completes_times_out() {
    let (cert, key) = self_signed();
    let mut options = TlsServerOptions::new(cert, key);
    options.handshake_timeout = Duration::from_millis(250);
    let mut layer = options.factory().unwrap()();
    let now = Instant::now();
    assert_eq!(layer.poll_timeout(), None);
    layer.start(now, &mut Vec::new()).unwrap();
    assert_eq!(layer.poll_timeout(), Some(now + Duration::from_millis(250)));
    let (mut up, mut down, mut report) = (Vec::new(), Vec::new(), LayerReport::default());
    let mut out = riptide::StreamOut {
        up: &mut up,
        down: &mut down,
        report: &mut report,
    };
    let err = layer
        .handle_timeout(now + Duration::from_millis(250), &mut out)
        .unwrap_err();
    assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
    assert!(err.to_string().contains("250 ms"), "{err}");
}

#[test]
fn garbage_instead_of_a_hello_fails_the_handshake() {
    let (cert, key) = self_signed();
    let factory = TlsServerOptions::new(cert, key).factory().unwrap();
    for garbage in [
        &b"GET / HTTP/1.1\r\n\r\n"[..],
        &[0x16, 3, 1, 0, 4, 1, 0, 0, 0],
        &[0xff; 64],
    ] {
        let mut server = Side::new(factory());
        server.layer.start(Instant::now(), &mut Vec::new()).unwrap();
        let err = server.feed(Instant::now(), garbage, 1000).unwrap_err();
        assert_eq!(err.code(), "ERR_TLS_HANDSHAKE", "{garbage:?}");
        assert!(server.plain.is_empty());
    }
}

#[test]
fn close_sends_close_notify_which_the_peer_reads_as_the_end() {
    let (mut client, mut server) = pair(&[], &[]);
    let now = Instant::now();
    handshake(&mut client, &mut server, now, 1000).unwrap();
    let mut wire = Vec::new();
    client.layer.write(now, b"last words", &mut wire).unwrap();
    let sent = wire.len();
    client.layer.close(now, &mut wire);
    assert!(wire.len() > sent, "close adds a close_notify alert");
    let answer = server.feed(now, &wire, 5).unwrap();
    assert_eq!(server.plain, b"last words");
    assert!(answer.is_empty(), "close_notify read without complaint");
}

#[test]
fn bad_options_are_refused_before_any_connection() {
    let (cert, key) = self_signed();
    let bad = |e: Error| {
        assert_eq!(e.code(), "ERR_INVALID_ARG_VALUE", "{e}");
        e.to_string()
    };
    let no_cert = TlsServerOptions::new("not a pem", key.clone());
    assert!(bad(no_cert.factory().err().unwrap()).contains("cert"));
    let no_key = TlsServerOptions::new(cert.clone(), "");
    assert!(bad(no_key.factory().err().unwrap()).contains("key"));
    let no_ca = TlsClientOptions::new("", "localhost");
    assert!(bad(no_ca.factory().err().unwrap()).contains("ca"));
    let bad_name = TlsClientOptions::new(cert, "not a name!");
    assert!(bad(bad_name.factory().err().unwrap()).contains("servername"));
}

#[test]
fn sni_picks_the_certificate_by_name_and_falls_back_to_the_default() {
    let (cert, key) = self_signed();
    let (a_cert, a_key) = self_signed_for("a.test");
    let (w_cert, w_key) = self_signed_for("*.w.test");
    let mut options = TlsServerOptions::new(cert.clone(), key.clone());
    for (name, cert, key) in [("A.test", &a_cert, &a_key), ("*.w.test", &w_cert, &w_key)] {
        options.sni.push(TlsSniCertificate {
            name: name.into(),
            cert_pem: cert.clone().into(),
            key_pem: key.clone().into(),
        });
    }
    let factory = options.factory().unwrap();
    // Each client trusts only the certificate it should be served: a handshake that
    // succeeds proves which one the server picked.
    let cases = [
        (&a_cert, "a.test", true),
        (&w_cert, "x.w.test", true),
        (&cert, "localhost", true),
        (&cert, "unknown.test", false), // the default, not valid for that name
        (&a_cert, "localhost", false),
        (&w_cert, "x.y.w.test", false), // a wildcard covers one label only
    ];
    for (trusted, name, ok) in cases {
        let client = TlsClientOptions::new(trusted.clone(), name);
        let mut client = Side::new(client.factory().unwrap()());
        let mut server = Side::new(factory());
        let result = handshake(&mut client, &mut server, Instant::now(), 1 << 20);
        assert_eq!(result.is_ok(), ok, "{name}: {result:?}");
    }

    let refused = |name: &str, cert: &str, key: &str| {
        let mut o = options.clone();
        o.sni.push(TlsSniCertificate {
            name: name.into(),
            cert_pem: cert.into(),
            key_pem: key.into(),
        });
        o.factory().err().unwrap().to_string()
    };
    assert!(refused("a.test", &a_cert, &a_key).contains("twice"));
    assert!(refused("*.*.test", &a_cert, &a_key).contains("DNS name"));
    assert!(refused("not a name", &a_cert, &a_key).contains("DNS name"));
    assert!(refused("b.test", &a_cert, &key).contains("cert/key"));
    assert!(refused("b.test", "", &a_key).contains("sni[\"b.test\"].cert"));
}

#[test]
fn dials_from_one_client_context_resume_and_both_sides_report_it() {
    let (cert, key) = self_signed();
    let server = TlsServerOptions::new(cert.clone(), key).factory().unwrap();
    let resumed = |client: riptide::StreamLayerFactory| {
        let mut client = Side::new(client());
        let mut server = Side::new(server());
        handshake(&mut client, &mut server, Instant::now(), 1 << 20).unwrap();
        [&client, &server].map(|side| side.info().unwrap().resumed)
    };
    let options = TlsClientOptions::new(cert, "localhost");
    let context = options.context().unwrap();
    assert_eq!(
        resumed(context.factory("localhost").unwrap()),
        [false, false]
    );
    // A new factory from the same context: the context's session cache carries the ticket.
    assert_eq!(resumed(context.factory("localhost").unwrap()), [true, true]);
    assert_eq!(
        resumed(context.clone().factory("localhost").unwrap()),
        [true, true]
    );
    assert_eq!(
        resumed(options.factory().unwrap()),
        [false, false],
        "another context (configuration) resumes nothing"
    );
    assert!(context.factory("not a name!").is_err());
}

/// Client options trusting `server_cert` for `localhost`, presenting `identity` if any.
fn client_with(server_cert: &str, identity: Option<&(String, String)>) -> TlsClientOptions {
    let mut options = TlsClientOptions::new(server_cert.to_string(), "localhost");
    if let Some((cert, key)) = identity {
        options.cert_pem = Some(cert.clone().into());
        options.key_pem = Some(key.clone().into());
    }
    options
}

#[test]
fn a_client_certificate_satisfies_a_server_that_requires_one_and_only_its_own_ca() {
    let (cert, key) = self_signed();
    let client_id = self_signed_for("client.test");
    let stranger = self_signed_for("client.test");
    let mut options = TlsServerOptions::new(cert.clone(), key);
    options.client_ca_pem = Some(vec![client_id.0.clone().into()]);
    let listener = options.factory().unwrap();
    let dial = |client: &TlsClientOptions| {
        let mut client = Side::new(client.factory().unwrap()());
        let mut server = Side::new(listener());
        handshake(&mut client, &mut server, Instant::now(), 1000).map(|()| (client, server))
    };

    let (mut client, mut server) = dial(&client_with(&cert, Some(&client_id))).unwrap();
    let presented = &server.info().unwrap().peer_certificates;
    let der = rustls::pki_types::CertificateDer::from_pem_slice(client_id.0.as_bytes()).unwrap();
    assert_eq!(
        presented,
        &vec![der.to_vec()],
        "the server saw the client's leaf"
    );
    let now = Instant::now();
    let mut wire = Vec::new();
    client.layer.write(now, b"mutual", &mut wire).unwrap();
    server.feed(now, &wire, 3).unwrap();
    assert_eq!(server.plain, b"mutual");

    for (identity, why) in [
        (None, "peer sent no certificates"),
        (Some(&stranger), "invalid peer certificate"),
    ] {
        let Err(err) = dial(&client_with(&cert, identity)) else {
            panic!("{identity:?} was let in");
        };
        assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
        assert!(err.to_string().contains(why), "{err}");
    }

    // Each context has one identity and its own sessions: one resumes, another does not.
    let context = client_with(&cert, Some(&client_id)).context().unwrap();
    let resumed = |client: riptide::StreamLayerFactory| {
        let mut client = Side::new(client());
        let mut server = Side::new(listener());
        handshake(&mut client, &mut server, Instant::now(), 1 << 20).unwrap();
        let presented = server.info().unwrap().peer_certificates.clone();
        (client.info().unwrap().resumed, presented)
    };
    assert!(!resumed(context.factory("localhost").unwrap()).0);
    let (again, presented) = resumed(context.factory("localhost").unwrap());
    assert!(again, "the same identity resumes");
    assert_eq!(
        presented,
        vec![der.to_vec()],
        "and the session keeps the certificate"
    );
    let other = client_with(&cert, Some(&client_id)).factory().unwrap();
    assert!(
        !resumed(other).0,
        "another context offers none of those sessions"
    );
}

#[test]
fn a_client_certificate_needs_its_key_and_a_matching_one() {
    let (cert, _) = self_signed();
    let (client_cert, client_key) = self_signed_for("client.test");
    let (_, other_key) = self_signed_for("client.test");
    let refused = |cert_pem: Option<&str>, key_pem: Option<&str>| {
        let mut options = TlsClientOptions::new(cert.clone(), "localhost");
        options.cert_pem = cert_pem.map(|c| c.as_bytes().to_vec());
        options.key_pem = key_pem.map(|k| k.as_bytes().to_vec());
        let err = options.context().unwrap_err();
        assert_eq!(err.code(), "ERR_INVALID_ARG_VALUE", "{err}");
        err.to_string()
    };
    assert!(refused(Some(&client_cert), None).contains("tls cert: given without key"));
    assert!(refused(None, Some(&client_key)).contains("tls key: given without cert"));
    assert!(refused(Some("not a pem"), Some(&client_key)).contains("tls cert"));
    assert!(refused(Some(&client_cert), Some("not a pem")).contains("tls key"));
    assert!(refused(Some(&client_cert), Some(&other_key)).contains("tls cert/key"));
}

#[test]
fn a_server_context_swaps_the_certificate_for_new_connections_only() {
    let (old_cert, old_key) = self_signed();
    let (new_cert, new_key) = self_signed();
    let context = TlsServerContext::new(&TlsServerOptions::new(old_cert.clone(), old_key)).unwrap();
    let factory = context.factory();
    // Succeeds only when the server presents the certificate the client trusts.
    let served = |trusted: &str, server: Box<dyn StreamLayer>| {
        let client = TlsClientOptions::new(trusted.to_string(), "localhost");
        let mut client = Side::new(client.factory().unwrap()());
        let mut server = Side::new(server);
        handshake(&mut client, &mut server, Instant::now(), 1 << 20).is_ok()
    };
    let accepted_before = factory();
    let refused = context.set(&TlsServerOptions::new(new_cert.clone(), "not a key"));
    assert_eq!(refused.unwrap_err().code(), "ERR_INVALID_ARG_VALUE");
    assert!(
        served(&old_cert, factory()),
        "a refused set changes nothing"
    );
    context
        .set(&TlsServerOptions::new(new_cert.clone(), new_key))
        .unwrap();
    assert!(
        served(&old_cert, accepted_before),
        "an earlier connection keeps its config"
    );
    assert!(served(&new_cert, factory()));
    assert!(!served(&old_cert, factory()));
    assert!(
        served(&new_cert, context.clone().factory()()),
        "clones share it"
    );
}

#[test]
fn max_handshakes_refuses_connections_beyond_the_bound_until_a_place_frees() {
    let (cert, key) = self_signed();
    let mut options = TlsServerOptions::new(cert.clone(), key.clone());
    options.max_handshakes = Some(2);
    let context = TlsServerContext::new(&options).unwrap();
    let factory = context.factory();
    let now = Instant::now();
    let started = |layer: Box<dyn StreamLayer>| {
        let mut side = Side::new(layer);
        side.layer.start(now, &mut Vec::new()).unwrap();
        side
    };
    let refused = |side: &mut Side| {
        assert_eq!(side.layer.poll_timeout(), Some(now), "closes at once");
        let err = side.feed(now, &[0x16, 3, 1], 100).unwrap_err();
        assert_eq!(err.code(), "ERR_TLS_HANDSHAKE");
        assert!(
            err.to_string().contains("2 handshakes already in progress"),
            "{err}"
        );
        assert!(side.plain.is_empty());
    };
    let first = started(factory());
    let second = started(factory());
    assert_eq!(
        second.layer.poll_timeout(),
        Some(now + Duration::from_secs(10))
    );
    refused(&mut started(factory()));
    // A connection gone mid-handshake gives its place back.
    drop(first);
    let client = TlsClientOptions::new(cert.clone(), "localhost")
        .factory()
        .unwrap();
    let mut done = Side::new(client());
    let mut third = Side::new(factory());
    handshake(&mut done, &mut third, now, 1 << 20).unwrap();
    // So does a finished handshake, while its connection stays open.
    let mut fourth = Side::new(client());
    let mut server = Side::new(factory());
    handshake(&mut fourth, &mut server, now, 1 << 20).unwrap();
    let busy = started(factory());
    refused(&mut started(context.clone().factory()()));
    drop((second, busy));
    // A reload keeps the count and takes the new bound.
    let mut wider = options.clone();
    wider.max_handshakes = Some(3);
    context.set(&wider).unwrap();
    let _held = [started(factory()), started(factory()), started(factory())];
    let mut over = started(factory());
    let err = over.feed(now, &[0x16], 1).unwrap_err();
    assert!(err.to_string().contains("3 handshakes"), "{err}");
    options.max_handshakes = Some(0);
    assert_eq!(
        context.set(&options).unwrap_err().code(),
        "ERR_INVALID_ARG_VALUE"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

    /// Whatever arrives instead of a ClientHello, however it is cut, the server layer never
    /// panics, never lets a byte up, and either waits for more or fails with
    /// `ERR_TLS_HANDSHAKE`.
    #[test]
    fn arbitrary_bytes_never_get_past_the_handshake(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..3000),
        piece in 1usize..700,
        hello in proptest::prelude::any::<bool>(),
    ) {
        let mut data = data;
        if hello && data.len() >= 6 {
            // A handshake record announcing a ClientHello, the rest arbitrary.
            data[..6].copy_from_slice(&[0x16, 3, 1, 0, 0, 1]);
            let len = u16::try_from(data.len() - 5).unwrap_or(u16::MAX);
            data[3..5].copy_from_slice(&len.to_be_bytes());
        }
        let mut server = Side::new(server_factory()());
        server.layer.start(Instant::now(), &mut Vec::new()).unwrap();
        match server.feed(Instant::now(), &data, piece) {
            Ok(_) => proptest::prop_assert_eq!(server.status, LayerStatus::Pending),
            Err(e) => proptest::prop_assert_eq!(e.code(), "ERR_TLS_HANDSHAKE"),
        }
        proptest::prop_assert!(server.plain.is_empty());
    }
}

/// One server layer factory for every proptest case (making certificates is slow).
fn server_factory() -> riptide::StreamLayerFactory {
    static FACTORY: std::sync::OnceLock<riptide::StreamLayerFactory> = std::sync::OnceLock::new();
    FACTORY
        .get_or_init(|| {
            let (cert, key) = self_signed();
            TlsServerOptions::new(cert, key).factory().unwrap()
        })
        .clone()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// After the handshake, a genuine record with any byte changed, however it is cut, gives
    /// the application nothing and fails with `ERR_TLS` (rustls' reason); except a length
    /// made longer, which leaves the layer waiting for the rest, and the legacy version.
    #[test]
    fn a_record_changed_anywhere_after_the_handshake_fails_with_err_tls(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 1..3000),
        at in proptest::prelude::any::<usize>(),
        flip in 1u8..,
        piece in 1usize..4000,
    ) {
        let now = Instant::now();
        let (mut client, mut server) = pair(&[], &[]);
        handshake(&mut client, &mut server, now, 1 << 20).unwrap();
        let mut wire = Vec::new();
        client.layer.write(now, &data, &mut wire).unwrap();
        let at = at % wire.len();
        let length = u16::from_be_bytes([wire[3], wire[4]]);
        wire[at] ^= flip;
        let longer = u16::from_be_bytes([wire[3], wire[4]]) > length;
        match server.feed(now, &wire, piece) {
            // The rest of a record made longer is still to come.
            Ok(_) if longer => proptest::prop_assert!(server.plain.is_empty()),
            // TLS 1.3 ignores `legacy_record_version` "for all purposes" (RFC 8446 5.1): it is
            // not in the AEAD's additional data either.
            Ok(_) if (1..3).contains(&at) => proptest::prop_assert_eq!(&server.plain, &data),
            Ok(_) => proptest::prop_assert!(false, "byte {at} of {} changed, accepted", wire.len()),
            Err(e) => {
                proptest::prop_assert_eq!(e.code(), "ERR_TLS", "{}", e);
                proptest::prop_assert!(server.plain.is_empty());
            }
        }
    }
}
