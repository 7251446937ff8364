//! `authconform-mocks`: the mock authorization server, upstream API and
//! device-flow server as a standalone program. See
//! [`authconform_mocks::standalone`].

use clap::Parser;

/// Mock OAuth authorization server, upstream API and device-flow server on
/// 127.0.0.1, for poking at an implementation by hand.
#[derive(Debug, Parser)]
#[command(name = "authconform-mocks", version)]
struct Cli {
    #[command(flatten)]
    mocks: authconform_mocks::standalone::MocksCli,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match authconform_mocks::standalone::run(cli.mocks).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authconform-mocks: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
