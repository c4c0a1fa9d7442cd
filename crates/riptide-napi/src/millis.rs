//! Durations from JS. A JS number can be NaN, infinite, negative or too large for a
//! `Duration` (`Duration::from_secs_f64` panics on those, which would abort the process), so
//! every duration crossing the boundary goes through [`millis`].

use std::time::Duration;

/// The longest duration the API takes, in ms: 2³¹ − 1 (about 24.8 days), as Node's timers.
pub const MAX_MILLIS: f64 = 2_147_483_647.0;

/// `ms` as a `Duration`: finite and within `0..=MAX_MILLIS`, or
/// [`riptide::Error::InvalidOption`] naming `what`.
pub fn millis(what: &str, ms: f64) -> Result<Duration, riptide::Error> {
    if !(0.0..=MAX_MILLIS).contains(&ms) {
        return Err(riptide::Error::InvalidOption(format!(
            "{what} must be a number of ms in [0, {MAX_MILLIS}], got {ms}"
        )));
    }
    Ok(Duration::from_secs_f64(ms / 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boundary_numbers() {
        for bad in [
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.0,
            -0.5,
            MAX_MILLIS + 1.0,
            1e300,
            2f64.powi(64) - 1.0,
        ] {
            assert!(millis("t", bad).is_err(), "{bad}");
        }
        assert_eq!(millis("t", 0.0).unwrap(), Duration::ZERO);
        assert_eq!(millis("t", 1.5).unwrap(), Duration::from_micros(1500));
        assert_eq!(
            millis("t", MAX_MILLIS).unwrap(),
            Duration::from_millis(2_147_483_647)
        );
    }
}
