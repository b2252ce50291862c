//! Putting it together: connect and migrate, keep the `database` readiness check current,
//! start notifications and alerting, build the router, serve until shutdown (then store the
//! last alert events and engine state, and let the notifier deliver what it holds).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use common::ops::{Ops, Readiness};
use common::shutdown::{Shutdown, Trigger};
use common::tasks::Tasks;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::alerting::{Alerting, AlertingMetrics, AlertingSettings};
use crate::config::Config;
use crate::error::Result;
use crate::http::{self, AppState};
use crate::hub::Hub;
use crate::metrics::Metrics;
use crate::notify::{Notifier, NotifierHandle, NotifyMetrics};
use crate::store::Store;

/// Name of the readiness check that says the API router (not the start-up one) answers.
pub const SERVING_CHECK: &str = "http";
/// Name of the readiness check that follows MySQL.
pub const DATABASE_CHECK: &str = "database";
/// How often MySQL is pinged for the readiness check.
pub const CHECK_EVERY: Duration = Duration::from_secs(2);
const PING_TIMEOUT: Duration = Duration::from_secs(2);
/// How long in-flight requests may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long shutdown waits for the background tasks once alerting and the notifier stopped.
pub const TASKS_GRACE: Duration = Duration::from_secs(5);

/// A connected, migrated application, ready to serve.
pub struct App {
    pub router: Router,
    pub store: Store,
    pub readiness: Arc<Readiness>,
    pub metrics: Metrics,
    /// Fan-out to the live streams: publish stored alert events here, set the snapshot source.
    pub hub: Hub,
    /// The alert engine wired to storage, notifications and the hub.
    pub alerting: Alerting,
    /// Webhook notifications of alert events.
    pub notifier: NotifierHandle,
    /// Stops the notifier: fired after alerting stored and published its last events.
    pub notifier_stop: Trigger,
    /// The background tasks (supervised), for shutdown to wait for.
    pub tasks: Tasks,
}

/// Connects (retrying within `config.connect_timeout`), migrates, starts the database watcher
/// (it stops with `shutdown`) and builds the router.
pub async fn build(config: &Config, shutdown: &Shutdown) -> Result<App> {
    build_with_hub(config, shutdown, Hub::default()).await
}

/// As [`build`], with the given (not yet registered) hub: tests use a small capacity and a
/// short heartbeat.
pub async fn build_with_hub(config: &Config, shutdown: &Shutdown, hub: Hub) -> Result<App> {
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let readiness = Readiness::new();
    build_with(config, shutdown, registry, metrics, readiness, hub).await
}

async fn build_with(
    config: &Config,
    shutdown: &Shutdown,
    mut registry: Registry,
    metrics: Metrics,
    readiness: Arc<Readiness>,
    hub: Hub,
) -> Result<App> {
    hub.register(&mut registry);
    let tasks = Tasks::register(&mut registry, "api");
    {
        // open streams end at shutdown, so the server can stop
        let (hub, shutdown) = (hub.clone(), shutdown.clone());
        tasks.spawn(async move {
            shutdown.wait().await;
            hub.close();
        });
    }
    // The notifier stops after alerting published its last events (see `run`), not on the
    // signal: those events would otherwise be counted as dropped and never notified.
    let (notifier_stop, notifier_shutdown) = common::shutdown::channel();
    let notifier = Notifier::spawn(
        &config.notify,
        NotifyMetrics::register(&mut registry),
        notifier_shutdown,
        readiness.clone(),
    );
    let alerting_metrics = AlertingMetrics::register(&mut registry);
    readiness.set(DATABASE_CHECK, false, "connecting to MySQL and applying migrations");
    let store = Store::connect(config, shutdown).await?;
    let alerting = Alerting::start(
        store.clone(),
        notifier.clone(),
        hub.clone(),
        alerting_metrics,
        AlertingSettings {
            retention_days: config.alert_retention_days,
        },
        shutdown.clone(),
        &tasks,
    )
    .await?;
    // partitions before anything is compacted into them (rows would land in `p_future`)
    store
        .ensure_partitions(&config.storage.retention, chrono::Utc::now())
        .await?;
    {
        let (store, settings, shutdown) = (store.clone(), config.storage.clone(), shutdown.clone());
        let storage_metrics = crate::storage::StorageMetrics::register(&mut registry);
        tasks.supervise("storage", move || {
            crate::storage::run(
                store.clone(),
                settings.clone(),
                storage_metrics.clone(),
                shutdown.clone(),
            )
        });
    }
    readiness.set(DATABASE_CHECK, true, "connected");
    metrics.database_up.set(1);
    {
        let (store, readiness, up, shutdown) = (
            store.clone(),
            readiness.clone(),
            metrics.database_up.clone(),
            shutdown.clone(),
        );
        tasks.supervise("database_watch", move || {
            watch_database(store.clone(), readiness.clone(), up.clone(), shutdown.clone())
        });
    }
    let ops = Ops {
        registry: Arc::new(registry),
        readiness: readiness.clone(),
    };
    let latest = crate::latest::Latest::default();
    let state = AppState {
        store: store.clone(),
        metrics: metrics.clone(),
        max_body: config.ingest_max_body_bytes,
        hub: hub.clone(),
        alerting: alerting.clone(),
        ingest: crate::ingest::Ingest {
            store: store.clone(),
            metrics: metrics.clone(),
            alerting: alerting.clone(),
            hub: hub.clone(),
            latest: latest.clone(),
            raw_retention: config.storage.retention.raw,
            max_clock_skew: config.max_clock_skew,
        },
        retention: config.storage.retention.clone(),
        streams: crate::http::streams::limit::Streams::new(config.streams),
        latest,
        readiness: readiness.clone(),
    };
    let router = http::router(state, config.tokens.clone(), &config.cors, ops);
    Ok(App {
        router,
        store,
        readiness,
        metrics,
        hub,
        alerting,
        notifier,
        notifier_stop,
        tasks,
    })
}

