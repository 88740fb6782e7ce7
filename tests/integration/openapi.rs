//! The OpenAPI document: OpenAPI 3.1, every route of the router documented with its methods,
//! its security and the statuses its gate and extractors can answer, and real answers valid
//! against the schemas the document gives them.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use longrun_api::access::ROUTES;
use longrun_api::auth::Role;

use crate::harness::{BILLING_TOKEN, MINUTE, Options, TestApp, TestDb};

/// The router's source: the list of routes is read from it, so a route added without
/// documentation fails this test.
const ROUTER_SOURCE: &str = include_str!("../../api/src/lib.rs");

/// Routes that take no credential.
const PUBLIC: &[(&str, &str)] = &[
    ("post", "/v1/auth/register"),
    ("post", "/v1/auth/login"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/openapi.json"),
];

/// Every `(method, path)` the `router` function registers, from `.route("path", get(..).post(..))`.
fn router_routes() -> BTreeSet<(String, String)> {
    let start = ROUTER_SOURCE
        .find("pub fn router(")
        .expect("api/src/lib.rs has fn router");
    let body = &ROUTER_SOURCE[start..];
    let body = &body[..body.find("\n}\n").expect("the end of fn router")];
    let mut routes = BTreeSet::new();
    let mut rest = body;
    while let Some(at) = rest.find(".route(") {
        rest = &rest[at + ".route(".len()..];
        // The call's arguments, up to its closing parenthesis.
        let mut depth = 1;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i)
            .expect("a closed .route( call");
        let call = &rest[..end];
        let path = call.split('"').nth(1).expect("a path literal").to_string();
        let handlers = &call[call.find(',').expect("a method router")..];
        // `run_action(handler, ..)` is a `post` behind the idempotency guard.
        for (method, call) in [
            ("get", "get"),
            ("post", "post"),
            ("post", "run_action"),
            ("put", "put"),
            ("delete", "delete"),
            ("patch", "patch"),
        ] {
            let pattern = format!("{call}(");
            let found = handlers.match_indices(&pattern).any(|(i, _)| {
                i == 0 || {
                    let before = handlers.as_bytes()[i - 1];
                    !(before.is_ascii_alphanumeric() || before == b'_' || before == b':')
                }
            });
            if found {
                routes.insert((method.to_string(), path.clone()));
            }
        }
    }
    routes
}

fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let mut routes = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            routes.insert((method.clone(), path.clone()));
        }
    }
    routes
}

