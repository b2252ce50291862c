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

/// An app whose own compaction never takes the tests' records (months old at most): the test
/// compacts by hand, so a background pass cannot seal or move them meanwhile.
pub async fn compacted_by_hand() -> crate::support::TestApp {
    crate::support::TestApp::start_with(|c| c.storage.compact_after = std::time::Duration::from_secs(3650 * 86_400))
        .await
}
