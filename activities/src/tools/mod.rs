//! Tools an agent may call. Each has a JSON schema declared to the model; bad input becomes an
//! error tool result the model can react to, never a failed run.

pub mod calculator;
pub mod files;
pub mod http_fetch;
pub mod webhook;

use serde_json::{Value, json};

use longrun_workflows::payloads::{ToolKind, ToolOutcome, ToolSpec};

use crate::models::ToolDeclaration;

/// Built-in tools, by name.
pub const BUILTIN_TOOLS: &[&str] = &[
    "calculator",
    "http_fetch",
    "read_file",
    "write_file",
    "list_files",
];

/// How a tool is declared to the model: built-ins by their own description and schema,
/// webhook tools by what the agent declared.
pub fn declaration(spec: &ToolSpec) -> ToolDeclaration {
    let (description, schema) = match (spec.kind, spec.name.as_str()) {
        (ToolKind::Builtin, "calculator") => (
            calculator::DESCRIPTION.to_string(),
            calculator::input_schema(),
        ),
        (ToolKind::Builtin, "http_fetch") => (
            http_fetch::DESCRIPTION.to_string(),
            http_fetch::input_schema(),
        ),
        (ToolKind::Builtin, "read_file") => (
            files::READ_FILE_DESCRIPTION.to_string(),
            files::read_file_schema(),
        ),
        (ToolKind::Builtin, "write_file") => (
            files::WRITE_FILE_DESCRIPTION.to_string(),
            files::write_file_schema(),
        ),
        (ToolKind::Builtin, "list_files") => (
            files::LIST_FILES_DESCRIPTION.to_string(),
            files::list_files_schema(),
        ),
        _ => (
            spec.description.clone().unwrap_or_default(),
            spec.input_schema
                .clone()
                .unwrap_or_else(|| json!({"type": "object"})),
        ),
    };
    ToolDeclaration {
        name: spec.name.clone(),
        description,
        input_schema: schema,
    }
}

/// Largest tool output handed to the model, in bytes; longer output is cut.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// Runs a pure built-in tool. `None` if `name` is not one.
pub fn run_builtin(name: &str, input: &Value) -> Option<ToolOutcome> {
    match name {
        "calculator" => Some(run_calculator(input)),
        _ => None,
    }
}

fn run_calculator(input: &Value) -> ToolOutcome {
    let Some(expression) = input.get("expression").and_then(Value::as_str) else {
        return error("invalid input: \"expression\" (a string) is required");
    };
    match calculator::evaluate(expression) {
        Ok(value) => ToolOutcome {
            content: calculator::format_number(value),
            is_error: false,
        },
        Err(err) => error(&format!("cannot evaluate {expression:?}: {err}")),
    }
}

fn error(message: &str) -> ToolOutcome {
    ToolOutcome {
        content: cap_output(message.to_string()),
        is_error: true,
    }
}

/// Cuts output at [`MAX_OUTPUT_BYTES`] on a character boundary, saying so.
pub fn cap_output(mut text: String) -> String {
    if text.len() <= MAX_OUTPUT_BYTES {
        return text;
    }
    let mut cut = MAX_OUTPUT_BYTES;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str("\n[output truncated]");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calculator_input_is_validated_into_error_results() {
        let ok = run_builtin("calculator", &json!({"expression": "2*21"})).unwrap();
        assert_eq!(
            ok,
            ToolOutcome {
                content: "42".into(),
                is_error: false
            }
        );
        for bad in [
            json!({}),
            json!({"expression": 5}),
            json!("2+2"),
            json!({"expression": "2+"}),
        ] {
            let outcome = run_builtin("calculator", &bad).unwrap();
            assert!(outcome.is_error, "{bad}");
        }
        assert!(run_builtin("nope", &json!({})).is_none());
    }

    #[test]
    fn output_is_capped_on_a_char_boundary() {
        let long = "é".repeat(MAX_OUTPUT_BYTES);
        let capped = cap_output(long);
        assert!(capped.len() <= MAX_OUTPUT_BYTES + 20);
        assert!(capped.ends_with("[output truncated]"));
    }
}
