//! The OpenAPI 3.1 document served at `GET /openapi.json`, generated from the handlers'
//! `#[utoipa::path]` attributes and the request and response types they use, so the document
//! and the API cannot drift apart: a response body is the type the handler serialises.
//!
//! What every route shares is added here, once, instead of in each route's attribute: the
//! security schemes; the errors of the access gate on every tenant route (those of
//! [`crate::access::ROUTES`]: 401, 403 for the roles it refuses, 429 `rate_limited`); the
//! errors of the JSON extractor on every route with a body (400, 408, 413, 415); 500 and
//! 503 `store_unavailable` on every route that reaches the database; `Idempotency-Key` on
//! the run routes that take it; `X-Request-Id` on every answer, the `RateLimit-*` headers on
//! every answer of a tenant route past authentication, and `Retry-After` on every 429; a
//! route's tag (from its path), bearer security on every tenant route (none on a route that
//! names no scheme), and 422 on every
//! route that takes query parameters or a body, unless the route describes its own; 404 on
//! the routes of one run, agent, MCP server or API key; on the run routes, 409
//! `run_finished` and 503 `scheduler_unavailable`; and on the routes that admit a run, 402
//! `quota_exhausted` and 429 `concurrency_limit`.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use serde_json::Value;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Header, ObjectBuilder, Ref, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "longrun",
        description = "Runs long-lived AI agent jobs for many tenants, durably, on Temporal. \
            Errors are `{\"error\":{\"code\",\"message\"}}` with a stable snake_case `code`; \
            every answer carries `X-Request-Id` (yours, or generated).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        routes::auth::register,
        routes::auth::login,
        routes::auth::logout,
        routes::workspace::get,
        routes::workspace::update,
        routes::keys::create,
        routes::keys::list,
        routes::keys::revoke,
        routes::audit::list,
        routes::agents::create,
        routes::agents::list,
        routes::agents::get,
        routes::agents::update,
        routes::agents::delete,
        routes::mcp_servers::create,
        routes::mcp_servers::list,
        routes::mcp_servers::get,
        routes::mcp_servers::delete,
        routes::mcp_servers::refresh,
        routes::runs::create,
        routes::runs::batch,
        routes::runs::cancel_many,
        routes::runs::list,
        routes::runs::get,
        routes::runs::rerun,
        routes::events::stream,
        routes::runs::cancel,
        routes::runs::message,
        routes::runs::complete,
        routes::runs::approve,
        routes::runs::tool_result,
        routes::runs::resume,
        routes::quota::get,
        routes::usage::get,
        routes::billing::export,
        routes::health::healthz,
        routes::health::readyz,
        serve,
    ),
    modifiers(&Shared),
    tags(
        (name = "auth", description = "Sign-up, login tokens."),
        (name = "workspace", description = "The caller's workspace."),
        (name = "api-keys", description = "A workspace's API keys."),
        (name = "audit", description = "The workspace's audit log."),
        (name = "agents", description = "Agent profiles: model, prompt, tools, limits."),
        (name = "mcp-servers", description = "A workspace's MCP servers and their discovered tools."),
        (name = "runs", description = "Agent runs: submit, follow, steer, cancel."),
        (name = "quota", description = "Limits and this period's usage."),
        (name = "usage", description = "Metered usage."),
        (name = "billing", description = "The operator's ledger export."),
        (name = "health", description = "Liveness, readiness, this document."),
    ),
)]
struct ApiDoc;

/// One event of `GET /v1/runs/{id}/events`, as an SSE frame's fields. (axum's `Event` writes
/// the frames; this type only describes them.)
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct RunStreamEvent {
    /// The event's sequence number in the run, to send back as `Last-Event-ID`; live
    /// `llm.delta` events have none.
    #[schema(pattern = "^[0-9]+$", nullable = false)]
    id: Option<String>,
    /// The kind: `run.started`, `llm.delta` (streaming text, live only), `llm.completed`,
    /// `llm.error`, `tool.started`, `tool.completed`, `approval.requested`,
    /// `approval.decided`, `input.requested`, `input.received`, `quota.alert`,
    /// `quota.paused`, `quota.resumed`, and last `run.completed`.
    #[schema(pattern = "^[a-z_]+\\.[a-z_]+$", example = "run.completed")]
    event: String,
    /// The event's fields, as a JSON object.
    #[schema(content_media_type = "application/json")]
    data: String,
}

