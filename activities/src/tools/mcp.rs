//! A small client for MCP servers over the streamable HTTP transport (Model Context Protocol,
//! revision 2025-06-18): JSON-RPC requests POSTed to the server's one endpoint, answered as
//! `application/json` or as a `text/event-stream` that carries the response; the session id
//! the server hands out at `initialize` (`Mcp-Session-Id`) and the negotiated protocol version
//! (`MCP-Protocol-Version`) sent on every later request.
//!
//! It does what longrun needs and nothing more: `initialize` + `notifications/initialized`,
//! `tools/list` (following `nextCursor`, bounded) and `tools/call`. Every request goes through
//! the caller's guarded HTTP client, after [`crate::egress::check_url`]; every answer is read
//! up to [`MAX_RESPONSE_BYTES`]. Header values (the workspace's secrets) are sent, never
//! logged nor put in an error message. Why not the `rmcp` crate: see docs/mcp.md.

use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Value, json};

use longrun_store::McpToolDefinition;

use crate::egress::{EgressPolicy, check_url, failure_message};

/// The protocol revision longrun asks for; a server may answer another it supports.
pub const PROTOCOL_VERSION: &str = "2025-06-18";
/// Largest answer read from an MCP server (a tool result beyond the tool output cap is cut
/// later; an answer beyond this is an error).
pub const MAX_RESPONSE_BYTES: usize = 8 * 1024 * 1024;
/// Most `tools/list` pages followed.
pub const MAX_PAGES: usize = 10;
/// Most tools kept of one server.
pub const MAX_TOOLS_PER_SERVER: usize = 128;
/// Largest input schema of one tool (its JSON text).
pub const MAX_SCHEMA_BYTES: usize = 16 * 1024;
/// Longest tool description kept (longer ones are cut).
pub const MAX_DESCRIPTION_BYTES: usize = 4 * 1024;
/// Longest tool name accepted from a server.
pub const MAX_TOOL_NAME_BYTES: usize = 128;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// Why a conversation with an MCP server failed; the text is what the model (or the API
/// client) sees, so it never carries a header value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpError {
    /// The egress guard refused the server's address.
    #[error("{0}")]
    Refused(String),
    #[error("the MCP server could not be reached: {0}")]
    Unreachable(String),
    #[error("the MCP server answered HTTP {0}")]
    Status(u16),
    #[error("the MCP server no longer knows the session (HTTP 404)")]
    SessionGone,
    #[error("the MCP server's answer is not valid MCP: {0}")]
    Garbage(String),
    #[error("the MCP server answered with error {code}: {message}")]
    Rpc { code: i64, message: String },
    #[error("the MCP server's tools exceed a limit: {0}")]
    Limit(String),
}

/// Where a server is and what to send with each request.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub url: &'a str,
    pub headers: &'a [(String, String)],
}

/// The result of `tools/call`, flattened to text for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallResult {
    pub content: String,
    pub is_error: bool,
}

/// An initialized session with one server.
pub struct Session<'a> {
    http: &'a reqwest::Client,
    url: reqwest::Url,
    headers: HeaderMap,
    session_id: Option<HeaderValue>,
    protocol_version: Option<HeaderValue>,
    next_id: i64,
    timeout: Duration,
}

