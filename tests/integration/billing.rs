//! Metering and billing: exactly-once under injected faults, prices by date, `/v1/usage`, the
//! export (CSV, JSON Lines) against run totals, reconciliation against Temporal, the rollup.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use longrun_activities::prices::{ModelPrice, Prices, UnitPrice};
use longrun_workflows::UsageRollupWorkflow;
use longrun_workflows::payloads::RollupInput;

use crate::harness::{BILLING_TOKEN, MINUTE, Options, TestApp, TestDb, ledger_rows};
use crate::on_each_backend;

fn date(text: &str) -> chrono::NaiveDate {
    text.parse().unwrap()
}

fn prices() -> Prices {
    let model = |from: &str, input: f64, output: f64| ModelPrice {
        model: "offline/demo".into(),
        effective_from: date(from),
        input_per_mtok: input,
        output_per_mtok: output,
        cache_read_per_mtok: 0.0,
        cache_write_per_mtok: 0.0,
    };
    Prices {
        // The price in effect now, and one that starts only next year: runs of today must be
        // billed at the first.
        models: vec![
            model("2020-01-01", 1_000.0, 2_000.0),
            model("2099-01-01", 9_999.0, 9_999.0),
        ],
        agent_minute: vec![UnitPrice {
            effective_from: date("2020-01-01"),
            usd: 0.6,
            tool: None,
        }],
        tool_call: vec![UnitPrice {
            effective_from: date("2020-01-01"),
            usd: 0.001,
            tool: Some("*".into()),
        }],
    }
}

/// An Enterprise workspace without a concurrency cap, with the `demo` agent: the workspace
/// and an admin key.
async fn busy_workspace(app: &TestApp, slug: &str) -> (longrun_store::Workspace, String) {
    let uncapped = [("concurrent_runs", "1000")];
    let (workspace, [admin, ..]) = app.workspace(slug, "enterprise", &uncapped).await;
    app.demo_agent(&admin).await;
    (workspace, admin)
}

/// An app pricing usage with [`prices`], its workspace `slug` from [`busy_workspace`] and
/// the runs of `inputs` submitted there: the app, the workspace, its key and the run ids.
async fn with_runs(
    db: TestDb,
    options: Options,
    slug: &str,
    inputs: impl IntoIterator<Item = String>,
) -> (TestApp, longrun_store::Workspace, String, Vec<String>) {
    let options = Options {
        prices: prices(),
        ..options
    };
    let app = TestApp::start_with(db, options).await;
    let (workspace, key) = busy_workspace(&app, slug).await;
    let mut runs = Vec::new();
    for input in inputs {
        runs.push(app.submit_to(&key, "demo", &input).await);
    }
    (app, workspace, key, runs)
}

/// Reconciles every run's ledger against what Temporal executed.
async fn reconcile(app: &TestApp) -> longrun_worker::reconcile::Report {
    let client = app.temporal_client().await;
    longrun_worker::reconcile::reconcile(&app.store, &client, "default", 0, i64::MAX)
        .await
        .unwrap()
}