/// The document as JSON.
pub fn document() -> Value {
    let mut document =
        serde_json::to_value(ApiDoc::openapi()).expect("the OpenAPI document serialises to JSON");
    // (`get_mut`, not indexing: indexing a JSON object inserts the keys it looks for.)
    let responses = document
        .get_mut("paths")
        .and_then(Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter_map(|operation| operation.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut());
    for response in responses {
        // utoipa's header objects have no `required`; these two are always sent.
        if let Some(headers) = response.get_mut("headers").and_then(Value::as_object_mut) {
            for name in ["X-Request-Id", "Retry-After"] {
                if let Some(header) = headers.get_mut(name) {
                    header["required"] = Value::Bool(true);
                }
            }
        }
        // utoipa 5 writes link objects' fields in snake case; OpenAPI spells them in camel case.
        if let Some(links) = response.get_mut("links").and_then(Value::as_object_mut) {
            for link in links.values_mut().filter_map(Value::as_object_mut) {
                for (from, to) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(value) = link.remove(from) {
                        link.insert(to.to_string(), value);
                    }
                }
            }
        }
    }
    document
}

/// This document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    operation_id = "openapi",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.",
        content_type = "application/json", body = Object)),
)]
pub(crate) async fn serve() -> impl IntoResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let body = DOCUMENT.get_or_init(|| document().to_string());
    ([(CONTENT_TYPE, "application/json")], body.as_str())
}

/// What every route shares; see the module's documentation.
struct Shared;

impl Modify for Shared {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A workspace's API key (`lr_…`), or a login token (JWT) from \
                         `POST /v1/auth/login` or `/v1/auth/register`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "billing_token",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The operator's `LONGRUN_BILLING_TOKEN`."))
                    .build(),
            ),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                ("GET", &mut item.get),
                ("PUT", &mut item.put),
                ("POST", &mut item.post),
                ("DELETE", &mut item.delete),
                ("PATCH", &mut item.patch),
            ];
            for (method, operation) in operations {
                if let Some(operation) = operation {
                    let roles = crate::access::ROUTES
                        .iter()
                        .find(|(m, route, _)| m.as_str() == method && route == path)
                        .map(|(_, _, roles)| *roles);
                    let tenant = roles.is_some();
                    operation.tags = Some(vec![tag_of(path).to_string()]);
                    if let Some(roles) = roles {
                        operation.security = Some(vec![SecurityRequirement::new(
                            "bearer",
                            Vec::<String>::new(),
                        )]);
                        add_gate_errors(operation, roles);
                    }
                    // A route the gate does not guard and that names no scheme is public.
                    if operation.security.is_none() {
                        operation.security = Some(vec![SecurityRequirement::default()]);
                    }
                    if has_query(operation) {
                        add_error_once(
                            operation,
                            "422",
                            "`invalid_request`: a bad or unknown query parameter, named.",
                        );
                    }
                    let run_action = crate::IDEMPOTENT_ROUTES
                        .iter()
                        .any(|(m, route)| m.as_str() == method && route == path);
                    if let Some((_, text)) = NOT_FOUND
                        .iter()
                        .find(|(resource, _)| path.starts_with(resource))
                    {
                        add_error_once(operation, "404", text);
                    }
                    if run_action {
                        add_error_once(operation, "409", "`run_finished`: the run has ended.");
                    }
                    let admits = method == "POST" && ADMITS.contains(&path.as_str());
                    if admits {
                        add_admission_errors(operation);
                    }
                    // (A batch answers Temporal's absence per item.)
                    let submits = admits || (method == "POST" && path == "/v1/runs/cancel");
                    if run_action || submits {
                        add_error_once(
                            operation,
                            "503",
                            "`scheduler_unavailable`: Temporal did not answer; retry later.",
                        );
                    }
                    if !STORELESS.contains(&path.as_str()) {
                        add_error(operation, "500", "`internal`.", Place::After);
                    }
                    add_store_unavailable(operation);
                    if operation.request_body.is_some() {
                        add_body_errors(operation);
                    }
                    if run_action {
                        add_idempotency(operation);
                    }
                    add_headers(operation, tenant);
                }
            }
        }
    }
}

