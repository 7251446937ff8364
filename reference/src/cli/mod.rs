//! `cli`: the reference command-line client of a Peel-shaped vendor host. It
//! signs in with the OAuth 2.0 Device Authorization Grant (RFC 8628) or takes
//! an API key directly, keeps the key in a private credential file, and sends
//! it as `X-API-Key` on REST and MCP calls.
//!
//! The host and TLS trust come from the environment (`REFCLI_HOST`,
//! `REFCLI_CA_BUNDLE`, `REFCLI_ORG_ID`, `REFCLI_TIMEOUT_MS`, see [`config`]);
//! exit status 0 is success, 1 a failure (refused, denied, expired, not signed
//! in, network), 2 a usage error. Output never shows a full key (`…` and the
//! last 4 characters) nor the device code, unless a seeded fault says so.
//!
//! `connect <server>` is a different client: an MCP client that authorizes
//! with OAuth as the MCP authorization spec says (see [`connect`]).

mod commands;
mod config;
mod connect;
mod device;
mod host;
mod store;

use std::fmt;

use crate::faults::Faults;

/// Arguments of `cli`: the reference CLI's own command line.
#[derive(clap::Args, Debug, Clone)]
pub struct CliArgs {
    /// Print a line per request (method and URL, never a secret) and per response status, to stderr
    #[arg(long, global = true)]
    pub verbose: bool,
    /// Accepted for compatibility: listings are printed as the host's JSON anyway
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: CliCommand,
}

/// Top-level commands of the reference CLI.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum CliCommand {
    /// Sign in and out, show the sign-in state
    #[command(subcommand)]
    Auth(AuthCommand),
    /// The host API's APIs
    #[command(subcommand)]
    Apis(ApisCommand),
    /// API keys of an organisation
    #[command(subcommand, name = "api-keys")]
    ApiKeys(ApiKeysCommand),
    /// The host's MCP endpoint
    #[command(subcommand)]
    Mcp(McpCommand),
    /// Connect to an MCP server as an OAuth client (MCP authorization 2025-11-25) and call its `whoami` tool
    Connect {
        /// The MCP endpoint URL, e.g. https://127.0.0.1:40123/mcp
        server: String,
    },
}

/// `auth …` commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum AuthCommand {
    /// Sign in with the device flow (RFC 8628), or store a key given with --api-key
    Login {
        /// Store this API key without any network call
        #[arg(long, value_name = "KEY")]
        api_key: Option<String>,
    },
    /// Service-account sign-in (non-interactive)
    #[command(subcommand, name = "service-account")]
    ServiceAccount(ServiceAccountCommand),
    /// Show whether a key is stored (no network)
    Status,
    /// Remove the stored key
    Logout,
    /// Create an account on the host (headless signup)
    Signup {
        /// Account e-mail address
        #[arg(long)]
        email: String,
        /// Account password
        #[arg(long)]
        password: String,
    },
}

/// `auth service-account …` commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ServiceAccountCommand {
    /// Check the key against the host (GET /v1/apis) and store it
    Login {
        /// The service-account API key
        #[arg(long, value_name = "KEY")]
        key: String,
    },
}

/// `apis …` commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ApisCommand {
    /// GET /v1/apis with the stored key
    List,
}

/// `api-keys …` commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum ApiKeysCommand {
    /// GET /api/v1/organizations/{org}/api-keys with the stored key
    List {
        /// Organisation (default: REFCLI_ORG_ID)
        #[arg(long)]
        org: Option<String>,
    },
}

/// `mcp …` commands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum McpCommand {
    /// POST /mcp tools/list with the stored key
    Tools,
}

/// Why a command failed, with its exit status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CliError {
    /// 1 (failure) or 2 (usage).
    pub(crate) code: i32,
    /// What the user is told on stderr.
    pub(crate) message: String,
}

impl CliError {
    /// A failure: refused, denied, expired, not signed in, network (exit 1).
    pub(crate) fn failure(message: impl Into<String>) -> Self {
        Self {
            code: 1,
            message: message.into(),
        }
    }

    /// A usage error: bad or missing input (exit 2).
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Self {
            code: 2,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The outcome of a command.
pub(crate) type CliResult = Result<(), CliError>;

/// Runs the CLI with the given faults and returns its exit status (0, 1 or 2);
/// errors are printed to stderr.
pub(crate) async fn run(args: CliArgs, faults: Faults) -> i32 {
    crate::install_crypto_providers();
    let ctx = commands::Context::new(faults, args.verbose);
    match dispatch(&ctx, args.command).await {
        Ok(()) => 0,
        Err(err) => {
            if !err.message.is_empty() {
                eprintln!("{err}");
            }
            err.code
        }
    }
}

/// Runs one command.
async fn dispatch(ctx: &commands::Context, command: CliCommand) -> CliResult {
    match command {
        CliCommand::Auth(AuthCommand::Login { api_key: Some(key) }) => {
            commands::login_with_key(ctx, &key).await
        }
        CliCommand::Auth(AuthCommand::Login { api_key: None }) => commands::login(ctx).await,
        CliCommand::Auth(AuthCommand::ServiceAccount(ServiceAccountCommand::Login { key })) => {
            commands::service_account_login(ctx, &key).await
        }
        CliCommand::Auth(AuthCommand::Status) => commands::status(ctx),
        CliCommand::Auth(AuthCommand::Logout) => commands::logout(ctx),
        CliCommand::Auth(AuthCommand::Signup { email, password }) => {
            commands::signup(ctx, &email, &password).await
        }
        CliCommand::Apis(ApisCommand::List) => commands::apis_list(ctx).await,
        CliCommand::ApiKeys(ApiKeysCommand::List { org }) => {
            commands::api_keys_list(ctx, org.as_deref()).await
        }
        CliCommand::Mcp(McpCommand::Tools) => commands::mcp_tools(ctx).await,
        CliCommand::Connect { server } => connect::run(ctx.faults(), ctx.verbose(), &server).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser, Debug)]
    struct Top {
        #[command(flatten)]
        cli: CliArgs,
    }

    #[test]
    fn verbose_is_accepted_anywhere() {
        for argv in [
            ["x", "--verbose", "auth", "status"],
            ["x", "auth", "--verbose", "status"],
            ["x", "auth", "status", "--verbose"],
        ] {
            let top = Top::try_parse_from(argv).unwrap();
            assert!(top.cli.verbose, "{argv:?}");
        }
    }

    #[test]
    fn parses_the_command_tree() {
        let top =
            Top::try_parse_from(["x", "auth", "service-account", "login", "--key", "K"]).unwrap();
        assert!(matches!(
            top.cli.command,
            CliCommand::Auth(AuthCommand::ServiceAccount(
                ServiceAccountCommand::Login { .. }
            ))
        ));
        let top = Top::try_parse_from(["x", "api-keys", "list", "--org", "o1", "--json"]).unwrap();
        assert!(matches!(
            top.cli.command,
            CliCommand::ApiKeys(ApiKeysCommand::List { org: Some(ref o) }) if o == "o1"
        ));
    }
}
