//! One lookup in flight: its budget, the CNAMEs followed so far, and a stack of questions
//! (the client's at the bottom, above it the addresses of glueless servers being looked up).

use crate::request::Transport;
use hickory_proto::op::{Edns, Message};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

/// A lookup started by [`Resolver::query`](crate::Resolver::query): the reply it ends with is
/// built on the client's request.
pub(crate) struct Client {
    /// The reply's header, question and OPT, as the request asked.
    pub response: Message,
    /// The request's EDNS, which sizes a UDP reply.
    pub edns: Option<Edns>,
    /// The transport the request came over.
    pub transport: Transport,
}

/// A question being asked of the servers of one zone cut.
pub(crate) struct Task {
    pub name: Name,
    pub rtype: RecordType,
    /// The zone the servers below serve: the bailiwick their records must be in.
    pub cut: Name,
    /// Addresses to ask, the current one first.
    pub servers: VecDeque<SocketAddr>,
    /// Servers of `cut` known by name only, to look up when no address is left.
    pub glueless: Vec<Name>,
}

/// The query a lookup waits on.
pub(crate) struct Sent {
    pub id: u16,
    pub to: SocketAddr,
    pub transport: Transport,
    /// 1 for the first query of this question to this server, then each retry.
    pub attempt: u8,
    pub deadline: Instant,
}

/// A lookup's state between events.
pub(crate) struct Lookup {
    pub client: Option<Client>,
    /// The type the lookup is for (kept when a CNAME changes the name).
    pub rtype: RecordType,
    /// When the lookup gives up, whatever its budget.
    pub deadline: Instant,
    pub queries: u16,
    pub referrals: u8,
    /// The CNAME records followed from the name asked.
    pub chain: Vec<Record>,
    /// The client's question at the bottom; above it NS-name lookups, the top one active.
    pub tasks: Vec<Task>,
    pub sent: Option<Sent>,
}

impl Lookup {
    /// A lookup of `rtype` (its first task is pushed by the resolver) that ends by `deadline`.
    pub(crate) fn new(client: Option<Client>, rtype: RecordType, deadline: Instant) -> Self {
        Self {
            client,
            rtype,
            deadline,
            queries: 0,
            referrals: 0,
            chain: Vec::new(),
            tasks: Vec::new(),
            sent: None,
        }
    }

    /// The active task. A lookup in flight always has one.
    pub(crate) fn task(&mut self) -> &mut Task {
        self.tasks
            .last_mut()
            .expect("a lookup in flight has a task")
    }
}

/// The addresses of A and AAAA records, on `port`.
pub(crate) fn addresses<'a, I: IntoIterator<Item = &'a Record>>(
    records: I,
    port: u16,
) -> impl Iterator<Item = SocketAddr> + use<'a, I> {
    records.into_iter().filter_map(move |r| match r.data {
        RData::A(a) => Some(SocketAddr::new(IpAddr::V4(a.0), port)),
        RData::AAAA(a) => Some(SocketAddr::new(IpAddr::V6(a.0), port)),
        _ => None,
    })
}
