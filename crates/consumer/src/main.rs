//! `consumer`: reads the metrics topic in a consumer group and forwards records to the api-backend.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    common::ops::init_tracing();
    let config = consumer::config::Config::from_args();
    consumer::app::run(config).await
}
