//! Datagrams carried inside DNS (dnscat2's idea): upstream, a datagram travels in the name of
//! a TXT query under a tunnel zone; downstream, datagrams travel in the TXT records of the
//! answer. Sans-IO like the rest of the crate: a client builds queries with [`Tunnel::query`]
//! and reads answers with [`Tunnel::read_answer`]; a server reads queries with
//! [`Tunnel::read_query`] and answers each with [`TunnelQuery::answer`].
//!
//! A query name is `<data labels>.<nonce>.<client>.<zone>`:
//! - the datagram in base32 (RFC 4648's alphabet in lower case, no padding, read in any
//!   case: resolvers may change the case of names), cut into labels of 63 characters, the
//!   last one shorter (none for an empty datagram, a poll);
//! - the nonce, a `u32` in 7 base32 characters, different on every query so that no cache
//!   answers it;
//! - the client id, 1 to [`MAX_CLIENT_LEN`] letters and digits (read in lower case);
//! - the whole name at most 253 characters (255 bytes on the wire), so the datagram is at
//!   most [`Tunnel::capacity`] bytes (139 under `t.example.` with an 8-character client id).
//!
//! The encoding is canonical: a name decodes only if it is exactly what [`Tunnel::encode_name`]
//! makes of what it decodes to (up to case), so every accepted name round-trips.
//!
//! An answer holds one TXT record per datagram, its bytes cut into character-strings of at
//! most 255 bytes, TTL 0, as many datagrams as fit the query's transport: 512 bytes over UDP
//! without EDNS, else the client's EDNS size capped at the tunnel's `max_udp_size`; 16,383
//! over TCP. A resolver between client and server may reorder the records of an answer or
//! merge identical ones; KCP takes datagrams in any order and drops duplicates anyway.

use crate::request::{self, udp_limit, Transport};
use data_encoding::{Encoding, Specification};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::TXT;
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
use std::sync::OnceLock;

/// Longest client id, in characters.
pub const MAX_CLIENT_LEN: usize = 16;

/// Longest name, in characters without the final dot (255 bytes on the wire).
pub const MAX_NAME_LEN: usize = 253;

/// Longest label.
pub const MAX_LABEL_LEN: usize = 63;

/// Characters of the nonce label (a `u32` in base32).
const NONCE_LEN: usize = 7;

/// Longest character-string of a TXT record.
const MAX_STRING: usize = 255;

/// Bytes a TXT record costs in an answer besides its strings: a compression pointer to the
/// question's name, type, class, TTL and data length.
const RECORD_OVERHEAD: usize = 2 + 2 + 2 + 4 + 2;

/// The largest answer over TCP: hickory-proto writes a name as a compression pointer only
/// below offset 16,384 (what 14 bits address), so records past it would cost their whole
/// name. 16 KiB a round trip is more than a tunnel's KCP windows fill anyway.
const TCP_LIMIT: usize = 16_383;

/// Why a name, a datagram or a message is not a tunnel's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TunnelError {
    /// The tunnel's zone is not a domain name, or leaves no room for a client and a nonce.
    #[error("tunnel zone {0:?} is not usable: {1}")]
    Zone(String, &'static str),
    /// A client id that is not 1 to 16 ASCII letters and digits.
    #[error("a tunnel client id is 1 to {MAX_CLIENT_LEN} ASCII letters and digits, got {0:?}")]
    Client(String),
    /// A datagram too large for one query name.
    #[error("a datagram of {size} bytes does not fit a query name ({max} at most)")]
    TooLarge {
        /// The datagram's size.
        size: usize,
        /// The most one name carries for this client id.
        max: usize,
    },
    /// A name under the zone that is not a tunnel name.
    #[error("not a tunnel name: {0}")]
    Name(&'static str),
    /// A message that is not a tunnel answer (it does not decode, is not a response, or
    /// carries an error code).
    #[error("not a tunnel answer: {0}")]
    Answer(String),
}

/// What a tunnel query name carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelName {
    /// The client id, in lower case.
    pub client: String,
    /// The query's nonce.
    pub nonce: u32,
    /// The datagram (empty for a poll).
    pub datagram: Vec<u8>,
}

