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
        if let (Some(_), Some(ip)) = (self.max_per_ip, ip) {
            let mut map = self.per_ip.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = map.get_mut(&ip) {
                *n -= 1;
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
}
