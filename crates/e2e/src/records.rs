//! Valid v1 records for tests that produce or ingest directly.

use common::{HostSample, Record};

/// A small valid record of `host_id`, sampled now.
pub fn host_record(host_id: &str) -> Record {
    Record {
        schema: 1,
        record_id: Record::new_id(),
        host_id: host_id.to_owned(),
        host_name: format!("{host_id}-name"),
        sampled_at: common::timefmt::truncate_millis(chrono::Utc::now()),
        interval_ms: 1000,
        host: HostSample {
            cpu_percent: Some(12.5),
            mem_total_bytes: Some(8 << 30),
            ..Default::default()
        },
        containers: vec![],
        events: vec![],
    }
}
