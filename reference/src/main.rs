//! `authconform-reference`: the reference implementation as a standalone binary.

use std::process::ExitCode;

use authconform_reference::{InvalidArgs, ReferenceCli, UnknownFault};
use clap::Parser;

/// Reference MCP server for authconform, with seeded faults.
#[derive(Parser, Debug)]
#[command(name = "authconform-reference", version, about)]
struct Cli {
    #[command(flatten)]
    reference: ReferenceCli,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("authconform-reference: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(authconform_reference::run(cli.reference)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e)
            if e.downcast_ref::<UnknownFault>().is_some()
                || e.downcast_ref::<InvalidArgs>().is_some() =>
        {
            eprintln!("authconform-reference: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("authconform-reference: {e:#}");
            ExitCode::FAILURE
        }
    }
}
