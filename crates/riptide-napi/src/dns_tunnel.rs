//! `DnsTunnel` for JS: the DNS tunnel codec of `riptide_dns::tunnel` (datagrams in query names
//! and TXT answers), one call per query or answer, in Rust on the calling thread.

use napi::bindgen_prelude::Uint8Array;
use napi::{Env, Result};
use napi_derive::napi;
use riptide_dns::{ReadQuery, Transport, Tunnel, TunnelError, TunnelQuery};

/// The engine's error for a tunnel error JS can cause (a bad zone, client id or size).
fn error(e: TunnelError) -> riptide::Error {
    match e {
        TunnelError::TooLarge { size, max } => riptide::Error::MessageTooLarge { size, max },
        e => riptide::Error::InvalidOption(e.to_string()),
    }
}

/// A tunnel zone.
#[napi]
pub struct NativeDnsTunnel {
    tunnel: Tunnel,
}

/// The datagrams of an answer.
#[napi(object)]
pub struct NativeTunnelAnswer {
    pub id: u32,
    pub datagrams: Vec<Uint8Array>,
}

/// An answer to a tunnel query, and how many of the offered datagrams it carries.
#[napi(object)]
pub struct NativeTunnelReply {
    pub reply: Uint8Array,
    pub taken: u32,
}

#[napi]
impl NativeDnsTunnel {
    /// The tunnel under `zone`, answering UDP queries with EDNS up to `maxUdpSize` bytes
    /// (512 to 65535, checked by TS); a zone that is not a name or leaves no room throws
    /// `ERR_INVALID_ARG_VALUE`.
    #[napi(constructor)]
    pub fn new(env: Env, zone: String, max_udp_size: u32) -> Result<Self> {
        let size = u16::try_from(max_udp_size).unwrap_or(u16::MAX);
        Tunnel::new(&zone, size)
            .map(|tunnel| Self { tunnel })
            .map_err(|e| crate::throw(&env, error(e)))
    }

    /// The zone, fully qualified, in lower case.
    #[napi(getter)]
    pub fn zone(&self) -> String {
        self.tunnel.zone()
    }

    /// The largest datagram one query carries for a client id of `clientLen` characters.
    #[napi]
    pub fn capacity(&self, client_len: u32) -> u32 {
        u32::try_from(self.tunnel.capacity(client_len as usize)).unwrap_or(0)
    }

    /// A TXT query carrying `datagram` (empty: a poll); `ednsSize` 0 sends no EDNS record.
    #[napi]
    pub fn query(
        &self,
        env: Env,
        id: u32,
        client: String,
        nonce: u32,
        datagram: &[u8],
        edns_size: u32,
    ) -> Result<Uint8Array> {
        let edns = u16::try_from(edns_size).ok().filter(|&s| s > 0);
        let id = u16::try_from(id).unwrap_or(0);
        self.tunnel
            .query(id, &client, nonce, datagram, edns)
            .map(Uint8Array::new)
            .map_err(|e| crate::throw(&env, error(e)))
    }

    /// The datagrams of an answer; none when the message is not a tunnel answer (it does not
    /// decode, is not a response, or carries an error code).
    #[napi]
    pub fn read_answer(&self, message: &[u8]) -> Option<NativeTunnelAnswer> {
        let answer = self.tunnel.read_answer(message).ok()?;
        Some(NativeTunnelAnswer {
            id: u32::from(answer.id),
            datagrams: answer.datagrams.into_iter().map(Uint8Array::new).collect(),
        })
    }

    /// What a query message that came over UDP (or TCP) is to the tunnel.
    #[napi]
    pub fn read_query(&self, message: &[u8], tcp: bool) -> NativeTunnelRead {
        let transport = if tcp { Transport::Tcp } else { Transport::Udp };
        NativeTunnelRead {
            read: self.tunnel.read_query(message, transport),
        }
    }
}

/// A query message as the tunnel read it: not the tunnel's (`kind` `other`), refused with a
/// reply (`refused`), or a tunnel query to answer (`query`).
#[napi]
pub struct NativeTunnelRead {
    read: ReadQuery,
}

#[napi]
impl NativeTunnelRead {
    /// `other`, `refused` or `query`.
    #[napi(getter)]
    pub fn kind(&self) -> &'static str {
        match self.read {
            ReadQuery::Other => "other",
            ReadQuery::Refused(_) => "refused",
            ReadQuery::Query(_) => "query",
        }
    }

    /// A refused query's reply (NXDOMAIN, REFUSED).
    #[napi(getter)]
    pub fn reply(&self) -> Option<Uint8Array> {
        match &self.read {
            ReadQuery::Refused(reply) => Some(Uint8Array::new(reply.clone())),
            _ => None,
        }
    }

    /// A tunnel query's client id (lower case).
    #[napi(getter)]
    pub fn client(&self) -> Option<String> {
        self.query().map(|q| q.name.client.clone())
    }

    /// A tunnel query's nonce.
    #[napi(getter)]
    pub fn nonce(&self) -> Option<u32> {
        self.query().map(|q| q.name.nonce)
    }

    /// A tunnel query's datagram (empty for a poll).
    #[napi(getter)]
    pub fn datagram(&self) -> Option<Uint8Array> {
        self.query()
            .map(|q| Uint8Array::new(q.name.datagram.clone()))
    }

    /// The answer to a tunnel query carrying the first of `datagrams` that fit; none for a
    /// message that is not one.
    #[napi]
    pub fn answer(&self, datagrams: Vec<Uint8Array>) -> Option<NativeTunnelReply> {
        let query = self.query()?;
        let slices: Vec<&[u8]> = datagrams.iter().map(|d| d.as_ref()).collect();
        let (reply, taken) = query.answer(&slices);
        Some(NativeTunnelReply {
            reply: Uint8Array::new(reply),
            taken: u32::try_from(taken).unwrap_or(0),
        })
    }
}

impl NativeTunnelRead {
    fn query(&self) -> Option<&TunnelQuery> {
        match &self.read {
            ReadQuery::Query(q) => Some(q),
            _ => None,
        }
    }
}
