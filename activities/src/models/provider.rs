//! What every provider shares: the call it is given, the errors it can end with, how an HTTP
//! error response is classed, and how a streamed response body is read.

use std::time::Duration;

use futures::StreamExt;
use secrecy::ExposeSecret;
use serde_json::Value;

use longrun_workflows::payloads::{ContentBlock, LlmResponse, Message, StopReason, TokenUsage};

use super::ProviderEndpoint;
use super::sse::{SseDecoder, SseEvent};

/// A tool as declared to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolDeclaration {
    pub name: String,
    pub description: String,
    pub input_schema: Value,
}

/// One model turn, provider-neutral.
#[derive(Debug, Clone, Copy)]
pub struct ProviderCall<'a> {
    /// The model's name at the provider (without the `provider/` prefix).
    pub model: &'a str,
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolDeclaration],
    pub max_tokens: u32,
    /// The final answer must be JSON valid for this schema (structured output).
    pub output_schema: Option<&'a serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProviderError {
    /// Worth another attempt (429, 529, 5xx, timeouts, broken connections), not before
    /// `retry_after` when the provider said so.
    #[error("{message}")]
    Retryable {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The provider refused the request (400, 401, 403, 404, 413, 422): retrying is useless.
    #[error("the provider rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    /// The response could not be understood; `excerpt` shows where.
    #[error("the provider's response could not be parsed: {reason}")]
    BadResponse { reason: String, excerpt: String },
}

/// Longest excerpt of a bad response kept for the run's events.
const EXCERPT_BYTES: usize = 512;

pub(crate) fn excerpt(text: &str) -> String {
    let mut cut = text.len().min(EXCERPT_BYTES);
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text[..cut].to_string()
}

/// `retry-after` (seconds or an HTTP date) or `retry-after-ms`, capped at ten minutes.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let cap = Duration::from_secs(600);
    if let Some(ms) = headers
        .get("retry-after-ms")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|ms| ms.is_finite() && *ms >= 0.0)
    {
        return Some(Duration::from_secs_f64(ms / 1000.0).min(cap));
    }
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds).min(cap));
    }
    let when = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = when.signed_duration_since(chrono::Utc::now());
    Some(wait.to_std().unwrap_or(Duration::ZERO).min(cap))
}

