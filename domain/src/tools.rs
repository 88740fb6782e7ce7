//! The built-in tool catalog: one enum that knows each tool's name, whether it runs as a
//! local activity (pure and fast: no server round trip of its own) and whether it is safe to
//! run twice. The API's validation, the workflow's routing and retries, and the activities'
//! dispatch all derive from it. (Each tool's input schema lives beside its implementation,
//! matched on this enum, so none can be missing.)

use crate::names::named_enum;

/// The tool through which an Anthropic model gives a structured final answer (its input is
/// the answer): reserved, no agent tool may take the name.
pub const FINAL_ANSWER_TOOL: &str = "final_answer";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinTool {
    Calculator,
    HttpFetch,
    ReadFile,
    WriteFile,
    ListFiles,
}

named_enum!(BuiltinTool::name {
    Calculator => "calculator",
    HttpFetch => "http_fetch",
    ReadFile => "read_file",
    WriteFile => "write_file",
    ListFiles => "list_files",
});

impl BuiltinTool {
    /// Pure and fast: runs as a local activity, skipping the server round trip a regular
    /// activity costs.
    pub fn runs_locally(self) -> bool {
        matches!(self, BuiltinTool::Calculator)
    }

    /// Safe to run twice (no effect beyond its result): retried after a failure. Tools with
    /// effects in the world run at most once.
    pub fn retry_safe(self) -> bool {
        matches!(
            self,
            BuiltinTool::Calculator | BuiltinTool::ReadFile | BuiltinTool::ListFiles
        )
    }

    /// The names of all built-in tools, for messages.
    pub fn names() -> String {
        Self::ALL.map(Self::name).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_knows_its_tools() {
        for tool in BuiltinTool::ALL {
            assert!(
                !tool.runs_locally() || tool.retry_safe(),
                "local tools are pure"
            );
        }
        assert_eq!(BuiltinTool::parse("rm_rf"), None);
        assert!(!BuiltinTool::WriteFile.retry_safe() && !BuiltinTool::HttpFetch.retry_safe());
        assert_eq!(
            BuiltinTool::names(),
            "calculator, http_fetch, read_file, write_file, list_files"
        );
    }
}
