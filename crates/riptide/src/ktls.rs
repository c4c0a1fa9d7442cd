//! Kernel TLS on Linux: after a rustls handshake, the record keys go to the socket
//! (`setsockopt(TCP_ULP, "tls")`, then `SOL_TLS` `TLS_TX` / `TLS_RX`) and the kernel frames,
//! encrypts and decrypts records itself; the connection then writes and reads plaintext.
//! Records that are not application data (alerts, post-handshake messages) reach user space
//! only through `recvmsg` with a control buffer naming the record type, which
//! [`KernelTlsStream`] reads and interprets.
//!
//! This is the one module of the engine with `unsafe` code: the `setsockopt`, `recvmsg` and
//! `sendmsg` calls the standard library and socket2 do not wrap. Each block says why it is
//! sound.

#![allow(unsafe_code)]

use mio::event::Source;
use mio::net::TcpStream;
use mio::{Interest, Registry, Token};
use rustls::{ConnectionTrafficSecrets, ExtractedSecrets, ProtocolVersion};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};

/// TLS record content types (RFC 8446 §5.1).
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;
/// Handshake message types the peer may send after the handshake (RFC 8446 §4).
const NEW_SESSION_TICKET: u8 = 4;
const KEY_UPDATE: u8 = 24;
/// The `close_notify` alert: level warning, description 0.
const CLOSE_NOTIFY: [u8; 2] = [1, 0];

/// One direction's keys in the kernel's layout (`struct tls12_crypto_info_*`, used for TLS 1.3
/// too).
pub(crate) enum CryptoInfo {
    /// `TLS_CIPHER_AES_GCM_128`.
    Aes128Gcm(libc::tls12_crypto_info_aes_gcm_128),
    /// `TLS_CIPHER_AES_GCM_256`.
    Aes256Gcm(libc::tls12_crypto_info_aes_gcm_256),
    /// `TLS_CIPHER_CHACHA20_POLY1305`.
    Chacha20Poly1305(libc::tls12_crypto_info_chacha20_poly1305),
}

/// Copies `from` into `to` when the lengths agree (they always do for the suites rustls
/// negotiates; a mismatch is refused rather than truncated).
fn fill<const N: usize>(to: &mut [u8; N], from: &[u8]) -> Option<()> {
    *to = from.try_into().ok()?;
    Some(())
}

impl CryptoInfo {
    /// The kernel form of one direction's `secrets` at record sequence number `seq`, for TLS
    /// `version`; `None` for a version or cipher the kernel does not take. rustls' 12-byte
    /// IV is the kernel's 4-byte salt then 8-byte IV for AES-GCM (TLS 1.2's implicit nonce
    /// plus the explicit part rustls puts after it; TLS 1.3's static IV), and the whole IV
    /// for ChaCha20-Poly1305.
    pub(crate) fn new(
        version: ProtocolVersion,
        seq: u64,
        secrets: &ConnectionTrafficSecrets,
    ) -> Option<CryptoInfo> {
        let version = match version {
            ProtocolVersion::TLSv1_2 => libc::TLS_1_2_VERSION,
            ProtocolVersion::TLSv1_3 => libc::TLS_1_3_VERSION,
            _ => return None,
        };
        let rec_seq = seq.to_be_bytes();
        // The AES-GCM structs differ only in key size: salt first, explicit IV after.
        macro_rules! gcm {
            ($variant:ident, $kind:ident, $cipher:ident, $key:expr, $iv:expr) => {{
                let (salt, nonce) = $iv.as_ref().split_at_checked(4)?;
                let mut info = libc::$kind {
                    info: libc::tls_crypto_info {
                        version,
                        cipher_type: libc::$cipher,
                    },
                    iv: Default::default(),
                    key: Default::default(),
                    salt: Default::default(),
                    rec_seq,
                };
                fill(&mut info.iv, nonce)?;
                fill(&mut info.key, $key.as_ref())?;
                fill(&mut info.salt, salt)?;
                CryptoInfo::$variant(info)
            }};
        }
        Some(match secrets {
            ConnectionTrafficSecrets::Aes128Gcm { key, iv } => {
                gcm!(
                    Aes128Gcm,
                    tls12_crypto_info_aes_gcm_128,
                    TLS_CIPHER_AES_GCM_128,
                    key,
                    iv
                )
            }
            ConnectionTrafficSecrets::Aes256Gcm { key, iv } => {
                gcm!(
                    Aes256Gcm,
                    tls12_crypto_info_aes_gcm_256,
                    TLS_CIPHER_AES_GCM_256,
                    key,
                    iv
                )
            }
            ConnectionTrafficSecrets::Chacha20Poly1305 { key, iv } => {
                let mut info = libc::tls12_crypto_info_chacha20_poly1305 {
                    info: libc::tls_crypto_info {
                        version,
                        cipher_type: libc::TLS_CIPHER_CHACHA20_POLY1305,
                    },
                    iv: [0; 12],
                    key: [0; 32],
                    salt: [],
                    rec_seq,
                };
                fill(&mut info.iv, iv.as_ref())?;
                fill(&mut info.key, key.as_ref())?;
                CryptoInfo::Chacha20Poly1305(info)
            }
            _ => return None,
        })
    }

