//! Webhook tools: a tool call POSTed as JSON to a workspace's URL, signed the Standard
//! Webhooks way (`webhook-id`, `webhook-timestamp`, `webhook-signature`), so the receiver can
//! tell it came from us and is fresh. The receiver's answer is the tool result.
//!
//! This module never picks the HTTP client: the caller hands in one, the guarded client of
//! [`crate::egress::guarded_client`] unless the operator allowlisted the target, and
//! judges the URL first with [`crate::egress::check_url`] (IP literals never reach the
//! guarded client's resolver). The secret never appears in a result.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use sha2::Sha256;

use longrun_workflows::payloads::ToolOutcome;

use crate::egress::{failure_message, read_capped};

/// The Standard Webhooks signature of one message: `v1,<base64 HMAC-SHA256>` over
/// `{msg_id}.{timestamp}.{body}`.
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts a key of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("{msg_id}.{timestamp}.{body}").as_bytes());
    format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()))
}

/// The key bytes of a secret: `whsec_<base64>` is decoded; anything else (including a
/// `whsec_` whose rest is not base64) is used as its UTF-8 bytes.
pub fn secret_bytes(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|encoded| BASE64.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The POST of `body` to `url` as Standard Webhooks message `msg_id`, sent at `timestamp`
/// (Unix seconds) and signed with `secret` when there is one.
pub(crate) fn message_request(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    msg_id: &str,
    timestamp: i64,
    secret: Option<&str>,
    body: String,
) -> reqwest::RequestBuilder {
    let mut request = http
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header("webhook-id", msg_id)
        .header("webhook-timestamp", timestamp.to_string());
    if let Some(secret) = secret {
        let signature = sign(&secret_bytes(secret), msg_id, timestamp, &body);
        request = request.header("webhook-signature", signature);
    }
    request.body(body)
}

/// One message to a webhook tool.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    pub url: &'a str,
    /// Signs the message when set (Standard Webhooks).
    pub secret: Option<&'a str>,
    /// `webhook-id`: the same on every retry of the call, so the receiver can drop repeats.
    pub id: &'a str,
    pub input: &'a Value,
}

