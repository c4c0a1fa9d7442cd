//! TLS options from JS (`serve('tls://…', h, { tls })`, `client.dial('tls://…', { tls })`) to
//! the engine's [`riptide::TlsServerOptions`] / [`riptide::TlsClientOptions`]. The TS layer
//! checks keys and types and fills defaults; PEM parsing and key checks happen here, before
//! anything is bound. Key bytes are never formatted into a message.

use napi::bindgen_prelude::Uint8Array;
use napi::Env;
use napi_derive::napi;
use riptide::{
    StreamLayerFactory, TlsClientContext, TlsClientOptions, TlsServerOptions, TlsSniCertificate,
};

/// A `tls://` listener's certificate and options.
#[napi(object)]
pub struct NativeTlsServer {
    /// Certificate chain, PEM.
    pub cert: Uint8Array,
    /// Private key, PEM.
    pub key: Uint8Array,
    /// Certificates chosen by SNI; `cert` and `key` serve every other name.
    pub sni: Vec<NativeSniCertificate>,
    /// ALPN protocols, most preferred first.
    pub alpn: Vec<String>,
    /// CAs client certificates must lead to (`requestCert`); none: no client certificates.
    pub client_ca: Option<Vec<Uint8Array>>,
    /// ms the handshake may take.
    pub handshake_timeout: f64,
    /// Hand the record keys to the kernel after the handshake where it can take them.
    pub ktls: bool,
    /// The most connections held mid-handshake; none: no bound but the connection caps.
    pub max_handshakes: Option<u32>,
}

/// A certificate a listener serves to clients asking for `name`.
#[napi(object)]
pub struct NativeSniCertificate {
    /// A DNS name, or `*.` and one.
    pub name: String,
    /// Certificate chain, PEM.
    pub cert: Uint8Array,
    /// Private key, PEM.
    pub key: Uint8Array,
}

/// A `tls://` client's trust and options (the server name comes with each dial).
#[napi(object)]
pub struct NativeTlsClient {
    /// CA certificates, PEM.
    pub ca: Vec<Uint8Array>,
    /// ALPN protocols, most preferred first.
    pub alpn: Vec<String>,
    /// `false`: any certificate is accepted (tests).
    pub reject_unauthorized: bool,
    /// The client certificate chain presented when a server asks (mutual TLS), PEM.
    pub cert: Option<Uint8Array>,
    /// The client certificate's private key, PEM.
    pub key: Option<Uint8Array>,
    /// ms the handshake may take.
    pub handshake_timeout: f64,
    /// Hand the record keys to the kernel after the handshake where it can take them.
    pub ktls: bool,
}

/// What a finished TLS handshake negotiated (`conn.alpnProtocol`).
#[napi(object)]
pub struct NativeTlsInfo {
    /// The agreed ALPN protocol, if any.
    pub alpn_protocol: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// Whether the handshake resumed an earlier session.
    pub resumed: bool,
    /// Whether the kernel carries the records (`conn.tlsKernel`).
    pub kernel: bool,
}

/// A checked client TLS configuration: a JS `Client`'s own `tls`, or one dial's. Dials from
/// one context share its session cache, so a second dial to a server resumes.
#[napi]
pub struct NativeTlsContext {
    context: TlsClientContext,
}

#[napi]
impl NativeTlsContext {
    /// Checks `options` (PEM, CA certificates, the client certificate and its key) and builds
    /// the configuration; throws `ERR_INVALID_ARG_VALUE`.
    #[napi(constructor)]
    pub fn new(env: Env, options: NativeTlsClient) -> napi::Result<NativeTlsContext> {
        let handshake_timeout =
            crate::millis::millis("tls.handshakeTimeout", options.handshake_timeout);
        handshake_timeout
            .and_then(|handshake_timeout| {
                TlsClientOptions {
                    ca_pem: options.ca.iter().map(|c| c.to_vec()).collect(),
                    servername: String::new(),
                    alpn: protocols(&options.alpn),
                    reject_unauthorized: options.reject_unauthorized,
                    cert_pem: options.cert.as_ref().map(|c| c.to_vec()),
                    key_pem: options.key.as_ref().map(|k| k.to_vec()),
                    handshake_timeout,
                    ktls: options.ktls,
                }
                .context()
            })
            .map(|context| NativeTlsContext { context })
            .map_err(|e| crate::throw(&env, e))
    }
}

#[napi]
impl NativeTlsContext {
    /// The TLS of dials to `servername` (SNI and the name the certificate must be valid
    /// for); throws `ERR_INVALID_ARG_VALUE` for a name that is neither a DNS name nor an IP.
    #[napi]
    pub fn for_server(&self, env: Env, servername: String) -> napi::Result<NativeTlsDial> {
        self.context
            .factory(&servername)
            .map(|factory| NativeTlsDial { factory })
            .map_err(|e| crate::throw(&env, e))
    }
}

/// The TLS of dials to one server name, sharing its context's session cache.
#[napi]
pub struct NativeTlsDial {
    factory: StreamLayerFactory,
}

impl NativeTlsDial {
    /// The layer factory of a dial.
    pub fn factory(&self) -> StreamLayerFactory {
        self.factory.clone()
    }
}

fn protocols(alpn: &[String]) -> Vec<Vec<u8>> {
    alpn.iter().map(|p| p.as_bytes().to_vec()).collect()
}

impl NativeTlsServer {
    /// The engine's form of these options (PEM is checked when a configuration is built).
    pub fn options(&self) -> Result<TlsServerOptions, riptide::Error> {
        Ok(TlsServerOptions {
            cert_pem: self.cert.to_vec(),
            key_pem: self.key.to_vec(),
            sni: self
                .sni
                .iter()
                .map(|s| TlsSniCertificate {
                    name: s.name.clone(),
                    cert_pem: s.cert.to_vec(),
                    key_pem: s.key.to_vec(),
                })
                .collect(),
            alpn: protocols(&self.alpn),
            client_ca_pem: self
                .client_ca
                .as_ref()
                .map(|list| list.iter().map(|c| c.to_vec()).collect()),
            handshake_timeout: crate::millis::millis(
                "tls.handshakeTimeout",
                self.handshake_timeout,
            )?,
            ktls: self.ktls,
            max_handshakes: self.max_handshakes.map(|n| n as usize),
        })
    }
}

/// The transport URL of `url` given whether it comes with TLS options: a `tls://` URL must
/// (its transport is the `tcp://` underneath), and TLS options on a plain URL run TLS over
/// it, which only a byte stream (`tcp://`, `unix://`) can carry.
pub fn transport(url: &str, has_tls: bool) -> Result<String, riptide::Error> {
    match (riptide::tls_transport(url), has_tls) {
        (Some(tcp), true) => Ok(tcp),
        (None, false) => Ok(url.to_string()),
        (Some(_), false) => Err(riptide::Error::InvalidOption(format!(
            "{url:?} is a tls:// address without tls options"
        ))),
        (None, true) if is_stream(url) => Ok(url.to_string()),
        (None, true) => Err(riptide::Error::InvalidOption(format!(
            "tls options given for {url:?}: TLS runs over tls://, tcp:// or unix:// only"
        ))),
    }
}

/// Whether `url` names a byte stream TLS can run over.
fn is_stream(url: &str) -> bool {
    let scheme = url.split("://").next().unwrap_or_default();
    ["tcp", "tcp4", "tcp6", "unix"]
        .iter()
        .any(|s| scheme.eq_ignore_ascii_case(s))
        && url.contains("://")
}