    /// The struct's address and size, for `setsockopt`.
    fn raw(&self) -> (*const libc::c_void, libc::socklen_t) {
        fn of<T>(value: &T) -> (*const libc::c_void, libc::socklen_t) {
            // The structs are a few dozen bytes: the size always fits.
            let size = libc::socklen_t::try_from(size_of::<T>()).unwrap_or(0);
            ((value as *const T).cast(), size)
        }
        match self {
            CryptoInfo::Aes128Gcm(i) => of(i),
            CryptoInfo::Aes256Gcm(i) => of(i),
            CryptoInfo::Chacha20Poly1305(i) => of(i),
        }
    }
}

/// Both directions' keys and sequence numbers, taken from a finished rustls handshake: what
/// a TLS layer hands to the kernel when it leaves the stack.
pub struct KernelTls {
    tx: CryptoInfo,
    rx: CryptoInfo,
}

impl KernelTls {
    /// The kernel form of `secrets` for TLS `version`; `None` when the kernel cannot take them.
    pub(crate) fn new(version: ProtocolVersion, secrets: &ExtractedSecrets) -> Option<KernelTls> {
        Some(KernelTls {
            tx: CryptoInfo::new(version, secrets.tx.0, &secrets.tx.1)?,
            rx: CryptoInfo::new(version, secrets.rx.0, &secrets.rx.1)?,
        })
    }
}

