//! The run's lifecycle: marking it started, moving its status with the event that explains
//! it, recording its end, delivering its completion webhook, and rolling up the ledger.

use serde_json::json;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_domain::{EventKind, RunStatus};
use longrun_store::RunFinish;
use longrun_workflows::payloads::{
    EventRequest, FinishRunRequest, StartRunRequest, WebhookRequest,
};

use super::AgentActivities;
use crate::errors::{from_store, non_retryable};

impl AgentActivities {
    pub(super) async fn record_start(
        &self,
        request: &StartRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        self.store
            .set_run_status(&run.workspace_id, &run.run_id, RunStatus::Running, 0)
            .await
            .map_err(from_store)?;
        self.event(
            run,
            EventKind::RunStarted,
            EventKind::RunStarted.as_str(),
            json!({ "agent": run.agent_name, "workflow_id": request.execution.workflow_id }),
        )
        .await
    }

    pub(super) async fn record_status_event(
        &self,
        request: EventRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        if let Some(status) = request.status {
            self.store
                .set_run_status(
                    &run.workspace_id,
                    &run.run_id,
                    status,
                    i64::from(request.step),
                )
                .await
                .map_err(from_store)?;
        }
        self.event(run, request.kind, &request.dedupe_key, request.data)
            .await
    }

    pub(super) async fn record_finish(
        &self,
        request: &FinishRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let outcome = &request.outcome;
        let error = outcome.error.as_ref();
        self.store
            .finish_run(
                &run.workspace_id,
                &run.run_id,
                RunFinish {
                    status: outcome.status,
                    result: outcome.result.as_deref(),
                    error_code: error.map(|e| e.code.as_str()),
                    error_message: error.map(|e| e.message.as_str()),
                    step: i64::from(outcome.steps),
                },
            )
            .await
            .map_err(from_store)
            .map(|finished| {
                if finished {
                    self.metrics
                        .runs_finished
                        .with_label_values(&[outcome.status.as_str(), run.tier.as_str()])
                        .inc();
                }
            })?;
        self.event(
            run,
            EventKind::RunCompleted,
            EventKind::RunCompleted.as_str(),
            json!({
                "status": outcome.status,
                "result": outcome.result,
                "error": error,
                "steps": outcome.steps,
                "usage": outcome.usage,
            }),
        )
        .await
    }

    pub(super) async fn rollup(&self, day_start_ms: i64) -> Result<i64, ActivityError> {
        self.store
            .rollup_day(day_start_ms)
            .await
            .map_err(|err| match err {
                longrun_store::StoreError::Corrupt(message) => {
                    non_retryable("invalid_day", message)
                }
                other => from_store(other),
            })
    }

    pub(super) async fn deliver(
        &self,
        ctx: &ActivityContext,
        request: &WebhookRequest,
    ) -> Result<(), ActivityError> {
        crate::delivery::deliver_run(
            &self.store,
            &self.guarded_http,
            &self.settings.egress,
            request,
            ctx.info().attempt,
        )
        .await
    }
}
