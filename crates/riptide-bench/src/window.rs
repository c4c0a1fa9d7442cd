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
    cpu_time::ProcessTime::try_now()
        .map(|t| t.as_duration().as_secs_f64())
        .unwrap_or(0.0)
}

/// Raises this process's soft open-file limit to its hard limit (idle mode holds thousands).
pub fn raise_fd_limit() {
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::increase_nofile_limit(hard);
    }
}

/// Microseconds at quantile `q` of a nanosecond histogram.
pub fn us(h: &hdrhistogram::Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}
