//! `UsageRollupWorkflow`: aggregates whole past days of the ledger into `usage_daily`, which
//! quota checks read instead of scanning a month of ledger rows. Started daily by a Temporal
//! Schedule after midnight UTC; it rolls up the last few days again, so a ledger row that
//! arrives late (a retried activity keeps its original time) is counted at the next run.
//! Rolling a day up is idempotent.

use std::time::Duration;

use temporalio_macros::{workflow, workflow_methods};
use temporalio_workflow::{ActivityOptions, WorkflowContext, WorkflowResult};

use crate::contracts::RollupDay;
use crate::payloads::{RollupInput, RollupOutcome};

const DAY_MS: i64 = 86_400_000;

#[workflow]
#[derive(Default)]
pub struct UsageRollupWorkflow;

#[workflow_methods]
impl UsageRollupWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: RollupInput,
    ) -> WorkflowResult<RollupOutcome> {
        let now_ms = ctx
            .workflow_time()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let today = now_ms.div_euclid(DAY_MS) * DAY_MS;
        let mut days = Vec::new();
        for back in (1..=i64::from(input.days.max(1))).rev() {
            let day_start = today - back * DAY_MS;
            let rows = ctx
                .execute_activity(
                    RollupDay,
                    day_start,
                    ActivityOptions::with_start_to_close_timeout(Duration::from_secs(600))
                        .retry_policy(crate::retry::backoff(
                            Duration::from_secs(5),
                            Duration::from_secs(300),
                            10,
                        ))
                        .summary(format!("roll up the day starting at {day_start}"))
                        .build(),
                )
                .await?;
            days.push((day_start, rows));
        }
        Ok(RollupOutcome { days })
    }
}
