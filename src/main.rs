//! `longrun`: the one binary. Parses arguments, loads and validates configuration, starts
//! telemetry, and hands over to a role (`dev`, `api`, `worker`) or an operator command.

mod admin;
#[cfg(test)]
mod architecture_checks;
mod billing;
mod client;
mod config;
mod demo;
#[cfg(test)]
mod deploy_checks;
mod roles;
mod telemetry;
#[cfg(test)]
mod testing;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use crate::config::Layers;

#[derive(Debug, Parser)]
#[command(
    name = "longrun",
    version,
    about = "Runs long-lived AI agent jobs for many tenants, durably, on Temporal."
)]
struct Cli {
    /// TOML file with configuration (keys as in the README, lower case, without LONGRUN_).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    #[command(subcommand)]
    command: Command,
}

/// Flags that override the file and the environment.
#[derive(Debug, Args)]
struct Overrides {
    /// API address (LONGRUN_LISTEN).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    listen: Option<String>,
    /// Metrics address (LONGRUN_METRICS_LISTEN).
    #[arg(long, global = true, value_name = "HOST:PORT")]
    metrics_listen: Option<String>,
    /// Database URL (LONGRUN_DATABASE_URL).
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Temporal frontend (LONGRUN_TEMPORAL_ADDRESS).
    #[arg(long, global = true, value_name = "URL")]
    temporal_address: Option<String>,
    /// Data directory (LONGRUN_DATA_DIR).
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Everything in one process on embedded defaults: a Temporal dev server, SQLite, API and
    /// worker, and a demo run.
    Dev(roles::DevArgs),
    /// The HTTP API role.
    Api,
    /// The Temporal worker role.
    Worker,
    /// Applies database migrations and exits.
    Migrate,
    /// Operator commands: workspaces and keys.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// Billing jobs: the ledger export and its reconciliation with Temporal.
    Billing {
        #[command(subcommand)]
        command: billing::BillingCommand,
    },
    /// Replays workflow histories (JSON from `fetch_history`) against this build's workflow
    /// code: run before deploying a change to workflows/.
    Replay { files: Vec<std::path::PathBuf> },
    /// Client: submit, follow, list, steer runs on a longrun API (LONGRUN_API_URL,
    /// LONGRUN_API_KEY).
    Runs {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::RunsCommand,
    },
    /// Client: create, update and read agents on a longrun API.
    Agents {
        #[command(flatten)]
        connection: client::Connection,
        #[command(subcommand)]
        command: client::AgentsCommand,
    },
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Prints the API's OpenAPI document (what `GET /openapi.json` serves), without a server.
    Openapi,
}

fn main() -> ExitCode {
    let mut cli = Cli::parse();
    // The client commands and the document need no server configuration.
    cli.command = match cli.command {
        Command::Runs {
            connection,
            command,
        } => return ExitCode::from(client::run(&connection, client::Command::Runs(command))),
        Command::Agents {
            connection,
            command,
        } => return ExitCode::from(client::run(&connection, client::Command::Agents(command))),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "longrun",
                &mut std::io::stdout(),
            );
            return ExitCode::SUCCESS;
        }
        Command::Openapi => {
            let document = longrun_api::openapi::document();
            println!(
                "{}",
                serde_json::to_string_pretty(&document).unwrap_or_default()
            );
            return ExitCode::SUCCESS;
        }
        server => server,
    };
    let mut layers = match Layers::load(cli.config.as_deref(), |k| std::env::var(k).ok()) {
        Ok(layers) => layers,
        Err(err) => return configuration_error(err),
    };
    layers.set_flag("LONGRUN_LISTEN", cli.overrides.listen);
    layers.set_flag("LONGRUN_METRICS_LISTEN", cli.overrides.metrics_listen);
    layers.set_flag("LONGRUN_DATABASE_URL", cli.overrides.database_url);
    layers.set_flag("LONGRUN_TEMPORAL_ADDRESS", cli.overrides.temporal_address);
    layers.set_flag("LONGRUN_DATA_DIR", cli.overrides.data_dir);
    let config = match layers.validate() {
        Ok(config) => config,
        Err(err) => return configuration_error(err),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("longrun: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let subscriber = telemetry::init(config.log_format);
    let outcome = runtime.block_on(async move {
        match cli.command {
            Command::Dev(args) => roles::dev(config, args, subscriber).await,
            Command::Api => roles::api(config).await,
            Command::Worker => roles::worker(config, subscriber).await,
            Command::Migrate => admin::migrate(&config).await,
            Command::Admin { command } => admin::run(&config, command).await,
            Command::Billing { command } => billing::run(&config, command).await,
            Command::Replay { files } => replay(files).await,
            Command::Runs { .. }
            | Command::Agents { .. }
            | Command::Completions { .. }
            | Command::Openapi => Ok(()),
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("longrun: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn replay(files: Vec<std::path::PathBuf>) -> anyhow::Result<()> {
    use anyhow::Context;
    let mut histories = Vec::with_capacity(files.len());
    for file in &files {
        histories
            .push(std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?);
    }
    let outcomes = longrun_worker::replay::replay_histories(&histories).await?;
    let mut failed = 0;
    for (file, outcome) in files.iter().zip(outcomes) {
        match outcome {
            Ok(()) => println!("ok\t{}", file.display()),
            Err(err) => {
                failed += 1;
                println!("FAILED\t{}\t{err}", file.display());
            }
        }
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} history(ies) do not replay against this build"
    );
    Ok(())
}

fn configuration_error(err: config::ConfigError) -> ExitCode {
    eprintln!("longrun: configuration error: {err}");
    ExitCode::from(2)
}
