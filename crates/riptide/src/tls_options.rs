//! What a TLS listener or dial is configured with, and the rustls configurations built from
//! it once per listener or dial (each connection then gets its own [`TlsLayer`]).
//!
//! The crypto provider is rustls' `ring` one: `ring` is already in the dependency tree (snow,
//! under the secure KCP mode, uses it), so TLS costs no second C/assembly build. TLS 1.2 and
//! 1.3 only.

use crate::layer::{StreamLayer, StreamLayerFactory};
use crate::tls_layer::TlsLayer;
use crate::tls_sni::{certificates, certified_key, invalid, SniResolver, TlsSniCertificate};
use crate::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::SingleCertAndKey;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a handshake may take unless told otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A TLS server's certificate, key and negotiation options.
#[derive(Clone, Debug)]
pub struct TlsServerOptions {
    /// The certificate chain, PEM, leaf first.
    pub cert_pem: Vec<u8>,
    /// The leaf's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
    /// Certificates chosen by the server name the client asks for; `cert_pem` and `key_pem`
    /// are the default for any other name or none.
    pub sni: Vec<TlsSniCertificate>,
    /// ALPN protocols offered, most preferred first (empty: no ALPN).
    pub alpn: Vec<Vec<u8>>,
    /// When set, clients must present a certificate issued by one of these CAs (PEM).
    pub client_ca_pem: Option<Vec<Vec<u8>>>,
    /// How long the handshake may take before the connection closes with
    /// `ERR_TLS_HANDSHAKE`.
    pub handshake_timeout: Duration,
    /// Kernel TLS: after the handshake, hand the record keys to the kernel where it has the
    /// `tls` module (Linux), else keep user-space records ([`crate::TlsInfo::kernel`] says
    /// which). `false` by default.
    pub ktls: bool,
    /// The most connections the listener holds mid-handshake (on all its reactors); one
    /// accepted beyond it closes at once with `ERR_TLS_HANDSHAKE` (a failed handshake: counted
    /// and reported as one). Bounds the CPU and memory a flood of handshakes can take. `None`:
    /// only the connection caps bound them.
    pub max_handshakes: Option<usize>,
}

/// How many TLS 1.2 sessions a listener remembers for resumption by session ID (TLS 1.3
/// and TLS 1.2 clients supporting tickets resume from a ticket and need no server memory).
pub const SERVER_SESSION_CACHE: usize = 1024;

/// How many servers' sessions a [`TlsClientContext`] keeps for resumption.
pub const CLIENT_SESSION_CACHE: usize = 256;

/// A TLS client's trust anchors and negotiation options.
#[derive(Clone, Debug)]
pub struct TlsClientOptions {
    /// CA certificates (PEM, each may hold several) the server's chain must lead to.
    pub ca_pem: Vec<Vec<u8>>,
    /// The name sent as SNI and verified against the certificate (a DNS name or an IP).
    pub servername: String,
    /// ALPN protocols offered, most preferred first (empty: no ALPN).
    pub alpn: Vec<Vec<u8>>,
    /// `false` accepts any server certificate (signatures are still checked): for tests
    /// only, it gives no protection against an active attacker.
    pub reject_unauthorized: bool,
    /// The client certificate chain presented to a server that asks for one (mutual TLS),
    /// PEM, leaf first; given with `key_pem` or not at all.
    pub cert_pem: Option<Vec<u8>>,
    /// The client certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1); given with
    /// `cert_pem` or not at all.
    pub key_pem: Option<Vec<u8>>,
    /// How long the handshake may take before the connection closes with
    /// `ERR_TLS_HANDSHAKE`.
    pub handshake_timeout: Duration,
    /// Kernel TLS: after the handshake, hand the record keys to the kernel where it has the
    /// `tls` module (Linux), else keep user-space records ([`crate::TlsInfo::kernel`] says
    /// which). `false` by default.
    pub ktls: bool,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

fn roots(what: &str, pems: &[Vec<u8>]) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    for cert in certificates(what, pems)? {
        store.add(cert).map_err(|e| invalid(what, e))?;
    }
    Ok(store)
}

