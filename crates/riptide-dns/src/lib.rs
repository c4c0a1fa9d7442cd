//! Sans-IO DNS: authoritative answers from a zone read from an RFC 1035 master file, and an
//! iterative [`Resolver`] with a cache. No sockets and no clock: for a zone, the caller
//! receives a UDP datagram or a TCP frame (the 2-byte length prefix removed), calls
//! [`Zone::answer`], and sends what it returns; the resolver takes client queries, upstream
//! responses and the time, and says what to send where and when (see [`resolver`]).
//!
//! Messages are decoded and encoded by `hickory-proto`, a maintained DNS library that is
//! fuzzed upstream and follows compression pointers only backwards, so a pointer loop ends as
//! a decode error (FORMERR) rather than a hang. This crate adds what an authoritative server
//! decides: which records answer, NXDOMAIN / NODATA / referral / REFUSED, EDNS(0) and the TC
//! bit when an answer does not fit the transport. [`tunnel`] carries datagrams inside DNS
//! queries and answers (a KCP session through a DNS server).
//!
//! ```
//! use riptide_dns::{Transport, Zone, ZoneOptions};
//! let zone = Zone::parse(
//!     "$ORIGIN example.\n$TTL 300\n\
//!      @ IN SOA ns1 admin 1 3600 600 86400 60\n\
//!      @ IN NS ns1\nns1 IN A 127.0.0.1\nwww IN A 192.0.2.1\n",
//!     &ZoneOptions::default(),
//! )
//! .unwrap();
//! // A query for www.example. A (id 0x1234, RD set).
//! let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
//! q.extend_from_slice(b"\x03www\x07example\x00\x00\x01\x00\x01");
//! let reply = zone.answer(&q, Transport::Udp).unwrap();
//! assert_eq!(&reply[..2], &[0x12, 0x34]); // same id
//! assert_eq!(reply[3] & 0x0f, 0); // NOERROR
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod answer;
mod error;
pub mod harness;
mod request;
pub mod resolver;
pub mod tunnel;
mod zone;

pub use error::{ResolverError, ZoneError};
pub use request::Transport;
pub use resolver::{
    LookupId, Resolution, Resolved, Resolver, ResolverConfig, ResolverStats, Transmit,
};
pub use tunnel::{ReadQuery, Tunnel, TunnelAnswer, TunnelError, TunnelName, TunnelQuery};
pub use zone::{Zone, ZoneOptions, DEFAULT_MAX_UDP_SIZE};
