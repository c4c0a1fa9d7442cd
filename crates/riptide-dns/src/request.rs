//! What every answer to a client's query shares, whoever decides its records (a [`Zone`] or
//! the [`Resolver`]): which messages are dropped or get a bare FORMERR, the response's header,
//! question and OPT, the checks before any lookup (opcode, one question, EDNS version), and
//! fitting the encoded reply to its transport with the TC bit.
//!
//! [`Zone`]: crate::Zone
//! [`Resolver`]: crate::Resolver

use hickory_proto::op::{Edns, Message, OpCode, Query, ResponseCode};
use hickory_proto::rr::RecordType;

/// The transport a query came over, which bounds the answer's size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// A datagram: 512 bytes, or the client's EDNS size capped at the server's `max_udp_size`.
    Udp,
    /// A TCP (or other stream) frame: up to 65,535 bytes, the 2-byte length prefix's limit.
    Tcp,
}

/// The smallest UDP size every DNS client accepts (RFC 1035 §4.2.1).
pub(crate) const CLASSIC_UDP_SIZE: u16 = 512;

/// Bytes of a DNS header.
pub(crate) const HEADER_LEN: usize = 12;

/// Decodes a query message. `Err(None)`: drop it (shorter than a header, or a response, which
/// answering could loop two servers); `Err(Some(reply))`: it did not decode, and `reply` is a
/// bare FORMERR header with its id.
pub(crate) fn read_query(query: &[u8]) -> Result<Message, Option<Vec<u8>>> {
    if query.len() < HEADER_LEN || query[2] & 0x80 != 0 {
        return Err(None);
    }
    Message::from_vec(query).map_err(|_| Some(format_error(query)))
}

/// How a response to a query starts.
pub(crate) enum Start {
    /// Look `question` up and fill in `response` (its header, question and OPT are set).
    Lookup { response: Message, question: Query },
    /// Nothing to look up: the finished error response.
    Done(Message),
}

/// The response to `request` with its header, question and OPT (advertising `max_udp_size`),
/// and the one question to answer; or, when there is nothing to look up, the finished error
/// response: BADVERS for an EDNS version above 0, NOTIMP for an opcode other than QUERY,
/// FORMERR for other than one question.
pub(crate) fn start_response(request: &Message, max_udp_size: u16) -> Start {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.checking_disabled = request.metadata.checking_disabled;
    response.add_queries(request.queries.iter().cloned());
    if let Some(edns) = &request.edns {
        let mut ours = Edns::new();
        ours.set_max_payload(max_udp_size);
        response.set_edns(ours);
        if edns.version() != 0 {
            response.metadata.response_code = ResponseCode::BADVERS;
            return Start::Done(response);
        }
    }
    if request.metadata.op_code != OpCode::Query {
        response.metadata.response_code = ResponseCode::NotImp;
        return Start::Done(response);
    }
    match request.queries.as_slice() {
        [question] => Start::Lookup {
            response,
            question: question.clone(),
        },
        _ => {
            response.metadata.response_code = ResponseCode::FormErr;
            Start::Done(response)
        }
    }
}

/// `response` encoded for `transport`: within 65,535 bytes over TCP; over UDP within 512
/// bytes, or the size the request's EDNS (`request_edns`) advertised capped at `max_udp_size`. One that does
/// not fit (or cannot be encoded) is replaced by its header, question and OPT with TC set.
pub(crate) fn encode_reply(
    response: &Message,
    request_edns: Option<&Edns>,
    transport: Transport,
    max_udp_size: u16,
) -> Option<Vec<u8>> {
    let limit = match transport {
        Transport::Tcp => usize::from(u16::MAX),
        Transport::Udp => udp_limit(request_edns.map(Edns::max_payload), max_udp_size),
    };
    match response.to_vec() {
        Ok(bytes) if bytes.len() <= limit => Some(bytes),
        // Over the limit (or not encodable): the header, question and OPT with TC set, which
        // is always far below 512 bytes (one name of at most 255).
        _ => response.truncate().to_vec().ok(),
    }
}

/// The largest UDP reply to a client that advertised `edns` (its EDNS size, none without
/// EDNS): its size capped at `max_udp_size`, and never below 512.
pub(crate) fn udp_limit(edns: Option<u16>, max_udp_size: u16) -> usize {
    usize::from(match edns {
        Some(size) => size.clamp(CLASSIC_UDP_SIZE, max_udp_size.max(CLASSIC_UDP_SIZE)),
        None => CLASSIC_UDP_SIZE,
    })
}

/// Query types no server here answers from records: zone transfers (AXFR, IXFR) and OPT.
pub(crate) fn is_meta_type(t: RecordType) -> bool {
    matches!(t, RecordType::AXFR | RecordType::IXFR | RecordType::OPT)
}

/// A FORMERR header for a query whose body did not decode: its id, opcode and RD echoed, no
/// sections (RFC 1035 allows omitting the question of a message that could not be read).
fn format_error(query: &[u8]) -> Vec<u8> {
    let mut header = vec![0; HEADER_LEN];
    header[..2].copy_from_slice(&query[..2]);
    header[2] = 0x80 | (query[2] & 0x79);
    header[3] = ResponseCode::FormErr.low();
    header
}
