//! The client commands: `longrun runs …` and `longrun agents …` talk to any longrun API over
//! HTTP with a workspace key (see [`api::Connection`]); they never open a database or reach
//! Temporal, and read no server configuration. Human output by default, `--json` for
//! scripts; every command ends with one of [`api::exit`]'s codes.

mod api;
mod follow;

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Map, Value, json};

pub(crate) use api::Connection;
use api::{Api, ClientError, exit};

#[derive(Debug, Subcommand)]
pub(crate) enum RunsCommand {
    /// Submits a run of an agent (input as an argument, or `-` to read standard input).
    Submit(SubmitArgs),
    /// Follows a run's events to its end; the exit code says how it ended.
    Follow { id: String },
    /// Lists runs, newest first.
    List(ListArgs),
    /// Shows a run.
    Get { id: String },
    /// Cancels a run.
    Cancel { id: String },
    /// Approves (or with --deny, denies) a gated tool call.
    Approve {
        id: String,
        tool_call_id: String,
        #[arg(long)]
        deny: bool,
        /// Told to the model with a denial.
        #[arg(long)]
        reason: Option<String>,
    },
    /// Sends human input to a run waiting for it.
    Message { id: String, text: String },
    /// Submits the run again (same agent, input, metadata), linked to it.
    Rerun {
        id: String,
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Debug, Args)]
pub(crate) struct SubmitArgs {
    /// The agent's name.
    agent: String,
    /// The task; `-` reads it from standard input.
    input: String,
    /// Follows the run to its end (exit code as `runs follow`).
    #[arg(long)]
    follow: bool,
    /// Makes the submission safe to retry.
    #[arg(long, value_name = "KEY")]
    idempotency_key: Option<String>,
    /// Metadata kept with the run (repeatable): key=value; numbers and true/false are typed.
    #[arg(long, value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Continues the conversation of this finished run.
    #[arg(long, value_name = "RUN_ID")]
    previous: Option<String>,
    /// Model calls the run may make (tightens the agent's limit).
    #[arg(long, value_name = "N")]
    budget_max_steps: Option<u32>,
    /// Tokens the run may use.
    #[arg(long, value_name = "N")]
    budget_max_tokens: Option<u64>,
    /// What the run may cost, in USD.
    #[arg(long, value_name = "USD")]
    budget_max_cost_usd: Option<f64>,
    /// Seconds the run may take.
    #[arg(long, value_name = "SECONDS")]
    budget_max_duration_s: Option<u64>,
    /// Where the run's webhooks go.
    #[arg(long, value_name = "URL")]
    webhook_url: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    /// Only runs in these statuses (comma-separated or repeated).
    #[arg(long, value_delimiter = ',')]
    status: Vec<String>,
    #[arg(long)]
    agent: Option<String>,
    /// Only runs created since this time (RFC 3339, or a duration ago: 30m, 2h, 7d).
    #[arg(long)]
    since: Option<String>,
    /// Only runs whose metadata has key=value (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    metadata: Vec<String>,
    /// Runs to show, 1 to 100.
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// `next_cursor` of a previous page.
    #[arg(long)]
    cursor: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AgentsCommand {
    /// Creates or updates an agent from a TOML or JSON file (as `POST /v1/agents` takes it).
    Apply {
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
    /// Lists the workspace's agents.
    List,
    /// Shows an agent.
    Get { name: String },
}

/// Runs a client command and answers its exit code, having printed what went wrong.
pub(crate) fn run(connection: &Connection, command: Command) -> u8 {
    let env = |name: &str| std::env::var(name).ok();
    let api = match connection.resolve(&env) {
        Ok(api) => api,
        Err(err) => return report(&err),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("longrun: cannot start the async runtime: {err}");
            return exit::API_ERROR;
        }
    };
    let json = connection.json;
    let outcome = runtime.block_on(async move {
        match command {
            Command::Runs(command) => runs(&api, command, json).await,
            Command::Agents(command) => agents(&api, command, json).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(err) => report(&err),
    }
}

/// What to run: the two command groups.
pub(crate) enum Command {
    Runs(RunsCommand),
    Agents(AgentsCommand),
}

fn report(err: &ClientError) -> u8 {
    eprintln!("longrun: {err}");
    err.exit_code()
}

async fn runs(api: &Api, command: RunsCommand, json: bool) -> Result<u8, ClientError> {
    match command {
        RunsCommand::Submit(args) => submit(api, args, json).await,
        RunsCommand::Follow { id } => follow_interruptibly(api, &id, json).await,
        RunsCommand::List(args) => list(api, args, json).await,
        RunsCommand::Get { id } => {
            let run = api.get(&format!("/v1/runs/{}", segment(&id)?)).await?;
            if json {
                println!("{run}");
            } else {
                print_run(&run);
            }
            Ok(exit::OK)
        }
        RunsCommand::Cancel { id } => {
            let path = format!("/v1/runs/{}/cancel", segment(&id)?);
            let (_, run) = api.call(Method::POST, &path, None, None).await?;
            done(json, &run, &format!("cancelling run {id}"))
        }
        RunsCommand::Approve {
            id,
            tool_call_id,
            deny,
            reason,
        } => {
            let body = json!({"tool_call_id": tool_call_id, "approve": !deny, "reason": reason});
            let answer = api
                .post(&format!("/v1/runs/{}/approvals", segment(&id)?), &body)
                .await?;
            let verb = if deny { "denied" } else { "approved" };
            done(json, &answer, &format!("{verb} {tool_call_id}"))
        }
        RunsCommand::Message { id, text } => {
            let answer = api
                .post(
                    &format!("/v1/runs/{}/messages", segment(&id)?),
                    &json!({"text": text}),
                )
                .await?;
            done(json, &answer, "message delivered")
        }
        RunsCommand::Rerun { id, follow } => {
            let (_, run) = api
                .call(
                    Method::POST,
                    &format!("/v1/runs/{}/rerun", segment(&id)?),
                    None,
                    None,
                )
                .await?;
            submitted(api, &run, follow, json).await
        }
    }
}

/// A run id or agent name as a path segment: plain characters only.
fn segment(text: &str) -> Result<&str, ClientError> {
    if text.is_empty()
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ClientError::Usage(format!(
            "{text:?} is not a run id or name"
        )));
    }
    Ok(text)
}

fn done(json: bool, answer: &Value, message: &str) -> Result<u8, ClientError> {
    if json {
        println!("{answer}");
    } else {
        println!("{message}");
    }
    Ok(exit::OK)
}

/// `key=value` pairs as a JSON object: numbers and `true`/`false` typed, the rest strings.
fn pairs(flag: &str, items: &[String]) -> Result<Map<String, Value>, ClientError> {
    let mut map = Map::new();
    for item in items {
        let (key, value) = item
            .split_once('=')
            .ok_or_else(|| ClientError::Usage(format!("--{flag} {item:?}: expected key=value")))?;
        let value = match value {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            text => text
                .parse::<i64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::String(text.to_string())),
        };
        map.insert(key.to_string(), value);
    }
    Ok(map)
}

