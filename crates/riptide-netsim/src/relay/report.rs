//! The JSON lines the relay prints: its address on start, its counters on exit.

use std::net::SocketAddr;

use riptide_netsim::LinkStats;

/// Counters summed over every session the relay has served.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// Client-to-server direction.
    pub to_server: LinkStats,
    /// Server-to-client direction.
    pub to_client: LinkStats,
    /// Sessions (distinct client addresses) opened.
    pub sessions: u64,
    /// Datagrams a link delivered but the socket refused to send.
    pub send_errors: u64,
}

impl Totals {
    /// Adds one direction's counters into a running sum.
    pub fn add(sum: &mut LinkStats, stats: LinkStats) {
        sum.sent += stats.sent;
        sum.lost += stats.lost;
        sum.duplicated += stats.duplicated;
        sum.delivered += stats.delivered;
        sum.overflowed += stats.overflowed;
    }

    /// The exit line, e.g. `{"client_to_server":{"sent":..},"server_to_client":{..},..}`.
    pub fn to_json(self) -> String {
        format!(
            "{{\"client_to_server\":{},\"server_to_client\":{},\"sessions\":{},\"send_errors\":{}}}",
            link_json(&self.to_server),
            link_json(&self.to_client),
            self.sessions,
            self.send_errors
        )
    }
}

/// The start line, `{"listen":"127.0.0.1:PORT"}`.
pub fn listen_json(addr: SocketAddr) -> String {
    format!("{{\"listen\":\"{addr}\"}}")
}

fn link_json(s: &LinkStats) -> String {
    format!(
        "{{\"sent\":{},\"lost\":{},\"duplicated\":{},\"delivered\":{},\"overflowed\":{}}}",
        s.sent, s.lost, s.duplicated, s.delivered, s.overflowed
    )
}
