//! Exponential backoff with jitter for webhook retries: delays double from an initial value up
//! to a cap, each one a random point in `[d/2, d]` so that many notifiers do not retry in step.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The delays of one notification's retries.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        Backoff {
            next: initial.min(max),
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
    fn delays_double_up_to_the_cap_with_jitter() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(800));
        let delays: Vec<_> = (0..8).map(|_| b.next_delay()).collect();
        for (i, lo, hi) in [(0, 50, 100), (1, 100, 200), (2, 200, 400)] {
            assert!(delays[i] >= ms(lo) && delays[i] <= ms(hi), "{i}: {:?}", delays[i]);
        }
        for d in &delays[3..] {
            assert!(*d >= ms(400) && *d <= ms(800), "{d:?}");
        }
        // jittered: not all equal
        let mut b = Backoff::new(ms(1000), ms(1000));
        let many: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(many.len() > 1, "{many:?}");
    }
}