async fn submit(api: &Api, args: SubmitArgs, json: bool) -> Result<u8, ClientError> {
    let input = if args.input == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| ClientError::Usage(format!("cannot read standard input: {e}")))?;
        text
    } else {
        args.input
    };
    let mut body = json!({"agent": args.agent, "input": input});
    if !args.metadata.is_empty() {
        body["metadata"] = Value::Object(pairs("metadata", &args.metadata)?);
    }
    if let Some(previous) = args.previous {
        body["previous_run_id"] = json!(previous);
    }
    if let Some(url) = args.webhook_url {
        body["webhook_url"] = json!(url);
    }
    let mut budget = Map::new();
    for (name, value) in [
        ("max_steps", args.budget_max_steps.map(Value::from)),
        ("max_tokens", args.budget_max_tokens.map(Value::from)),
        ("max_cost_usd", args.budget_max_cost_usd.map(Value::from)),
        (
            "max_duration_s",
            args.budget_max_duration_s.map(Value::from),
        ),
    ] {
        if let Some(value) = value {
            budget.insert(name.into(), value);
        }
    }
    if !budget.is_empty() {
        body["budget"] = Value::Object(budget);
    }
    let (_, run) = api
        .call(
            Method::POST,
            "/v1/runs",
            Some(&body),
            args.idempotency_key.as_deref(),
        )
        .await?;
    submitted(api, &run, args.follow, json).await
}

