//! Two guards of the loop since [`WorkflowShape::AgentTools`](crate::payloads::WorkflowShape):
//! a structured final answer (valid for the run's `output_schema`, one corrective turn when
//! it is not) and no-progress detection (the same tool called with the same input too many
//! times in a row). Pure functions of the turn and the loop's state: no I/O, so replay
//! computes the same.

use crate::payloads::{
    ContentBlock, DEFAULT_MAX_REPEATED_TOOL_CALLS, LlmResponse, Message, RepeatedCall, Role,
    RunFailure, RunInput, StructuredOutput,
};

/// What a turn of a run with an `output_schema` leads to.
pub(super) enum OutputTurn {
    /// A valid final answer: the run succeeds with it.
    Answer(serde_json::Value),
    /// An invalid one, the first time: this message (the problem) goes to the model.
    Correct(Message),
    /// An invalid one after the corrective turn: the run fails `invalid_output`.
    Invalid(RunFailure),
    /// No final answer in this turn (it called tools).
    NoAnswer,
}

pub(super) fn structured_turn(response: &LlmResponse, corrected: &mut bool) -> OutputTurn {
    match &response.output {
        None => OutputTurn::NoAnswer,
        Some(StructuredOutput::Valid { value }) => OutputTurn::Answer(value.clone()),
        Some(StructuredOutput::Invalid { problem, .. }) if *corrected => {
            OutputTurn::Invalid(RunFailure {
                code: "invalid_output".into(),
                message: format!(
                    "the final answer is not valid for the run's output_schema, after one \
                     corrective turn: {problem}"
                ),
            })
        }
        Some(StructuredOutput::Invalid {
            problem,
            tool_use_id,
        }) => {
            *corrected = true;
            OutputTurn::Correct(corrective(response, problem, tool_use_id.as_deref()))
        }
    }
}

/// The corrective turn's message. Every tool call of the turn gets a result (providers want
/// one per call): the `final_answer` call the problem, any other a refusal; a text answer
/// gets the problem as a message.
fn corrective(response: &LlmResponse, problem: &str, tool_use_id: Option<&str>) -> Message {
    let told = format!(
        "Your final answer is not valid for the required output schema: {problem}. Give the \
         final answer again, corrected; this is the last chance."
    );
    let mut content: Vec<ContentBlock> = response
        .tool_calls()
        .map(|(id, _, _)| ContentBlock::ToolResult {
            tool_use_id: id.to_string(),
            content: if Some(id) == tool_use_id {
                told.clone()
            } else {
                "not run: the final answer must come alone".to_string()
            },
            is_error: true,
        })
        .collect();
    if tool_use_id.is_none() {
        content.push(ContentBlock::Text { text: told });
    }
    Message {
        role: Role::User,
        content,
    }
}

/// Whether a tool call may run, by how many times in a row it was made.
pub(super) enum Repeat {
    Run,
    /// The limit is reached: this error result instead of the call.
    Refuse(String),
    /// Past the limit: the run ends `no_progress`.
    Stop(RunFailure),
}