impl<'a> Session<'a> {
    /// Checks the URL, then `initialize` and `notifications/initialized`.
    pub async fn open(
        http: &'a reqwest::Client,
        policy: &EgressPolicy,
        endpoint: Endpoint<'_>,
        timeout: Duration,
    ) -> Result<Session<'a>, McpError> {
        let url = check_url(policy, endpoint.url).map_err(|r| McpError::Refused(r.to_string()))?;
        let mut headers = HeaderMap::new();
        for (name, value) in endpoint.headers {
            // Checked when the server was registered; a bad one is skipped, never echoed.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                let mut value = value;
                value.set_sensitive(true);
                headers.insert(name, value);
            }
        }
        let mut session = Session {
            http,
            url,
            headers,
            session_id: None,
            protocol_version: None,
            next_id: 0,
            timeout,
        };
        let params = json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "longrun", "version": env!("CARGO_PKG_VERSION")},
        });
        let (result, session_id) = session.exchange("initialize", params).await?;
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| McpError::Garbage("initialize answered no protocolVersion".into()))?;
        session.protocol_version = HeaderValue::from_str(version).ok();
        session.session_id = session_id;
        session.notify("notifications/initialized").await?;
        Ok(session)
    }

    /// Every tool of the server (following `nextCursor` for at most [`MAX_PAGES`] pages),
    /// checked against the bounds.
    pub async fn list_tools(&mut self) -> Result<Vec<McpToolDefinition>, McpError> {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let params = match &cursor {
                Some(cursor) => json!({ "cursor": cursor }),
                None => json!({}),
            };
            let (page, _) = self.exchange("tools/list", params).await?;
            let listed = page
                .get("tools")
                .and_then(Value::as_array)
                .ok_or_else(|| McpError::Garbage("tools/list answered no tools array".into()))?;
            for tool in listed {
                if tools.len() == MAX_TOOLS_PER_SERVER {
                    return Err(McpError::Limit(format!(
                        "more than {MAX_TOOLS_PER_SERVER} tools"
                    )));
                }
                tools.push(definition(tool)?);
            }
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_string);
            if cursor.is_none() {
                return Ok(tools);
            }
        }
        Err(McpError::Limit(format!(
            "tools/list has more than {MAX_PAGES} pages"
        )))
    }

    /// `tools/call`; an `isError` result is a result (the model sees it as an error).
    pub async fn call_tool(
        &mut self,
        name: &str,
        arguments: &Value,
    ) -> Result<CallResult, McpError> {
        let (result, _) = self
            .exchange(
                "tools/call",
                json!({ "name": name, "arguments": arguments }),
            )
            .await?;
        Ok(CallResult {
            content: result_text(&result),
            is_error: result.get("isError").and_then(Value::as_bool) == Some(true),
        })
    }

    /// Ends the session (`DELETE`), best effort: a server may not support it.
    pub async fn close(self) {
        let Some(session_id) = &self.session_id else {
            return;
        };
        let request = self
            .http
            .delete(self.url.clone())
            .timeout(self.timeout.min(Duration::from_secs(2)))
            .headers(self.headers.clone())
            .header(SESSION_HEADER, session_id.clone());
        let _ = request.send().await;
    }

    async fn notify(&mut self, method: &str) -> Result<(), McpError> {
        let body = json!({"jsonrpc": "2.0", "method": method});
        let response = self.post(&body).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        Err(self.status_error(status))
    }

    fn status_error(&self, status: reqwest::StatusCode) -> McpError {
        if status == reqwest::StatusCode::NOT_FOUND && self.session_id.is_some() {
            McpError::SessionGone
        } else {
            McpError::Status(status.as_u16())
        }
    }

    async fn post(&self, body: &Value) -> Result<reqwest::Response, McpError> {
        let mut request = self
            .http
            .post(self.url.clone())
            .timeout(self.timeout)
            .headers(self.headers.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(body.to_string());
        if let Some(session_id) = &self.session_id {
            request = request.header(SESSION_HEADER, session_id.clone());
        }
        if let Some(version) = &self.protocol_version {
            request = request.header(VERSION_HEADER, version.clone());
        }
        request
            .send()
            .await
            .map_err(|err| classify(&failure_message("cannot reach the MCP server", &err)))
    }

    /// One request and its response's `result` (with the session id the answer carried).
    async fn exchange(
        &mut self,
        method: &str,
        params: Value,
    ) -> Result<(Value, Option<HeaderValue>), McpError> {
        self.next_id += 1;
        let id = self.next_id;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let response = self.post(&body).await?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_error(status));
        }
        let session_id = response.headers().get(SESSION_HEADER).cloned();
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_ascii_lowercase();
        let message = if content_type.starts_with("text/event-stream") {
            read_event_stream(response, id).await?
        } else if content_type.starts_with("application/json") {
            let (body, cut) = crate::egress::read_capped(response, MAX_RESPONSE_BYTES)
                .await
                .map_err(|err| {
                    classify(&failure_message("the MCP server's answer broke off", &err))
                })?;
            if cut {
                return Err(McpError::Limit(format!(
                    "an answer larger than {MAX_RESPONSE_BYTES} bytes"
                )));
            }
            serde_json::from_slice::<Value>(&body)
                .map_err(|e| McpError::Garbage(format!("not JSON ({e})")))?
        } else {
            return Err(McpError::Garbage(format!(
                "unexpected content type {:?}",
                content_type.chars().take(64).collect::<String>()
            )));
        };
        response_result(message, id).map(|result| (result, session_id))
    }
}

/// A transport failure: the guard's refusal stays a refusal.
fn classify(message: &str) -> McpError {
    if message.starts_with("refused:") {
        McpError::Refused(message.to_string())
    } else {
        McpError::Unreachable(message.to_string())
    }
}

