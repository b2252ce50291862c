//! `collector`: parse the configuration, build the app from the library, run it.

use std::time::Duration;

fn main() -> anyhow::Result<()> {
    let cli = collector::config::parse();
    if !cli.output.print {
        let bootstrap = cli.output.bootstrap_server.clone().filter(|b| !b.trim().is_empty());
        common::config::required(bootstrap, "BOOTSTRAP_SERVER", "--bootstrap-server");
    }
    common::ops::init_tracing();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(collector::app::run(cli));
    // Do not wait for a blocking Kafka metadata call still in flight.
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Err(collector::Error::Config(line)) => common::config::fail(line),
        other => Ok(other?),
    }
}