fn statuses(operation: &Value) -> BTreeSet<u16> {
    operation["responses"]
        .as_object()
        .unwrap()
        .keys()
        .map(|s| s.parse().unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_covers_every_route_with_its_security_and_statuses() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let (status, headers, document) = app.exchange("GET", "/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        document["openapi"].as_str().unwrap().starts_with("3.1."),
        "{}",
        document["openapi"]
    );

    // The console's routes (its files and its cookie session) are the router's, all under
    // /console, and no part of the document, which describes the bearer API.
    let every_route = router_routes();
    let console: BTreeSet<(String, String)> = longrun_api::console::ROUTES
        .iter()
        .map(|(method, path)| (method.as_str().to_ascii_lowercase(), path.to_string()))
        .collect();
    for route in &console {
        assert!(
            every_route.contains(route),
            "console route {route:?} is not routed"
        );
        assert!(route.1.starts_with("/console"), "{route:?}");
    }
    for route in every_route
        .iter()
        .filter(|(_, path)| path.starts_with("/console"))
    {
        assert!(
            console.contains(route),
            "{route:?} is not in console::ROUTES"
        );
    }
    let in_router: BTreeSet<_> = every_route.difference(&console).cloned().collect();
    assert!(in_router.len() >= 29, "{in_router:?}");
    let in_document = documented_routes(&document);
    assert!(
        in_document
            .iter()
            .all(|(_, path)| !path.starts_with("/console")),
        "console routes are not documented"
    );
    let undocumented: Vec<_> = in_router.difference(&in_document).collect();
    assert!(
        undocumented.is_empty(),
        "routes without docs: {undocumented:?}"
    );
    let stale: Vec<_> = in_document.difference(&in_router).collect();
    assert!(stale.is_empty(), "documented but not routed: {stale:?}");

    let mut operation_ids = BTreeSet::new();
    for (method, path) in &in_router {
        let operation = &document["paths"][path][method];
        let label = format!("{method} {path}");
        assert!(
            operation_ids.insert(operation["operationId"].as_str().unwrap().to_string()),
            "{label}: operationId used twice"
        );
        let statuses = statuses(operation);
        for (status, response) in operation["responses"].as_object().unwrap() {
            assert!(
                response["description"]
                    .as_str()
                    .is_some_and(|d| !d.is_empty()),
                "{label} {status}"
            );
            assert_eq!(
                response["headers"]["X-Request-Id"]["required"], true,
                "{label} {status}"
            );
            if status.starts_with('4') || status.starts_with('5') {
                let schema = &response["content"]["application/json"]["schema"];
                let is_error = schema["$ref"] == "#/components/schemas/ErrorBody";
                // Readiness reports its checks even when it answers 503.
                assert!(is_error || path == "/readyz", "{label} {status}: {schema}");
            }
        }
        // Path parameters are declared.
        for segment in path.split('/').filter(|s| s.starts_with('{')) {
            let name = segment.trim_matches(['{', '}']);
            let declared = operation["parameters"].as_array().is_some_and(|ps| {
                ps.iter()
                    .any(|p| p["in"] == "path" && p["name"] == name && p["required"] == true)
            });
            assert!(declared, "{label}: path parameter {name}");
        }
        // What the JSON extractor answers.
        if operation.get("requestBody").is_some() {
            assert!(
                operation["requestBody"]["content"]["application/json"]["schema"].is_object(),
                "{label}"
            );
            for status in [400, 413, 415, 422] {
                assert!(statuses.contains(&status), "{label}: no {status}");
            }
        }
        // Security, and what the access gate answers.
        let security = &operation["security"];
        let tenant = ROUTES
            .iter()
            .find(|(m, route, _)| m.as_str().eq_ignore_ascii_case(method) && route == path);
        if PUBLIC.contains(&(method.as_str(), path.as_str())) {
            assert_eq!(security, &json!([{}]), "{label}");
            assert!(tenant.is_none(), "{label}");
        } else if path == "/v1/billing/export" {
            assert_eq!(security, &json!([{"billing_token": []}]), "{label}");
            for status in [401, 403, 422] {
                assert!(statuses.contains(&status), "{label}: no {status}");
            }
        } else {
            let (_, _, roles) =
                tenant.unwrap_or_else(|| panic!("{label} is not in access::ROUTES"));
            assert_eq!(security, &json!([{"bearer": []}]), "{label}");
            for status in [401, 429, 500] {
                assert!(statuses.contains(&status), "{label}: no {status}");
            }
            let everyone = Role::ALL.iter().all(|role| roles.contains(role));
            assert_eq!(
                statuses.contains(&403),
                !everyone,
                "{label}: 403 is documented exactly when a role may not use the route"
            );
            let ok = operation["responses"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(s, _)| s.starts_with('2'))
                .unwrap()
                .1;
            assert!(ok["headers"]["RateLimit-Remaining"].is_object(), "{label}");
        }
    }
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["bearer"]["scheme"], "bearer");
    assert_eq!(schemes["billing_token"]["scheme"], "bearer");
    let events = &document["paths"]["/v1/runs/{id}/events"]["get"]["responses"]["200"];
    assert!(
        events["content"]["text/event-stream"].is_object(),
        "{events}"
    );
    let export = &document["paths"]["/v1/billing/export"]["get"]["responses"]["200"];
    assert!(export["content"]["text/csv"].is_object(), "{export}");
    assert!(
        export["content"]["application/x-ndjson"].is_object(),
        "{export}"
    );
}

/// Validates JSON against the schemas of the document.
pub struct Validator {
    document: Value,
    schemas: boon::Schemas,
    compiler: boon::Compiler,
}

const DOCUMENT_URL: &str = "http://longrun.test/openapi.json";

impl Validator {
    pub fn new(document: Value) -> Self {
        let mut compiler = boon::Compiler::new();
        compiler
            .add_resource(DOCUMENT_URL, document.clone())
            .unwrap();
        Self {
            document,
            schemas: boon::Schemas::new(),
            compiler,
        }
    }

    /// Checks `body` against the schema at `pointer` (a JSON pointer into the document).
    fn check(&mut self, pointer: &str, body: &Value) {
        let index = self
            .compiler
            .compile(&format!("{DOCUMENT_URL}#{pointer}"), &mut self.schemas)
            .unwrap_or_else(|e| panic!("{pointer}: {e:#}"));
        if let Err(error) = self.schemas.validate(body, index) {
            panic!("{pointer}: {body:#} is not valid: {error:#}");
        }
    }

