//! Assertions on the API's error answers, which every group of tests checks the same way.

use reqwest::StatusCode;
use serde_json::Value;

/// The message of an error answer (empty when there is none).
pub fn error_message(body: &Value) -> &str {
    body["error"]["message"].as_str().unwrap_or_default()
}

/// Asserts an answer is a 422 whose message starts with `field`, the part of the request it
/// names.
#[track_caller]
pub fn assert_invalid(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(error_message(body).starts_with(field), "{body}");
}
