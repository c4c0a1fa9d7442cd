//! Connection admission shared by all reactors of an engine: a global cap and a per-source-IP
//! cap, counted with atomics and one small map, checked when a connection is accepted.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Caps on open connections. Cloning a `ReactorConfig` shares one `Admission` (it sits in an
/// `Arc`), so every reactor of an engine counts against the same limits.
#[derive(Debug, Default)]
pub struct Admission {
    max_total: Option<usize>,
    max_per_ip: Option<usize>,
    total: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    rejected: AtomicU64,
}

impl Admission {
    /// Caps at `max_total` connections in all and `max_per_ip` from one IP (`None`: no cap).
    pub fn new(max_total: Option<usize>, max_per_ip: Option<usize>) -> Admission {
        Admission {
            max_total,
            max_per_ip,
            ..Admission::default()
        }
    }

    /// Takes a place for a connection from `ip` (`None` for Unix peers); false when a cap is
    /// reached (the caller refuses the connection).
    pub(crate) fn admit(&self, ip: Option<IpAddr>) -> bool {
        let total = self.total.fetch_add(1, Ordering::AcqRel) + 1;
        if self.max_total.is_some_and(|m| total > m) {
            self.total.fetch_sub(1, Ordering::AcqRel);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        if let (Some(max), Some(ip)) = (self.max_per_ip, ip) {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            let n = map.entry(ip).or_insert(0);
            if *n >= max {
                drop(map);
                self.total.fetch_sub(1, Ordering::AcqRel);
                self.rejected.fetch_add(1, Ordering::Relaxed);
                return false;
            }
            *n += 1;
        }
        true
    }

    /// Gives back the place of a closed connection.
    pub(crate) fn release(&self, ip: Option<IpAddr>) {
        self.total.fetch_sub(1, Ordering::AcqRel);
        self.release_ip(ip);
    }

    /// Moves an admitted connection's per-IP place from `from` to `to` (a PROXY header named
    /// the real client). False, with `from` still counted, when `to` is at its cap: the caller
    /// refuses the connection and releases it against `from` as usual.
    pub(crate) fn rehome(&self, from: Option<IpAddr>, to: IpAddr) -> bool {
        let Some(max) = self.max_per_ip else {
            return true;
        };
        if from == Some(to) {
            return true;
        }
        let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.entry(to).or_insert(0);
        if *n >= max {
            drop(map);
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        *n += 1;
        drop(map);
        self.release_ip(from);
        true
    }

    /// Gives back the per-IP place of `ip` (the total is counted apart).
    fn release_ip(&self, ip: Option<IpAddr>) {
        if let (Some(_), Some(ip)) = (self.max_per_ip, ip) {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&ip);
                }
            }
        }
    }

    /// Connections refused by a cap so far.
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    /// Connections admitted and still open.
    pub fn open(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_total_and_per_ip() {
        let a = Admission::new(Some(3), Some(2));
        let x: IpAddr = "10.0.0.1".parse().unwrap();
        let y: IpAddr = "10.0.0.2".parse().unwrap();
        assert!(a.admit(Some(x)));
        assert!(a.admit(Some(x)));
        assert!(!a.admit(Some(x)), "per-IP cap");
        assert!(a.admit(Some(y)));
        assert!(!a.admit(Some(y)), "total cap");
        assert_eq!(a.rejected(), 2);
        a.release(Some(x));
        assert!(a.admit(Some(y)));
        assert_eq!(a.open(), 3);
    }

    #[test]
    fn rehome_moves_the_place_to_the_proxied_client() {
        let a = Admission::new(None, Some(1));
        let balancer: IpAddr = "10.0.0.9".parse().unwrap();
        let client: IpAddr = "192.0.2.1".parse().unwrap();
        // A PROXY listener counts no IP at accept, then the client's once the header names it.
        assert!(a.admit(None) && a.admit(None));
        assert!(a.rehome(None, client));
        assert!(!a.rehome(None, client), "the client is at its cap");
        a.release(None);
        a.release(Some(client));
        assert_eq!(a.open(), 0);
        // Released against the client: it can come back, and the balancer was never counted.
        assert!(a.admit(None) && a.rehome(None, client));
        assert!(a.admit(Some(balancer)));
        assert!(
            !a.rehome(Some(balancer), client),
            "the client is still at its cap"
        );
        assert!(a.rehome(Some(balancer), balancer));
    }
}