fn integer_header(description: &str) -> Header {
    let mut header = Header::new(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0)),
    );
    header.description = Some(description.to_string());
    header
}

/// Every operation that can answer 500 reads or writes the database, so it can also answer
/// 503 `store_unavailable` while the database is unreachable.
fn add_store_unavailable(operation: &mut Operation) {
    if operation.responses.responses.contains_key("500") {
        add_error(
            operation,
            "503",
            "`store_unavailable`: the database did not answer or dropped the connection; \
             retry after `Retry-After` seconds.",
            Place::After,
        );
    }
}

/// A route's tag: the first segment under `/v1/` (`/v1/api-keys/{id}` is `api-keys`); the
/// probes and this document are `health`.
fn tag_of(path: &str) -> &str {
    path.strip_prefix("/v1/")
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("health")
}

fn has_query(operation: &Operation) -> bool {
    use utoipa::openapi::path::ParameterIn;
    operation
        .parameters
        .iter()
        .flatten()
        .any(|p| matches!(p.parameter_in, ParameterIn::Query))
}

/// The 404 of the routes of one resource (its path with its name or id, and below).
const NOT_FOUND: [(&str, &str); 4] = [
    (
        "/v1/runs/{id}",
        "`run_not_found`: no such run in this workspace.",
    ),
    ("/v1/agents/{name}", "`agent_not_found`."),
    ("/v1/mcp-servers/{name}", "`mcp_server_not_found`."),
    (
        "/v1/api-keys/{id}",
        "`api_key_not_found`: no live key with this id in the workspace.",
    ),
];

/// The `POST` routes that admit one run (a batch answers per item).
const ADMITS: [&str; 2] = ["/v1/runs", "/v1/runs/{id}/rerun"];

/// Admission's refusals (see `admission`): a quota used up, the concurrency cap; after the
/// gate's 429, which comes first.
fn add_admission_errors(operation: &mut Operation) {
    add_error(
        operation,
        "402",
        "`quota_exhausted`: a monthly quota is used up (with `metric`, `used`, `limit`).",
        Place::Before,
    );
    add_error(
        operation,
        "429",
        "`concurrency_limit`: the workspace runs its most runs at once (with `active`, `limit`).",
        Place::After,
    );
}

/// Routes that answer without the database: no 500 or 503 `store_unavailable`.
const STORELESS: [&str; 3] = ["/healthz", "/readyz", "/openapi.json"];

/// Where a shared error goes in a description a route already wrote for the same status.
#[derive(Clone, Copy)]
enum Place {
    Before,
    After,
}

/// The access gate's answers (see `access::gate`): who may call, and the request limit.
fn add_gate_errors(operation: &mut Operation, roles: &[crate::auth::Role]) {
    use crate::auth::Role;
    add_error(
        operation,
        "401",
        "`unauthorized`: missing or invalid credentials.",
        Place::Before,
    );
    if !Role::ALL.iter().all(|role| roles.contains(role)) {
        let names: Vec<String> = roles.iter().map(|r| format!("{}s", r.as_str())).collect();
        let text = format!("`forbidden`: {} only.", names.join(" and "));
        add_error(operation, "403", &text, Place::Before);
    }
    add_error(
        operation,
        "429",
        "`rate_limited`: the workspace's request limit.",
        Place::Before,
    );
}