/// Counts `tool` with `input` against the previous calls. With a limit of N, the Nth
/// identical call in a row is refused with an error result telling the model so, and the
/// next one ends the run.
pub(super) fn check_repeat(
    input: &RunInput,
    last: &mut Option<RepeatedCall>,
    tool: &str,
    tool_input: &serde_json::Value,
) -> Repeat {
    let limit = input
        .agent
        .max_repeated_tool_calls
        .unwrap_or(DEFAULT_MAX_REPEATED_TOOL_CALLS);
    let times = match last {
        Some(call) if call.tool == tool && call.input == *tool_input => {
            call.times += 1;
            call.times
        }
        _ => {
            *last = Some(RepeatedCall {
                tool: tool.to_string(),
                input: tool_input.clone(),
                times: 1,
            });
            1
        }
    };
    if limit == 0 || times < limit {
        Repeat::Run
    } else if times == limit {
        Repeat::Refuse(format!(
            "not run: {tool} was called with this same input {times} times in a row, which \
             makes no progress. Change the input or the approach; one more identical call \
             ends the run."
        ))
    } else {
        Repeat::Stop(RunFailure {
            code: "no_progress".into(),
            message: format!("the model called {tool} with the same input {times} times in a row"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payloads::{StopReason, TokenUsage};
    use serde_json::json;

    fn input(limit: Option<u32>) -> RunInput {
        serde_json::from_value(json!({
            "run": {"workspace_id": "ws", "run_id": "r", "workspace_slug": "w",
                    "agent_name": "a", "tier": "pro"},
            "agent": {"name": "a", "model": "offline/echo", "system_prompt": "", "tools": [],
                      "max_repeated_tool_calls": limit},
            "input": "hi",
        }))
        .unwrap()
    }

    /// What `check_repeat` says of each call in turn, after no call.
    fn verdicts(run: &RunInput, calls: &[(&str, &serde_json::Value)]) -> Vec<String> {
        let mut last = None;
        calls
            .iter()
            .map(
                |(tool, input)| match check_repeat(run, &mut last, tool, input) {
                    Repeat::Run => "run".to_string(),
                    Repeat::Refuse(_) => "refuse".to_string(),
                    Repeat::Stop(failure) => format!("stop: {}", failure.code),
                },
            )
            .collect()
    }

    #[test]
    fn the_nth_identical_call_is_refused_and_the_next_ends_the_run() {
        let same = json!({"expression": "1+1"});
        assert_eq!(
            verdicts(&input(None), &[("calculator", &same); 4]),
            ["run", "run", "refuse", "stop: no_progress"],
            "the third identical call is refused, a fourth ends the run"
        );
    }

    #[test]
    fn a_different_input_or_tool_starts_the_count_again_and_zero_never_stops() {
        let a = json!({"expression": "1+1"});
        let b = json!({"expression": "2+2"});
        let calls = [
            ("calculator", &a),
            ("calculator", &b),
            ("read_file", &b),
            ("read_file", &b),
        ];
        assert_eq!(
            verdicts(&input(Some(2)), &calls),
            ["run", "run", "run", "refuse"]
        );
        assert_eq!(
            verdicts(&input(Some(0)), &[("calculator", &a); 10]),
            ["run"; 10]
        );
    }

    fn response(content: Vec<ContentBlock>, output: Option<StructuredOutput>) -> LlmResponse {
        LlmResponse {
            content,
            stop_reason: StopReason::ToolUse,
            usage: TokenUsage::default(),
            cost_micro_usd: 0,
            paused: None,
            output,
        }
    }

    #[test]
    fn an_invalid_answer_gets_one_corrective_turn_then_fails() {
        let turn = response(
            vec![
                ContentBlock::ToolUse {
                    id: "f1".into(),
                    name: "final_answer".into(),
                    input: json!({"n": "x"}),
                },
                ContentBlock::ToolUse {
                    id: "c1".into(),
                    name: "calculator".into(),
                    input: json!({}),
                },
            ],
            Some(StructuredOutput::Invalid {
                problem: "/n: want integer".into(),
                tool_use_id: Some("f1".into()),
            }),
        );
        let mut corrected = false;
        let OutputTurn::Correct(message) = structured_turn(&turn, &mut corrected) else {
            panic!("the first invalid answer gets a corrective turn");
        };
        assert!(corrected);
        assert_eq!(message.content.len(), 2, "every call gets a result");
        assert!(matches!(
            &message.content[0],
            ContentBlock::ToolResult { tool_use_id, content, is_error: true }
                if tool_use_id == "f1" && content.contains("/n: want integer")
        ));
        let OutputTurn::Invalid(failure) = structured_turn(&turn, &mut corrected) else {
            panic!("the second invalid answer fails the run");
        };
        assert_eq!(failure.code, "invalid_output");
        let valid = response(
            vec![],
            Some(StructuredOutput::Valid {
                value: json!({"n": 1}),
            }),
        );
        assert!(matches!(
            structured_turn(&valid, &mut corrected),
            OutputTurn::Answer(v) if v == json!({"n": 1})
        ));
    }
}