/// The datagrams of a tunnel answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TunnelAnswer {
    /// The message id (the query's).
    pub id: u16,
    /// The datagrams, in order.
    pub datagrams: Vec<Vec<u8>>,
}

/// What a query message is to a tunnel server.
#[derive(Debug)]
pub enum ReadQuery {
    /// Not for the tunnel (another zone's name, not a query, not exactly one question, not
    /// decodable): answer it from the ordinary zones.
    Other,
    /// For the tunnel zone, but not a tunnel query: send this reply (NXDOMAIN for a name that
    /// does not decode, REFUSED for a type other than TXT or a class other than IN).
    Refused(Vec<u8>),
    /// A tunnel query: hand its datagram to the carrier, then answer it.
    Query(TunnelQuery),
}

/// A tunnel query a server read, with what its answer needs.
#[derive(Debug)]
pub struct TunnelQuery {
    /// What its name carries.
    pub name: TunnelName,
    id: u16,
    recursion_desired: bool,
    question: Query,
    edns: Option<u16>,
    /// The largest answer its transport takes.
    limit: usize,
}

/// A tunnel zone and the size of its UDP answers.
#[derive(Debug, Clone)]
pub struct Tunnel {
    /// The zone, fully qualified, in lower case.
    zone: Name,
    /// Its length in characters without the final dot.
    zone_len: usize,
    max_udp_size: u16,
}

/// RFC 4648 base32, lower case, no padding, read in either case, trailing bits checked.
fn base32() -> &'static Encoding {
    static BASE32: OnceLock<Encoding> = OnceLock::new();
    BASE32.get_or_init(|| {
        let mut spec = Specification::new();
        spec.symbols.push_str("abcdefghijklmnopqrstuvwxyz234567");
        spec.translate.from.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        spec.translate.to.push_str("abcdefghijklmnopqrstuvwxyz");
        spec.check_trailing_bits = true;
        spec.encoding()
            .expect("a valid base32 specification (a constant)")
    })
}

/// Checks a client id; returns it in lower case.
fn client_id(client: &[u8]) -> Result<String, TunnelError> {
    let ok = (1..=MAX_CLIENT_LEN).contains(&client.len())
        && client.iter().all(u8::is_ascii_alphanumeric);
    if ok {
        Ok(String::from_utf8_lossy(client).to_ascii_lowercase())
    } else {
        Err(TunnelError::Client(
            String::from_utf8_lossy(client).into_owned(),
        ))
    }
}

impl Tunnel {
    /// The tunnel under `zone` (`t.example.com`), answering UDP queries with EDNS up to
    /// `max_udp_size` bytes (at least 512).
    pub fn new(zone: &str, max_udp_size: u16) -> Result<Tunnel, TunnelError> {
        let bad = |why| TunnelError::Zone(zone.to_string(), why);
        let mut name = Name::from_ascii(zone).map_err(|_| bad("not a domain name"))?;
        name.set_fqdn(true);
        let name = name.to_lowercase();
        let zone_len = name.to_ascii().trim_end_matches('.').len();
        let tunnel = Tunnel {
            zone: name,
            zone_len,
            max_udp_size: max_udp_size.max(512),
        };
        if tunnel.capacity(MAX_CLIENT_LEN) == 0 {
            return Err(bad("too long to leave room for a datagram"));
        }
        Ok(tunnel)
    }

    /// The zone, fully qualified, in lower case.
    pub fn zone(&self) -> String {
        self.zone.to_ascii()
    }

    /// The largest datagram one query name carries for a client id of `client_len`
    /// characters.
    pub fn capacity(&self, client_len: usize) -> usize {
        // The data labels, each with its dot, come before `nonce.client.zone`.
        let fixed = NONCE_LEN + 1 + client_len + 1 + self.zone_len;
        let budget = MAX_NAME_LEN.saturating_sub(fixed);
        // The most characters that fit with a dot after every 63 (a label and its dot take
        // 64), then the most bytes those hold.
        let chars = budget - budget.div_ceil(MAX_LABEL_LEN + 1);
        chars * 5 / 8
    }