    /// Checks a live answer: its status is documented for the operation, and its body (when
    /// JSON) and headers are what the document says.
    fn answer(
        &mut self,
        method: &str,
        path: &str,
        status: StatusCode,
        headers: &reqwest::header::HeaderMap,
        body: &Value,
    ) {
        let escaped = path.replace('~', "~0").replace('/', "~1");
        let status = status.as_str();
        let pointer = format!("/paths/{escaped}/{method}/responses/{status}");
        let response = self
            .document
            .pointer(&pointer)
            .unwrap_or_else(|| panic!("{method} {path} answered an undocumented {status}: {body}"))
            .clone();
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let value = headers.get(name.as_str());
            if header["required"] == true {
                assert!(value.is_some(), "{method} {path} {status}: no {name}");
            }
            if let (Some(value), "integer") =
                (value, header["schema"]["type"].as_str().unwrap_or(""))
            {
                assert!(
                    value.to_str().unwrap().parse::<u64>().is_ok(),
                    "{method} {path} {status}: {name}: {value:?}"
                );
            }
        }
        let media = headers
            .get("content-type")
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
        match media.as_deref() {
            Some("application/json") => {
                assert!(
                    response["content"]["application/json"].is_object(),
                    "{method} {path} {status}: JSON is not documented"
                );
                self.check(&format!("{pointer}/content/application~1json/schema"), body);
            }
            Some(other) => assert!(
                response["content"][other].is_object(),
                "{method} {path} {status}: {other} is not documented"
            ),
            None => assert!(
                response.get("content").is_none(),
                "{method} {path} {status}: no body, but one is documented"
            ),
        }
    }
}

/// Live answers of an app, each checked against the document as it arrives.
pub struct Checked<'a> {
    pub app: &'a TestApp,
    pub validator: Validator,
}

