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

/// A record of `host_id` sampled at `at` with the given CPU %.
pub fn host_record_at(host_id: &str, at: chrono::DateTime<chrono::Utc>, cpu_percent: f64) -> Record {
    let mut r = host_record(host_id);
    r.sampled_at = common::timefmt::truncate_millis(at);
    r.host.cpu_percent = Some(cpu_percent);
    r
}
