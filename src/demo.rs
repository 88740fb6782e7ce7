//! The demo of `longrun dev`: a `demo` workspace (tier pro) with an API key and an agent on
//! the offline model, and one run submitted through the HTTP API whose events are printed as
//! they happen.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use longrun_store::{NewAgent, Store, hash_secret};

const SLUG: &str = "demo";
const AGENT: &str = "demo";
const QUESTION: &str = "What is 12 * (3 + 4)?";

/// Creates the demo workspace, key and agent when missing; returns the key's secret. The
/// secret is printed only when it is created, and kept in `<data dir>/demo-api-key`.
pub(crate) async fn seed(store: &Store, data_dir: &Path) -> anyhow::Result<String> {
    let key_file = data_dir.join("demo-api-key");
    let workspace = match store.workspace_by_slug(SLUG).await? {
        Some(workspace) => workspace,
        None => {
            store
                .create_workspace(SLUG, "Demo", longrun_domain::Tier::Pro)
                .await?
        }
    };
    let saved = std::fs::read_to_string(&key_file)
        .ok()
        .map(|s| s.trim().to_string());
    let usable = match &saved {
        Some(secret) => match longrun_api::auth::key_prefix(secret) {
            Some(prefix) => store
                .authenticate_api_key(prefix, &hash_secret(secret))
                .await?
                .is_some_and(|k| k.workspace.id == workspace.id),
            None => false,
        },
        None => false,
    };
    let secret = match (usable, saved) {
        (true, Some(secret)) => secret,
        _ => {
            let (_, secret) = longrun_api::issue_api_key(store, &workspace.id, "demo", "admin")
                .await
                .map_err(|e| anyhow::anyhow!("cannot create the demo API key: {e}"))?;
            let created =
                format!("Created workspace {SLUG:?} (tier pro) and its API key (shown once; ");
            keep_secret(&key_file, &secret, &created)?;
            secret
        }
    };
    if store.agent(&workspace.id, AGENT).await?.is_none() {
        let name = longrun_domain::AgentName::parse(AGENT)?;
        let tools = [longrun_store::AgentTool::Builtin {
            tool: longrun_domain::BuiltinTool::Calculator,
            requires_approval: false,
        }];
        store
            .create_agent(
                &workspace.id,
                NewAgent {
                    name: &name,
                    model: "offline/demo",
                    system_prompt: "You are a helpful assistant. Use the calculator for arithmetic.",
                    tools: &tools,
                    limits: &Default::default(),
                    settings: &Default::default(),
                },
                None,
            )
            .await?;
        println!("Created agent {AGENT:?} (model offline/demo, tools [\"calculator\"]).");
    }
    Ok(secret)
}

/// The demo workspace's console user.
pub(crate) const USER_EMAIL: &str = "demo@example.com";

/// Creates the demo workspace's admin user for the console when missing, with a random
/// password kept in `<data dir>/demo-password` (printed when it is created).
pub(crate) async fn seed_user(store: &Store, data_dir: &Path) -> anyhow::Result<()> {
    let password_file = data_dir.join("demo-password");
    if store
        .account_for_login(USER_EMAIL, Some(SLUG))
        .await?
        .is_some()
    {
        return Ok(());
    }
    let workspace = store
        .workspace_by_slug(SLUG)
        .await?
        .context("the demo workspace vanished")?;
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let password = hex::encode(random);
    longrun_api::users::add_user(
        store,
        &workspace,
        USER_EMAIL,
        &password,
        longrun_api::auth::Role::Admin,
    )
    .await
    .map_err(|e| anyhow::anyhow!("cannot create the demo user: {e}"))?;
    let created = format!("Created the console user {USER_EMAIL} (admin of {SLUG:?}); password (");
    keep_secret(&password_file, &password, &created)
}

