//! Listen and dial addresses in gnet's URL form (`tcp://127.0.0.1:9000`), parsed once into
//! socket addresses so bad input fails before any socket is made.

use crate::Error;
use std::net::{SocketAddr, ToSocketAddrs};

/// A parsed `scheme://host:port` address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Address {
    /// The transport named by the scheme.
    pub network: Network,
    /// The resolved socket address (the first one that matches the scheme's family).
    pub addr: SocketAddr,
}

/// Transports an address can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// TCP over IPv4 or IPv6 (`tcp://`, `tcp4://`, `tcp6://`).
    Tcp,
}

/// Which address family a scheme allows.
#[derive(Clone, Copy)]
enum Family {
    Any,
    V4,
    V6,
}

impl Address {
    /// Parses `tcp://host:port`, `tcp4://host:port` or `tcp6://[host]:port`. Names such as
    /// `localhost` are resolved; port 0 asks the OS for an ephemeral port.
    pub fn parse(url: &str) -> Result<Address, Error> {
        let bad = |why: &str| Error::InvalidAddress(format!("{url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected scheme://host:port"))?;
        let (network, family) = match scheme {
            "tcp" => (Network::Tcp, Family::Any),
            "tcp4" => (Network::Tcp, Family::V4),
            "tcp6" => (Network::Tcp, Family::V6),
            _ => return Err(bad("unsupported scheme (expected tcp, tcp4 or tcp6)")),
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
        Ok(Address { network, addr })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tcp_forms() {
        let a = Address::parse("tcp://127.0.0.1:9000").unwrap();
        assert_eq!(a.network, Network::Tcp);
        assert_eq!(a.addr, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(
            Address::parse("tcp6://[::1]:0").unwrap().addr,
            "[::1]:0".parse().unwrap()
        );
        assert_eq!(
            Address::parse("tcp://:80").unwrap().addr,
            "0.0.0.0:80".parse().unwrap()
        );
        assert!(Address::parse("tcp4://localhost:1").unwrap().addr.is_ipv4());
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
        ] {
            let err = Address::parse(bad).unwrap_err();
            assert_eq!(err.code(), "ERR_INVALID_ADDRESS", "{bad}");
        }
    }
}
