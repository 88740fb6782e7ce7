//! Structured output: the final answer of a run with an `output_schema`, found in the turn
//! (the `final_answer` tool's input on Anthropic, the text on OpenAI-compatible providers)
//! and checked against the schema here, so the workflow only decides what follows.

use serde_json::Value;

use longrun_domain::FINAL_ANSWER_TOOL;
use longrun_store::ToolSchema;
use longrun_workflows::payloads::{LlmResponse, StructuredOutput};

/// Sets the turn's [`LlmResponse::output`] when the run asks for structured output.
pub(super) fn check(mut response: LlmResponse, schema: Option<&Value>) -> LlmResponse {
    if let Some(schema) = schema
        && response.paused.is_none()
    {
        response.output = verdict(&response, schema);
    }
    response
}

fn verdict(response: &LlmResponse, schema: &Value) -> Option<StructuredOutput> {
    let final_call = response
        .tool_calls()
        .find(|(_, name, _)| *name == FINAL_ANSWER_TOOL);
    let (candidate, tool_use_id) = match final_call {
        Some((id, _, input)) => (Ok(input.clone()), Some(id.to_string())),
        // The model works with its tools first: no answer yet.
        None if response.tool_calls().next().is_some() => return None,
        None => (
            serde_json::from_str::<Value>(response.text().trim())
                .map_err(|err| format!("the answer is not JSON ({err})")),
            None,
        ),
    };
    let checked = candidate.and_then(|value| {
        let compiled = ToolSchema::compile(schema)
            .map_err(|problem| format!("the output_schema is invalid: {problem}"))?;
        compiled
            .validate(&value)
            .map_err(|problem| problem.replace("input_schema", "output_schema"))?;
        Ok(value)
    });
    Some(match checked {
        Ok(value) => StructuredOutput::Valid { value },
        Err(problem) => StructuredOutput::Invalid {
            problem,
            tool_use_id,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use longrun_workflows::payloads::{ContentBlock, StopReason, TokenUsage};
    use serde_json::json;

    fn turn(content: Vec<ContentBlock>) -> LlmResponse {
        LlmResponse {
            content,
            stop_reason: StopReason::EndTurn,
            usage: TokenUsage::default(),
            cost_micro_usd: 0,
            paused: None,
            output: None,
        }
    }

    fn schema() -> Value {
        json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]})
    }

    #[test]
    fn the_answer_is_the_final_tool_input_or_the_text() {
        let tool = turn(vec![ContentBlock::ToolUse {
            id: "f".into(),
            name: FINAL_ANSWER_TOOL.into(),
            input: json!({"n": 3}),
        }]);
        assert_eq!(
            check(tool, Some(&schema())).output,
            Some(StructuredOutput::Valid {
                value: json!({"n": 3})
            })
        );
        let text = turn(vec![ContentBlock::Text {
            text: " {\"n\": 4} ".into(),
        }]);
        assert_eq!(
            check(text, Some(&schema())).output,
            Some(StructuredOutput::Valid {
                value: json!({"n": 4})
            })
        );
    }

    #[test]
    fn invalid_or_missing_answers_say_why_and_tool_turns_have_none() {
        let wrong = turn(vec![ContentBlock::ToolUse {
            id: "f".into(),
            name: FINAL_ANSWER_TOOL.into(),
            input: json!({"n": "x"}),
        }]);
        match check(wrong, Some(&schema())).output {
            Some(StructuredOutput::Invalid {
                problem,
                tool_use_id,
            }) => {
                assert_eq!(tool_use_id.as_deref(), Some("f"));
                assert!(problem.contains("/n"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
        let prose = turn(vec![ContentBlock::Text {
            text: "three".into(),
        }]);
        assert!(matches!(
            check(prose, Some(&schema())).output,
            Some(StructuredOutput::Invalid {
                tool_use_id: None,
                ..
            })
        ));
        let working = turn(vec![ContentBlock::ToolUse {
            id: "c".into(),
            name: "calculator".into(),
            input: json!({}),
        }]);
        assert_eq!(check(working.clone(), Some(&schema())).output, None);
        assert_eq!(check(working, None).output, None);
    }
}
