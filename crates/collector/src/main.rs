//! `collector`: parse the configuration, build the app from the library, run it.

use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let cli = collector::config::parse();
    if !cli.output.print {
        let bootstrap = cli.output.bootstrap_server.clone().filter(|b| !b.trim().is_empty());
        common::config::required(bootstrap, "BOOTSTRAP_SERVER", "--bootstrap-server");
    }
    common::ops::init_tracing();
    // One thread is plenty for a tick of file reads and a few dozen Docker requests, and it
    // avoids the cross-thread wake-ups a multi-thread runtime pays for them (measured: about a
    // quarter of the collector's CPU went to context switches).
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let result = runtime.block_on(collector::app::run(cli));
    // Do not wait for a blocking Kafka metadata call still in flight.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Err(collector::Error::Config(line)) => common::config::fail(line),
        other => Ok(other?),
    }
}
