//! The raw-SDK reference: the agent loop a user would write on the Temporal Rust SDK alone, to
//! measure longrun against in the same invocation.
//!
//! Same shape as longrun's run: a model turn as an activity that calls the (fake) Anthropic
//! Messages API over HTTP and assembles the streamed answer, then each requested tool call as
//! an activity, then the next turn, until the model ends its turn. Deliberately without what
//! longrun adds: no HTTP API, no database, no conversation store (the conversation lives in
//! the workflow and travels whole in every model call's input), no events, no metering, no
//! quotas, no search attributes. Both activities are regular activities with a start-to-close
//! timeout and the SDK's default retry policy: the plain way to write it. With `local_tools`
//! the calculator runs as a local activity instead, as longrun runs its built-in tools: the
//! reference a user would write after tuning for the same thing.
//!
//! Cancellation the plain SDK way: the model call has a heartbeat timeout (the benchmark gives
//! it longrun's), records a heartbeat every quarter of it, and stops when the SDK says the
//! activity is cancelled; the SDK learns that from the answer to a heartbeat it sends, and it
//! sends at most one per `min(0.8 × timeout, 60 s)` (its throttle). Without a side channel of
//! its own (longrun's cancel route notifies its workers) a worker can learn no sooner. A
//! cancelled run's workflow ends cancelled.
//!
//! It must not use longrun's code: it stands for the alternative to longrun.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, ApplicationFailure, LocalActivityOptions, Runtime, Worker, WorkerOptions,
    WorkflowContext, WorkflowResult, WorkflowTermination,
};

use crate::sse::SseReader;

/// How long a model call may take, in both systems: scenario (c) holds every call until all
/// runs wait, minutes at 5,000 runs.
pub const MODEL_TIMEOUT_S: u64 = 3600;

/// A run of the reference agent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AgentInput {
    pub model: String,
    pub prompt: String,
    pub max_turns: u32,
    /// Run the tool as a local activity (in the workflow's worker, no task-queue round trip).
    #[serde(default)]
    pub local_tools: bool,
    /// The model call's heartbeat timeout in seconds; 0: none (the call does not heartbeat).
    #[serde(default)]
    pub heartbeat_timeout_s: u64,
}

/// What the model activity is given: the whole conversation so far.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelRequest {
    pub model: String,
    pub messages: Vec<Value>,
    pub tools: Vec<Value>,
}

/// The model's answer: Anthropic content blocks and why it stopped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelAnswer {
    pub content: Vec<Value>,
    pub stop_reason: String,
}

fn calculator_declaration() -> Value {
    json!({
        "name": "calculator",
        "description": "Evaluates an arithmetic expression: + - * / and parentheses.",
        "input_schema": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"]
        }
    })
}

#[workflow]
#[derive(Default)]
pub struct ReferenceAgentWorkflow;

#[workflow_methods]
impl ReferenceAgentWorkflow {
    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>, input: AgentInput) -> WorkflowResult<String> {
        let mut messages = vec![json!({"role": "user", "content": input.prompt})];
        let timeout = ActivityOptions::start_to_close_timeout(Duration::from_secs(MODEL_TIMEOUT_S));
        let model_options =
            ActivityOptions::with_start_to_close_timeout(Duration::from_secs(MODEL_TIMEOUT_S))
                .maybe_heartbeat_timeout(
                    (input.heartbeat_timeout_s > 0)
                        .then(|| Duration::from_secs(input.heartbeat_timeout_s)),
                )
                .build();
        for _ in 0..input.max_turns {
            let answer = ctx
                .execute_activity(
                    ReferenceActivities::call_model,
                    ModelRequest {
                        model: input.model.clone(),
                        messages: messages.clone(),
                        tools: vec![calculator_declaration()],
                    },
                    model_options.clone(),
                )
                .await;
            // The workflow was cancelled (the SDK cancels its activities with it): it ends
            // cancelled, not failed.
            let answer = match answer {
                Err(err) if err.as_cancelled().is_some() => {
                    return Err(WorkflowTermination::cancelled());
                }
                answer => answer?,
            };
            messages.push(json!({"role": "assistant", "content": answer.content}));
            let calls: Vec<(String, String)> = answer
                .content
                .iter()
                .filter(|b| b["type"] == "tool_use" && b["name"] == "calculator")
                .map(|b| {
                    let id = b["id"].as_str().unwrap_or_default().to_string();
                    let expression = b["input"]["expression"].as_str().unwrap_or_default();
                    (id, expression.to_string())
                })
                .collect();
            if answer.stop_reason != "tool_use" || calls.is_empty() {
                let text: String = answer
                    .content
                    .iter()
                    .filter_map(|b| b["text"].as_str())
                    .collect();
                return Ok(text);
            }
            let mut results = Vec::with_capacity(calls.len());
            for (id, expression) in calls {
                let value = if input.local_tools {
                    let options = LocalActivityOptions::builder()
                        .start_to_close_timeout(Duration::from_secs(60))
                        .build();
                    ctx.execute_local_activity(ReferenceActivities::calculator, expression, options)
                        .await?
                } else {
                    ctx.execute_activity(
                        ReferenceActivities::calculator,
                        expression,
                        timeout.clone(),
                    )
                    .await?
                };
                results.push(json!({"type": "tool_result", "tool_use_id": id, "content": value}));
            }
            messages.push(json!({"role": "user", "content": results}));
        }
        Err(
            ApplicationFailure::builder("the model did not finish within its turns")
                .non_retryable(true)
                .build()
                .into(),
        )
    }
}

