//! The storage tiers on a real MariaDB: what goes in comes back out of the raw tier and the
//! rollups (`props`), tier choice of the samples queries (`tiers`), retention (`retention`),
//! and an upgrade from the pre-tier tables (`upgrade`).

mod props;
mod retention;
mod tiers;
mod upgrade;

use chrono::{DateTime, Utc};

/// Far enough ahead that a compaction at it takes everything stored.
pub fn everything() -> DateTime<Utc> {
    Utc::now() + chrono::TimeDelta::days(2)
}
