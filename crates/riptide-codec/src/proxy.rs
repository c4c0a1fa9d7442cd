//! PROXY protocol v1 (text) and v2 (binary) headers, as HAProxy's specification defines them:
//! the original client and server addresses a load balancer puts in front of a connection.

use crate::FrameError;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which header versions a listener accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProxyMode {
    /// Only the text form.
    V1,
    /// Only the binary form.
    V2,
    /// Either.
    Any,
}

/// A parsed header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxyHeader {
    /// The original client (`None` for `UNKNOWN`/`LOCAL` or non-IP families).
    pub source: Option<SocketAddr>,
    /// The address the client connected to.
    pub destination: Option<SocketAddr>,
    /// v2 type-length-value extensions, in order (`(type, value)`).
    pub tlvs: Vec<(u8, Vec<u8>)>,
}

/// The result of looking at the first bytes of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProxyParse {
    /// More bytes are needed.
    NeedMore,
    /// A header of `consumed` bytes.
    Done {
        /// Bytes the header took.
        consumed: usize,
        /// What it said.
        header: ProxyHeader,
    },
}

const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
/// The longest v1 header, line break included (the specification's limit).
const V1_MAX: usize = 107;

fn bad(why: &str) -> FrameError {
    FrameError::Proxy(format!("PROXY protocol: {why}"))
}

/// Parses a header at the front of `buf`, never reading past what it declares.
pub fn parse_proxy(buf: &[u8], mode: ProxyMode) -> Result<ProxyParse, FrameError> {
    // `buf` is a prefix of the signature (or the other way round) when they agree on the
    // bytes both have.
    let starts_like = |sig: &[u8]| buf.iter().zip(sig).all(|(a, b)| a == b);
    let v2_prefix = starts_like(V2_SIGNATURE);
    let v1_prefix = starts_like(b"PROXY ");
    match (mode, v2_prefix, v1_prefix) {
        (ProxyMode::V2 | ProxyMode::Any, true, _) => parse_v2(buf),
        (ProxyMode::V1 | ProxyMode::Any, _, true) => parse_v1(buf),
        _ => Err(bad("no header where one is required")),
    }
}

fn parse_v1(buf: &[u8]) -> Result<ProxyParse, FrameError> {
    let window = buf.get(..V1_MAX).unwrap_or(buf);
    let Some(end) = window.windows(2).position(|w| w == b"\r\n") else {
        return if buf.len() >= V1_MAX {
            Err(bad("v1 header longer than 107 bytes"))
        } else {
            Ok(ProxyParse::NeedMore)
        };
    };
    // The CRLF ends within the first 107 bytes, so `end + 2 <= 107`.
    let consumed = end.saturating_add(2);
    let line = window.get(..end).unwrap_or_default();
    let line = std::str::from_utf8(line).map_err(|_| bad("v1 header is not ASCII"))?;
    let parts: Vec<&str> = line.split(' ').collect();
    let header = match parts.as_slice() {
        ["PROXY", "UNKNOWN", ..] => ProxyHeader::default(),
        ["PROXY", family @ ("TCP4" | "TCP6"), src, dst, sport, dport] => {
            let ip = |s: &str| -> Result<IpAddr, FrameError> {
                let ip: IpAddr = s.parse().map_err(|_| bad("v1 address"))?;
                match (family, ip) {
                    (&"TCP4", IpAddr::V4(_)) | (&"TCP6", IpAddr::V6(_)) => Ok(ip),
                    _ => Err(bad("v1 address of the wrong family")),
                }
            };
            let port = |s: &str| -> Result<u16, FrameError> {
                if s.len() > 1 && s.starts_with('0') {
                    return Err(bad("v1 port with a leading zero"));
                }
                if !s.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad("v1 port is not 1*DIGIT"));
                }
                s.parse().map_err(|_| bad("v1 port"))
            };
            ProxyHeader {
                source: Some(SocketAddr::new(ip(src)?, port(sport)?)),
                destination: Some(SocketAddr::new(ip(dst)?, port(dport)?)),
                tlvs: Vec::new(),
            }
        }
        _ => return Err(bad("malformed v1 header")),
    };
    Ok(ProxyParse::Done { consumed, header })
}