/// The JSON extractor's answers (see `extract::Json`), and the validation's 422 where a
/// route says nothing more particular about it.
fn add_body_errors(operation: &mut Operation) {
    add_error_once(
        operation,
        "422",
        "`invalid_request`: a missing, unknown, mistyped or invalid field, named.",
    );
    for (status, text) in [
        ("400", "`invalid_json`: the body is not JSON."),
        (
            "408",
            "`request_timeout`: the body did not arrive within the server's body timeout.",
        ),
        ("413", "`payload_too_large`: the body is over 1 MiB."),
        (
            "415",
            "`unsupported_media_type`: the body is not `application/json`.",
        ),
    ] {
        add_error(operation, status, text, Place::Before);
    }
}

/// Adds `status` answering `text` unless the route describes that status itself.
fn add_error_once(operation: &mut Operation, status: &str, text: &str) {
    if !operation.responses.responses.contains_key(status) {
        add_error(operation, status, text, Place::Before);
    }
}

/// Adds (or extends) the description of `status` with `text`, answering an error body.
fn add_error(operation: &mut Operation, status: &str, text: &str, place: Place) {
    let responses = &mut operation.responses.responses;
    match responses.get_mut(status) {
        Some(utoipa::openapi::RefOr::T(existing)) => {
            existing.description = match place {
                Place::Before => format!("{text} Or {}", existing.description),
                Place::After => format!("{} Or {text}", existing.description),
            };
        }
        Some(utoipa::openapi::RefOr::Ref(_)) => {}
        None => {
            let body = Content::new(Some(Ref::from_schema_name("ErrorBody")));
            let response = ResponseBuilder::new()
                .description(text)
                .content("application/json", body)
                .build();
            responses.insert(status.into(), response.into());
        }
    }
}

/// The run routes that take an `Idempotency-Key` (see `idempotency`).
fn add_idempotency(operation: &mut Operation) {
    use utoipa::openapi::path::{ParameterBuilder, ParameterIn};
    let parameter = ParameterBuilder::new()
        .name("Idempotency-Key")
        .parameter_in(ParameterIn::Header)
        .description(Some(
            "Makes the request safe to retry: a retry with the same key and body gets the first \
             answer again (`Idempotency-Replayed: true`) and acts on nothing. 1 to 255 visible \
             ASCII characters; kept for a day.",
        ))
        .schema(Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some("^[!-~]{1,255}$")),
        ))
        .build();
    operation
        .parameters
        .get_or_insert_with(Vec::new)
        .push(parameter);
    add_error(
        operation,
        "409",
        "`idempotency_key_in_flight`: a request with this Idempotency-Key is still being processed.",
        Place::After,
    );
    add_error(
        operation,
        "422",
        "`idempotency_key_reused`: this Idempotency-Key was used for a different request.",
        Place::After,
    );
}