    /// The query name carrying `datagram` from `client` with `nonce`.
    pub fn encode_name(
        &self,
        client: &str,
        nonce: u32,
        datagram: &[u8],
    ) -> Result<Name, TunnelError> {
        let client = client_id(client.as_bytes())?;
        let max = self.capacity(client.len());
        if datagram.len() > max {
            return Err(TunnelError::TooLarge {
                size: datagram.len(),
                max,
            });
        }
        let data = base32().encode(datagram);
        let nonce = base32().encode(&nonce.to_be_bytes());
        let labels = data
            .as_bytes()
            .chunks(MAX_LABEL_LEN)
            .chain([nonce.as_bytes(), client.as_bytes()]);
        Name::from_labels(labels)
            .and_then(|n| n.append_domain(&self.zone))
            .map_err(|_| TunnelError::Name("does not encode"))
    }

    /// What a query name under the zone carries; refused unless it is exactly what
    /// [`Tunnel::encode_name`] makes (up to case).
    pub fn decode_name(&self, name: &Name) -> Result<TunnelName, TunnelError> {
        if !self.zone.zone_of(name) {
            return Err(TunnelError::Name("outside the zone"));
        }
        let own =
            usize::from(name.num_labels()).saturating_sub(usize::from(self.zone.num_labels()));
        let labels: Vec<&[u8]> = name.iter().take(own).collect();
        let [data @ .., nonce, client] = labels.as_slice() else {
            return Err(TunnelError::Name("no nonce and client labels"));
        };
        let client = client_id(client).map_err(|_| TunnelError::Name("bad client id"))?;
        let nonce = match base32().decode(nonce).ok().as_deref() {
            Some(&[a, b, c, d]) if nonce.len() == NONCE_LEN => u32::from_be_bytes([a, b, c, d]),
            _ => return Err(TunnelError::Name("bad nonce")),
        };
        if let Some((last, full)) = data.split_last() {
            if last.is_empty() || full.iter().any(|l| l.len() != MAX_LABEL_LEN) {
                return Err(TunnelError::Name("data labels not cut at 63 characters"));
            }
        }
        let joined = data.concat();
        let datagram = base32()
            .decode(&joined)
            .map_err(|_| TunnelError::Name("bad base32"))?;
        if datagram.len() > self.capacity(client.len()) {
            return Err(TunnelError::Name("too long"));
        }
        Ok(TunnelName {
            client,
            nonce,
            datagram,
        })
    }

    /// A TXT query (id `id`, RD set) carrying `datagram` from `client` with `nonce`, with an
    /// EDNS(0) record advertising `edns_size` (none when `None`: answers then fit 512 bytes).
    pub fn query(
        &self,
        id: u16,
        client: &str,
        nonce: u32,
        datagram: &[u8],
        edns_size: Option<u16>,
    ) -> Result<Vec<u8>, TunnelError> {
        let name = self.encode_name(client, nonce, datagram)?;
        let mut message = Message::new(id, MessageType::Query, OpCode::Query);
        message.metadata.recursion_desired = true;
        message.add_query(Query::query(name, RecordType::TXT));
        if let Some(size) = edns_size {
            let mut edns = Edns::new();
            edns.set_max_payload(size.max(512));
            message.set_edns(edns);
        }
        message
            .to_vec()
            .map_err(|e| TunnelError::Answer(e.to_string()))
    }

    /// The datagrams of an answer to one of this tunnel's queries (TXT records under the
    /// zone; other records are ignored).
    pub fn read_answer(&self, message: &[u8]) -> Result<TunnelAnswer, TunnelError> {
        let answer = Message::from_vec(message).map_err(|e| TunnelError::Answer(e.to_string()))?;
        if answer.metadata.message_type != MessageType::Response {
            return Err(TunnelError::Answer("not a response".into()));
        }
        if answer.metadata.response_code != ResponseCode::NoError {
            return Err(TunnelError::Answer(format!(
                "response code {}",
                answer.metadata.response_code
            )));
        }
        let datagrams = answer
            .answers
            .iter()
            .filter(|r| self.zone.zone_of(&r.name))
            .filter_map(|r| match &r.data {
                RData::TXT(txt) => Some(txt.txt_data.concat()),
                _ => None,
            })
            .collect();
        Ok(TunnelAnswer {
            id: answer.metadata.id,
            datagrams,
        })
    }