impl TlsServerOptions {
    /// Options with the default handshake timeout and neither SNI certificates, ALPN nor
    /// client certificates.
    pub fn new(cert_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> TlsServerOptions {
        TlsServerOptions {
            cert_pem: cert_pem.into(),
            key_pem: key_pem.into(),
            sni: Vec::new(),
            alpn: Vec::new(),
            client_ca_pem: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            ktls: false,
            max_handshakes: None,
        }
    }

    /// The validated rustls configuration.
    pub fn config(&self) -> Result<Arc<rustls::ServerConfig>, Error> {
        if self.max_handshakes == Some(0) {
            return Err(invalid("maxHandshakes", "must be at least 1"));
        }
        let provider = provider();
        let default = certified_key("", &self.cert_pem, &self.key_pem, &provider)?;
        let resolver = SniResolver::new(default, &self.sni, &provider)?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| invalid("versions", e))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pems) => builder.with_client_cert_verifier(
                rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots("ca", pems)?),
                    provider.clone(),
                )
                .build()
                .map_err(|e| invalid("ca", e))?,
            ),
        };
        let mut config = builder.with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = self.alpn.clone();
        config.session_storage =
            rustls::server::ServerSessionMemoryCache::new(SERVER_SESSION_CACHE);
        // Ticket keys rotate every 6 hours; a ticket stays good for one rotation more.
        config.ticketer =
            rustls::crypto::ring::Ticketer::new().map_err(|e| invalid("tickets", e))?;
        // Tickets stay on with kernel TLS: a TLS 1.3 server sends them with the handshake's
        // last flight, which leaves before the keys go to the kernel.
        config.enable_secret_extraction = self.ktls;
        Ok(Arc::new(config))
    }

    /// A layer factory for a listener: the configuration is built (and checked) once here.
    pub fn factory(&self) -> Result<StreamLayerFactory, Error> {
        Ok(TlsServerContext::new(self)?.factory())
    }
}

/// What a listener serves new connections: the rustls configuration, the handshake timeout
/// and the bound on handshakes in progress.
type Current = (Arc<rustls::ServerConfig>, Duration, Option<usize>);

/// A listener's TLS configuration, replaceable while it serves: connections accepted after
/// [`TlsServerContext::set`] use the new certificates and options, open ones keep theirs.
/// Clones share one configuration and one count of handshakes in progress.
#[derive(Clone, Debug)]
pub struct TlsServerContext {
    current: Arc<Mutex<Current>>,
    /// Connections mid-handshake (counted against `max_handshakes`, kept across `set`).
    handshaking: Arc<AtomicUsize>,
}

impl TlsServerContext {
    /// A context serving `options` (built and checked here).
    pub fn new(options: &TlsServerOptions) -> Result<TlsServerContext, Error> {
        Ok(TlsServerContext {
            current: Arc::new(Mutex::new(TlsServerContext::current(options)?)),
            handshaking: Arc::new(AtomicUsize::new(0)),
        })
    }

    fn current(options: &TlsServerOptions) -> Result<Current, Error> {
        Ok((
            options.config()?,
            options.handshake_timeout,
            options.max_handshakes,
        ))
    }

    /// Serves `options` to connections accepted from now on. On an error (checked before
    /// anything changes) the current configuration stays. Sessions issued before do not
    /// resume: the new configuration has its own ticket keys and session cache. Handshakes
    /// in progress count against the new `max_handshakes`.
    pub fn set(&self, options: &TlsServerOptions) -> Result<(), Error> {
        let next = TlsServerContext::current(options)?;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }

    /// A layer factory for a listener: each connection gets the configuration current when it
    /// is accepted.
    pub fn factory(&self) -> StreamLayerFactory {
        let (current, handshaking) = (self.current.clone(), self.handshaking.clone());
        Arc::new(move || {
            let (config, timeout, max) = current.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let layer = TlsLayer::server(config, timeout);
            Box::new(match max {
                Some(max) => layer.bounded(&handshaking, max),
                None => layer,
            }) as Box<dyn StreamLayer>
        })
    }
}

