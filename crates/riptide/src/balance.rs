//! Load balancing: which reactor gets a newly accepted connection (gnet's policies).

use crate::remote::Remote;
use crate::stream::PeerAddr;
use std::net::IpAddr;

/// How an engine with several reactors spreads new connections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LoadBalancing {
    /// Each reactor in turn (gnet's default).
    #[default]
    RoundRobin,
    /// The reactor with the fewest open connections.
    LeastConnections,
    /// A hash of the peer's IP (not its port), so one client host always lands on one reactor.
    SourceAddrHash,
}

/// Picks reactors by a [`LoadBalancing`] policy.
#[derive(Debug)]
pub(crate) struct Balancer {
    policy: LoadBalancing,
    next: usize,
}

impl Balancer {
    pub(crate) fn new(policy: LoadBalancing) -> Self {
        Balancer { policy, next: 0 }
    }

    /// The index into `reactors` for a connection from `peer`.
    pub(crate) fn pick(&mut self, reactors: &[Remote], peer: &PeerAddr) -> usize {
        let n = reactors.len();
        match self.policy {
            LoadBalancing::RoundRobin => {
                let i = self.next % n;
                self.next = self.next.wrapping_add(1);
                i
            }
            LoadBalancing::LeastConnections => (0..n)
                .min_by_key(|&i| reactors[i].connections())
                .unwrap_or(0),
            LoadBalancing::SourceAddrHash => (fnv1a(peer) % n as u64) as usize,
        }
    }
}

/// FNV-1a over the peer IP's bytes (or a Unix path): stable across runs and processes.
fn fnv1a(peer: &PeerAddr) -> u64 {
    let bytes: Vec<u8> = match peer {
        PeerAddr::Inet(a) => match a.ip() {
            IpAddr::V4(ip) => ip.octets().to_vec(),
            IpAddr::V6(ip) => ip.octets().to_vec(),
        },
        PeerAddr::Unix(p) => p.as_bytes().to_vec(),
    };
    bytes.iter().fold(0xcbf29ce484222325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::channel;
    use crate::stats::Counters;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn remotes(n: usize) -> Vec<Remote> {
        let poll = mio::Poll::new().unwrap();
        let waker = Arc::new(mio::Waker::new(poll.registry(), mio::Token(0)).unwrap());
        (0..n)
            .map(|i| {
                let load = Arc::new(AtomicUsize::new(0));
                let counters = Arc::new(Counters::new(Arc::default()));
                channel(i, waker.clone(), load, counters).0
            })
            .collect()
    }

    fn peer(ip: [u8; 4], port: u16) -> PeerAddr {
        PeerAddr::Inet((ip, port).into())
    }

    #[test]
    fn round_robin_alternates() {
        let r = remotes(2);
        let mut b = Balancer::new(LoadBalancing::RoundRobin);
        let picks: Vec<_> = (0..6)
            .map(|i| b.pick(&r, &peer([127, 0, 0, 1], i)))
            .collect();
        assert_eq!(picks, [0, 1, 0, 1, 0, 1]);
    }

    #[test]
    fn least_connections_prefers_the_idle_reactor() {
        let r = remotes(3);
        r[0].load.store(5, Ordering::Relaxed);
        r[1].load.store(1, Ordering::Relaxed);
        r[2].load.store(3, Ordering::Relaxed);
        let mut b = Balancer::new(LoadBalancing::LeastConnections);
        assert_eq!(b.pick(&r, &peer([10, 0, 0, 1], 1)), 1);
    }

    #[test]
    fn source_hash_ignores_the_port() {
        let r = remotes(4);
        let mut b = Balancer::new(LoadBalancing::SourceAddrHash);
        let first = b.pick(&r, &peer([192, 0, 2, 7], 1000));
        for port in 1001..1100 {
            assert_eq!(b.pick(&r, &peer([192, 0, 2, 7], port)), first);
        }
        let spread: std::collections::HashSet<_> = (0..64u8)
            .map(|i| b.pick(&r, &peer([192, 0, 2, i], 1)))
            .collect();
        assert!(spread.len() > 1, "different hosts spread over reactors");
    }
}