/// Builds the app and serves it on `config.listen` until `shutdown` fires; in-flight requests
/// get [`SHUTDOWN_GRACE`] to finish.
pub async fn run(config: Config, shutdown: Shutdown) -> Result<()> {
    // Bind first: a taken port fails at once, and `/health/live`, `/health/ready` (503 until
    // MySQL is connected and migrated) and `/metrics` answer during the wait for MySQL.
    let listener = common::ops::bind(config.listen).await?.into_std()?;
    let mut registry = Registry::default();
    let metrics = Metrics::register(&mut registry);
    let conns = common::server::Connections::register(&mut registry);
    let readiness = Readiness::new();
    // Not ready while the interim server answers: it has only the ops routes, so a client that
    // saw "ready" from it would get 404 from the API until the real router serves.
    readiness.set(SERVING_CHECK, false, "starting");
    let (interim_stop, interim_shutdown) = common::shutdown::channel();
    let interim = {
        // Its own empty registry: the backend's metrics are served once it runs.
        let router = common::ops::router(Ops {
            registry: Arc::new(Registry::default()),
            readiness: readiness.clone(),
        });
        let listener = tokio::net::TcpListener::from_std(listener.try_clone()?)?;
        tokio::spawn(common::ops::serve_on(listener, router, interim_shutdown, conns.clone()))
    };
    let built = build_with(&config, &shutdown, registry, metrics, readiness, Hub::default()).await;
    interim_stop.fire();
    let _ = interim.await;
    let app = built?;
    let serve = common::ops::serve_on(
        tokio::net::TcpListener::from_std(listener)?,
        app.router,
        shutdown.clone(),
        conns,
    );
    app.readiness.set(SERVING_CHECK, true, "serving the API");
    let grace = async {
        shutdown.wait().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = serve => served?,
        () = grace => tracing::warn!(grace = ?SHUTDOWN_GRACE, "in-flight requests did not finish in time; exiting"),
    }
    // In dependency order: the last alert events and the engine state (ingest has stopped),
    // then the notifications of those events, then the background tasks, then the pool.
    app.alerting.close().await;
    app.notifier_stop.fire();
    app.notifier.stopped().await;
    let running = app.tasks.wait(TASKS_GRACE).await;
    if running > 0 {
        tracing::warn!(running, grace = ?TASKS_GRACE, "background tasks did not stop in time");
    }
    app.store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Pings MySQL every [`CHECK_EVERY`] and reports the result, with the ping's time, as the
/// `database` readiness check; logs once when it is lost and once when it is back.
async fn watch_database(store: Store, readiness: Arc<Readiness>, up: Gauge, shutdown: Shutdown) {
    let mut was_ok = true;
    loop {
        tokio::select! {
            () = tokio::time::sleep(CHECK_EVERY) => {}
            () = shutdown.wait() => return,
        }
        let started = std::time::Instant::now();
        let result = store.ping(PING_TIMEOUT).await;
        let took = started.elapsed();
        match result {
            Ok(()) => {
                if !was_ok {
                    tracing::info!("MySQL is reachable again");
                }
                readiness.measured(DATABASE_CHECK, true, "reachable", took);
                up.set(1);
                was_ok = true;
            }
            Err(e) => {
                if was_ok {
                    tracing::warn!(error = %e, "MySQL is unreachable; ingest answers 503 until it is back");
                }
                readiness.measured(DATABASE_CHECK, false, e.to_string(), took);
                up.set(0);
                was_ok = false;
            }
        }
    }
}
