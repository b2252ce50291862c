//! One shutdown signal that reaches every task: SIGINT or SIGTERM fires it once, and every clone
//! of [`Shutdown`] sees it.

use tokio::sync::watch;

/// Fires the shutdown (used by signal handling and by tests).
#[derive(Debug, Clone)]
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn fire(&self) {
        let _ = self.0.send(true);
    }
}

/// A handle every task holds; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// Has shutdown been requested?
    pub fn is_triggered(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once shutdown is requested (at once if it already was).
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|fired| *fired).await;
    }
}

/// A trigger and its handle.
pub fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

/// A handle fired by the first SIGINT or SIGTERM. Must be called inside a tokio runtime.
pub fn on_signals() -> (Trigger, Shutdown) {
    let (trigger, shutdown) = channel();
    let t = trigger.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received, shutting down"),
            _ = term.recv() => tracing::info!("SIGTERM received, shutting down"),
        }
        t.fire();
    });
    (trigger, shutdown)
}
