//! The `authconform` command.

fn main() -> std::process::ExitCode {
    authconform::cli::main()
}