    /// What a message that came over `transport` is to the tunnel.
    pub fn read_query(&self, message: &[u8], transport: Transport) -> ReadQuery {
        // Too short, a response, or not decodable: the DNS server's to drop or FORMERR.
        let Ok(request) = request::read_query(message) else {
            return ReadQuery::Other;
        };
        let [question] = request.queries.as_slice() else {
            return ReadQuery::Other;
        };
        let edns = match &request.edns {
            Some(e) if e.version() != 0 => return ReadQuery::Other,
            Some(e) => Some(e.max_payload()),
            None => None,
        };
        if request.metadata.op_code != OpCode::Query || !self.zone.zone_of(&question.name) {
            return ReadQuery::Other;
        }
        let limit = match transport {
            Transport::Tcp => TCP_LIMIT,
            Transport::Udp => udp_limit(edns, self.max_udp_size),
        };
        let query = |name| TunnelQuery {
            name,
            id: request.metadata.id,
            recursion_desired: request.metadata.recursion_desired,
            question: question.clone(),
            edns,
            limit,
        };
        let refused = |code| {
            let empty = query(TunnelName {
                client: String::new(),
                nonce: 0,
                datagram: Vec::new(),
            });
            ReadQuery::Refused(empty.reply(code, &[]).0)
        };
        match self.decode_name(&question.name) {
            Err(_) => refused(ResponseCode::NXDomain),
            Ok(_) if question.query_type != RecordType::TXT => refused(ResponseCode::Refused),
            Ok(_) if question.query_class != DNSClass::IN => refused(ResponseCode::Refused),
            Ok(name) => ReadQuery::Query(query(name)),
        }
    }
}

impl TunnelQuery {
    /// The answer: the first of `datagrams` that fit the query's transport (in order,
    /// stopping at the first that does not), and how many it took.
    pub fn answer(&self, datagrams: &[&[u8]]) -> (Vec<u8>, usize) {
        self.reply(ResponseCode::NoError, datagrams)
    }

    /// A reply with `code` and as many of `datagrams` as fit.
    fn reply(&self, code: ResponseCode, datagrams: &[&[u8]]) -> (Vec<u8>, usize) {
        let mut response = Message::response(self.id, OpCode::Query);
        response.metadata.authoritative = true;
        response.metadata.recursion_desired = self.recursion_desired;
        response.metadata.response_code = code;
        response.add_query(self.question.clone());
        if let Some(size) = self.edns {
            let mut edns = Edns::new();
            edns.set_max_payload(size.max(512));
            response.set_edns(edns);
        }
        // The message without answers is the question (at most 255 bytes of name), the
        // header and the OPT: always under 512.
        let mut size = response.to_vec().map_or(usize::MAX, |b| b.len());
        let mut taken = 0;
        for datagram in datagrams {
            let rdata = datagram.len() + datagram.len().div_ceil(MAX_STRING).max(1);
            let next = size.saturating_add(RECORD_OVERHEAD + rdata);
            if next > self.limit || rdata > usize::from(u16::MAX) {
                break;
            }
            let strings: Vec<&[u8]> = if datagram.is_empty() {
                vec![&[]]
            } else {
                datagram.chunks(MAX_STRING).collect()
            };
            let txt = RData::TXT(TXT::from_bytes(strings));
            response.add_answer(Record::from_rdata(self.question.name.clone(), 0, txt));
            size = next;
            taken += 1;
        }
        let count = u16::try_from(taken).unwrap_or(u16::MAX).to_be_bytes();
        match response.to_vec() {
            Ok(bytes) if bytes.len() <= self.limit && bytes.get(6..8) == Some(&count[..]) => {
                (bytes, taken)
            }
            // The arithmetic above is exact; were it ever not (or had the encoder left records
            // out), answer with no datagram rather than a wrong answer: they stay queued.
            _ => {
                response.answers.clear();
                (response.to_vec().unwrap_or_default(), 0)
            }
        }
    }
}