/// Prints a submitted run, then follows it when asked.
async fn submitted(api: &Api, run: &Value, follow: bool, json: bool) -> Result<u8, ClientError> {
    let id = run["id"].as_str().unwrap_or_default().to_string();
    if json {
        println!("{run}");
    } else {
        println!(
            "run {id} {} (agent {})",
            run["status"].as_str().unwrap_or("?"),
            run["agent"].as_str().unwrap_or("?")
        );
    }
    if follow {
        return follow_interruptibly(api, &id, json).await;
    }
    Ok(exit::OK)
}

/// Follows until the run ends or Ctrl-C, which stops following and leaves the run going.
async fn follow_interruptibly(api: &Api, id: &str, json: bool) -> Result<u8, ClientError> {
    let id = segment(id)?;
    tokio::select! {
        code = follow::follow(api, id, json) => code,
        _ = tokio::signal::ctrl_c() => {
            println!();
            eprintln!("stopped following; run {id} goes on (longrun runs follow {id})");
            Ok(exit::INTERRUPTED)
        }
    }
}

async fn list(api: &Api, args: ListArgs, json: bool) -> Result<u8, ClientError> {
    let mut query: Vec<(String, String)> = vec![("limit".into(), args.limit.to_string())];
    if !args.status.is_empty() {
        query.push(("status".into(), args.status.join(",")));
    }
    if let Some(agent) = args.agent {
        query.push(("agent".into(), agent));
    }
    if let Some(since) = args.since {
        query.push(("created_after".into(), since_to_time(&since)?));
    }
    for (key, value) in pairs("metadata", &args.metadata)? {
        let text = match value {
            Value::String(text) => text,
            other => other.to_string(),
        };
        query.push((format!("metadata.{key}"), text));
    }
    if let Some(cursor) = args.cursor {
        query.push(("cursor".into(), cursor));
    }
    let (_, page) = {
        let request = api.request(Method::GET, "/v1/runs").query(&query);
        let response = request.send().await.map_err(|e| api.transport(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| api.transport(&e))?;
        if !status.is_success() {
            return Err(api::api_error(status, &text));
        }
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or(Value::Null),
        )
    };
    print_listing(
        json,
        &page,
        "runs",
        &["ID", "AGENT", "STATUS", "STEPS", "CREATED"],
        |run| {
            vec![
                text(&run["id"]),
                text(&run["agent"]),
                text(&run["status"]),
                run["step"].to_string(),
                text(&run["created_at"]),
            ]
        },
    );
    if json {
        return Ok(exit::OK);
    }
    if let Some(cursor) = page["next_cursor"].as_str() {
        println!("(more: --cursor {cursor})");
    }
    Ok(exit::OK)
}

/// `--since`: an RFC 3339 time as it is, or `<n>s|m|h|d` ago.
fn since_to_time(since: &str) -> Result<String, ClientError> {
    if since.contains('T') {
        return Ok(since.to_string());
    }
    let bad = || {
        ClientError::Usage(format!(
            "--since {since:?}: an RFC 3339 time, or 30m, 2h, 7d"
        ))
    };
    let (number, unit) = since.split_at(since.len().saturating_sub(1));
    let n: i64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    let at = chrono::Utc::now() - chrono::Duration::seconds(seconds);
    Ok(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// A page of a listing: as the API answered it with `--json`, else its `items` as a table of
/// the given columns, a `row` each.
fn print_listing(
    json: bool,
    page: &Value,
    items: &str,
    header: &[&str],
    row: impl Fn(&Value) -> Vec<String>,
) {
    if json {
        println!("{page}");
        return;
    }
    let rows: Vec<Vec<String>> = page[items]
        .as_array()
        .into_iter()
        .flatten()
        .map(row)
        .collect();
    print_table(header, &rows);
}

/// A string of an answer, empty when it is not one.
fn text(value: &Value) -> String {
    value.as_str().unwrap_or_default().to_string()
}

fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.to_vec());
    for row in rows {
        line(row.iter().map(String::as_str).collect());
    }
}

