//! A load-generator connection: plain TCP, or TLS over TCP with rustls (workloads T1 and T2).
//!
//! The TLS client checks neither the server's certificate chain nor its handshake signature
//! ([`AcceptAnyServer`]): it is a load generator on loopback, and skipping those checks keeps
//! its share of the handshake below the server's (ECDSA verification costs more than signing),
//! so the client does not become the bottleneck of a connection-rate run. The server still
//! does all of its own work. Session resumption is off, so every connection is a full
//! handshake.

use crate::clients::{read_until_blocked, ReadEnd};
use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme};
use std::io::{self, Read, Write};
use std::sync::Arc;

/// The server name sent as SNI (the bench certificate is issued for it).
const SERVER_NAME: &str = "localhost";

/// One connection of a load run.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// TLS over TCP; boxed because rustls's connection state is large.
    Tls(Box<TlsStream>),
}

/// A rustls client connection and its socket.
pub struct TlsStream {
    tcp: TcpStream,
    tls: ClientConnection,
}

impl Stream {
    /// `tcp` wrapped in a TLS client of `config` when one is given; the handshake starts with
    /// the first [`Stream::push`].
    pub fn new(tcp: TcpStream, config: Option<&Arc<ClientConfig>>) -> Result<Stream, String> {
        Ok(match config {
            None => Stream::Plain(tcp),
            Some(config) => {
                let name = ServerName::try_from(SERVER_NAME).expect("literal server name");
                let tls = ClientConnection::new(Arc::clone(config), name)
                    .map_err(|e| format!("TLS client: {e}"))?;
                Stream::Tls(Box::new(TlsStream { tcp, tls }))
            }
        })
    }

    /// Writes what it can of `data` now and returns how much was taken. Over TLS all of it is
    /// taken into rustls (records go out with [`Stream::push`], which this calls).
    pub fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => match tcp.write(data) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
                other => other,
            },
            Stream::Tls(s) => {
                let n = s.tls.writer().write(data)?;
                self.push()?;
                Ok(n)
            }
        }
    }

    /// Sends the TLS records waiting in rustls (handshake messages, encrypted requests) until
    /// the socket would block. Nothing to do for plain TCP.
    pub fn push(&mut self) -> io::Result<()> {
        let Stream::Tls(s) = self else { return Ok(()) };
        while s.tls.wants_write() {
            match s.tls.write_tls(&mut s.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads everything the socket has now (polling is edge-triggered) and appends the
    /// plaintext to `inbuf`, through the scratch buffer `buf`.
    pub fn read_available(
        &mut self,
        buf: &mut [u8],
        inbuf: &mut Vec<u8>,
    ) -> Result<ReadEnd, String> {
        match self {
            Stream::Plain(tcp) => read_until_blocked(tcp, buf, inbuf),
            Stream::Tls(s) => {
                let end = s.read_available(buf, inbuf)?;
                // Processing the server's flight may leave handshake messages to send.
                self.push().map_err(|e| format!("write: {e}"))?;
                Ok(end)
            }
        }
    }

    /// The negotiated protocol version and cipher suite, e.g. `TLSv1_3 TLS13_AES_256_GCM_SHA384`
    /// (`None` for plain TCP or before the handshake completes).
    pub fn negotiated(&self) -> Option<String> {
        let Stream::Tls(s) = self else { return None };
        let version = s.tls.protocol_version()?;
        let suite = s.tls.negotiated_cipher_suite()?;
        Some(format!("{version:?} {:?}", suite.suite()))
    }
}

impl TlsStream {
    fn read_available(&mut self, buf: &mut [u8], inbuf: &mut Vec<u8>) -> Result<ReadEnd, String> {
        loop {
            let eof = match self.tls.read_tls(&mut self.tcp) {
                Ok(0) => true,
                Ok(_) => false,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(ReadEnd::Drained),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("read: {e}")),
            };
            self.tls
                .process_new_packets()
                .map_err(|e| format!("TLS: {e}"))?;
            loop {
                match self.tls.reader().read(buf) {
                    Ok(0) => return Ok(ReadEnd::Closed),
                    Ok(n) => inbuf.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    // The TCP stream ended without close_notify.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                        return Ok(ReadEnd::Closed)
                    }
                    Err(e) => return Err(format!("TLS read: {e}")),
                }
            }
            if eof {
                return Ok(ReadEnd::Closed);
            }
        }
    }
}

/// The load generator's TLS client configuration: the ring provider's defaults (TLS 1.3 and
/// 1.2), no resumption, and no checks of the server's certificate (see the module doc).
pub fn client_config() -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    Arc::new(config)
}

/// A certificate verifier that accepts every server: only for this load generator on
/// loopback (see the module doc).
#[derive(Debug)]
struct AcceptAnyServer(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