/// Writes a secret just created to `file`, readable by its owner only, and prints it: the
/// message `created`, which ends inside a parenthesis that this completes with where the
/// secret is kept, then the secret.
fn keep_secret(file: &Path, secret: &str, created: &str) -> anyhow::Result<()> {
    crate::roles::write_private(file, &format!("{secret}\n"))?;
    println!("{created}also in {}):\n  {secret}", file.display());
    Ok(())
}

/// Submits the demo run through the API, prints its events as they are written, then its
/// result and Temporal UI link.
pub(crate) async fn run(store: &Store, api: SocketAddr, key: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let base = format!("http://{api}");
    let response = http
        .post(format!("{base}/v1/runs"))
        .bearer_auth(key)
        .json(&json!({ "agent": AGENT, "input": QUESTION }))
        .send()
        .await
        .context("cannot reach the API")?;
    let status = response.status();
    let submitted: Value = response.json().await.context("unreadable API response")?;
    if !status.is_success() {
        bail!("submitting the demo run failed ({status}): {submitted}");
    }
    let run_id = submitted["id"]
        .as_str()
        .context("no run id in the response")?
        .to_string();
    println!("\nDemo run {run_id} submitted: {QUESTION:?}");
    println!(
        "  workflow {}",
        submitted["workflow_id"].as_str().unwrap_or_default()
    );

    let workspace = store
        .workspace_by_slug(SLUG)
        .await?
        .context("the demo workspace vanished")?;
    let mut live = store.subscribe_live();
    let mut last_seq = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(600);
    'follow: loop {
        for event in store
            .events_after(&workspace.id, &run_id, last_seq, 100)
            .await?
        {
            last_seq = event.seq;
            println!(
                "  #{} {}",
                event.seq,
                describe(event.kind.as_str(), &event.data)
            );
            if event.kind == "run.completed" {
                break 'follow;
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the demo run did not finish within 10 minutes");
        }
        // Woken by this process's writes; the timeout covers a worker in another process.
        let _ = tokio::time::timeout(Duration::from_millis(500), live.recv()).await;
    }

    let run: Value = http
        .get(format!("{base}/v1/runs/{run_id}"))
        .bearer_auth(key)
        .send()
        .await?
        .json()
        .await?;
    println!(
        "Demo run {}: {}",
        run["status"].as_str().unwrap_or("?"),
        run["result"].as_str().unwrap_or("(no result)")
    );
    if let Some(error) = run["error"].as_object() {
        println!("  error: {} {}", error["code"], error["message"]);
    }
    println!(
        "  usage: {} input + {} output tokens, {} tool call(s)",
        run["usage"]["input_tokens"], run["usage"]["output_tokens"], run["usage"]["tool_calls"]
    );
    println!(
        "  Temporal UI: {}",
        run["temporal_ui_url"].as_str().unwrap_or_default()
    );
    Ok(())
}

/// One line per event, for people.
fn describe(kind: &str, data: &str) -> String {
    let data: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    match kind {
        "llm.completed" => {
            let mut parts = Vec::new();
            for block in data["content"].as_array().into_iter().flatten() {
                match block["type"].as_str() {
                    Some("text") => {
                        parts.push(format!("{:?}", block["text"].as_str().unwrap_or_default()))
                    }
                    Some("tool_use") => parts.push(format!(
                        "→ {}({})",
                        block["name"].as_str().unwrap_or("?"),
                        block["input"]
                    )),
                    _ => {}
                }
            }
            format!("llm.completed (step {}): {}", data["step"], parts.join(" "))
        }
        "tool.started" => format!(
            "tool.started: {}({})",
            data["tool"].as_str().unwrap_or("?"),
            data["input"]
        ),
        "tool.completed" => format!(
            "tool.completed: {} {}",
            data["tool"].as_str().unwrap_or("?"),
            data["content"]
        ),
        "run.completed" => format!("run.completed: {}", data["status"].as_str().unwrap_or("?")),
        other => other.to_string(),
    }
}
