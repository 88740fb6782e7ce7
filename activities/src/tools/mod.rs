//! Tools an agent may call. Each has a JSON schema declared to the model; bad input becomes an
//! error tool result the model can react to, never a failed run.

pub mod calculator;
pub mod files;
pub mod http_fetch;
pub mod mcp;
pub mod webhook;

use serde_json::json;

use longrun_domain::BuiltinTool;
use longrun_workflows::payloads::{ToolKind, ToolOutcome, ToolSpec};

use crate::models::ToolDeclaration;

/// How a tool is declared to the model: built-ins by their own description and schema (one
/// arm per tool of the catalog, so none can be missing), webhook, client and MCP tools by what
/// the agent declared (or its MCP server did, when the agent was saved).
pub fn declaration(spec: &ToolSpec) -> ToolDeclaration {
    let builtin = match spec.kind {
        ToolKind::Builtin => BuiltinTool::parse(&spec.name),
        ToolKind::Webhook | ToolKind::Mcp | ToolKind::Client => None,
    };
    let (description, schema) = match builtin {
        Some(BuiltinTool::Calculator) => (calculator::DESCRIPTION, calculator::input_schema()),
        Some(BuiltinTool::HttpFetch) => (http_fetch::DESCRIPTION, http_fetch::input_schema()),
        Some(BuiltinTool::ReadFile) => (files::READ_FILE_DESCRIPTION, files::read_file_schema()),
        Some(BuiltinTool::WriteFile) => (files::WRITE_FILE_DESCRIPTION, files::write_file_schema()),
        Some(BuiltinTool::ListFiles) => (files::LIST_FILES_DESCRIPTION, files::list_files_schema()),
        None => {
            return ToolDeclaration {
                name: spec.name.clone(),
                description: spec.description.clone().unwrap_or_default(),
                input_schema: spec
                    .input_schema
                    .clone()
                    .unwrap_or_else(|| json!({"type": "object"})),
            };
        }
    };
    ToolDeclaration {
        name: spec.name.clone(),
        description: description.to_string(),
        input_schema: schema,
    }
}

/// Largest tool output handed to the model, in bytes; longer output is cut.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

pub(crate) fn error(message: &str) -> ToolOutcome {
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

/// Asserts a tool's outcome (of `case`) is an error result starting with `prefix` that says
/// `expected`.
#[cfg(test)]
#[track_caller]
pub(crate) fn assert_error(
    case: impl std::fmt::Display,
    outcome: &ToolOutcome,
    prefix: &str,
    expected: &str,
) {
    assert!(
        outcome.is_error,
        "{case}: expected an error, got {}",
        outcome.content
    );
    assert!(
        outcome.content.starts_with(prefix) && outcome.content.contains(expected),
        "{case}: {expected:?} (after {prefix:?}) not in {:?}",
        outcome.content
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_builtin_tool_declares_an_object_schema_and_a_description() {
        for tool in BuiltinTool::ALL {
            let declared = declaration(&ToolSpec::builtin(tool.name()));
            assert_eq!(declared.input_schema["type"], "object", "{}", tool.name());
            assert!(!declared.description.is_empty(), "{}", tool.name());
        }
    }

    #[test]
    fn calculator_input_is_validated_into_error_results() {
        let ok = calculator::run(&json!({"expression": "2*21"}));
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
            let outcome = calculator::run(&bad);
            assert!(outcome.is_error, "{bad}");
        }
    }

    #[test]
    fn output_is_capped_on_a_char_boundary() {
        let long = "é".repeat(MAX_OUTPUT_BYTES);
        let capped = cap_output(long);
        assert!(capped.len() <= MAX_OUTPUT_BYTES + 20);
        assert!(capped.ends_with("[output truncated]"));
    }
}
