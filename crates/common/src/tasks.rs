//! Background tasks that are tracked and supervised: shutdown can wait for every task a
//! service started ([`Tasks::wait`]), and a task that panics is logged, counted and started
//! again ([`Tasks::supervise`]) instead of vanishing silently.

use std::future::Future;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use tokio_util::task::TaskTracker;

/// Pause before a panicked task is started again (a task that panics at once must not spin).
pub const RESTART_PAUSE: Duration = Duration::from_secs(1);

/// `task` label of `<service>_task_failures_total`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TaskLabel {
    pub task: &'static str,
}

/// The background tasks of one service; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    tracker: TaskTracker,
    failures: Family<TaskLabel, Counter>,
}

impl Tasks {
    /// Tasks whose failures are counted nowhere (tests).
    pub fn new() -> Self {
        Tasks::default()
    }

    /// Tasks whose failures are counted in `<prefix>_task_failures_total{task}`.
    pub fn register(registry: &mut Registry, prefix: &str) -> Self {
        let tasks = Tasks::default();
        registry.register(
            format!("{prefix}_task_failures"),
            "Background tasks that failed (panicked) and were started again, by task",
            tasks.failures.clone(),
        );
        tasks
    }

    /// How often the task `name` failed.
    pub fn failures(&self, name: &'static str) -> u64 {
        self.failures.get_or_create(&TaskLabel { task: name }).get()
    }

    /// Starts `future` as a tracked task.
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.tracker.spawn(future)
    }

    /// Starts the task `make()` builds, tracked; whenever it panics, logs the panic with
    /// `name`, counts it and after [`RESTART_PAUSE`] starts `make()` again. It ends when a run
    /// returns.
    pub fn supervise<M, F>(&self, name: &'static str, mut make: M)
    where
        M: FnMut() -> F + Send + 'static,
        F: Future<Output = ()> + Send + 'static,
    {
        let failures = self.failures.get_or_create(&TaskLabel { task: name }).clone();
        self.tracker.spawn(async move {
            loop {
                match tokio::spawn(make()).await {
                    Ok(()) => return,
                    Err(e) if e.is_panic() => {
                        tracing::error!(
                            task = name,
                            panic = panic_text(e.into_panic()),
                            "background task panicked; starting it again"
                        );
                        failures.inc();
                        tokio::time::sleep(RESTART_PAUSE).await;
                    }
                    Err(_) => return, // cancelled: the runtime is shutting down
                }
            }
        });
    }

    /// Waits until every task started through this handle has ended, at most `limit`; returns
    /// how many were still running then.
    pub async fn wait(&self, limit: Duration) -> usize {
        self.tracker.close();
        if tokio::time::timeout(limit, self.tracker.wait()).await.is_ok() {
            0
        } else {
            self.tracker.len()
        }
    }
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(not a string)".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use prometheus_client::registry::Registry;

    #[tokio::test(start_paused = true)]
    async fn a_panicking_task_is_counted_and_started_again_and_wait_sees_it_end() {
        let mut registry = Registry::default();
        let tasks = Tasks::register(&mut registry, "test");
        let runs = Arc::new(AtomicUsize::new(0));
        let r = runs.clone();
        tasks.supervise("flaky", move || {
            let n = r.fetch_add(1, Ordering::SeqCst);
            async move {
                assert!(n >= 2, "run {n} fails");
            }
        });
        assert_eq!(tasks.wait(Duration::from_secs(10)).await, 0);
        assert_eq!((runs.load(Ordering::SeqCst), tasks.failures("flaky")), (3, 2));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("test_task_failures_total{task=\"flaky\"} 2"), "{text}");
    }

    #[tokio::test(start_paused = true)]
    async fn wait_reports_the_tasks_still_running() {
        let tasks = Tasks::new();
        tasks.spawn(tokio::time::sleep(Duration::from_secs(60)));
        tasks.spawn(async {});
        assert_eq!(tasks.wait(Duration::from_secs(1)).await, 1);
    }
}
