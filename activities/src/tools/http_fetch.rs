//! The `http_fetch` tool: one HTTP GET or POST to a URL the model chose, through the egress
//! guard ([`crate::egress`]), so it never reaches inside the operator's network.

use reqwest::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use serde_json::{Value, json};

use longrun_workflows::payloads::ToolOutcome;

use crate::egress::{EgressPolicy, check_url, failure_message, guarded_client, read_capped};

/// Largest request body accepted from the model, in bytes.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most request headers accepted from the model.
pub const MAX_HEADERS: usize = 20;
/// Headers the model may not set: they frame the request or pick its target.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
];

pub const DESCRIPTION: &str = "Fetches a URL over HTTP(S) with GET or POST and returns the \
     status, the content type and the body (cut at a size limit). Addresses inside private \
     networks are refused.";

/// The JSON schema declared to the model.
pub fn input_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "url": {"type": "string", "description": "An http:// or https:// URL."},
            "method": {"type": "string", "enum": ["GET", "POST"], "default": "GET"},
            "body": {
                "type": "string",
                "description": "Request body; POST only.",
                "maxLength": MAX_BODY_BYTES
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "maxProperties": MAX_HEADERS
            }
        },
        "required": ["url"],
        "additionalProperties": false
    })
}

#[derive(Debug)]
struct FetchRequest {
    url: String,
    method: Method,
    body: Option<String>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

fn parse_input(input: &Value) -> Result<FetchRequest, String> {
    let Some(fields) = input.as_object() else {
        return Err("expected an object with \"url\"".into());
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["url", "method", "body", "headers"].contains(&k.as_str()))
    {
        return Err(format!("unknown field {unknown:?}"));
    }
    let Some(url) = fields.get("url").and_then(Value::as_str) else {
        return Err("\"url\" (a string) is required".into());
    };
    let method = match fields.get("method") {
        None => Method::GET,
        Some(Value::String(m)) if m.eq_ignore_ascii_case("GET") => Method::GET,
        Some(Value::String(m)) if m.eq_ignore_ascii_case("POST") => Method::POST,
        Some(_) => return Err("\"method\" must be \"GET\" or \"POST\"".into()),
    };
    let body = match fields.get("body") {
        None => None,
        Some(_) if method != Method::POST => {
            return Err("\"body\" is only allowed with \"method\": \"POST\"".into());
        }
        Some(Value::String(b)) if b.len() > MAX_BODY_BYTES => {
            return Err(format!(
                "\"body\" is {} bytes; at most {MAX_BODY_BYTES}",
                b.len()
            ));
        }
        Some(Value::String(b)) => Some(b.clone()),
        Some(_) => return Err("\"body\" must be a string".into()),
    };
    let headers = match fields.get("headers") {
        None => Vec::new(),
        Some(Value::Object(map)) if map.len() > MAX_HEADERS => {
            return Err(format!(
                "\"headers\" has {} entries; at most {MAX_HEADERS}",
                map.len()
            ));
        }
        Some(Value::Object(map)) => map
            .iter()
            .map(|(n, v)| parse_header(n, v))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("\"headers\" must be an object of strings".into()),
    };
    Ok(FetchRequest {
        url: url.to_string(),
        method,
        body,
        headers,
    })
}

fn parse_header(name: &str, value: &Value) -> Result<(HeaderName, HeaderValue), String> {
    let Some(value) = value.as_str() else {
        return Err(format!("\"headers\".{name:?} must be a string"));
    };
    if name.chars().chain(value.chars()).any(char::is_control) {
        return Err(format!("\"headers\".{name:?} contains a control character"));
    }
    if FORBIDDEN_HEADERS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
    {
        return Err(format!("\"headers\" may not set {name:?}"));
    }
    let header_name = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("\"headers\".{name:?} is not a valid header name"))?;
    let header_value = HeaderValue::from_str(value)
        .map_err(|_| format!("\"headers\".{name:?} has a value that is not valid in a header"))?;
    Ok((header_name, header_value))
}