impl Checked<'_> {
    /// Sends `method path` and checks the answer against the operation of `template`.
    pub async fn at(
        &mut self,
        method: &str,
        template: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, headers, body) = self.app.exchange(method, path, key, body).await;
        let method = method.to_ascii_lowercase();
        self.validator
            .answer(&method, template, status, &headers, &body);
        (status, body)
    }

    /// [`Self::at`] a path without parameters, its own template.
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.at(method, path, path, key, body).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_answers_match_their_documented_schemas() {
    let app = TestApp::start(TestDb::sqlite()).await;
    let (_, document) = app.request("GET", "/openapi.json", None, None).await;
    let mut c = Checked {
        app: &app,
        validator: Validator::new(document),
    };
    let (_, api_key) = app.tenant("schemas").await;
    let key = Some(api_key.as_str());

    c.call("GET", "/healthz", None, None).await;
    c.call("GET", "/readyz", None, None).await;
    let account = json!({"workspace": "schemas-user", "email": "ada@example.com", "password": "correct horse battery"});
    let (status, registered) = c
        .call("POST", "/v1/auth/register", None, Some(account))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{registered}");
    let login = json!({"email": "ada@example.com", "password": "correct horse battery"});
    let (status, _) = c.call("POST", "/v1/auth/login", None, Some(login)).await;
    assert_eq!(status, StatusCode::OK);
    let token = registered["token"].as_str().unwrap();
    let (status, _) = c.call("POST", "/v1/auth/logout", Some(token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let agent = json!({
        "name": "helper", "model": "offline/demo", "system_prompt": "Be exact.",
        "tools": ["calculator", {"name": "write_file", "requires_approval": true},
                  {"name": "lookup", "type": "webhook", "url": "https://example.com/hook",
                   "input_schema": {"type": "object"}, "secret": "whsec_test"}],
        "limits": {"max_steps": 10, "max_cost_usd": 0.5}, "await_input": true,
    });
    let (status, created) = c.call("POST", "/v1/agents", key, Some(agent.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["tools"][2]["has_secret"], true, "{created}");
    let (status, _) = c
        .at(
            "PUT",
            "/v1/agents/{name}",
            "/v1/agents/helper",
            key,
            Some(agent),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let missing = "/v1/runs/0190c0de00007000800000000000000a";
    for (method, template, path) in [
        ("GET", "/v1/agents", "/v1/agents"),
        ("GET", "/v1/agents/{name}", "/v1/agents/helper"),
        ("GET", "/v1/agents/{name}", "/v1/agents/ghost"),
        ("DELETE", "/v1/agents/{name}", "/v1/agents/helper"),
        ("GET", "/v1/workspace", "/v1/workspace"),
        ("GET", "/v1/api-keys", "/v1/api-keys"),
        ("DELETE", "/v1/api-keys/{id}", "/v1/api-keys/key_nothing"),
        ("GET", "/v1/quota", "/v1/quota"),
        ("GET", "/v1/runs", "/v1/runs?status=nonsense"),
        ("GET", "/v1/runs/{id}", missing),
        ("POST", "/v1/runs/{id}/cancel", &format!("{missing}/cancel")),
        ("GET", "/v1/audit", "/v1/audit?limit=3"),
        ("GET", "/v1/usage", "/v1/usage?group_by=nothing"),
    ] {
        c.at(method, template, path, key, None).await;
    }
    c.call("GET", "/v1/runs", None, None).await;
    let alerts = json!({"alert_webhook_url": "https://example.com/alerts"});
    let (status, _) = c.call("PUT", "/v1/workspace", key, Some(alerts)).await;
    assert_eq!(status, StatusCode::OK);
    let ci = json!({"name": "ci", "role": "member"});
    let (status, created_key) = c.call("POST", "/v1/api-keys", key, Some(ci)).await;
    assert_eq!(status, StatusCode::CREATED, "{created_key}");
    let member = created_key["secret"].as_str();
    let agent = json!({"name": "x", "model": "offline/demo"});
    let (status, body) = c.call("POST", "/v1/agents", member, Some(agent)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // A run from submission to its end.
    let run = json!({"agent": "demo", "input": "What is 6 * 7?", "metadata": {"ticket": "T-1"}});
    let (status, run) = c.call("POST", "/v1/runs", key, Some(run)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{run}");
    let id = run["id"].as_str().unwrap();
    app.wait_for_run(&api_key, id, MINUTE).await;
    let path = format!("/v1/runs/{id}");
    let (_, finished) = c.at("GET", "/v1/runs/{id}", &path, key, None).await;
    assert_eq!(finished["status"], "succeeded", "{finished}");
    for (method, template, path) in [
        ("GET", "/v1/runs", "/v1/runs?limit=1"),
        (
            "GET",
            "/v1/runs/{id}/events",
            &format!("/v1/runs/{id}/events"),
        ),
        (
            "POST",
            "/v1/runs/{id}/cancel",
            &format!("/v1/runs/{id}/cancel"),
        ),
        (
            "POST",
            "/v1/runs/{id}/complete",
            &format!("/v1/runs/{id}/complete"),
        ),
        (
            "POST",
            "/v1/runs/{id}/resume",
            &format!("/v1/runs/{id}/resume"),
        ),
        ("GET", "/v1/usage", "/v1/usage"),
        ("GET", "/v1/usage", "/v1/usage?group_by=model"),
        ("GET", "/v1/quota", "/v1/quota"),
        ("GET", "/v1/audit", "/v1/audit"),
    ] {
        c.at(method, template, path, key, None).await;
    }
    for (template, body) in [
        ("/v1/runs/{id}/messages", json!({"text": "more"})),
        (
            "/v1/runs/{id}/approvals",
            json!({"tool_call_id": "toolu_1", "approve": true}),
        ),
        (
            "/v1/runs/{id}/tool-results",
            json!({"tool_call_id": "toolu_1", "content": "done"}),
        ),
    ] {
        let path = template.replace("{id}", id);
        let (status, answer) = c.at("POST", template, &path, key, Some(body)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    }

    // The billing export: each JSON line is an `ExportRecord`, the last a summary.
    let period = chrono::Utc::now().format("%Y-%m").to_string();
    for format in ["jsonl", "csv", "cloudevents"] {
        let response = app
            .http
            .get(format!(
                "{}/v1/billing/export?period={period}&format={format}",
                app.base
            ))
            .bearer_auth(BILLING_TOKEN)
            .send()
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let v = &mut c.validator;
        v.answer("get", "/v1/billing/export", status, &headers, &Value::Null);
        assert_eq!(status, StatusCode::OK, "{text}");
        let lines: Vec<&str> = text.lines().collect();
        // At least one ledger row, plus the header (csv) or the summary (jsonl).
        let framing = usize::from(format != "cloudevents");
        assert!(lines.len() > framing, "{format}: {text}");
        match format {
            "jsonl" => {
                let (summary, records) = lines.split_last().unwrap();
                for record in records {
                    v.check(
                        "/components/schemas/ExportRecord",
                        &serde_json::from_str(record).unwrap(),
                    );
                }
                v.check(
                    "/components/schemas/ExportSummaryLine",
                    &serde_json::from_str(summary).unwrap(),
                );
            }
            "cloudevents" => {
                for line in &lines {
                    let event: Value = serde_json::from_str(line).unwrap();
                    v.check("/components/schemas/ExportRecord", &event["data"]);
                }
            }
            _ => assert_eq!(lines[0], longrun_api::billing::COLUMNS.join(",")),
        }
    }
}
