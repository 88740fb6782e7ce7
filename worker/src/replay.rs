//! Replays recorded workflow histories against the current workflow code: the check that a
//! change to `workflows/` does not break runs already in flight (nondeterminism). CI replays
//! the histories committed under `workflows/tests/histories/`; `longrun replay FILE…` does
//! the same for histories an operator exported before a deploy.

use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

use longrun_workflows::AgentRunWorkflow;

use crate::WorkerError;

/// Replays each history (in `fetch_history(..).to_json()` form); one outcome per history,
/// `Err` naming what did not replay.
pub async fn replay_histories(
    histories: &[Vec<u8>],
) -> Result<Vec<Result<(), String>>, WorkerError> {
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<AgentRunWorkflow>()
        .map_err(|e| WorkerError::Build(e.to_string()))?
        .build();
    let replayer = WorkflowReplayer::new(options).map_err(|e| WorkerError::Build(e.to_string()))?;
    let mut parsed = Vec::with_capacity(histories.len());
    let mut outcomes: Vec<Option<Result<(), String>>> = Vec::with_capacity(histories.len());
    for bytes in histories {
        match WorkflowHistory::from_json(bytes) {
            Ok(history) => {
                parsed.push(history);
                outcomes.push(None);
            }
            Err(err) => outcomes.push(Some(Err(format!("not a history: {err}")))),
        }
    }
    let mut results = replayer
        .replay_workflows(parsed)
        .await
        .map_err(|e| WorkerError::Run(e.to_string()))?
        .into_iter();
    Ok(outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Some(done) => done,
            None => match results.next() {
                Some(result) => match result.replay_failure {
                    None => Ok(()),
                    Some(failure) => Err(failure.to_string()),
                },
                None => Err("the replayer returned no result".into()),
            },
        })
        .collect())
}
