//! `offline/demo`: a built-in model that needs no network and answers deterministically, so
//! `longrun dev` and the tests exercise the whole loop (model turn → tool call → model turn)
//! without a provider key.
//!
//! Behaviour: when the last user turn holds an arithmetic expression and the agent has the
//! `calculator` tool, it asks the calculator; when the last turn holds the calculator's result,
//! it answers with it in a sentence; otherwise it explains what it can do.

use serde_json::json;

use longrun_workflows::payloads::{
    ContentBlock, LlmResponse, Message, Role, StopReason, TokenUsage,
};

use crate::tools::calculator;

pub const MODEL_NAME: &str = longrun_domain::model::OFFLINE_MODEL;

/// The answer to a conversation, given the names of the agent's tools and the step number
/// (which makes tool call ids unique within the run).
pub fn respond(system: &str, messages: &[Message], tools: &[&str], step: u32) -> LlmResponse {
    let content = match messages.last() {
        Some(last) if last.role == Role::User => answer_user_turn(messages, tools, step, last),
        _ => vec![text("I have nothing to answer.")],
    };
    let stop_reason = if content
        .iter()
        .any(|b| matches!(b, ContentBlock::ToolUse { .. }))
    {
        StopReason::ToolUse
    } else {
        StopReason::EndTurn
    };
    let input_chars: usize = system.len()
        + messages
            .iter()
            .map(|m| {
                serde_json::to_string(&m.content)
                    .map(|s| s.len())
                    .unwrap_or(0)
            })
            .sum::<usize>();
    let output_chars = serde_json::to_string(&content)
        .map(|s| s.len())
        .unwrap_or(0);
    LlmResponse {
        content,
        stop_reason,
        // A rough chars/4 estimate, as providers' tokenisers average on English text: enough
        // for metering and quotas to see realistic, deterministic numbers.
        usage: TokenUsage {
            input_tokens: input_chars.div_ceil(4) as u64,
            output_tokens: output_chars.div_ceil(4) as u64,
            ..TokenUsage::default()
        },
        cost_micro_usd: 0,
        paused: None,
        output: None,
    }
}

fn answer_user_turn(
    messages: &[Message],
    tools: &[&str],
    step: u32,
    last: &Message,
) -> Vec<ContentBlock> {
    let results: Vec<(&str, &str, bool)> = last
        .content
        .iter()
        .filter_map(|b| match b {
            ContentBlock::ToolResult {
                tool_use_id,
                content,
                is_error,
            } => Some((tool_use_id.as_str(), content.as_str(), *is_error)),
            _ => None,
        })
        .collect();
    if !results.is_empty() {
        let sentences: Vec<String> = results
            .iter()
            .map(|(id, content, is_error)| {
                let expression = expression_of_call(messages, id).unwrap_or_default();
                if *is_error {
                    format!("I could not compute {expression}: {content}")
                } else {
                    format!("{expression} = {content}.")
                }
            })
            .collect();
        return vec![text(&sentences.join(" "))];
    }
    let question = last.text();
    let has_calculator = tools.contains(&"calculator");
    match calculator::find_expression(&question) {
        Some(expression) if has_calculator => vec![
            text(&format!("Let me calculate {expression}.")),
            ContentBlock::ToolUse {
                id: format!("toolu_offline_{step}"),
                name: "calculator".into(),
                input: json!({ "expression": expression }),
            },
        ],
        Some(expression) => vec![text(&format!(
            "I see the expression {expression}, but this agent has no calculator tool."
        ))],
        None => vec![text(
            "I am the offline demo model: I compute arithmetic with the calculator, like \"12 * (3 + 4)\". What would you like me to compute?",
        )],
    }
}

/// The expression the model asked the calculator for, found by the tool call's id in the
/// conversation.
fn expression_of_call(messages: &[Message], call_id: &str) -> Option<String> {
    messages.iter().rev().find_map(|m| {
        m.content.iter().find_map(|b| match b {
            ContentBlock::ToolUse { id, input, .. } if id == call_id => input
                .get("expression")
                .and_then(|e| e.as_str())
                .map(str::to_string),
            _ => None,
        })
    })
}

fn text(text: &str) -> ContentBlock {
    ContentBlock::Text {
        text: text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_the_calculator_then_answers_with_its_result() {
        let mut messages = vec![Message::user_text("What is 12 * (3 + 4)?")];
        let first = respond("be brief", &messages, &["calculator"], 1);
        assert_eq!(first.stop_reason, StopReason::ToolUse);
        let (id, name, input) = first.tool_calls().next().unwrap();
        assert_eq!(name, "calculator");
        assert_eq!(input["expression"], "12 * (3 + 4)");
        let id = id.to_string();
        messages.push(Message {
            role: Role::Assistant,
            content: first.content.clone(),
        });
        messages.push(Message {
            role: Role::User,
            content: vec![ContentBlock::ToolResult {
                tool_use_id: id,
                content: "84".into(),
                is_error: false,
            }],
        });
        let second = respond("be brief", &messages, &["calculator"], 2);
        assert_eq!(second.stop_reason, StopReason::EndTurn);
        assert_eq!(second.content, vec![text("12 * (3 + 4) = 84.")]);
        assert!(second.usage.input_tokens > first.usage.input_tokens);
    }

    #[test]
    fn without_calculator_or_expression_it_just_answers() {
        let plain = respond("", &[Message::user_text("hello")], &["calculator"], 1);
        assert_eq!(plain.stop_reason, StopReason::EndTurn);
        assert!(plain.text().ends_with('?'), "it asks what to compute");
        let no_tool = respond("", &[Message::user_text("what is 1 + 1")], &[], 1);
        assert_eq!(no_tool.stop_reason, StopReason::EndTurn);
        assert!(no_tool.tool_calls().next().is_none());
    }
}
