//! JSON Schemas of tools a workspace declares (webhook tools' `input_schema`): checked once
//! when an agent is saved, and applied to every input a model sends before the call leaves.
//!
//! Schemas are tenants' documents: compiling one never reads a file or the network (every
//! `$ref` must resolve inside the schema itself), and errors are reported, never panicked.

use serde_json::Value;

/// A compiled schema, ready to validate inputs.
pub struct ToolSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

impl std::fmt::Debug for ToolSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolSchema").finish_non_exhaustive()
    }
}

/// Where a tool's schema lives while it is compiled: a name, never fetched.
const LOCATION: &str = "urn:longrun:tool-input";

/// A loader that loads nothing: `$ref`s to files or URLs are refused.
struct NoLoader;

impl boon::UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url}: a tool schema may only refer to itself").into())
    }
}

impl ToolSchema {
    /// Compiles `schema` (JSON Schema, draft 2020-12 unless it says otherwise); the error
    /// says what is wrong with it.
    pub fn compile(schema: &Value) -> Result<Self, String> {
        if !schema.is_object() {
            return Err("must be a JSON object".into());
        }
        let mut compiler = boon::Compiler::new();
        compiler.set_default_draft(boon::Draft::V2020_12);
        compiler.use_loader(Box::new(NoLoader));
        compiler
            .add_resource(LOCATION, schema.clone())
            .map_err(|e| e.to_string())?;
        let mut schemas = boon::Schemas::new();
        let index = compiler
            .compile(LOCATION, &mut schemas)
            .map_err(|e| clean(&format!("{e:#}")))?;
        Ok(Self { schemas, index })
    }

    /// Validates `input`; the error names where it fails and why.
    pub fn validate(&self, input: &Value) -> Result<(), String> {
        self.schemas
            .validate(input, self.index)
            .map_err(|e| clean(&e.to_string()))
    }
}

/// Error texts name our internal location; drop it so they read as being about the schema.
fn clean(text: &str) -> String {
    text.replace(LOCATION, "input_schema")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn inputs_are_checked_against_the_schema() {
        let schema = ToolSchema::compile(&json!({
            "type": "object",
            "properties": {"city": {"type": "string", "maxLength": 20}},
            "required": ["city"],
            "additionalProperties": false
        }))
        .unwrap();
        assert!(schema.validate(&json!({"city": "Oslo"})).is_ok());
        for bad in [
            json!({}),
            json!({"city": 5}),
            json!({"city": "x", "extra": 1}),
            json!("x"),
        ] {
            let err = schema.validate(&bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn invalid_schemas_are_refused_with_a_reason() {
        for bad in [
            json!({"type": "strnig"}),
            json!({"type": 5}),
            json!({"properties": {"a": {"minLength": -1}}}),
            json!({"pattern": "("}),
            json!([1]),
        ] {
            let err = ToolSchema::compile(&bad).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
    }

    #[test]
    fn references_outside_the_schema_are_never_loaded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("s.json");
        std::fs::write(&file, r#"{"type": "string"}"#).unwrap();
        for reference in [
            format!("file://{}", file.display()),
            "http://127.0.0.1:9/schema.json".to_string(),
        ] {
            let err = ToolSchema::compile(&json!({"$ref": reference})).unwrap_err();
            assert!(
                err.contains("may only refer to itself") || err.contains("load"),
                "{err}"
            );
        }
        // References inside the schema work.
        let schema = ToolSchema::compile(&json!({
            "$defs": {"n": {"type": "integer"}},
            "type": "object",
            "properties": {"count": {"$ref": "#/$defs/n"}}
        }))
        .unwrap();
        assert!(schema.validate(&json!({"count": 3})).is_ok());
        assert!(schema.validate(&json!({"count": "3"})).is_err());
    }
}
