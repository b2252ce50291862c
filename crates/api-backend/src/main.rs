//! `api-backend`: parse the settings, run the library until SIGTERM or SIGINT.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let config = api_backend::Config::from_env_and_args();
    common::ops::init_tracing();
    let (_trigger, shutdown) = common::shutdown::on_signals();
    match api_backend::run(config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