/// `N` bytes of `b` from `at`, or an error naming what was truncated.
fn field<const N: usize>(b: &[u8], at: usize, what: &str) -> Result<[u8; N], FrameError> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or_else(|| bad(what))
}

/// Source and destination addresses of a v2 header: `A` bytes of each address, then the
/// two ports; `(src, dst)` and the bytes after them.
fn v2_addresses<'a, const A: usize>(
    body: &'a [u8],
    ip: impl Fn([u8; A]) -> IpAddr,
    what: &str,
) -> Result<((SocketAddr, SocketAddr), &'a [u8]), FrameError> {
    // A <= 16, so none of these offsets can overflow.
    let ports = A.saturating_mul(2);
    let src = ip(field(body, 0, what)?);
    let dst = ip(field(body, A, what)?);
    let sport = u16::from_be_bytes(field(body, ports, what)?);
    let dport = u16::from_be_bytes(field(body, ports.saturating_add(2), what)?);
    let rest = body.get(ports.saturating_add(4)..).unwrap_or_default();
    Ok((
        (SocketAddr::new(src, sport), SocketAddr::new(dst, dport)),
        rest,
    ))
}

fn parse_v2(buf: &[u8]) -> Result<ProxyParse, FrameError> {
    let Ok([ver_cmd, family, l1, l2]) = field::<4>(buf, 12, "") else {
        return Ok(ProxyParse::NeedMore);
    };
    if ver_cmd >> 4 != 2 {
        return Err(bad("v2 version is not 2"));
    }
    let local = match ver_cmd & 0x0f {
        0 => true,
        1 => false,
        _ => return Err(bad("v2 command is neither LOCAL nor PROXY")),
    };
    // 16 + a u16 length: no overflow.
    let consumed = usize::from(u16::from_be_bytes([l1, l2])).saturating_add(16);
    let Some(body) = buf.get(16..consumed) else {
        return Ok(ProxyParse::NeedMore);
    };
    let (addrs, rest) = match family >> 4 {
        _ if local => (None, body),
        1 => {
            let (a, rest) = v2_addresses::<4>(
                body,
                |b| IpAddr::V4(Ipv4Addr::from(b)),
                "v2 IPv4 addresses truncated",
            )?;
            (Some(a), rest)
        }
        2 => {
            let (a, rest) = v2_addresses::<16>(
                body,
                |b| IpAddr::V6(Ipv6Addr::from(b)),
                "v2 IPv6 addresses truncated",
            )?;
            (Some(a), rest)
        }
        // AF_UNSPEC, AF_UNIX: no IP addresses to report.
        0 => (None, body),
        3 => (
            None,
            body.get(216..)
                .ok_or_else(|| bad("v2 Unix addresses truncated"))?,
        ),
        _ => return Err(bad("v2 unknown address family")),
    };
    let mut tlvs = Vec::new();
    let mut rest = rest;
    while !rest.is_empty() {
        let [t, l1, l2] = field::<3>(rest, 0, "v2 TLV truncated")?;
        let end = usize::from(u16::from_be_bytes([l1, l2])).saturating_add(3);
        let v = rest
            .get(3..end)
            .ok_or_else(|| bad("v2 TLV longer than the header"))?;
        tlvs.push((t, v.to_vec()));
        rest = rest.get(end..).unwrap_or_default();
    }
    Ok(ProxyParse::Done {
        consumed,
        header: ProxyHeader {
            source: addrs.map(|(s, _)| s),
            destination: addrs.map(|(_, d)| d),
            tlvs,
        },
    })
}

