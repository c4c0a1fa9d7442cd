//! The measured window every load mode shares: a warm-up, then a `{"phase":"measure"}` line on
//! stdout (the runner samples server CPU when it sees it), then the measured time; and the load
//! generator's own CPU time over the window.

use std::io::Write;
use std::time::{Duration, Instant};

/// Warm-up and measured window of one run.
pub struct Window {
    /// When measuring starts.
    pub measure_from: Instant,
    /// When the run ends.
    pub end: Instant,
    cpu_at_start: Option<f64>,
}

impl Window {
    /// A window starting now.
    pub fn new(warmup: Duration, duration: Duration) -> Window {
        let measure_from = Instant::now() + warmup;
        Window {
            measure_from,
            end: measure_from + duration,
            cpu_at_start: None,
        }
    }

    /// True once the warm-up is over; announces the start of the measured window once.
    pub fn measuring(&mut self, now: Instant) -> bool {
        if now < self.measure_from {
            return false;
        }
        if self.cpu_at_start.is_none() {
            self.cpu_at_start = Some(process_cpu_seconds());
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{{\"phase\":\"measure\"}}");
            let _ = out.flush();
        }
        true
    }

    /// Time left before the end of the run.
    pub fn remaining(&self, now: Instant) -> Option<Duration> {
        self.end
            .checked_duration_since(now)
            .filter(|d| !d.is_zero())
    }

    /// This process's CPU seconds (user + system) since the measured window started.
    pub fn cpu_seconds(&self) -> f64 {
        self.cpu_at_start
            .map(|s| process_cpu_seconds() - s)
            .unwrap_or(0.0)
    }
}

/// User + system CPU seconds used by this process so far.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Raises this process's soft open-file limit to its hard limit (idle mode holds thousands).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit read and write the struct we own.
    unsafe {
        let mut rl: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) == 0 && rl.rlim_cur < rl.rlim_max {
            rl.rlim_cur = rl.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &rl);
        }
    }
}

/// Microseconds at quantile `q` of a nanosecond histogram.
pub fn us(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}