/// Runs the tool. Refusals, bad input and transport failures are error results; any HTTP
/// status, 4xx and 5xx included, is a normal result the model reads.
pub async fn run(settings: &EgressPolicy, input: &Value) -> ToolOutcome {
    let request = match parse_input(input) {
        Ok(request) => request,
        Err(message) => return super::error(&format!("invalid input: {message}")),
    };
    if let Err(err) = Url::parse(&request.url) {
        return super::error(&format!(
            "invalid input: \"url\" is not a valid URL ({err})"
        ));
    }
    let url = match check_url(settings, &request.url) {
        Ok(url) => url,
        Err(refused) => return super::error(&refused.to_string()),
    };
    let client = match guarded_client(settings) {
        Ok(client) => client,
        Err(err) => return super::error(&format!("cannot build the HTTP client: {err}")),
    };
    let mut builder = client.request(request.method, url);
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    if let Some(body) = request.body {
        builder = builder.body(body);
    }
    let exchange = async {
        let response = builder.send().await?;
        let status = response.status();
        let content_type = response.headers().get(CONTENT_TYPE).cloned();
        let (body, truncated) = read_capped(response, settings.max_bytes).await?;
        let content_type = content_type
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mut text = format!(
            "HTTP {status}\n{content_type}\n\n{}",
            String::from_utf8_lossy(&body)
        );
        if truncated {
            text.push_str(&format!("\n[truncated at {} bytes]", settings.max_bytes));
        }
        Ok::<_, reqwest::Error>(text)
    };
    match tokio::time::timeout(settings.timeout, exchange).await {
        Ok(Ok(text)) => ToolOutcome {
            content: super::cap_output(text),
            is_error: false,
        },
        Ok(Err(err)) => super::error(&failure_message("fetch failed", &err)),
        Err(_) => super::error(&format!(
            "fetch failed: no answer within {:?}",
            settings.timeout
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::egress::parse_allowlist;
    use crate::egress::test_server::{bind, response, serve};
    use crate::tools::assert_error;

    fn allowing(list: &str) -> EgressPolicy {
        EgressPolicy {
            allow: parse_allowlist(list).unwrap(),
            ..EgressPolicy::default()
        }
    }

    fn text_server(body: &'static str) -> impl Fn(&str) -> Vec<u8> + Send + Sync + 'static {
        move |_| response("200 OK", &[("content-type", "text/plain")], body.as_bytes())
    }

    #[tokio::test]
    async fn refuses_urls_that_point_inside_the_network() {
        let (listener, port) = bind("127.0.0.1").await;
        let mut requests = serve(listener, text_server("secret"));
        let table = [
            (
                format!("http://127.0.0.1:{port}/"),
                "127.0.0.1 is a loopback address",
            ),
            (format!("http://[::1]:{port}/"), "::1 is a loopback address"),
            (
                format!("http://[::ffff:127.0.0.1]:{port}/"),
                "is a loopback address",
            ),
            (
                format!("http://localhost:{port}/"),
                "localhost resolves to 127.0.0.1, which is a loopback",
            ),
            (
                format!("http://2130706433:{port}/"),
                "127.0.0.1 is a loopback address",
            ),
            ("http://10.1.2.3/".into(), "10.1.2.3 is a private address"),
            (
                "http://172.16.0.1/".into(),
                "172.16.0.1 is a private address",
            ),
            (
                "http://192.168.1.1/".into(),
                "192.168.1.1 is a private address",
            ),
            (
                "http://169.254.169.254/latest/meta-data/".into(),
                "the cloud metadata address",
            ),
            ("http://100.64.0.1/".into(), "a shared (CGNAT) address"),
            ("http://0.0.0.0/".into(), "a \"this network\" address"),
            (
                "http://metadata.google.internal/computeMetadata/v1/".into(),
                "cloud metadata service",
            ),
            ("http://metadata/".into(), "cloud metadata service"),
            ("ftp://x/".into(), "ftp: URLs are not fetched"),
            ("file:///etc/passwd".into(), "file: URLs are not fetched"),
            (
                "http://user:pw@example.com/".into(),
                "user name or password",
            ),
        ];
        for (url, reason) in table {
            let outcome = run(&EgressPolicy::default(), &json!({"url": url})).await;
            assert_error(url, &outcome, "refused: ", reason);
        }
        assert!(
            requests.try_recv().is_err(),
            "no request may reach the server"
        );
    }

    #[tokio::test]
    async fn fetches_from_an_allowlisted_address() {
        let (listener, port) = bind("127.0.0.1").await;
        let _requests = serve(listener, text_server("hello"));
        let settings = allowing("127.0.0.1/32");
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("http://localhost:{port}/"),
        ] {
            let outcome = run(&settings, &json!({"url": url})).await;
            assert_eq!(
                outcome,
                ToolOutcome {
                    content: "HTTP 200 OK\ntext/plain\n\nhello".into(),
                    is_error: false
                },
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn an_error_status_is_a_normal_result() {
        let (listener, port) = bind("127.0.0.1").await;
        let _requests = serve(listener, |_| {
            response("404 Not Found", &[], b"no such page")
        });
        let outcome = run(
            &allowing("localhost"),
            &json!({"url": format!("http://localhost:{port}/x")}),
        )
        .await;
        assert!(!outcome.is_error);
        assert!(
            outcome.content.starts_with("HTTP 404 Not Found\n"),
            "{}",
            outcome.content
        );
        assert!(outcome.content.ends_with("no such page"));
    }

    #[tokio::test]
    async fn truncates_a_body_larger_than_max_bytes() {
        let (listener, port) = bind("127.0.0.1").await;
        let _requests = serve(listener, |_| response("200 OK", &[], &[b'a'; 50_000]));
        let settings = EgressPolicy {
            max_bytes: 1000,
            ..allowing("127.0.0.1")
        };
        let outcome = run(
            &settings,
            &json!({"url": format!("http://127.0.0.1:{port}/")}),
        )
        .await;
        assert!(!outcome.is_error);
        let expected = format!(
            "HTTP 200 OK\n\n\n{}\n[truncated at 1000 bytes]",
            "a".repeat(1000)
        );
        assert_eq!(outcome.content, expected);
    }

    #[tokio::test]
    async fn posts_the_body_and_headers() {
        let (listener, port) = bind("127.0.0.1").await;
        let mut requests = serve(listener, text_server("created"));
        let input = json!({
            "url": format!("http://127.0.0.1:{port}/submit"),
            "method": "POST",
            "body": "{\"a\":1}",
            "headers": {"content-type": "application/json", "x-trace": "abc"}
        });
        let outcome = run(&allowing("127.0.0.0/8"), &input).await;
        assert!(!outcome.is_error, "{}", outcome.content);
        let request = requests.recv().await.unwrap();
        assert!(
            request.starts_with("POST /submit HTTP/1.1\r\n"),
            "{request}"
        );
        assert!(request.contains("x-trace: abc\r\n"), "{request}");
        assert!(
            request.contains("content-type: application/json\r\n"),
            "{request}"
        );
        assert!(request.ends_with("\r\n\r\n{\"a\":1}"), "{request}");
    }

    #[tokio::test]
    async fn refuses_a_redirect_to_a_forbidden_address() {
        let (listener, port) = bind("127.0.0.1").await;
        let location = format!("http://127.0.0.2:{port}/");
        let _requests = serve(listener, move |_| {
            response("302 Found", &[("location", &location)], b"")
        });
        // `localhost` is trusted by name; the IP literal it redirects to is not.
        let outcome = run(
            &allowing("localhost"),
            &json!({"url": format!("http://localhost:{port}/redirect")}),
        )
        .await;
        assert!(outcome.is_error);
        assert_eq!(outcome.content, "refused: 127.0.0.2 is a loopback address");
    }

    #[tokio::test]
    async fn refuses_a_redirect_to_a_name_that_resolves_inside() {
        let (listener, port) = bind("127.0.0.2").await;
        let location = format!("http://localhost:{port}/");
        let _requests = serve(listener, move |_| {
            response("301 Moved Permanently", &[("location", &location)], b"")
        });
        let outcome = run(
            &allowing("127.0.0.2"),
            &json!({"url": format!("http://127.0.0.2:{port}/")}),
        )
        .await;
        assert!(outcome.is_error);
        assert!(
            outcome
                .content
                .starts_with("refused: localhost resolves to"),
            "{}",
            outcome.content
        );
    }

    #[tokio::test]
    async fn follows_allowed_redirects_up_to_the_limit() {
        let (listener, port) = bind("127.0.0.1").await;
        let _requests = serve(listener, |request| {
            if request.starts_with("GET /done ") {
                response("200 OK", &[], b"arrived")
            } else if request.starts_with("GET /start ") {
                response("302 Found", &[("location", "/done")], b"")
            } else if request.starts_with("GET /ftp ") {
                response("302 Found", &[("location", "ftp://example.com/")], b"")
            } else {
                response("302 Found", &[("location", "/loop")], b"")
            }
        });
        let settings = EgressPolicy {
            max_redirects: 3,
            ..allowing("127.0.0.1")
        };
        let input = |path: &str| json!({"url": format!("http://127.0.0.1:{port}{path}")});
        let arrived = run(&settings, &input("/start")).await;
        assert_eq!(arrived.content, "HTTP 200 OK\n\n\narrived");
        let looped = run(&settings, &input("/loop")).await;
        assert!(looped.is_error);
        assert_eq!(looped.content, "refused: more than 3 redirects");
        let ftp = run(&settings, &input("/ftp")).await;
        assert!(ftp.is_error);
        assert!(
            ftp.content.starts_with("refused: ftp: URLs"),
            "{}",
            ftp.content
        );
    }

    #[tokio::test]
    async fn a_connection_failure_is_an_error_result() {
        let (listener, port) = bind("127.0.0.1").await;
        drop(listener);
        let outcome = run(
            &allowing("127.0.0.1"),
            &json!({"url": format!("http://127.0.0.1:{port}/")}),
        )
        .await;
        assert!(outcome.is_error);
        assert!(
            outcome.content.starts_with("fetch failed: "),
            "{}",
            outcome.content
        );
    }

    #[tokio::test]
    async fn bad_input_becomes_an_error_result_naming_the_field() {
        let many: serde_json::Map<String, Value> =
            (0..21).map(|i| (format!("x-h{i}"), json!("v"))).collect();
        let url = "https://example.com/";
        let table = [
            (json!("https://example.com/"), "expected an object"),
            (json!({}), "\"url\" (a string) is required"),
            (json!({"url": 5}), "\"url\" (a string) is required"),
            (json!({"url": "not a url"}), "\"url\" is not a valid URL"),
            (json!({"url": url, "extra": 1}), "unknown field \"extra\""),
            (
                json!({"url": url, "method": "DELETE"}),
                "\"method\" must be",
            ),
            (json!({"url": url, "method": 1}), "\"method\" must be"),
            (json!({"url": url, "body": "x"}), "\"body\" is only allowed"),
            (
                json!({"url": url, "method": "POST", "body": 5}),
                "\"body\" must be a string",
            ),
            (
                json!({"url": url, "method": "POST", "body": "a".repeat(MAX_BODY_BYTES + 1)}),
                "\"body\" is 262145 bytes",
            ),
            (
                json!({"url": url, "headers": "x"}),
                "\"headers\" must be an object",
            ),
            (
                json!({"url": url, "headers": many}),
                "\"headers\" has 21 entries",
            ),
            (
                json!({"url": url, "headers": {"Host": "internal"}}),
                "may not set \"Host\"",
            ),
            (
                json!({"url": url, "headers": {"content-length": "1"}}),
                "may not set",
            ),
            (
                json!({"url": url, "headers": {"Transfer-Encoding": "chunked"}}),
                "may not set",
            ),
            (
                json!({"url": url, "headers": {"connection": "close"}}),
                "may not set",
            ),
            (
                json!({"url": url, "headers": {"x-a": "1\r\nHost: evil"}}),
                "control character",
            ),
            (
                json!({"url": url, "headers": {"x\nb": "1"}}),
                "control character",
            ),
            (
                json!({"url": url, "headers": {"x a": "1"}}),
                "not a valid header name",
            ),
            (
                json!({"url": url, "headers": {"x-a": 1}}),
                "\"headers\".\"x-a\" must be a string",
            ),
        ];
        for (input, expected) in table {
            let outcome = run(&EgressPolicy::default(), &input).await;
            assert_error(&input, &outcome, "invalid input: ", expected);
        }
    }

    #[test]
    fn schema_forbids_unknown_fields() {
        let schema = input_schema();
        assert_eq!(schema["additionalProperties"], json!(false));
        assert_eq!(schema["required"], json!(["url"]));
    }
}
