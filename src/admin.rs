//! Operator commands: migrations, workspaces, keys. They use the configured database directly.

use anyhow::{Context, bail};
use clap::Subcommand;

use longrun_api::auth::Role;
use longrun_domain::Tier;
use longrun_store::{NewAudit, StoreError};
use longrun_workflows::AgentRunWorkflow;

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
    /// Users, who sign in with an email and a password (the API's login, the console).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum UserCommand {
    /// Adds a user to a workspace. The password is read from LONGRUN_USER_PASSWORD, or else
    /// from the first line of standard input (never from the command line, where `ps` shows
    /// it).
    Add {
        slug: String,
        email: String,
        #[arg(long, default_value = "member", value_parser = ["admin", "member", "billing"])]
        role: String,
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
    /// Moves a workspace to another tier; paused runs check the new limits at once.
    SetTier {
        slug: String,
        #[arg(value_parser = ["free", "starter", "pro", "enterprise"])]
        tier: String,
    },
    /// Overrides one of the tier's limits for a workspace: requests_per_minute,
    /// concurrent_runs, agent_minutes_per_month, tokens_per_month or max_run_s; a number or
    /// "unlimited".
    SetQuota {
        slug: String,
        field: String,
        value: String,
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
            let tier = Tier::parse(&tier)?;
            let workspace = store
                .create_workspace(&slug, name.as_deref().unwrap_or(&slug), tier)
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
        AdminCommand::Workspace {
            command: WorkspaceCommand::SetTier { slug, tier },
        } => {
            let workspace = workspace(&store, &slug).await?;
            let tier = Tier::parse(&tier)?;
            store.set_tier(&workspace.id, tier).await?;
            audit_operator(
                &store,
                &workspace.id,
                "workspace.set_tier",
                &serde_json::json!({"from": workspace.tier.as_str(), "to": tier.as_str()}),
            )
            .await?;
            println!("workspace {slug}: tier {} → {tier}", workspace.tier);
            resume_paused(config, &store, &workspace.id).await;
        }
        AdminCommand::Workspace {
            command: WorkspaceCommand::SetQuota { slug, field, value },
        } => {
            let workspace = workspace(&store, &slug).await?;
            let overrides = workspace.quota_overrides.clone().with(&field, &value)?;
            // Checked against the tier before it is stored.
            config.tiers.limits(workspace.tier, &overrides)?;
            store.set_quota_overrides(&workspace.id, &overrides).await?;
            audit_operator(
                &store,
                &workspace.id,
                "workspace.set_quota",
                &serde_json::json!({"field": field, "value": value}),
            )
            .await?;
            println!(
                "workspace {slug}: {field} = {value} (overrides: {})",
                serde_json::to_string(&overrides)?
            );
            resume_paused(config, &store, &workspace.id).await;
        }
        AdminCommand::Key {
            command: KeyCommand::Create { slug, name, role },
        } => {
            let workspace = workspace(&store, &slug).await?;
            let (key, secret) = longrun_api::issue_api_key(&store, &workspace.id, &name, &role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("key {} ({role}) for workspace {slug}", key.id);
            println!("API key (shown once): {secret}");
        }
        AdminCommand::User {
            command: UserCommand::Add { slug, email, role },
        } => {
            let workspace = workspace(&store, &slug).await?;
            let password = match std::env::var("LONGRUN_USER_PASSWORD") {
                Ok(password) => password,
                Err(_) => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .context("cannot read the password from standard input")?;
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let role = Role::parse(&role).context("role: admin, member or billing")?;
            let user = longrun_api::users::add_user(&store, &workspace, &email, &password, role)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            audit_operator(
                &store,
                &workspace.id,
                "user.add",
                &serde_json::json!({"user": user.id, "email": user.email, "role": user.role}),
            )
            .await?;
            println!(
                "user {} ({}) added to workspace {slug} as {}",
                user.id, user.email, user.role
            );
        }
    }
    store.close().await;
    Ok(())
}

/// The workspace of this slug, or an error naming the slug.
async fn workspace(
    store: &longrun_store::Store,
    slug: &str,
) -> anyhow::Result<longrun_store::Workspace> {
    store
        .workspace_by_slug(slug)
        .await?
        .with_context(|| format!("no workspace {slug:?}"))
}

async fn audit_operator(
    store: &longrun_store::Store,
    workspace_id: &str,
    action: &str,
    data: &serde_json::Value,
) -> anyhow::Result<()> {
    store
        .audit(NewAudit {
            workspace_id: Some(workspace_id),
            actor: "operator",
            action,
            target: None,
            data: &data.to_string(),
            ip: None,
        })
        .await?;
    Ok(())
}

/// Signals the workspace's runs paused at the hard cap to check their limits again. Best
/// effort: a run not reached now checks by itself within LONGRUN_QUOTA_RECHECK_S.
async fn resume_paused(config: &Config, store: &longrun_store::Store, workspace_id: &str) {
    let paused = match store
        .runs_with_status(workspace_id, longrun_domain::RunStatus::PausedQuota)
        .await
    {
        Ok(runs) if !runs.is_empty() => runs,
        Ok(_) => return,
        Err(err) => {
            eprintln!("cannot list paused runs: {err}");
            return;
        }
    };
    let settings = crate::roles::temporal_settings(config);
    let client = match longrun_temporal::connect(&settings, "longrun-admin").await {
        Ok(client) => client,
        Err(err) => {
            eprintln!(
                "{} paused run(s) will resume at their next check ({err})",
                paused.len()
            );
            return;
        }
    };
    let mut resumed = 0;
    for run in &paused {
        let handle = client.get_workflow_handle::<AgentRunWorkflow>(run.workflow_id.clone());
        if handle
            .signal(AgentRunWorkflow::resume, (), Default::default())
            .await
            .is_ok()
        {
            resumed += 1;
        }
    }
    println!("asked {resumed} paused run(s) to check their limits again");
}