fn print_run(run: &Value) {
    for field in [
        "id",
        "agent",
        "status",
        "result",
        "step",
        "created_at",
        "finished_at",
        "previous_run_id",
        "rerun_of",
        "temporal_ui_url",
    ] {
        match &run[field] {
            Value::Null => {}
            Value::String(text) => println!("{field}: {text}"),
            other => println!("{field}: {other}"),
        }
    }
    if let Some(error) = run["error"].as_object() {
        println!("error: {} {}", error["code"], error["message"]);
    }
    for call in run["pending_approvals"].as_array().into_iter().flatten() {
        println!(
            "waiting for approval: {} {} ({})",
            call["tool"].as_str().unwrap_or("?"),
            call["input"],
            call["tool_call_id"].as_str().unwrap_or("?")
        );
    }
    if run["awaiting_input"] == true {
        println!("waiting for input");
    }
}

async fn agents(api: &Api, command: AgentsCommand, json: bool) -> Result<u8, ClientError> {
    match command {
        AgentsCommand::Apply { file } => {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| ClientError::Usage(format!("cannot read {}: {e}", file.display())))?;
            let agent: Value = if file.extension().is_some_and(|e| e == "toml") {
                toml::from_str(&text).map_err(|e| {
                    ClientError::Usage(format!("{} is not TOML: {e}", file.display()))
                })?
            } else {
                serde_json::from_str(&text).map_err(|e| {
                    ClientError::Usage(format!("{} is not JSON: {e}", file.display()))
                })?
            };
            let name = agent["name"]
                .as_str()
                .ok_or_else(|| ClientError::Usage(format!("{}: no name", file.display())))?
                .to_string();
            let path = format!("/v1/agents/{}", segment(&name)?);
            let (verb, answer) = match api.call(Method::PUT, &path, Some(&agent), None).await {
                Err(ClientError::Api { code, .. }) if code == "agent_not_found" => {
                    ("created", api.post("/v1/agents", &agent).await?)
                }
                other => ("updated", other?.1),
            };
            done(json, &answer, &format!("agent {name} {verb}"))
        }
        AgentsCommand::List => {
            let page = api.get("/v1/agents?limit=100").await?;
            print_listing(
                json,
                &page,
                "agents",
                &["NAME", "MODEL", "TOOLS"],
                |agent| {
                    let tools: Vec<String> = agent["tools"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|t| t.as_str().or(t["name"].as_str()).unwrap_or("?").to_string())
                        .collect();
                    vec![text(&agent["name"]), text(&agent["model"]), tools.join(",")]
                },
            );
            Ok(exit::OK)
        }
        AgentsCommand::Get { name } => {
            let agent = api.get(&format!("/v1/agents/{}", segment(&name)?)).await?;
            if json {
                println!("{agent}");
            } else {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&agent).unwrap_or_default()
                );
            }
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_pairs_are_typed() {
        let map = pairs("metadata", &["a=1".into(), "b=true".into(), "c=x=y".into()]).unwrap();
        assert_eq!(Value::Object(map), json!({"a": 1, "b": true, "c": "x=y"}));
        assert!(pairs("metadata", &["novalue".into()]).is_err());
    }

    #[test]
    fn since_takes_a_time_or_a_duration_ago() {
        assert_eq!(
            since_to_time("2025-01-31T12:00:00Z").unwrap(),
            "2025-01-31T12:00:00Z"
        );
        assert!(since_to_time("2h").unwrap().ends_with('Z'));
        assert!(since_to_time("2w").is_err());
        assert!(since_to_time("h").is_err());
    }

    #[test]
    fn path_segments_are_plain() {
        assert!(segment("0190abcd").is_ok());
        assert!(segment("../admin").is_err());
        assert!(segment("").is_err());
    }
}