/// The `result` of the JSON-RPC response with `id` (a batch answer is searched), or its error.
fn response_result(message: Value, id: i64) -> Result<Value, McpError> {
    let response = match message {
        Value::Array(items) => items
            .into_iter()
            .find(|item| item.get("id").and_then(Value::as_i64) == Some(id))
            .ok_or_else(|| McpError::Garbage("no response to the request".into()))?,
        other => other,
    };
    if response.get("id").and_then(Value::as_i64) != Some(id) {
        return Err(McpError::Garbage("a response to another request".into()));
    }
    if response.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(McpError::Garbage("not a JSON-RPC 2.0 message".into()));
    }
    if let Some(error) = response.get("error") {
        let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        return Err(McpError::Rpc {
            code,
            message: message.chars().take(1024).collect(),
        });
    }
    match response.get("result") {
        Some(result) if result.is_object() => Ok(result.clone()),
        _ => Err(McpError::Garbage(
            "a response without a result object".into(),
        )),
    }
}

/// Reads server-sent events until the response to `id` arrives (other messages, such as
/// progress notifications or requests to the client, are skipped), within the byte cap.
async fn read_event_stream(response: reqwest::Response, id: i64) -> Result<Value, McpError> {
    use futures::StreamExt;
    let mut stream = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    // How far the buffer is known to hold no event end: each byte is searched about once,
    // however many chunks a large event arrives in.
    let mut searched = 0usize;
    let mut read = 0usize;
    loop {
        while let Some(end) = event_end(&buffer, searched) {
            let event: Vec<u8> = buffer.drain(..end.0 + end.1).take(end.0).collect();
            searched = 0;
            if let Some(message) = event_data(&event)
                && let Ok(value) = serde_json::from_str::<Value>(&message)
                && is_response_to(&value, id)
            {
                return Ok(value);
            }
        }
        let Some(chunk) = stream.next().await else {
            return Err(McpError::Garbage(
                "the event stream ended before the response".into(),
            ));
        };
        let chunk = chunk.map_err(|err| {
            classify(&failure_message(
                "the MCP server's event stream broke off",
                &err,
            ))
        })?;
        read += chunk.len();
        if read > MAX_RESPONSE_BYTES {
            return Err(McpError::Limit(format!(
                "an answer larger than {MAX_RESPONSE_BYTES} bytes"
            )));
        }
        // A separator may straddle the old end and the new chunk.
        searched = buffer.len().saturating_sub(3);
        buffer.extend_from_slice(&chunk);
    }
}

fn is_response_to(value: &Value, id: i64) -> bool {
    let answers = |item: &Value| {
        item.get("id").and_then(Value::as_i64) == Some(id)
            && (item.get("result").is_some() || item.get("error").is_some())
    };
    match value {
        Value::Array(items) => items.iter().any(answers),
        other => answers(other),
    }
}

/// Where the first complete event of `buffer` ends (searching from `from`): its length and
/// the separator's.
fn event_end(buffer: &[u8], from: usize) -> Option<(usize, usize)> {
    for (at, window) in buffer.windows(2).enumerate().skip(from) {
        if window == b"\n\n" {
            return Some((at, 2));
        }
        if buffer[at..].starts_with(b"\r\n\r\n") {
            return Some((at, 4));
        }
    }
    None
}

/// The data of one event (its `data:` lines joined by newlines), if it has any.
fn event_data(event: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(event);
    let mut data: Vec<&str> = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("data:") {
            data.push(rest.strip_prefix(' ').unwrap_or(rest));
        }
    }
    (!data.is_empty()).then(|| data.join("\n"))
}

/// One entry of `tools/list`, checked and hashed.
fn definition(tool: &Value) -> Result<McpToolDefinition, McpError> {
    let name = tool
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty() && name.len() <= MAX_TOOL_NAME_BYTES)
        .ok_or_else(|| {
            McpError::Garbage(format!(
                "a tool without a name of 1 to {MAX_TOOL_NAME_BYTES} bytes"
            ))
        })?;
    let schema = tool
        .get("inputSchema")
        .filter(|schema| schema.is_object())
        .cloned()
        .ok_or_else(|| McpError::Garbage(format!("tool {name:?} has no inputSchema object")))?;
    if schema.to_string().len() > MAX_SCHEMA_BYTES {
        return Err(McpError::Limit(format!(
            "tool {name:?} has an input schema over {MAX_SCHEMA_BYTES} bytes"
        )));
    }
    let mut description = tool
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if description.len() > MAX_DESCRIPTION_BYTES {
        let mut end = MAX_DESCRIPTION_BYTES;
        while !description.is_char_boundary(end) {
            end -= 1;
        }
        description.truncate(end);
    }
    Ok(McpToolDefinition::new(
        name.to_string(),
        description,
        schema,
    ))
}

