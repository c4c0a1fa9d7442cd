//! Listen and dial addresses in gnet's URL form (`tcp://127.0.0.1:9000`, `unix:///tmp/s.sock`),
//! parsed once so bad input fails before any socket is made.

use crate::Error;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// A parsed address: the transport and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// `tcp://`, `tcp4://`, `tcp6://`.
    Tcp(SocketAddr),
    /// `udp://`, `udp4://`, `udp6://`.
    Udp(SocketAddr),
    /// `unix://path` (`unix:///abs/path` or `unix://rel/path`).
    Unix(PathBuf),
    /// `kcp://`, `kcp4://`, `kcp6://`: KCP sessions over UDP.
    Kcp(SocketAddr),
    /// `webrtc://`, `webrtc4://`, `webrtc6://`: WebRTC data channels on the UDP port, their
    /// HTTP signalling on the TCP port of the same address.
    WebRtc(SocketAddr),
}

/// Which transport a scheme names.
#[derive(Clone, Copy)]
enum Transport {
    Tcp,
    Udp,
    Kcp,
    WebRtc,
}

/// Which address family a scheme allows.
#[derive(Clone, Copy)]
enum Family {
    Any,
    V4,
    V6,
}

impl Address {
    /// Parses a URL. Names such as `localhost` are resolved; port 0 asks for an ephemeral port.
    pub fn parse(url: &str) -> Result<Address, Error> {
        let bad = |why: &str| Error::InvalidAddress(format!("{url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host:port"))?;
        let (transport, family) = match scheme {
            "tcp" => (Transport::Tcp, Family::Any),
            "tcp4" => (Transport::Tcp, Family::V4),
            "tcp6" => (Transport::Tcp, Family::V6),
            "udp" => (Transport::Udp, Family::Any),
            "udp4" => (Transport::Udp, Family::V4),
            "udp6" => (Transport::Udp, Family::V6),
            "kcp" => (Transport::Kcp, Family::Any),
            "kcp4" => (Transport::Kcp, Family::V4),
            "kcp6" => (Transport::Kcp, Family::V6),
            "webrtc" => (Transport::WebRtc, Family::Any),
            "webrtc4" => (Transport::WebRtc, Family::V4),
            "webrtc6" => (Transport::WebRtc, Family::V6),
            "unix" => {
                if rest.is_empty() || rest.contains('\0') {
                    return Err(bad("unix:// needs a socket path"));
                }
                return Ok(Address::Unix(PathBuf::from(rest)));
            }
            _ => return Err(bad(
                "unsupported scheme (expected tcp, udp, kcp or webrtc (each with 4/6 variants), or unix)",
            )),
        };
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("missing :port"))?;
        let port: u16 = port.parse().map_err(|_| bad("port must be 0-65535"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let host = match (host, family) {
            ("", Family::V6) => "::",
            ("", _) => "0.0.0.0",
            (h, _) => h,
        };
        if host.contains(['/', '?', '#', ' ']) {
            return Err(bad("malformed host"));
        }
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|_| bad("host does not resolve"))?
            .find(|a| match family {
                Family::Any => true,
                Family::V4 => a.is_ipv4(),
                Family::V6 => a.is_ipv6(),
            })
            .ok_or_else(|| bad("no address of the scheme's family"))?;
        Ok(match transport {
            Transport::Tcp => Address::Tcp(addr),
            Transport::Udp => Address::Udp(addr),
            Transport::Kcp => Address::Kcp(addr),
            Transport::WebRtc => Address::WebRtc(addr),
        })
    }
}

/// The `tcp://` URL under a `tls://`, `tls4://` or `tls6://` one (`tls://h:443` gives
/// `tcp://h:443`); `None` for any other scheme. TLS is a stream layer, not a transport: a
/// `tls://` listener or dial is a `tcp://` one with a TLS layer
/// ([`crate::TlsServerOptions::factory`], [`crate::TlsClientOptions::factory`]) at the bottom.
pub fn tls_transport(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let family = scheme.strip_prefix("tls")?;
    matches!(family, "" | "4" | "6").then(|| format!("tcp{family}://{rest}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        let tcp = |s: &str| Address::Tcp(s.parse().unwrap());
        assert_eq!(
            Address::parse("tcp://127.0.0.1:9000").unwrap(),
            tcp("127.0.0.1:9000")
        );
        assert_eq!(Address::parse("tcp6://[::1]:0").unwrap(), tcp("[::1]:0"));
        assert_eq!(Address::parse("tcp://:80").unwrap(), tcp("0.0.0.0:80"));
        assert!(
            matches!(Address::parse("tcp4://localhost:1").unwrap(), Address::Tcp(a) if a.is_ipv4())
        );
        assert_eq!(
            Address::parse("udp://127.0.0.1:53").unwrap(),
            Address::Udp("127.0.0.1:53".parse().unwrap())
        );
        assert_eq!(
            Address::parse("kcp://127.0.0.1:7000").unwrap(),
            Address::Kcp("127.0.0.1:7000".parse().unwrap())
        );
        assert_eq!(
            Address::parse("webrtc://127.0.0.1:9208").unwrap(),
            Address::WebRtc("127.0.0.1:9208".parse().unwrap())
        );
        assert_eq!(
            Address::parse("unix:///tmp/r.sock").unwrap(),
            Address::Unix("/tmp/r.sock".into())
        );
    }

    #[test]
    fn tls_urls_are_tcp_underneath() {
        assert_eq!(
            tls_transport("tls://127.0.0.1:443").as_deref(),
            Some("tcp://127.0.0.1:443")
        );
        assert_eq!(
            tls_transport("tls6://[::1]:0").as_deref(),
            Some("tcp6://[::1]:0")
        );
        for other in ["tcp://127.0.0.1:1", "tlsx://a:1", "tls:/a:1", "kcp://a:1"] {
            assert_eq!(tls_transport(other), None, "{other}");
        }
        // What stays is still parsed (and refused) as an address.
        assert!(Address::parse("tls://127.0.0.1:1").is_err());
    }

    #[test]
    fn rejects_bad_input_with_invalid_address() {
        for bad in [
            "127.0.0.1:80",
            "http://127.0.0.1:80",
            "tcp://127.0.0.1",
            "tcp://127.0.0.1:65536",
            "tcp://127.0.0.1:-1",
            "tcp4://[::1]:80",
            "tcp://no such host:80",
            "tcp://a/b:80",
            "unix://",
            "udp6://127.0.0.1:1",
            "kcp6://127.0.0.1:1",
            "kcp://",
        ] {
            let err = Address::parse(bad).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ADDRESS", "{bad}");
        }
    }
}