fn add_headers(operation: &mut Operation, tenant: bool) {
    let has_500 = operation.responses.responses.contains_key("500");
    for (status, response) in operation.responses.responses.iter_mut() {
        let utoipa::openapi::RefOr::T(response) = response else {
            continue;
        };
        let mut request_id = Header::new(ObjectBuilder::new().schema_type(Type::String));
        request_id.description =
            Some("The request's id: the client's `X-Request-Id`, or generated.".into());
        response.headers.insert("X-Request-Id".into(), request_id);
        // The rate limit is checked after authentication, and only on tiers that have one.
        if tenant && status != "401" {
            for (name, description) in [
                ("RateLimit-Limit", "Requests allowed per minute."),
                ("RateLimit-Remaining", "Requests left before the limit."),
                (
                    "RateLimit-Reset",
                    "Seconds until the allowance is full again.",
                ),
            ] {
                response
                    .headers
                    .insert(name.into(), integer_header(description));
            }
        }
        if status == "429" || (status == "503" && has_500) {
            response.headers.insert(
                "Retry-After".into(),
                integer_header("Seconds to wait before trying again."),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema<'a>(document: &'a Value, name: &str) -> &'a Value {
        &document["components"]["schemas"][name]
    }

    #[test]
    fn the_document_is_openapi_3_1_and_states_the_limits_the_code_enforces() {
        let document = document();
        assert!(document["openapi"].as_str().unwrap().starts_with("3.1."));
        let run = schema(&document, "CreateRun");
        assert_eq!(
            run["properties"]["input"]["maxLength"],
            routes::runs::create::MAX_INPUT_BYTES
        );
        assert_eq!(run["additionalProperties"], false);
        let agent = schema(&document, "CreateAgent");
        assert_eq!(
            agent["properties"]["system_prompt"]["maxLength"],
            routes::agents::document::MAX_SYSTEM_PROMPT_BYTES
        );
        let limits = schema(&document, "AgentLimits");
        assert_eq!(
            limits["properties"]["max_steps"]["maximum"],
            longrun_domain::budget::MAX_STEPS_LIMIT
        );
        let message = schema(&document, "PostMessage");
        assert_eq!(
            message["properties"]["text"]["maxLength"],
            routes::runs::MAX_MESSAGE_BYTES
        );
        let register = schema(&document, "Register");
        assert_eq!(
            register["properties"]["password"]["minLength"],
            crate::passwords::MIN_PASSWORD_LEN
        );
        assert_eq!(
            register["properties"]["password"]["maxLength"],
            crate::passwords::MAX_PASSWORD_LEN
        );
        let statuses = schema(&document, "RunStatusName");
        assert_eq!(
            statuses["enum"].as_array().unwrap().len(),
            longrun_workflows::payloads::RunStatus::ALL.len()
        );
    }

    #[test]
    fn every_answer_names_its_request_id_and_429s_say_when_to_retry() {
        let document = document();
        let create = &document["paths"]["/v1/runs"]["post"]["responses"];
        assert_eq!(
            create["202"]["headers"]["X-Request-Id"]["required"], true,
            "{create}"
        );
        assert!(create["202"]["headers"]["RateLimit-Remaining"].is_object());
        assert!(create["401"]["headers"]["RateLimit-Remaining"].is_null());
        assert_eq!(create["429"]["headers"]["Retry-After"]["required"], true);
        // Both 503s of a submission are documented, and the database's on every stored route.
        let unavailable = create["503"]["description"].as_str().unwrap();
        assert!(
            unavailable.contains("scheduler_unavailable")
                && unavailable.contains("store_unavailable"),
            "{unavailable}"
        );
        assert_eq!(create["503"]["headers"]["Retry-After"]["required"], true);
        let list = &document["paths"]["/v1/runs"]["get"]["responses"];
        assert!(
            list["503"]["description"]
                .as_str()
                .unwrap()
                .contains("store_unavailable")
        );
        assert!(document["paths"]["/healthz"]["get"]["responses"]["503"].is_null());
        let login = &document["paths"]["/v1/auth/login"]["post"]["responses"];
        assert!(login["200"]["headers"]["RateLimit-Remaining"].is_null());
    }

    #[test]
    fn links_name_operations_that_exist() {
        let document = document();
        let mut operation_ids = Vec::new();
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                operation_ids.push(operation["operationId"].as_str().unwrap().to_string());
            }
        }
        let no_links = &document["paths"]["/v1/runs"]["get"]["responses"]["200"];
        assert!(no_links.get("links").is_none(), "{no_links}");
        let link = &document["paths"]["/v1/runs"]["post"]["responses"]["202"]["links"]["GetRun"];
        assert_eq!(link["operationId"], "get_run", "{link}");
        assert!(link.get("operation_id").is_none(), "{link}");
        for item in document["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                for response in operation["responses"].as_object().unwrap().values() {
                    for link in response["links"]
                        .as_object()
                        .into_iter()
                        .flat_map(|l| l.values())
                    {
                        let target = link["operationId"].as_str().unwrap();
                        assert!(operation_ids.iter().any(|id| id == target), "{target}");
                    }
                }
            }
        }
    }
}
