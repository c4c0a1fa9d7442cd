//! The server certificate a TLS listener presents: a default one, and more chosen by the
//! server name (SNI) the client asks for. Names match exactly (ASCII case-insensitive) or
//! through a `*.example.org` entry covering exactly one more label; a client naming no
//! configured name, or none at all, gets the default.

use crate::Error;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, DnsName, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::HashMap;
use std::sync::Arc;

/// A certificate served to clients asking for `name` by SNI.
#[derive(Clone, Debug)]
pub struct TlsSniCertificate {
    /// A DNS name (`api.example.org`) or a wildcard one label deep (`*.example.org`).
    pub name: String,
    /// The certificate chain, PEM, leaf first.
    pub cert_pem: Vec<u8>,
    /// The leaf's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: Vec<u8>,
}

pub(crate) fn invalid(what: &str, why: impl std::fmt::Display) -> Error {
    Error::InvalidOption(format!("tls {what}: {why}"))
}

/// Every certificate in `pems`, in order; an error when there is none or one is malformed.
pub(crate) fn certificates(
    what: &str,
    pems: &[Vec<u8>],
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut out = Vec::new();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem) {
            out.push(cert.map_err(|e| invalid(what, e))?);
        }
    }
    if out.is_empty() {
        return Err(invalid(what, "no PEM certificate found"));
    }
    Ok(out)
}

/// A chain and its key, checked to belong together. `what` names the option in errors.
pub(crate) fn certified_key(
    what: &str,
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, Error> {
    let chain = certificates(&format!("{what}cert"), &[cert_pem.to_vec()])?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid(&format!("{what}key"), e))?;
    let certified = CertifiedKey::from_der(chain, key, provider)
        .map_err(|e| invalid(&format!("{what}cert/key"), e))?;
    Ok(Arc::new(certified))
}

/// The default certificate and those chosen by SNI.
#[derive(Debug)]
pub(crate) struct SniResolver {
    default: Arc<CertifiedKey>,
    names: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    /// Checks every name, chain and key; a name given twice is an error.
    pub(crate) fn new(
        default: Arc<CertifiedKey>,
        sni: &[TlsSniCertificate],
        provider: &CryptoProvider,
    ) -> Result<SniResolver, Error> {
        let mut names = HashMap::new();
        for entry in sni {
            let name = entry.name.to_ascii_lowercase();
            let what = format!("sni[{:?}]", entry.name);
            let dns = name.strip_prefix("*.").unwrap_or(&name);
            if DnsName::try_from(dns).is_err() || dns.contains('*') {
                return Err(invalid(
                    &what,
                    "not a DNS name or a *.wildcard one label deep",
                ));
            }
            let key = certified_key(
                &format!("{what}."),
                &entry.cert_pem,
                &entry.key_pem,
                provider,
            )?;
            if names.insert(name, key).is_some() {
                return Err(invalid(&what, "name given twice"));
            }
        }
        Ok(SniResolver { default, names })
    }

    /// The certificate for a requested server name: exact, then `*.parent`, then none.
    fn lookup(&self, name: &str) -> Option<&Arc<CertifiedKey>> {
        let name = name.to_ascii_lowercase();
        self.names.get(&name).or_else(|| {
            let (_, parent) = name.split_once('.')?;
            self.names.get(&format!("*.{parent}"))
        })
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = hello.server_name().and_then(|name| self.lookup(name));
        Some(chosen.unwrap_or(&self.default).clone())
    }
}