on_each_backend!(faults_after_metering_still_bill_each_unit_exactly_once);
async fn faults_after_metering_still_bill_each_unit_exactly_once(db: TestDb) {
    let faulty = Options {
        fail_after_metering: true,
        ..Options::default()
    };
    let inputs = (0..110).map(|n| format!("What is {n} * 3?"));
    let (app, workspace, key, runs) = with_runs(db, faulty, "faulty", inputs).await;
    for (n, run_id) in runs.iter().enumerate() {
        let run = app
            .wait_for_run(&key, run_id, Duration::from_secs(300))
            .await;
        assert_eq!(run["status"], "succeeded", "{run}");
        assert_eq!(run["result"], format!("{n} * 3 = {}.", n * 3));
        assert_eq!(
            app.ledger(&workspace.id, run_id).await,
            ledger_rows(&[("agent_time", 3), ("llm", 2), ("tool", 1)]),
            "run {run_id}: one row per billable unit despite the retries"
        );
    }
    let report = reconcile(&app).await;
    assert_eq!(report.runs_checked, 110);
    assert!(report.findings.is_empty(), "{:?}", report.findings);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_finds_rows_removed_or_added_by_hand() {
    let inputs = ["What is 1 + 1?", "What is 2 + 2?"].map(String::from);
    let (app, workspace, key, runs) =
        with_runs(TestDb::sqlite(), Options::default(), "tampered", inputs).await;
    let [first, second]: [String; 2] = runs.try_into().unwrap();
    for id in [&first, &second] {
        assert_eq!(
            app.wait_for_run(&key, id, MINUTE).await["status"],
            "succeeded"
        );
    }
    let clean = reconcile(&app).await;
    assert!(clean.findings.is_empty(), "{:?}", clean.findings);

    let rows = app
        .store
        .ledger_of_run(&workspace.id, &first)
        .await
        .unwrap();
    let (removed, _, _) = rows
        .iter()
        .find(|(_, kind, _)| kind == "llm")
        .unwrap()
        .clone();
    assert!(
        app.store
            .delete_ledger_row_for_tests(&workspace.id, &removed)
            .await
            .unwrap()
    );
    let forged = format!("run-tampered-{second}/forged/9/llm");
    app.store
        .record_usage(&[longrun_store::NewUsageEvent {
            idempotency_key: &forged,
            workspace_id: &workspace.id,
            run_id: &second,
            agent_name: "demo",
            step: 9,
            kind: longrun_store::UsageKind::Llm,
            provider: Some("offline"),
            model: Some("demo"),
            tool_name: None,
            totals: longrun_store::UsageTotals {
                input_tokens: 5,
                output_tokens: 5,
                cost_micro_usd: 1,
                ..Default::default()
            },
            price_version: None,
            occurred_at: longrun_store::now_ms(),
        }])
        .await
        .unwrap();
    let report = reconcile(&app).await;
    let found: Vec<(&str, &str, &str)> = report
        .findings
        .iter()
        .map(|f| (f.kind, f.run_id.as_str(), f.detail.as_str()))
        .collect();
    assert!(
        found.contains(&("missing", first.as_str(), removed.as_str())),
        "{found:?}"
    );
    assert!(
        found.contains(&("extra", second.as_str(), forged.as_str())),
        "{found:?}"
    );
    // The run's totals no longer match the ledger either (the forged row moved the run's
    // totals with it, the deletion did not).
    assert!(
        found
            .iter()
            .any(|(kind, run, _)| *kind == "totals" && *run == first),
        "{found:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_matches_run_totals_and_usage_and_prices_apply_by_date() {
    let inputs = (0..3).map(|n| format!("What is {n} + 10?"));
    let (app, workspace, key, ids) =
        with_runs(TestDb::sqlite(), Options::default(), "billed", inputs).await;
    let (_, other_key) = busy_workspace(&app, "billed-too").await;
    let mut runs: Vec<(String, String)> = ids.into_iter().map(|id| (key.clone(), id)).collect();
    runs.push((
        other_key.clone(),
        app.submit_to(&other_key, "demo", "What is 7 * 7?").await,
    ));
    let mut run_totals = BTreeMap::new();
    for (k, id) in &runs {
        let run = app.wait_for_run(k, id, MINUTE).await;
        assert_eq!(run["status"], "succeeded", "{run}");
        run_totals.insert(id.clone(), run["usage"].clone());
    }
    // Priced by the entry in effect today: 1000 $/Mtok in, 2000 out → micro-USD = tokens × price.
    let run = &run_totals[&runs[0].1];
    let tokens_cost = run["input_tokens"].as_f64().unwrap() * 1000.0
        + run["output_tokens"].as_f64().unwrap() * 2000.0;
    let cost = run["cost_usd"].as_f64().unwrap() * 1e6;
    assert!(
        cost >= tokens_cost + 1_000.0,
        "tokens, the tool call and agent time are billed: {cost} vs {tokens_cost}"
    );
    let ledger = app
        .store
        .export_page(0, i64::MAX, Some(&workspace.id), None, 1000)
        .await
        .unwrap();
    assert!(
        ledger
            .iter()
            .filter(|r| r.kind == "llm")
            .all(|r| r.price_version.as_deref() == Some("offline/demo@2020-01-01"))
    );

    let period = longrun_domain::period_of(longrun_store::now_ms()).label;
    let export = |format: &'static str, token: String| {
        let app = &app;
        let period = period.clone();
        async move {
            let response = app
                .http
                .get(format!(
                    "{}/v1/billing/export?period={period}&format={format}",
                    app.base
                ))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            (response.status(), response.text().await.unwrap())
        }
    };
    let (status, _) = export("jsonl", key.clone()).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a workspace key cannot export"
    );
    let (status, _) = export("jsonl", "nonsense".into()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (status, csv_text) = export("csv", BILLING_TOKEN.into()).await;
    assert_eq!(status, StatusCode::OK);
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[0], "idempotency_key");
    let cost_column = headers.iter().position(|h| h == "cost_micro_usd").unwrap();
    let run_column = headers.iter().position(|h| h == "run_id").unwrap();
    let mut csv_cost_by_run: BTreeMap<String, i64> = BTreeMap::new();
    let mut csv_rows = 0;
    for record in reader.records() {
        let record = record.unwrap();
        *csv_cost_by_run
            .entry(record[run_column].to_string())
            .or_default() += record[cost_column].parse::<i64>().unwrap();
        csv_rows += 1;
    }
    for (id, usage) in &run_totals {
        let run_cost = (usage["cost_usd"].as_f64().unwrap() * 1e6).round() as i64;
        assert_eq!(
            csv_cost_by_run[id], run_cost,
            "run {id}: the export sums to the run's total"
        );
    }

    let (status, jsonl) = export("jsonl", BILLING_TOKEN.into()).await;
    assert_eq!(status, StatusCode::OK);
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, rows) = lines.split_last().unwrap();
    assert_eq!(rows.len(), csv_rows);
    assert_eq!(summary["summary"]["rows"], csv_rows as u64);
    let summed: i64 = rows
        .iter()
        .map(|r| r["cost_micro_usd"].as_i64().unwrap())
        .sum();
    assert_eq!(summary["summary"]["totals"]["cost_micro_usd"], summed);
    let keys: std::collections::BTreeSet<&str> = rows
        .iter()
        .map(|r| r["idempotency_key"].as_str().unwrap())
        .collect();
    assert_eq!(keys.len(), rows.len(), "each ledger row once");

    // /v1/usage agrees with the export for the workspace.
    let (status, usage) = app.get(&key, "/v1/usage?group_by=run").await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let workspace_cost: i64 = runs[..3].iter().map(|(_, id)| csv_cost_by_run[id]).sum();
    assert_eq!(usage["totals"]["cost_micro_usd"], workspace_cost);
    assert_eq!(usage["rows"].as_array().unwrap().len(), 3);
    for group_by in ["day", "agent", "model"] {
        let (_, grouped) = app
            .get(&key, &format!("/v1/usage?group_by={group_by}"))
            .await;
        assert_eq!(grouped["totals"], usage["totals"], "{group_by}");
    }
    let (status, _) = app.get(&key, "/v1/usage?from=2026-13-01").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rollup_workflow_rolls_up_past_days_and_the_schedule_exists_once() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let client = app.temporal_client().await;
    let queue = &app.setup.task_queue;
    let workflow_id = format!("rollup-{}", longrun_store::new_run_id());
    let handle = client
        .start_workflow(
            UsageRollupWorkflow::run,
            RollupInput { days: 2 },
            temporalio_client::WorkflowStartOptions::new(queue.clone(), workflow_id).build(),
        )
        .await
        .unwrap();
    let outcome = handle.get_result(Default::default()).await.unwrap();
    assert_eq!(outcome.days.len(), 2);
    let today = longrun_store::now_ms().div_euclid(longrun_store::DAY_MS) * longrun_store::DAY_MS;
    assert_eq!(
        outcome.days[1].0,
        today - longrun_store::DAY_MS,
        "yesterday last"
    );
    // Created once, whoever asks.
    let _ = client
        .get_schedule_handle(longrun_worker::ROLLUP_SCHEDULE_ID)
        .delete(temporalio_client::schedules::DeleteScheduleOptions::default())
        .await;
    assert!(
        longrun_worker::ensure_rollup_schedule(&client, queue)
            .await
            .unwrap()
    );
    assert!(
        !longrun_worker::ensure_rollup_schedule(&client, queue)
            .await
            .unwrap()
    );
}
