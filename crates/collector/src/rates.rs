//! Turning monotonically increasing counters into per-second rates over a measured elapsed time.
//!
//! The rules every rate in a record follows (CONTRACT §2): no previous sample → no rate; a counter
//! that went backwards (a reset, a restarted container) → no rate for that tick; never a fake 0.

use std::time::Duration;

/// `(cur - prev) / elapsed` in units per second, or `None` when the counter went backwards or no
/// time elapsed.
pub fn per_sec(prev: u64, cur: u64, elapsed: Duration) -> Option<f64> {
    let delta = cur.checked_sub(prev)?;
    let secs = elapsed.as_secs_f64();
    (secs > 0.0).then(|| delta as f64 / secs)
}

/// [`per_sec`] when both counters were measured.
pub fn per_sec_opt(prev: Option<u64>, cur: Option<u64>, elapsed: Duration) -> Option<f64> {
    per_sec(prev?, cur?, elapsed)
}

/// Sums per-second rates of several counters; `None` as soon as one of them has no rate, or when
/// there is nothing to sum.
pub fn sum_rates(rates: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let mut total = None;
    for rate in rates {
        total = Some(total.unwrap_or(0.0) + rate?);
    }
    total
}

/// Rounds to two decimals: percentages and rates do not need more on the wire.
pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_over_elapsed_time() {
        assert_eq!(per_sec(1_000, 3_000, Duration::from_millis(500)), Some(4_000.0));
        assert_eq!(per_sec(5, 5, Duration::from_secs(1)), Some(0.0));
    }

    #[test]
    fn counter_going_backwards_gives_no_rate() {
        assert_eq!(per_sec(3_000, 1_000, Duration::from_secs(1)), None);
    }

    #[test]
    fn no_elapsed_time_gives_no_rate() {
        assert_eq!(per_sec(1, 2, Duration::ZERO), None);
    }

    #[test]
    fn sums_only_when_every_part_has_a_rate() {
        assert_eq!(sum_rates([Some(1.0), Some(2.5)]), Some(3.5));
        assert_eq!(sum_rates([Some(1.0), None]), None);
        assert_eq!(sum_rates(std::iter::empty()), None);
    }
}