/// Classes a non-success HTTP response, reading the provider's error message from the body.
pub(crate) async fn error_from_response(response: reqwest::Response) -> ProviderError {
    let status = response.status().as_u16();
    let wait = retry_after(response.headers());
    let body = response.text().await.unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| {
            v.pointer("/error/message")
                .or_else(|| v.get("message"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| excerpt(body.trim()));
    match status {
        408 | 409 | 425 | 429 | 500..=599 => ProviderError::Retryable {
            message: format!("the provider answered {status}: {message}"),
            retry_after: wait,
        },
        _ => ProviderError::Rejected { status, message },
    }
}

/// Transport failures (connect, timeouts, a dropped stream) are worth retrying.
pub(crate) fn transport_error(err: reqwest::Error) -> ProviderError {
    let what = if err.is_timeout() {
        "the provider timed out"
    } else if err.is_connect() {
        "cannot connect to the provider"
    } else {
        "the connection to the provider failed"
    };
    ProviderError::Retryable {
        message: what.to_string(),
        retry_after: None,
    }
}

/// Reads a streamed (SSE) response, handing each event to `on_event` until it returns
/// `Ok(true)` (done) or the stream ends.
pub(crate) async fn read_stream(
    response: reqwest::Response,
    mut on_event: impl FnMut(SseEvent) -> Result<bool, ProviderError>,
) -> Result<(), ProviderError> {
    let mut decoder = SseDecoder::new();
    let mut body = response.bytes_stream();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(transport_error)?;
        if read_chunk(&mut decoder, &chunk, &mut on_event)? {
            return Ok(());
        }
    }
    read_end(&mut decoder);
    Ok(())
}

/// Decodes one piece of a streamed body, handing each event it completes to `on_event`;
/// `Ok(true)` as soon as `on_event` says the stream is done. Apart from the transport, so
/// the parsers can be tested (and fuzzed) on bytes.
pub(crate) fn read_chunk(
    decoder: &mut SseDecoder,
    chunk: &[u8],
    on_event: &mut impl FnMut(SseEvent) -> Result<bool, ProviderError>,
) -> Result<bool, ProviderError> {
    let events = decoder
        .push(chunk)
        .map_err(|e| ProviderError::BadResponse {
            reason: e.to_string(),
            excerpt: excerpt(&String::from_utf8_lossy(chunk)),
        })?;
    for event in events {
        if on_event(event)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Ends a streamed body. An event left without its blank line is discarded (the WHATWG
/// rule): the parser then sees a stream that ended early, which is retryable.
pub(crate) fn read_end(decoder: &mut SseDecoder) {
    if decoder.finish() {
        tracing::debug!("the provider's stream ended inside an event; it is discarded");
    }
}

/// A provider's API: how a turn is asked (where, with which key, in which body) and, as a
/// value, the parser of its streamed answer. [`call`] drives it.
pub(crate) trait ProviderApi: Default {
    /// Where a turn is posted, below the endpoint's base URL.
    const PATH: &'static str;
    /// Adds the API key (and any header the API requires) to a request.
    fn authorize(request: reqwest::RequestBuilder, key: &str) -> reqwest::RequestBuilder;
    /// The request body: our conversation in the provider's shapes.
    fn request_body(call: &ProviderCall<'_>) -> Value;
    /// Handles one decoded stream event; returns a text delta to forward, if any.
    fn on_sse_event(&mut self, event: &SseEvent) -> Result<Option<String>, ProviderError>;
    /// Whether the provider said the answer is complete.
    fn is_done(&self) -> bool;
    /// The whole answer, once the stream is read.
    fn finish(self) -> Result<LlmResponse, ProviderError>;
}

/// One streamed model turn, the sequence every provider shares: send the request asking for
/// a stream, class an error answer, read the stream into the provider's parser forwarding
/// text deltas, and assemble.
pub(crate) async fn call<P: ProviderApi>(
    http: &reqwest::Client,
    endpoint: &ProviderEndpoint,
    call: &ProviderCall<'_>,
    on_delta: &mut (dyn FnMut(&str) + Send),
) -> Result<LlmResponse, ProviderError> {
    let request = http.post(format!("{}{}", endpoint.base_url, P::PATH));
    let response = P::authorize(request, endpoint.api_key.expose_secret())
        .json(&P::request_body(call))
        .header("accept", "text/event-stream")
        .send()
        .await
        .map_err(transport_error)?;
    if !response.status().is_success() {
        return Err(error_from_response(response).await);
    }
    let mut parser = P::default();
    read_stream(response, |event| {
        if let Some(delta) = parser.on_sse_event(&event)? {
            on_delta(&delta);
        }
        Ok(parser.is_done())
    })
    .await?;
    parser.finish()
}

/// A tool call's input from its streamed JSON text (`{}` when the model sent none).
pub(crate) fn tool_input(json: &str, what: &str) -> Result<Value, ProviderError> {
    if json.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_str(json).map_err(|e| ProviderError::BadResponse {
        reason: format!("{what} is not JSON: {e}"),
        excerpt: excerpt(json),
    })
}

/// An assembled answer (its cost is priced later, by the caller).
pub(crate) fn answer(
    content: Vec<ContentBlock>,
    stop_reason: StopReason,
    usage: TokenUsage,
) -> LlmResponse {
    LlmResponse {
        content,
        stop_reason,
        usage,
        cost_micro_usd: 0,
        paused: None,
        output: None,
    }
}

/// Parses one event's JSON, or says which event could not be parsed.
pub(crate) fn parse_event(event: &SseEvent) -> Result<Value, ProviderError> {
    serde_json::from_str(&event.data).map_err(|e| ProviderError::BadResponse {
        reason: format!("event {:?} is not JSON: {e}", event.event),
        excerpt: excerpt(&event.data),
    })
}

/// Conversations the providers' request tests translate.
#[cfg(test)]
pub(crate) mod testing {
    use super::{ProviderApi, ProviderCall, ProviderError, ToolDeclaration};
    use crate::models::sse::testing::{assemble, frame};
    use longrun_workflows::payloads::{ContentBlock, LlmResponse, Message, Role, TokenUsage};
    use serde_json::{Value, json};

    /// A calculator call, as a model makes it.
    pub(crate) fn calculator_call(id: &str, expression: &str) -> ContentBlock {
        ContentBlock::ToolUse {
            id: id.into(),
            name: "calculator".into(),
            input: json!({ "expression": expression }),
        }
    }

    /// A calculator call and its result, as the conversation holds them.
    pub(crate) fn calculator_round(
        id: &str,
        expression: &str,
        result: &str,
        is_error: bool,
    ) -> [Message; 2] {
        let call = calculator_call(id, expression);
        let result = ContentBlock::ToolResult {
            tool_use_id: id.into(),
            content: result.into(),
            is_error,
        };
        [
            Message {
                role: Role::Assistant,
                content: vec![call],
            },
            Message {
                role: Role::User,
                content: vec![result],
            },
        ]
    }

    /// The calculator, as declared to a model.
    fn calculator() -> Vec<ToolDeclaration> {
        vec![ToolDeclaration {
            name: "calculator".into(),
            description: "d".into(),
            input_schema: json!({"type": "object"}),
        }]
    }

    /// Token counts: input, output, cache reads, cache writes.
    pub(crate) fn tokens(input: u64, output: u64, cache_read: u64, cache_write: u64) -> TokenUsage {
        TokenUsage {
            input_tokens: input,
            output_tokens: output,
            cache_read_tokens: cache_read,
            cache_write_tokens: cache_write,
        }
    }

    /// The request body `P` makes of `messages`, with the calculator declared.
    pub(crate) fn request_with_calculator<P: ProviderApi>(
        model: &str,
        messages: &[Message],
    ) -> Value {
        P::request_body(&ProviderCall {
            model,
            system: "sys",
            messages,
            tools: &calculator(),
            max_tokens: 100,
            output_schema: None,
        })
    }

    /// Reads `events` (their names, if any, and data) framed as a server writes them: the
    /// text deltas `P` forwarded, and its answer.
    pub(crate) fn feed<'a, P: ProviderApi>(
        events: impl IntoIterator<Item = (Option<&'a str>, &'a Value)>,
    ) -> Result<(String, LlmResponse), ProviderError> {
        let framed: String = events
            .into_iter()
            .map(|(name, data)| frame(name, &data.to_string(), "\n"))
            .collect();
        assemble::<P>([framed.as_bytes()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert("retry-after", HeaderValue::from_static("100000"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(600)));
        let soon = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        headers.insert("retry-after", HeaderValue::from_str(&soon).unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(25) && wait <= Duration::from_secs(30),
            "{wait:?}"
        );
        headers.insert(
            "retry-after",
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::ZERO));
        headers.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
        headers.insert("retry-after-ms", HeaderValue::from_static("1500"));
        assert_eq!(retry_after(&headers), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn an_over_long_event_ends_the_stream_as_a_bad_response() {
        use super::super::sse::MAX_EVENT_BYTES;
        let mut decoder = SseDecoder::new();
        let mut on_event =
            |_: SseEvent| -> Result<bool, ProviderError> { panic!("no event is complete") };
        assert_eq!(
            read_chunk(&mut decoder, b"data: ", &mut on_event),
            Ok(false)
        );
        let big = vec![b'a'; MAX_EVENT_BYTES];
        let refused = read_chunk(&mut decoder, &big, &mut on_event);
        let Err(ProviderError::BadResponse { reason, excerpt }) = refused else {
            panic!("{refused:?}");
        };
        assert_eq!(reason, "a stream event is larger than 4194304 bytes");
        assert_eq!(excerpt.len(), EXCERPT_BYTES);
    }

    #[test]
    fn excerpts_cut_on_char_boundaries() {
        let text = "é".repeat(600);
        let cut = excerpt(&text);
        assert!(cut.len() <= EXCERPT_BYTES);
        assert!(cut.chars().all(|c| c == 'é'));
    }
}