/// POSTs a message's input to its URL, signed. A 2xx answer's body (at most `max_bytes`) is
/// the result; any other status, or no answer within `timeout`, is an error result.
pub async fn call(
    http: &reqwest::Client,
    message: Message<'_>,
    timeout: Duration,
    max_bytes: usize,
) -> ToolOutcome {
    let Message {
        url,
        secret,
        id: msg_id,
        input,
    } = message;
    let body = input.to_string();
    let timestamp = chrono::Utc::now().timestamp();
    let request = message_request(http, url, msg_id, timestamp, secret, body).timeout(timeout);
    let exchange = async {
        let response = request.send().await?;
        let status = response.status();
        let (bytes, truncated) = read_capped(response, max_bytes).await?;
        let mut text = String::from_utf8_lossy(&bytes).into_owned();
        if truncated {
            text.push_str(&format!("\n[truncated at {max_bytes} bytes]"));
        }
        Ok::<_, reqwest::Error>((status, text))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Ok(Ok((status, text))) if status.is_success() => ToolOutcome {
            content: super::cap_output(text),
            is_error: false,
        },
        Ok(Ok((status, text))) => {
            super::error(&format!("the webhook answered HTTP {status}: {text}"))
        }
        Ok(Err(err)) => super::error(&failure_message("the webhook call failed", &err)),
        Err(_) => super::error(&format!(
            "the webhook call failed: no answer within {timeout:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `call` with a ten-second timeout, which no test reaches.
    async fn send(
        http: &reqwest::Client,
        url: &str,
        secret: Option<&str>,
        msg_id: &str,
        input: &Value,
        max_bytes: usize,
    ) -> ToolOutcome {
        let message = Message {
            url,
            secret,
            id: msg_id,
            input,
        };
        call(http, message, Duration::from_secs(10), max_bytes).await
    }
    use crate::egress::test_server::{bind, response, serve};
    use crate::egress::{EgressPolicy, guarded_client};
    use serde_json::json;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    /// A client without the guard (and without environment proxies).
    fn plain() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
        request
            .lines()
            .filter_map(|line| line.split_once(": "))
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    #[test]
    fn signs_the_standard_webhooks_example() {
        let signature = sign(
            &secret_bytes(SECRET),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
        );
        assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secret_bytes_decode_whsec_and_keep_anything_else() {
        assert_eq!(secret_bytes("whsec_aGVsbG8="), b"hello");
        assert_eq!(secret_bytes("plain secret"), b"plain secret");
        assert_eq!(secret_bytes("whsec_!!not base64"), b"whsec_!!not base64");
        assert_ne!(sign(b"a", "m", 1, "{}"), sign(b"b", "m", 1, "{}"));
    }

    #[tokio::test]
    async fn posts_a_signed_body_the_receiver_can_verify() {
        let (listener, port) = bind("127.0.0.1").await;
        let mut requests = serve(listener, |_| response("200 OK", &[], b"{\"ok\":true}"));
        let input = json!({"city": "Zürich", "days": 3});
        let url = format!("http://127.0.0.1:{port}/hook");
        let outcome = send(&plain(), &url, Some(SECRET), "msg_1", &input, 1024).await;
        assert_eq!(
            outcome,
            ToolOutcome {
                content: "{\"ok\":true}".into(),
                is_error: false
            }
        );

        let request = requests.recv().await.unwrap();
        assert!(request.starts_with("POST /hook HTTP/1.1\r\n"), "{request}");
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(header(&request, "webhook-id"), Some("msg_1"));
        let timestamp: i64 = header(&request, "webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
        let (_, body) = request.split_once("\r\n\r\n").unwrap();
        assert_eq!(serde_json::from_str::<Value>(body).unwrap(), input);
        let expected = sign(&secret_bytes(SECRET), "msg_1", timestamp, body);
        assert_eq!(
            header(&request, "webhook-signature"),
            Some(expected.as_str())
        );
    }

    #[tokio::test]
    async fn sends_no_signature_without_a_secret() {
        let (listener, port) = bind("127.0.0.1").await;
        let mut requests = serve(listener, |_| response("204 No Content", &[], b""));
        let url = format!("http://127.0.0.1:{port}/");
        let outcome = send(&plain(), &url, None, "msg_2", &json!({}), 1024).await;
        assert_eq!(
            outcome,
            ToolOutcome {
                content: String::new(),
                is_error: false
            }
        );
        let request = requests.recv().await.unwrap();
        assert_eq!(header(&request, "webhook-signature"), None);
        assert_eq!(header(&request, "webhook-id"), Some("msg_2"));
    }

    #[tokio::test]
    async fn an_error_status_is_an_error_result_with_the_capped_body() {
        let (listener, port) = bind("127.0.0.1").await;
        let _requests = serve(listener, |_| {
            response(
                "500 Internal Server Error",
                &[],
                b"database is down, please retry",
            )
        });
        let url = format!("http://127.0.0.1:{port}/");
        let outcome = send(&plain(), &url, Some("s"), "m", &json!({}), 16).await;
        assert!(outcome.is_error);
        assert_eq!(
            outcome.content,
            "the webhook answered HTTP 500 Internal Server Error: database is down\n[truncated at 16 bytes]"
        );
    }

    #[tokio::test]
    async fn transport_failures_and_refusals_are_error_results() {
        let (listener, port) = bind("127.0.0.1").await;
        drop(listener);
        let url = format!("http://127.0.0.1:{port}/");
        let outcome = send(&plain(), &url, None, "m", &json!({}), 16).await;
        assert!(outcome.is_error);
        assert!(
            outcome.content.starts_with("the webhook call failed: "),
            "{}",
            outcome.content
        );

        let guarded = guarded_client(&EgressPolicy::default()).unwrap();
        let url = format!("http://localhost:{port}/");
        let outcome = send(&guarded, &url, None, "m", &json!({}), 16).await;
        assert!(outcome.is_error);
        assert!(
            outcome
                .content
                .starts_with("refused: localhost resolves to 127.0.0.1"),
            "{}",
            outcome.content
        );
    }
}