impl TlsClientOptions {
    /// Options trusting `ca_pem` for `servername`, with the default handshake timeout and
    /// neither ALPN nor a client certificate.
    pub fn new(ca_pem: impl Into<Vec<u8>>, servername: impl Into<String>) -> TlsClientOptions {
        TlsClientOptions {
            ca_pem: vec![ca_pem.into()],
            servername: servername.into(),
            alpn: Vec::new(),
            reject_unauthorized: true,
            cert_pem: None,
            key_pem: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            ktls: false,
        }
    }

    /// The validated rustls configuration and the server name.
    pub fn config(&self) -> Result<(Arc<rustls::ClientConfig>, ServerName<'static>), Error> {
        let name = server_name(&self.servername)?;
        Ok((self.context()?.config, name))
    }

    /// The validated configuration for dials to any server name (`servername` is not used):
    /// dials from one context share its session cache. A client certificate without its key
    /// (or the reverse), unreadable PEM and a key that does not match the certificate are
    /// `ERR_INVALID_ARG_VALUE`.
    pub fn context(&self) -> Result<TlsClientContext, Error> {
        let provider = provider();
        let identity = match (&self.cert_pem, &self.key_pem) {
            (None, None) => None,
            (Some(cert), Some(key)) => Some(certified_key("", cert, key, &provider)?),
            (Some(_), None) => return Err(invalid("cert", "given without key")),
            (None, Some(_)) => return Err(invalid("key", "given without cert")),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(VERSIONS)
            .map_err(|e| invalid("versions", e))?;
        let builder = if self.reject_unauthorized {
            builder.with_root_certificates(roots("ca", &self.ca_pem)?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        };
        let mut config = match identity {
            None => builder.with_no_client_auth(),
            Some(key) => builder.with_client_cert_resolver(Arc::new(SingleCertAndKey::from(key))),
        };
        config.alpn_protocols = self.alpn.clone();
        config.resumption = rustls::client::Resumption::in_memory_sessions(CLIENT_SESSION_CACHE);
        config.enable_secret_extraction = self.ktls;
        Ok(TlsClientContext {
            config: Arc::new(config),
            timeout: self.handshake_timeout,
        })
    }

    /// A layer factory for a dial: the configuration is built (and checked) once here.
    pub fn factory(&self) -> Result<StreamLayerFactory, Error> {
        let name = server_name(&self.servername)?;
        self.context()?.factory(&name.to_str())
    }
}

fn server_name(name: &str) -> Result<ServerName<'static>, Error> {
    ServerName::try_from(name.to_string()).map_err(|e| invalid("servername", e))
}

/// A checked TLS client configuration for any number of dials to any servers. Dials made from
/// one context (or its clones) share its session cache: a second dial to a server resumes
/// the session of an earlier one instead of a full handshake. rustls only resumes a session
/// under the configuration (trust settings) that made it, and a context has one client
/// identity (certificate or none): a session made with one client certificate is never
/// offered under another.
#[derive(Clone, Debug)]
pub struct TlsClientContext {
    config: Arc<rustls::ClientConfig>,
    timeout: Duration,
}

impl TlsClientContext {
    /// A layer factory for dials to `servername`, the name sent as SNI and checked against
    /// the server's certificate (a DNS name or an IP).
    pub fn factory(&self, servername: &str) -> Result<StreamLayerFactory, Error> {
        let name = server_name(servername)?;
        let (config, timeout) = (self.config.clone(), self.timeout);
        Ok(Arc::new(move || {
            Box::new(TlsLayer::client(config.clone(), name.clone(), timeout))
                as Box<dyn StreamLayer>
        }))
    }
}

/// `rejectUnauthorized: false`: any certificate is accepted, but the handshake signatures
/// are still verified with it.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