/// Asks the kernel to put its `tls` upper-layer protocol on the connected TCP socket. This
/// is the probe made before rustls gives up its state: it fails (`ENOENT`) on a kernel
/// without the `tls` module, and then the connection keeps its user-space records. Until
/// keys are installed the socket behaves as plain TCP.
pub(crate) fn attach(socket: &TcpStream) -> io::Result<()> {
    const ULP: &[u8] = b"tls";
    // SAFETY: the fd is an open socket owned by `socket`, borrowed for the call; the option
    // value points at `ULP.len()` readable bytes that outlive the call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_TCP,
            libc::TCP_ULP,
            ULP.as_ptr().cast(),
            ULP.len() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Installs the transmit then the receive keys; from here on the socket carries plaintext
/// both ways. An error leaves the socket unusable for TLS (rustls' state is gone).
pub(crate) fn install(socket: &TcpStream, keys: &KernelTls) -> io::Result<()> {
    for (direction, info) in [(libc::TLS_TX, &keys.tx), (libc::TLS_RX, &keys.rx)] {
        let (value, size) = info.raw();
        // SAFETY: the fd is an open socket borrowed for the call; `value` points at a live
        // `tls12_crypto_info_*` struct of `size` bytes that outlives the call, and the
        // kernel only reads it.
        let rc =
            unsafe { libc::setsockopt(socket.as_raw_fd(), libc::SOL_TLS, direction, value, size) };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// One `recvmsg` on a kernel TLS socket: the record type and the bytes read into `buf`.
fn recv_record(fd: RawFd, buf: &mut [u8]) -> io::Result<(u8, usize)> {
    // u64s: the control buffer must be aligned for `cmsghdr`.
    let mut control = [0u64; 8];
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: an all-zero `msghdr` is valid (null name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = size_of_val(&control) as _;
    // SAFETY: `msg` points at one iovec over `buf` (writable for its length) and at the
    // control buffer (writable for `msg_controllen`); all outlive the call.
    let n = unsafe { libc::recvmsg(fd, &mut msg, 0) };
    let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
    let mut kind = APPLICATION_DATA;
    // SAFETY: the CMSG_* macros walk the control buffer the kernel just filled, bounded by
    // `msg_controllen`; CMSG_DATA of a SOL_TLS/TLS_GET_RECORD_TYPE header holds one byte.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_TLS && (*cmsg).cmsg_type == libc::TLS_GET_RECORD_TYPE
            {
                kind = *libc::CMSG_DATA(cmsg);
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
    }
    Ok((kind, n))
}

/// Sends one record of type `kind` holding `payload` (a `sendmsg` with a
/// `TLS_SET_RECORD_TYPE` control message).
fn send_record(fd: RawFd, kind: u8, payload: &[u8]) -> io::Result<usize> {
    let mut control = [0u64; 4];
    let mut iov = libc::iovec {
        iov_base: payload.as_ptr() as *mut libc::c_void,
        iov_len: payload.len(),
    };
    // SAFETY: an all-zero `msghdr` is valid (null name, no iovecs, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic; CMSG_FIRSTHDR of a control buffer of
    // CMSG_SPACE(1) bytes (32 are available) is non-null and room for one header and one
    // byte of data, which are written before the call. The kernel only reads `payload`
    // through the iovec although the type says mutable.
    let n = unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(1) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_TLS;
        (*cmsg).cmsg_type = libc::TLS_SET_RECORD_TYPE;
        (*cmsg).cmsg_len = libc::CMSG_LEN(1) as _;
        *libc::CMSG_DATA(cmsg) = kind;
        libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL)
    };
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// A TCP socket whose records the kernel handles: writes are plaintext (the kernel frames
/// and encrypts), reads give application data and interpret the other records.
pub struct KernelTlsStream {
    tcp: TcpStream,
    /// `close_notify` was sent (once is enough).
    said_goodbye: bool,
}

impl KernelTlsStream {
    /// The socket, with keys already installed by [`install`].
    pub(crate) fn new(tcp: TcpStream) -> KernelTlsStream {
        KernelTlsStream {
            tcp,
            said_goodbye: false,
        }
    }

    /// The TCP socket, for socket options.
    pub(crate) fn tcp(&self) -> &TcpStream {
        &self.tcp
    }

    /// Sends `close_notify` unless it was already sent. A full socket buffer (the caller
    /// sends it once its queue is empty, so that is rare) skips it: FIN follows anyway.
    pub(crate) fn close_notify(&mut self) {
        if !std::mem::replace(&mut self.said_goodbye, true) {
            let _ = send_record(self.tcp.as_raw_fd(), ALERT, &CLOSE_NOTIFY);
        }
    }
}

/// What one non-data record means for the reader: `None` to read on, else what `read`
/// returns.
fn control_record(kind: u8, body: &[u8]) -> Option<io::Result<usize>> {
    let invalid = |what: String| {
        let tls = crate::error::TlsRecordError(what);
        Some(Err(io::Error::new(io::ErrorKind::InvalidData, tls)))
    };
    match (kind, body) {
        (ALERT, [_, 0]) => Some(Ok(0)),
        (ALERT, [_, description]) => invalid(format!("the peer sent alert {description}")),
        // Session tickets for a later resumption: a kernel TLS client does not keep them.
        (HANDSHAKE, [NEW_SESSION_TICKET, ..]) => None,
        (HANDSHAKE, [KEY_UPDATE, ..]) => invalid(
            "the peer sent a KeyUpdate, which kernel TLS connections do not support \
             (use ktls: false for peers that rotate keys)"
                .into(),
        ),
        (HANDSHAKE, _) => invalid("unexpected handshake message after the handshake".into()),
        _ => invalid(format!("unexpected record type {kind}")),
    }
}

impl Read for KernelTlsStream {
    /// Application data; `Ok(0)` at the peer's `close_notify` or FIN; an error for any other
    /// alert or an unexpected record. Session tickets are skipped (each one consumed from the
    /// socket, so the loop ends when the socket is drained).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let (kind, n) = recv_record(self.tcp.as_raw_fd(), buf)?;
            if kind == APPLICATION_DATA || n == 0 {
                return Ok(n);
            }
            if let Some(result) = control_record(kind, buf.get(..n).unwrap_or_default()) {
                return result;
            }
        }
    }
}

impl Write for KernelTlsStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        self.tcp.write_vectored(bufs)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Source for KernelTlsStream {
    fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.tcp.register(r, t, i)
    }
    fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
        self.tcp.reregister(r, t, i)
    }
    fn deregister(&mut self, r: &Registry) -> io::Result<()> {
        self.tcp.deregister(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::crypto::cipher::{AeadKey, Iv};
    use rustls::crypto::ring::cipher_suite as suite;
    use rustls::pki_types::ServerName;
    use rustls::SupportedCipherSuite;
    use std::sync::Arc;

    /// (version, cipher type, key, iv, salt, record sequence) of a kernel struct.
    type Parts = (u16, u16, Vec<u8>, Vec<u8>, Vec<u8>, [u8; 8]);

    fn parts(info: &CryptoInfo) -> Parts {
        macro_rules! of {
            ($i:expr) => {
                (
                    $i.info.version,
                    $i.info.cipher_type,
                    $i.key.to_vec(),
                    $i.iv.to_vec(),
                    $i.salt.to_vec(),
                    $i.rec_seq,
                )
            };
        }
        match info {
            CryptoInfo::Aes128Gcm(i) => of!(i),
            CryptoInfo::Aes256Gcm(i) => of!(i),
            CryptoInfo::Chacha20Poly1305(i) => of!(i),
        }
    }

    fn key32() -> AeadKey {
        let mut bytes = [0u8; 32];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        AeadKey::from(bytes)
    }

    fn iv() -> Iv {
        Iv::new([
            0xa0, 0xa1, 0xa2, 0xa3, 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7,
        ])
    }

    const SEQ: u64 = 0x0102_0304_0506_0708;
    const SEQ_BYTES: [u8; 8] = [1, 2, 3, 4, 5, 6, 7, 8];

    #[test]
    fn aes_256_gcm_splits_salt_and_iv() {
        for (version, number) in [
            (ProtocolVersion::TLSv1_2, 0x0303),
            (ProtocolVersion::TLSv1_3, 0x0304),
        ] {
            let secrets = ConnectionTrafficSecrets::Aes256Gcm {
                key: key32(),
                iv: iv(),
            };
            let info = CryptoInfo::new(version, SEQ, &secrets).expect("maps");
            assert!(matches!(info, CryptoInfo::Aes256Gcm(_)));
            let (v, cipher, key, nonce, salt, seq) = parts(&info);
            assert_eq!((v, cipher), (number, 52));
            assert_eq!(salt, [0xa0, 0xa1, 0xa2, 0xa3]);
            assert_eq!(nonce, [0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7]);
            assert_eq!(key, (1..=32).collect::<Vec<u8>>());
            assert_eq!(seq, SEQ_BYTES);
            assert_eq!(info.raw().1 as usize, 4 + 8 + 32 + 4 + 8);
        }
    }

    #[test]
    fn chacha20_poly1305_keeps_the_whole_iv() {
        for version in [ProtocolVersion::TLSv1_2, ProtocolVersion::TLSv1_3] {
            let secrets = ConnectionTrafficSecrets::Chacha20Poly1305 {
                key: key32(),
                iv: iv(),
            };
            let info = CryptoInfo::new(version, SEQ, &secrets).expect("maps");
            assert!(matches!(info, CryptoInfo::Chacha20Poly1305(_)));
            let (_, cipher, key, nonce, salt, seq) = parts(&info);
            assert_eq!(cipher, 54);
            assert_eq!(nonce, iv().as_ref());
            assert!(salt.is_empty());
            assert_eq!(key, (1..=32).collect::<Vec<u8>>());
            assert_eq!(seq, SEQ_BYTES);
            assert_eq!(info.raw().1 as usize, 4 + 12 + 32 + 8);
        }
    }

    #[test]
    fn other_versions_and_wrong_key_sizes_are_refused() {
        let secrets = ConnectionTrafficSecrets::Chacha20Poly1305 {
            key: key32(),
            iv: iv(),
        };
        assert!(CryptoInfo::new(ProtocolVersion::TLSv1_1, 0, &secrets).is_none());
        // A 32-byte key where AES-128 takes 16.
        let wrong = ConnectionTrafficSecrets::Aes128Gcm {
            key: key32(),
            iv: iv(),
        };
        assert!(CryptoInfo::new(ProtocolVersion::TLSv1_3, 0, &wrong).is_none());
    }

    /// Runs a rustls handshake in memory limited to `suite`, sends one message each way,
    /// and returns both ends' secrets.
    fn handshake(suite: SupportedCipherSuite) -> (ProtocolVersion, KernelTls, KernelTls) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = vec![suite];
        let provider = Arc::new(provider);
        let version = match suite {
            SupportedCipherSuite::Tls12(_) => &rustls::version::TLS12,
            SupportedCipherSuite::Tls13(_) => &rustls::version::TLS13,
        };
        let mut server_config = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[version])
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
                    .unwrap(),
            )
            .unwrap();
        server_config.enable_secret_extraction = true;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.cert.der().clone()).unwrap();
        let mut client_config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[version])
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        client_config.enable_secret_extraction = true;
        let mut server = rustls::Connection::Server(
            rustls::ServerConnection::new(Arc::new(server_config)).unwrap(),
        );
        let mut client = rustls::Connection::Client(
            rustls::ClientConnection::new(
                Arc::new(client_config),
                ServerName::try_from("localhost").unwrap(),
            )
            .unwrap(),
        );
        client.writer().write_all(b"ping").unwrap();
        server.writer().write_all(b"pong").unwrap();
        fn pass(from: &mut rustls::Connection, to: &mut rustls::Connection) {
            let mut wire = Vec::new();
            while from.wants_write() {
                from.write_tls(&mut wire).unwrap();
            }
            let mut rest = &wire[..];
            while !rest.is_empty() {
                to.read_tls(&mut rest).unwrap();
                to.process_new_packets().unwrap();
            }
        }
        for _ in 0..10 {
            pass(&mut client, &mut server);
            pass(&mut server, &mut client);
        }
        assert!(!client.is_handshaking() && !server.is_handshaking());
        let negotiated = client.protocol_version().unwrap();
        let client = KernelTls::new(negotiated, &client.dangerous_extract_secrets().unwrap());
        let server = KernelTls::new(negotiated, &server.dangerous_extract_secrets().unwrap());
        (
            negotiated,
            client.expect("client maps"),
            server.expect("server maps"),
        )
    }

    #[test]
    fn every_suite_maps_and_each_side_receives_what_the_other_sends() {
        let cases = [
            (suite::TLS13_AES_128_GCM_SHA256, 51, 16),
            (suite::TLS13_AES_256_GCM_SHA384, 52, 32),
            (suite::TLS13_CHACHA20_POLY1305_SHA256, 54, 32),
            (suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, 51, 16),
            (suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, 52, 32),
            (suite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, 54, 32),
        ];
        for (suite, cipher, key_len) in cases {
            let (version, client, server) = handshake(suite);
            let number = match version {
                ProtocolVersion::TLSv1_2 => 0x0303,
                _ => 0x0304,
            };
            for (tx, rx) in [(&client.tx, &server.rx), (&server.tx, &client.rx)] {
                let sent = parts(tx);
                assert_eq!(
                    sent,
                    parts(rx),
                    "{suite:?}: one side's tx is the other's rx"
                );
                assert_eq!((sent.0, sent.1), (number, cipher), "{suite:?}");
                assert_eq!(sent.2.len(), key_len, "{suite:?}");
                // One application record went each way after the handshake's own records.
                assert!(u64::from_be_bytes(sent.5) >= 1, "{suite:?}");
            }
            assert_ne!(parts(&client.tx).2, parts(&client.rx).2, "{suite:?}");
        }
    }

    #[test]
    fn control_records_mean_eof_skip_or_error() {
        assert!(matches!(control_record(ALERT, &[1, 0]), Some(Ok(0))));
        let Some(Err(alert)) = control_record(ALERT, &[2, 40]) else {
            panic!("a fatal alert is an error")
        };
        assert_eq!(
            crate::Error::from(alert).code(),
            "ERR_TLS",
            "as in user space"
        );
        assert!(control_record(HANDSHAKE, &[NEW_SESSION_TICKET, 0, 0, 1, 9]).is_none());
        let update = control_record(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0]);
        assert!(matches!(update, Some(Err(e)) if e.to_string().contains("KeyUpdate")));
        assert!(matches!(control_record(HANDSHAKE, &[]), Some(Err(_))));
        assert!(matches!(control_record(ALERT, &[]), Some(Err(_))));
        assert!(matches!(control_record(99, &[1]), Some(Err(_))));
    }

    #[test]
    fn the_ulp_probe_follows_what_the_kernel_lists() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let tcp = TcpStream::from_std(client);
        let listed = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_available_ulp")
            .unwrap_or_default()
            .split_whitespace()
            .any(|u| u == "tls");
        let result = attach(&tcp);
        if listed {
            assert!(
                result.is_ok(),
                "tls is listed, yet TCP_ULP failed: {result:?}"
            );
        } else if !std::path::Path::new("/lib/modules").exists() {
            // No module to load on demand either.
            assert!(result.is_err(), "no tls ULP here, yet TCP_ULP was accepted");
        }
    }
}
