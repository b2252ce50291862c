//! What the backend stored, read straight from MySQL: every raw sample as (host id, sample time
//! in ms), whether it still waits in `raw_recent` or is compacted into a chunk (decoded with the
//! backend's own codec).

use sqlx::MySqlPool;

/// Every stored raw sample of every host, as (host id, sample time in ms), in no order.
pub async fn samples(pool: &MySqlPool) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for table in ["raw_recent", "raw_chunks"] {
        let rows: Vec<(String, Vec<u8>)> = sqlx::query_as(&format!(
            "SELECT CONVERT(m.ext_id USING utf8mb4), t.payload FROM {table} t JOIN machines m ON m.id = t.host_machine_id"
        ))
        .fetch_all(pool)
        .await
        .unwrap_or_else(|e| panic!("read {table}: {e}"));
        for (host, payload) in rows {
            let samples = codec::decode_frames(&payload)
                .unwrap_or_else(|e| panic!("a {table} row of {host} does not decode: {e}"));
            out.extend(samples.into_iter().map(|s| (host.clone(), s.at.timestamp_millis())));
        }
    }
    out
}

/// Records stored: rows of `raw_recent` plus the samples of the chunks.
pub async fn count(pool: &MySqlPool) -> i64 {
    try_count(pool)
        .await
        .unwrap_or_else(|e| panic!("count stored records: {e}"))
}

/// [`count`], or the error (a MariaDB whose disk is full may not give the test a connection).
pub async fn try_count(pool: &MySqlPool) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT CAST((SELECT COUNT(*) FROM raw_recent) + (SELECT COALESCE(SUM(samples), 0) FROM raw_chunks) AS SIGNED)",
    )
    .fetch_one(pool)
    .await
}
