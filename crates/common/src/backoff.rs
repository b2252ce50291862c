//! The one retry backoff: delays that double from a first one up to a cap, each a random point
//! in `[d/2, d]` (jitter) so that many clients failing together do not retry in step.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The delays of one run of retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    next: Duration,
    max: Duration,
}

impl Backoff {
    /// Delays from `first` doubling up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        let first = first.min(max);
        Backoff {
            first,
            next: first,
            max,
        }
    }

    /// The next delay to wait, with jitter.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        let half = base / 2;
        half + (base - half).mul_f64(unit_random())
    }

    /// After a success: the next delay is the first again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// A random number in `[0, 1)` from the standard library's randomly seeded hasher.
fn unit_random() -> f64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_up_to_the_cap_with_jitter_and_reset() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(800));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        for (i, lo, hi) in [(0, 50, 100), (1, 100, 200), (2, 200, 400)] {
            assert!(delays[i] >= ms(lo) && delays[i] <= ms(hi), "{i}: {:?}", delays[i]);
        }
        for d in &delays[3..] {
            assert!(*d >= ms(400) && *d <= ms(800), "{d:?}");
        }
        b.reset();
        assert!(b.next_delay() <= ms(100));
        // jittered: not all equal
        let mut b = Backoff::new(ms(1000), ms(1000));
        let many: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(many.len() > 1, "{many:?}");
    }
}