/// The activities' one dependency: an HTTP client for the model.
pub struct ReferenceActivities {
    pub http: reqwest::Client,
    pub base_url: String,
    pub api_key: String,
}

#[activities]
impl ReferenceActivities {
    /// One model turn: POST the conversation, read the streamed answer, assemble it; while it
    /// lasts, heartbeat every quarter of the heartbeat timeout, and stop (dropping the
    /// connection) once the SDK says the activity is cancelled.
    #[activity]
    pub async fn call_model(
        self: Arc<Self>,
        ctx: ActivityContext,
        request: ModelRequest,
    ) -> Result<ModelAnswer, ActivityError> {
        let call = self.complete(request);
        tokio::pin!(call);
        let every = ctx.info().heartbeat_timeout.map(|t| t / 4);
        let heartbeats = async {
            let Some(every) = every.filter(|e| !e.is_zero()) else {
                return std::future::pending().await;
            };
            loop {
                tokio::time::sleep(every).await;
                // A lost heartbeat is not fatal: a dead worker is what the timeout is for.
                let _ = ctx.record_heartbeat(()).await;
            }
        };
        tokio::select! {
            answer = &mut call => answer,
            _ = ctx.cancelled() => Err(ActivityError::cancelled()),
            never = heartbeats => never,
        }
    }

    /// The calculator tool.
    #[activity]
    pub async fn calculator(
        self: Arc<Self>,
        _ctx: ActivityContext,
        expression: String,
    ) -> Result<String, ActivityError> {
        let value = evaluate(&expression)
            .ok_or_else(|| anyhow::anyhow!("cannot evaluate {expression:?}"))?;
        Ok(if value.fract() == 0.0 && value.abs() < 1e15 {
            format!("{}", value as i64)
        } else {
            value.to_string()
        })
    }
}

impl ReferenceActivities {
    /// The model call itself.
    async fn complete(&self, request: ModelRequest) -> Result<ModelAnswer, ActivityError> {
        let body = json!({
            "model": request.model,
            "max_tokens": 1024,
            "messages": request.messages,
            "tools": request.tools,
            "stream": true,
        });
        let response = self
            .http
            .post(format!("{}/v1/messages", self.base_url))
            .header("x-api-key", &self.api_key)
            .header("anthropic-version", "2023-06-01")
            .json(&body)
            .send()
            .await?
            .error_for_status()?;
        let mut blocks: BTreeMap<u64, Value> = BTreeMap::new();
        let mut partial_json: BTreeMap<u64, String> = BTreeMap::new();
        let mut stop_reason = String::new();
        let mut reader = SseReader::default();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            for event in reader.push(&chunk?) {
                let data: Value = serde_json::from_str(&event.data)?;
                let index = data["index"].as_u64().unwrap_or(0);
                match event.event.as_str() {
                    "content_block_start" => {
                        blocks.insert(index, data["content_block"].clone());
                    }
                    "content_block_delta" => {
                        let delta = &data["delta"];
                        if let Some(text) = delta["text"].as_str()
                            && let Some(block) = blocks.get_mut(&index)
                        {
                            let so_far = block["text"].as_str().unwrap_or_default();
                            block["text"] = Value::String(format!("{so_far}{text}"));
                        }
                        if let Some(piece) = delta["partial_json"].as_str() {
                            partial_json.entry(index).or_default().push_str(piece);
                        }
                    }
                    "content_block_stop" => {
                        if let (Some(json), Some(block)) =
                            (partial_json.remove(&index), blocks.get_mut(&index))
                        {
                            block["input"] = serde_json::from_str(&json)?;
                        }
                    }
                    "message_delta" => {
                        if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                            stop_reason = reason.to_string();
                        }
                    }
                    _ => {}
                }
            }
        }
        if stop_reason.is_empty() {
            return Err(anyhow::anyhow!("the stream ended without a stop reason").into());
        }
        Ok(ModelAnswer {
            content: blocks.into_values().collect(),
            stop_reason,
        })
    }
}

