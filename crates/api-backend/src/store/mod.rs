//! MySQL storage: the connection pool (connected with retries at start), the schema migrations,
//! the write path of ingest (`write`: records into `raw_recent`), the storage tiers (`raw`: the
//! raw tier's tables, `compact`: `raw_recent` into chunks and rollups, `rollups`, `partitions`,
//! `retention`, `legacy`: the pre-tier tables converted), the read paths (`read`: the machine list,
//! kept until the inventory changes, inventory and events; `samples`), and alerting's rules, events, engine state and silences (`alerts`).

mod alerts;
mod columns;
mod compact;
mod legacy;
mod machines;
mod partitions;
mod plan;
mod raw;
mod read;
mod retention;
mod rollups;
mod samples;
mod write;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use common::backoff::Backoff;
use common::shutdown::Shutdown;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions};
use sqlx::{Connection, Executor};

use crate::config::{redact_url, Config};
use crate::error::{Error, Result};

pub use crate::alerts::persist::StateChange;
pub use alerts::{EventFilter, SavedState, StoredEvent, StoredRule};
pub use compact::Pass;
pub use machines::Kind;
pub use read::{
    ContainerSampleView, EventView, HostSampleView, InventoryContainer, InventoryHost, MachineRef, MachineView, Samples,
};
pub use retention::{Retention, Swept};
pub use rollups::Tier;
pub use samples::Source;

/// Handle to the database; cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: MySqlPool,
    machines: Arc<machines::Cache>,
    /// The machine list as last read, for [`Store::machines`].
    listed: Arc<read::Listed>,
    watermark: Arc<compact::Watermark>,
    progress: Arc<compact::Progress>,
    raw_floor: Arc<retention::Floor>,
}

/// First delay between connection attempts at start; doubles up to [`CONNECT_BACKOFF_MAX`].
const CONNECT_BACKOFF_START: Duration = Duration::from_millis(250);
const CONNECT_BACKOFF_MAX: Duration = Duration::from_secs(5);

impl Store {
    /// Connects, retrying with backoff for up to `config.connect_timeout` (so the start order of
    /// the services does not matter), then runs the migrations.
    pub async fn connect(config: &Config, shutdown: &Shutdown) -> Result<Self> {
        let options = MySqlConnectOptions::from_str(&config.database_url).map_err(Error::from_sqlx)?;
        let pool_options = MySqlPoolOptions::new()
            .max_connections(config.pool_size)
            .acquire_timeout(config.acquire_timeout)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    // Ingest reads what concurrent batches committed (machines they created)
                    // instead of a snapshot, and takes no gap locks: fewer conflicts and deadlocks.
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                    Ok(())
                })
            });
        let shown = redact_url(&config.database_url);
        let started = tokio::time::Instant::now();
        wait_for_server(&options, &shown, config.connect_timeout, shutdown).await?;
        let pool = pool_options.connect_with(options).await.map_err(|e| Error::Connect {
            after: started.elapsed(),
            source: e,
        })?;
        tracing::info!(url = %shown, "connected to MySQL");
        sqlx::migrate!("../../migrations").run(&pool).await?;
        let store = Store::from_pool(pool);
        store.load_raw_floor().await?;
        Ok(store)
    }

    /// Wraps a migrated pool whose sessions run READ COMMITTED (see [`Store::connect`]).
    fn from_pool(pool: MySqlPool) -> Self {
        Store {
            pool,
            machines: Arc::new(machines::Cache::default()),
            listed: Arc::new(read::Listed::default()),
            watermark: Arc::new(compact::Watermark::default()),
            progress: Arc::new(compact::Progress::default()),
            raw_floor: Arc::new(retention::Floor::default()),
        }
    }

    /// The pool, for tests and tools.
    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// One round trip to the server, bounded by `timeout`.
    pub async fn ping(&self, timeout: Duration) -> Result<()> {
        match tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&self.pool)).await {
            Ok(result) => result.map(|_| ()).map_err(Error::from_sqlx),
            Err(_) => Err(Error::Unavailable(sqlx::Error::PoolTimedOut)),
        }
    }

    /// Records stored (in `raw_recent` or compacted) and the container samples among them.
    pub async fn stored_counts(&self) -> Result<(u64, u64)> {
        let mut conn = self.pool.acquire().await.map_err(Error::from_sqlx)?;
        raw::counts(&mut conn).await.map_err(Error::from_sqlx)
    }

    /// Closes every connection (at shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Tries one real connection per attempt (so every failure is seen and logged) with growing
/// pauses, until one succeeds or `within` has passed since the first.
async fn wait_for_server(
    options: &MySqlConnectOptions,
    shown: &str,
    within: Duration,
    shutdown: &Shutdown,
) -> Result<()> {
    let started = tokio::time::Instant::now();
    let mut backoff = Backoff::new(CONNECT_BACKOFF_START, CONNECT_BACKOFF_MAX);
    for attempt in 1u32.. {
        let left = within.saturating_sub(started.elapsed()).max(Duration::from_millis(100));
        let e = match tokio::time::timeout(left, MySqlConnection::connect_with(options)).await {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
                return Ok(());
            }
            Ok(Err(e)) => e,
            Err(_) => sqlx::Error::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection attempt timed out",
            )),
        };
        let left = within.saturating_sub(started.elapsed());
        if left.is_zero() || shutdown.is_triggered() {
            return Err(Error::Connect {
                after: within,
                source: e,
            });
        }
        let delay = backoff.next_delay().min(left);
        tracing::warn!(url = %shown, attempt, error = %e, retry_in = ?delay, "cannot connect to MySQL yet");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = shutdown.wait() => return Err(Error::Connect { after: started.elapsed(), source: e }),
        }
    }
    unreachable!("the attempts never run out")
}