#[cfg(test)]
#[allow(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn done(r: Result<ProxyParse, FrameError>) -> (usize, ProxyHeader) {
        match r.unwrap() {
            ProxyParse::Done { consumed, header } => (consumed, header),
            ProxyParse::NeedMore => panic!("need more"),
        }
    }

    #[test]
    fn v1_examples_from_the_spec() {
        let h = b"PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET /";
        let (n, header) = done(parse_proxy(h, ProxyMode::Any));
        assert_eq!(n, 47);
        assert_eq!(header.source, Some("192.168.0.1:56324".parse().unwrap()));
        assert_eq!(
            header.destination,
            Some("192.168.0.11:443".parse().unwrap())
        );
        let (_, header) = done(parse_proxy(b"PROXY TCP6 ::1 ::2 1 2\r\n", ProxyMode::V1));
        assert_eq!(header.source, Some("[::1]:1".parse().unwrap()));
        let (n, header) = done(parse_proxy(b"PROXY UNKNOWN\r\n", ProxyMode::V1));
        assert_eq!((n, header.source), (15, None));
        assert_eq!(
            parse_proxy(b"PROXY TCP4 1.2.3.4", ProxyMode::V1),
            Ok(ProxyParse::NeedMore)
        );
    }

    #[test]
    fn v1_malformed() {
        for bad in [
            &b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"[..],
            b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 70000\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n",
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n",
            b"PROXY SCTP 1.2.3.4 5.6.7.8 1 2\r\n",
            b"GET / HTTP/1.1\r\n",
        ] {
            assert!(
                parse_proxy(bad, ProxyMode::Any).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [&b"PROXY TCP4 "[..], &[b'1'; 120]].concat();
        assert!(
            parse_proxy(&long, ProxyMode::V1).is_err(),
            "longer than 107 bytes"
        );
        assert!(parse_proxy(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", ProxyMode::V2).is_err());
    }

    fn v2(cmd: u8, fam: u8, body: &[u8]) -> Vec<u8> {
        let mut h = V2_SIGNATURE.to_vec();
        h.push(0x20 | cmd);
        h.push(fam);
        h.extend_from_slice(&(body.len() as u16).to_be_bytes());
        h.extend_from_slice(body);
        h
    }

    #[test]
    fn v2_ipv4_with_tlvs_and_split_input() {
        let mut body = vec![10, 0, 0, 1, 10, 0, 0, 2, 0x1f, 0x90, 0x01, 0xbb];
        body.extend_from_slice(&[0x04, 0x00, 0x03, b'a', b'b', b'c']); // PP2_TYPE_NOOP-ish TLV
        let h = v2(1, 0x11, &body);
        for cut in 0..h.len() {
            assert_eq!(
                parse_proxy(&h[..cut], ProxyMode::V2),
                Ok(ProxyParse::NeedMore),
                "cut {cut}"
            );
        }
        let (n, header) = done(parse_proxy(&h, ProxyMode::Any));
        assert_eq!(n, h.len());
        assert_eq!(header.source, Some("10.0.0.1:8080".parse().unwrap()));
        assert_eq!(header.destination, Some("10.0.0.2:443".parse().unwrap()));
        assert_eq!(header.tlvs, vec![(4, b"abc".to_vec())]);
    }

    #[test]
    fn v2_local_ipv6_and_malformed() {
        let (_, header) = done(parse_proxy(&v2(0, 0x00, &[]), ProxyMode::V2));
        assert_eq!(header, ProxyHeader::default());
        let mut body = vec![0u8; 36];
        body[15] = 1;
        body[31] = 2;
        body[33] = 80;
        let (_, header) = done(parse_proxy(&v2(1, 0x21, &body), ProxyMode::V2));
        assert_eq!(header.source, Some("[::1]:80".parse().unwrap()));
        let mut wrong_version = v2(1, 0x11, &[0; 12]);
        wrong_version[12] = 0x11;
        assert!(parse_proxy(&wrong_version, ProxyMode::V2).is_err());
        assert!(
            parse_proxy(&v2(1, 0x11, &[0; 5]), ProxyMode::V2).is_err(),
            "addresses truncated"
        );
        assert!(
            parse_proxy(
                &v2(1, 0x11, &[[0u8; 12].as_slice(), &[1, 0, 9]].concat()),
                ProxyMode::V2
            )
            .is_err(),
            "TLV past the end"
        );
        assert!(
            parse_proxy(&v2(5, 0x11, &[0; 12]), ProxyMode::V2).is_err(),
            "bad command"
        );
    }
}
