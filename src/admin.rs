//! Operator commands: migrations, workspaces, keys. They use the configured database directly.

use anyhow::{Context, bail};
use clap::Subcommand;

use longrun_api::tiers::Tier;
use longrun_store::StoreError;

use crate::config::Config;
use crate::roles::open_store;

#[derive(Debug, Subcommand)]
pub(crate) enum AdminCommand {
    /// Workspaces (tenants).
    Workspace {
        #[command(subcommand)]
        command: WorkspaceCommand,
    },
    /// API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum WorkspaceCommand {
    /// Creates a workspace and prints its first API key (role admin).
    Create {
        slug: String,
        #[arg(long, default_value = "free", value_parser = ["free", "starter", "pro", "enterprise"])]
        tier: String,
        /// Display name; defaults to the slug.
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Creates another API key for a workspace and prints it.
    Create {
        slug: String,
        #[arg(long, default_value = "cli")]
        name: String,
        #[arg(long, default_value = "admin", value_parser = ["admin", "member", "billing"])]
        role: String,
    },
}

pub(crate) async fn migrate(config: &Config) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    println!(
        "database is at migration version {}",
        store_version(&store).await?
    );
    store.close().await;
    Ok(())
}

async fn store_version(store: &longrun_store::Store) -> anyhow::Result<i64> {
    Ok(store.migrate().await?.current_version)
}

pub(crate) async fn run(config: &Config, command: AdminCommand) -> anyhow::Result<()> {
    let store = open_store(config).await?;
    match command {
        AdminCommand::Workspace {
            command: WorkspaceCommand::Create { slug, tier, name },
        } => {
            if !longrun_api::valid_name(&slug) {
                bail!("invalid slug {slug:?}: 1 to 64 characters of a-z, 0-9, '-' and '_'");
            }
            let tier = Tier::parse(&tier).context("unknown tier")?;
            let workspace = store
                .create_workspace(&slug, name.as_deref().unwrap_or(&slug), tier.as_str())
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => anyhow::anyhow!("workspace {slug:?} already exists"),
                    other => other.into(),
                })?;
            let (_, secret) = longrun_api::issue_api_key(&store, &workspace.id, "initial", "admin")
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "workspace {} created (id {}, tier {})",
                workspace.slug, workspace.id, workspace.tier
            );
            println!("API key (shown once): {secret}");
        }
        AdminCommand::Key {
            command: KeyCommand::Create { slug, name, role },
        } => {
            let workspace = store
                .workspace_by_slug(&slug)
                .await?
                .with_context(|| format!("no workspace {slug:?}"))?;
            let (key, secret) = longrun_api::issue_api_key(&store, &workspace.id, &name, &role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("key {} ({role}) for workspace {slug}", key.id);
            println!("API key (shown once): {secret}");
        }
    }
    store.close().await;
    Ok(())
}
