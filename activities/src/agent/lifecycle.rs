//! The run's lifecycle: marking it started, moving its status with the event that explains
//! it, recording its end, delivering its completion webhook, and rolling up the ledger.

use serde_json::json;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use longrun_domain::{EventKind, RunStatus};
use longrun_store::{RunFinish, StepOutcome, StepWrite};
use longrun_workflows::payloads::{
    EventRequest, FinishRunRequest, StartRunRequest, WebhookRequest,
};

use super::{AgentActivities, OwnedEvent};
use crate::errors::{from_store, non_retryable};

impl AgentActivities {
    /// Marks the run started (the first shape of the workflow; later ones start it in the
    /// first model turn).
    pub(super) async fn record_start(
        &self,
        request: &StartRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let data = json!({ "agent": run.agent_name, "workflow_id": request.execution.workflow_id });
        let started = OwnedEvent::new(EventKind::RunStarted, EventKind::RunStarted.as_str(), &data);
        let events = [started.as_step()];
        let write = StepWrite {
            status: Some((RunStatus::Running, 0)),
            events: &events,
            ..StepWrite::default()
        };
        self.write_step(run, &write, &[]).await.map(|_| ())
    }

    /// Moves the run to a status with the event that explains it, in one transaction.
    pub(super) async fn record_status_event(
        &self,
        request: EventRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let event = OwnedEvent::new(request.kind, request.dedupe_key.as_str(), &request.data);
        let events = [event.as_step()];
        let write = StepWrite {
            status: request
                .status
                .map(|status| (status, i64::from(request.step))),
            events: &events,
            ..StepWrite::default()
        };
        self.write_step(run, &write, &[]).await.map(|_| ())
    }

    /// Records the run's end and `run.completed`, in one transaction; a retry after it
    /// committed changes nothing.
    pub(super) async fn record_finish(
        &self,
        request: &FinishRunRequest,
    ) -> Result<(), ActivityError> {
        let run = &request.run;
        let outcome = &request.outcome;
        let error = outcome.error.as_ref();
        let mut data = json!({
            "status": outcome.status,
            "result": outcome.result,
            "error": error,
            "steps": outcome.steps,
            "usage": outcome.usage,
        });
        if let Some(value) = &outcome.result_json {
            data["result_json"] = value.clone();
        }
        let result_json = outcome.result_json.as_ref().map(|v| v.to_string());
        let completed = OwnedEvent::new(
            EventKind::RunCompleted,
            EventKind::RunCompleted.as_str(),
            &data,
        );
        let events = [completed.as_step()];
        let write = StepWrite {
            finish: Some(RunFinish {
                status: outcome.status,
                result: outcome.result.as_deref(),
                result_json: result_json.as_deref(),
                error_code: error.map(|e| e.code.as_str()),
                error_message: error.map(|e| e.message.as_str()),
                step: i64::from(outcome.steps),
            }),
            events: &events,
            ..StepWrite::default()
        };
        if let StepOutcome::Written { finished: true, .. } =
            self.write_step(run, &write, &[]).await?
        {
            self.metrics
                .runs_finished
                .with_label_values(&[outcome.status.as_str(), run.tier.as_str()])
                .inc();
        }
        Ok(())
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
