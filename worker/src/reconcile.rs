//! Reconciliation: checks the usage ledger against what Temporal executed. For every finished
//! run of a period, the billable units its histories record (each completed model call and
//! tool call, in every execution of a continued run) must each have exactly their ledger rows,
//! no row may exist without one, and the run's totals must equal its rows' sums.

use std::collections::BTreeSet;

use futures::StreamExt;
use temporalio_client::{
    Client, WorkflowExecutionInfo, WorkflowFetchHistoryOptions, WorkflowHandle,
};
use temporalio_common::UntypedWorkflow;
use temporalio_common::protos::temporal::api::common::v1::Payloads;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use longrun_store::{Run, Store, UsageTotals};
use longrun_workflows::payloads::{LlmRequest, LlmResponse, ToolRequest};

use crate::WorkerError;

/// One difference found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub workspace_id: String,
    pub run_id: String,
    /// `missing`, `extra` or `totals`.
    pub kind: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub runs_checked: usize,
    /// Runs still live: their last unit may be metered but not yet completed.
    pub runs_skipped: usize,
    pub findings: Vec<Finding>,
}

fn first_json<T: serde::de::DeserializeOwned>(payloads: Option<&Payloads>) -> Option<T> {
    payloads
        .and_then(|p| p.payloads.first())
        .and_then(|p| serde_json::from_slice(&p.data).ok())
}

/// The ledger keys one execution's history says were earned.
async fn expected_keys(
    client: &Client,
    namespace: &str,
    workflow_id: &str,
    run_id: &str,
) -> Result<BTreeSet<String>, WorkerError> {
    let info = WorkflowExecutionInfo::builder()
        .namespace(namespace)
        .workflow_id(workflow_id)
        .run_id(run_id)
        .build();
    let handle: WorkflowHandle<Client, UntypedWorkflow> = WorkflowHandle::new(client.clone(), info);
    let events = handle
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .map_err(|e| WorkerError::Run(format!("history of {workflow_id}/{run_id}: {e}")))?;
    let mut scheduled = std::collections::BTreeMap::new();
    let mut keys = BTreeSet::new();
    let key = |step: u32, unit: &str| format!("{workflow_id}/{run_id}/{step}/{unit}");
    let tool_units = |request: &ToolRequest, keys: &mut BTreeSet<String>| {
        let unit = format!("tool:{}", request.call_index);
        keys.insert(key(request.step, &unit));
        keys.insert(key(request.step, &format!("agent_time:{unit}")));
    };
    for event in events {
        match event.attributes {
            Some(Attributes::ActivityTaskScheduledEventAttributes(a)) => {
                let name = a.activity_type.map(|t| t.name).unwrap_or_default();
                scheduled.insert(event.event_id, (name, a.input));
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(c)) => {
                let Some((name, input)) = scheduled.get(&c.scheduled_event_id) else {
                    continue;
                };
                match name.as_str() {
                    "llm_call" => {
                        let request: Option<LlmRequest> = first_json(input.as_ref());
                        let response: Option<LlmResponse> = first_json(c.result.as_ref());
                        if let (Some(request), Some(response)) = (request, response)
                            && response.paused.is_none()
                        {
                            keys.insert(key(request.step, "llm"));
                            keys.insert(key(request.step, "agent_time:llm"));
                        }
                    }
                    "run_tool" => {
                        if let Some(request) = first_json::<ToolRequest>(input.as_ref()) {
                            tool_units(&request, &mut keys);
                        }
                    }
                    _ => {}
                }
            }
            Some(Attributes::MarkerRecordedEventAttributes(m))
                if m.marker_name == "core_local_activity" =>
            {
                let data: Option<serde_json::Value> = first_json(m.details.get("data"));
                let is_tool = data
                    .as_ref()
                    .and_then(|d| d.get("activity_type"))
                    .and_then(|t| t.as_str())
                    == Some("run_tool");
                if is_tool
                    && m.failure.is_none()
                    && let Some(request) = first_json::<ToolRequest>(m.details.get("input"))
                {
                    tool_units(&request, &mut keys);
                }
            }
            _ => {}
        }
    }
    Ok(keys)
}

fn totals_differ(run: &Run, sums: &UsageTotals) -> Option<String> {
    let u = &run.usage;
    let pairs = [
        ("input_tokens", u.input_tokens, sums.input_tokens),
        ("output_tokens", u.output_tokens, sums.output_tokens),
        (
            "cache_read_tokens",
            u.cache_read_tokens,
            sums.cache_read_tokens,
        ),
        (
            "cache_write_tokens",
            u.cache_write_tokens,
            sums.cache_write_tokens,
        ),
        ("tool_calls", u.tool_calls, sums.tool_calls),
        ("agent_ms", u.agent_ms, sums.agent_ms),
        ("cost_micro_usd", u.cost_micro_usd, sums.cost_micro_usd),
    ];
    let differences: Vec<String> = pairs
        .iter()
        .filter(|(_, run, ledger)| run != ledger)
        .map(|(name, run, ledger)| format!("{name}: run {run}, ledger {ledger}"))
        .collect();
    (!differences.is_empty()).then(|| differences.join("; "))
}

/// Reconciles every finished run created in `[from_ms, to_ms)`.
pub async fn reconcile(
    store: &Store,
    client: &Client,
    namespace: &str,
    from_ms: i64,
    to_ms: i64,
) -> Result<Report, WorkerError> {
    let runs = store
        .runs_created_between(from_ms, to_ms)
        .await
        .map_err(|e| WorkerError::Run(e.to_string()))?;
    let mut report = Report::default();
    for run in runs {
        if !run.is_terminal() {
            report.runs_skipped += 1;
            continue;
        }
        report.runs_checked += 1;
        let mut executions = Vec::new();
        let mut listed = client.list_workflows(
            format!("WorkflowId = '{}'", run.workflow_id),
            Default::default(),
        );
        while let Some(execution) = listed.next().await {
            let execution = execution.map_err(|e| WorkerError::Run(e.to_string()))?;
            executions.push(execution.run_id().to_string());
        }
        let mut expected = BTreeSet::new();
        for execution in &executions {
            expected.extend(expected_keys(client, namespace, &run.workflow_id, execution).await?);
        }
        let ledger = store
            .ledger_of_run(&run.workspace_id, &run.id)
            .await
            .map_err(|e| WorkerError::Run(e.to_string()))?;
        let actual: BTreeSet<String> = ledger.iter().map(|(key, _, _)| key.clone()).collect();
        let finding = |kind, detail: String| Finding {
            workspace_id: run.workspace_id.to_string(),
            run_id: run.id.to_string(),
            kind,
            detail,
        };
        for key in expected.difference(&actual) {
            report.findings.push(finding("missing", key.clone()));
        }
        for key in actual.difference(&expected) {
            report.findings.push(finding("extra", key.clone()));
        }
        let mut sums = UsageTotals::default();
        for (_, _, row) in &ledger {
            sums += row;
        }
        if let Some(detail) = totals_differ(&run, &sums) {
            report.findings.push(finding("totals", detail));
        }
    }
    Ok(report)
}