/// A `tools/call` result as text: text blocks as they are, other blocks described, and the
/// structured content when there is nothing else.
fn result_text(result: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    for block in result
        .get("content")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
        let text = |key: &str| block.get(key).and_then(Value::as_str).unwrap_or("");
        parts.push(match kind {
            "text" => text("text").to_string(),
            "image" | "audio" => format!("[{kind} content of type {} omitted]", text("mimeType")),
            "resource_link" => format!("[resource {}]", text("uri")),
            "resource" => match block.get("resource") {
                Some(resource) => match resource.get("text").and_then(Value::as_str) {
                    Some(text) => text.to_string(),
                    None => format!(
                        "[resource {} omitted]",
                        resource.get("uri").and_then(Value::as_str).unwrap_or("")
                    ),
                },
                None => "[resource]".to_string(),
            },
            other => format!("[{other} content omitted]"),
        });
    }
    if parts.is_empty()
        && let Some(structured) = result.get("structuredContent")
    {
        return structured.to_string();
    }
    parts.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::test_server::{bind, response, serve};
    use crate::egress::{guarded_client, parse_allowlist};

    /// The JSON-RPC method and id of a raw request (`DELETE` for the end of a session).
    fn method_of(request: &str) -> (String, i64) {
        if request.starts_with("DELETE") {
            return ("DELETE".into(), 0);
        }
        let body = request.split("\r\n\r\n").nth(1).unwrap_or("");
        let value: Value = serde_json::from_str(body).unwrap_or(Value::Null);
        let method = value["method"].as_str().unwrap_or("").to_string();
        (method, value["id"].as_i64().unwrap_or(0))
    }

    fn json_answer(body: Value) -> Vec<u8> {
        let body = body.to_string();
        response(
            "200 OK",
            &[("content-type", "application/json")],
            body.as_bytes(),
        )
    }

    fn rpc(id: i64, result: Value) -> Vec<u8> {
        json_answer(json!({"jsonrpc": "2.0", "id": id, "result": result}))
    }

    /// A loopback server answering `initialize` with a session id and each other method
    /// with `answer(method)`; the policy that lets the guarded client reach it.
    async fn fake(
        answer: impl Fn(&str, i64) -> Vec<u8> + Send + Sync + 'static,
    ) -> (
        String,
        EgressPolicy,
        tokio::sync::mpsc::UnboundedReceiver<String>,
    ) {
        let (listener, port) = bind("127.0.0.1").await;
        let requests = serve(listener, move |request| {
            let (method, id) = method_of(request);
            match method.as_str() {
                "initialize" => {
                    let body = json!({"jsonrpc": "2.0", "id": 1, "result": {
                    "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
                    "serverInfo": {"name": "fake", "version": "1"}}});
                    response(
                        "200 OK",
                        &[
                            ("content-type", "application/json"),
                            ("mcp-session-id", "s-1"),
                        ],
                        body.to_string().as_bytes(),
                    )
                }
                "notifications/initialized" => response("202 Accepted", &[], b""),
                method => answer(method, id),
            }
        });
        let policy = EgressPolicy {
            allow: parse_allowlist("127.0.0.1").unwrap(),
            ..EgressPolicy::default()
        };
        (format!("http://127.0.0.1:{port}/mcp"), policy, requests)
    }

    async fn open_and<T>(
        url: &str,
        policy: &EgressPolicy,
        then: impl AsyncFnOnce(&mut Session<'_>) -> Result<T, McpError>,
    ) -> Result<T, McpError> {
        let http = guarded_client(policy).unwrap();
        let headers = vec![("Authorization".to_string(), "Bearer k3y".to_string())];
        let endpoint = Endpoint {
            url,
            headers: &headers,
        };
        let mut session = Session::open(&http, policy, endpoint, Duration::from_secs(5)).await?;
        then(&mut session).await
    }

    #[tokio::test]
    async fn sessions_carry_their_id_version_and_headers() {
        let (url, policy, mut requests) = fake(|_, id| {
            rpc(
                id,
                json!({"content": [{"type": "text", "text": "7"}], "isError": false}),
            )
        })
        .await;
        let result = open_and(&url, &policy, async |s| {
            s.call_tool("add", &json!({"a": 3})).await
        })
        .await
        .unwrap();
        assert_eq!(result.content, "7");
        let initialize = requests.recv().await.unwrap().to_ascii_lowercase();
        assert!(
            initialize.contains("authorization: bearer k3y"),
            "{initialize}"
        );
        assert!(!initialize.contains("mcp-session-id"), "{initialize}");
        let _initialized = requests.recv().await.unwrap();
        let call = requests.recv().await.unwrap().to_ascii_lowercase();
        assert!(call.contains("mcp-session-id: s-1"), "{call}");
        assert!(
            call.contains(&format!("mcp-protocol-version: {PROTOCOL_VERSION}")),
            "{call}"
        );
    }

    #[tokio::test]
    async fn a_dropped_session_garbage_and_errors_are_told_apart() {
        let (url, policy, _requests) = fake(|method, _| match method {
            "tools/call" => response("404 Not Found", &[], b""),
            "tools/list" => response("200 OK", &[("content-type", "application/json")], b"hello"),
            _ => response("500 Internal Server Error", &[], b""),
        })
        .await;
        let call = open_and(&url, &policy, async |s| {
            s.call_tool("add", &json!({})).await
        })
        .await;
        assert_eq!(call, Err(McpError::SessionGone));
        let list = open_and(&url, &policy, async |s| s.list_tools().await).await;
        assert!(matches!(list, Err(McpError::Garbage(_))), "{list:?}");

        let (url, policy, _requests) = fake(|_, id| {
            json_answer(
                json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601, "message": "no"}}),
            )
        })
        .await;
        let list = open_and(&url, &policy, async |s| s.list_tools().await).await;
        assert_eq!(
            list,
            Err(McpError::Rpc {
                code: -32601,
                message: "no".into()
            })
        );
    }

    #[tokio::test]
    async fn loopback_is_refused_without_the_allowlist_and_nothing_is_sent() {
        let (url, _, mut requests) = fake(|_, id| rpc(id, json!({}))).await;
        let strict = EgressPolicy::default();
        let http = guarded_client(&strict).unwrap();
        let endpoint = Endpoint {
            url: &url,
            headers: &[],
        };
        let opened = Session::open(&http, &strict, endpoint, Duration::from_secs(5)).await;
        assert!(
            matches!(opened, Err(McpError::Refused(_))),
            "{:?}",
            opened.err()
        );
        assert!(requests.try_recv().is_err());
    }

    #[tokio::test]
    async fn tool_lists_follow_cursors_within_their_bound() {
        let (url, policy, _requests) = fake(|_, id| {
            // Every page points to another: the client stops after MAX_PAGES.
            let tool = json!({"name": "t", "inputSchema": {"type": "object"}});
            rpc(id, json!({"tools": [tool], "nextCursor": "more"}))
        })
        .await;
        let list = open_and(&url, &policy, async |s| s.list_tools().await).await;
        assert!(matches!(list, Err(McpError::Limit(_))), "{list:?}");
    }

    #[test]
    fn event_streams_yield_the_response_to_the_request() {
        let stream = b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\"}\n\n\
                       data: {\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{\"ok\":true}}\r\n\r\n";
        let mut buffer = stream.to_vec();
        let mut found = None;
        while let Some(end) = event_end(&buffer, 0) {
            let event: Vec<u8> = buffer.drain(..end.0 + end.1).take(end.0).collect();
            let value: Value = serde_json::from_str(&event_data(&event).unwrap()).unwrap();
            if is_response_to(&value, 3) {
                found = Some(value);
            }
        }
        let result = response_result(found.unwrap(), 3).unwrap();
        assert_eq!(result["ok"], true);
        // A search resumed where the last one stopped still finds a separator that began there.
        assert_eq!(event_end(b"data: x\r\n\r\n", 7), Some((7, 4)));
        assert_eq!(event_end(b"data: x\n\n", 8), None);
    }

    #[test]
    fn errors_and_garbage_are_told_apart() {
        let error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32602, "message": "bad"}});
        assert_eq!(
            response_result(error, 1),
            Err(McpError::Rpc {
                code: -32602,
                message: "bad".into()
            })
        );
        assert!(matches!(
            response_result(json!({"id": 1, "result": {}}), 1),
            Err(McpError::Garbage(_))
        ));
        assert!(matches!(
            response_result(json!({"jsonrpc": "2.0", "id": 2, "result": {}}), 1),
            Err(McpError::Garbage(_))
        ));
        assert!(matches!(
            definition(&json!({"name": "x"})),
            Err(McpError::Garbage(_))
        ));
    }

    #[test]
    fn results_become_text_for_the_model() {
        let result = json!({"content": [
            {"type": "text", "text": "5"},
            {"type": "image", "data": "AAAA", "mimeType": "image/png"},
        ]});
        assert_eq!(
            result_text(&result),
            "5\n[image content of type image/png omitted]"
        );
        let structured = json!({"content": [], "structuredContent": {"sum": 5}});
        assert_eq!(result_text(&structured), r#"{"sum":5}"#);
    }
}