/// `+ - * /` with the usual precedence and parentheses.
pub fn evaluate(expression: &str) -> Option<f64> {
    fn expr(s: &mut &[u8]) -> Option<f64> {
        chain(s, term, b"+-")
    }
    fn term(s: &mut &[u8]) -> Option<f64> {
        chain(s, atom, b"*/")
    }
    /// `operand (op operand)*` for the operators `ops` of one precedence level, left to right.
    fn chain(s: &mut &[u8], operand: fn(&mut &[u8]) -> Option<f64>, ops: &[u8]) -> Option<f64> {
        let mut value = operand(s)?;
        loop {
            skip(s);
            let Some(&op) = s.first().filter(|c| ops.contains(c)) else {
                return Some(value);
            };
            *s = &s[1..];
            let rhs = operand(s)?;
            value = match op {
                b'+' => value + rhs,
                b'-' => value - rhs,
                b'*' => value * rhs,
                _ => value / rhs,
            };
        }
    }
    fn atom(s: &mut &[u8]) -> Option<f64> {
        skip(s);
        match s.first()? {
            b'(' => {
                *s = &s[1..];
                let value = expr(s)?;
                skip(s);
                (s.first() == Some(&b')')).then(|| *s = &s[1..])?;
                Some(value)
            }
            b'-' => {
                *s = &s[1..];
                atom(s).map(|v| -v)
            }
            _ => {
                let len = s
                    .iter()
                    .take_while(|b| b.is_ascii_digit() || **b == b'.')
                    .count();
                let number = std::str::from_utf8(&s[..len]).ok()?.parse().ok()?;
                *s = &s[len..];
                Some(number)
            }
        }
    }
    fn skip(s: &mut &[u8]) {
        while s.first().is_some_and(u8::is_ascii_whitespace) {
            *s = &s[1..];
        }
    }
    let mut rest = expression.as_bytes();
    let value = expr(&mut rest)?;
    skip(&mut rest);
    (rest.is_empty() && value.is_finite()).then_some(value)
}

/// How the reference worker is run: the same slot counts as longrun's worker gets.
#[derive(Debug, Clone)]
pub struct ReferenceWorkerSettings {
    pub temporal_address: String,
    pub task_queue: String,
    pub llm_base_url: String,
    pub workflow_slots: usize,
    pub activity_slots: usize,
}

/// Runs the reference worker until the process is killed.
pub async fn run_worker(settings: ReferenceWorkerSettings) -> anyhow::Result<()> {
    let runtime = Runtime::from_current_tokio(Default::default())?;
    let client = crate::temporal::connect(&settings.temporal_address).await?;
    let activities = ReferenceActivities {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(MODEL_TIMEOUT_S))
            .build()?,
        base_url: settings.llm_base_url.clone(),
        api_key: "bench-key".to_string(),
    };
    let options = WorkerOptions::new(settings.task_queue.clone())
        .register_workflow::<ReferenceAgentWorkflow>()?
        .register_activities(activities)
        .tuner(longrun_temporal::fixed_slots(
            settings.workflow_slots,
            settings.activity_slots,
        ))
        .build();
    let mut worker = Worker::new(&runtime, client, options)?;
    println!("reference worker polling {}", settings.task_queue);
    worker.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_what_the_fake_model_asks() {
        assert_eq!(evaluate("7 * 2 + 0"), Some(14.0));
        assert_eq!(evaluate("(1 + 2) * -3 / 2"), Some(-4.5));
        assert_eq!(evaluate("1 +"), None);
        assert_eq!(evaluate("1 / 0"), None);
    }
}
