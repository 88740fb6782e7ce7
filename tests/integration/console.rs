//! The console's routes over real HTTP: its files (types, caching, CSP), its cookie session
//! (flags, CSRF on every unsafe method, expiry, sign-out, the login's rate limit), the role
//! table and tenant isolation through the cookie, and the runs list's agent filter it uses.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use longrun_api::auth::Role;
use longrun_api::jwt::{Claims, JwtKeys};

use crate::answers::assert_invalid;
use crate::harness::{Options, TEST_JWT_SECRET, TestApp, TestDb, exchange};
use crate::on_each_backend;

const PASSWORD: &str = "console password 1";

/// A browser's view of one session: its cookie and CSRF token.
struct Session {
    cookie: String,
    csrf: String,
    body: Value,
}

/// `POST /console/session`: the status, the headers and the body.
async fn sign_in(
    app: &TestApp,
    body: Value,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app
        .http
        .post(format!("{}/console/session", app.base))
        .json(&body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    exchange(request).await
}

async fn session(app: &TestApp, email: &str) -> Session {
    let (status, headers, body) =
        sign_in(app, json!({"email": email, "password": PASSWORD}), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let set_cookie = headers["set-cookie"].to_str().unwrap();
    let pair = set_cookie.split(';').next().unwrap().to_string();
    Session {
        cookie: pair,
        csrf: body["csrf_token"].as_str().unwrap().to_string(),
        body,
    }
}

/// A request carrying `cookie`, and `csrf` as `X-CSRF-Token` when given.
async fn with_cookie(
    app: &TestApp,
    method: &str,
    path: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = app
        .http
        .request(method.parse().unwrap(), format!("{}{path}", app.base))
        .header("cookie", cookie);
    if let Some(csrf) = csrf {
        request = request.header("x-csrf-token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    exchange(request).await
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

async fn console_sessions_act_only_with_their_csrf_token(db: TestDb) {
    let app = TestApp::start_with(db, Options::no_worker()).await;
    let (workspace, [admin_key, _, _]) = app.workspace("acme", "pro", &[]).await;
    app.demo_agent(&admin_key).await;
    for (email, role) in [
        ("ada@example.com", Role::Admin),
        ("grace@example.com", Role::Member),
    ] {
        longrun_api::users::add_user(&app.store, &workspace, email, PASSWORD, role)
            .await
            .unwrap();
    }

    // Signing in: the cookie is HttpOnly, SameSite=Strict, for the whole origin; Secure when a
    // TLS proxy says the browser came over TLS. The token itself never reaches the page.
    let (status, headers, body) = sign_in(
        &app,
        json!({"email": "ada@example.com", "password": PASSWORD}),
        &[("x-forwarded-proto", "https")],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let flags = headers["set-cookie"].to_str().unwrap();
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=3600",
        "Secure",
    ] {
        assert!(
            flags.split("; ").any(|f| f == flag),
            "{flag} missing: {flags}"
        );
    }
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body.get("token").is_none(), "{body}");
    let admin = session(&app, "ada@example.com").await;
    let set = &admin.cookie;
    assert!(set.starts_with("longrun_session="), "{set}");
    assert_eq!(admin.body["role"], "admin");
    assert_eq!(admin.body["workspace"]["slug"], "acme");
    assert!(admin.csrf.len() == 64, "{}", admin.body);
    let plain_flags = {
        let (_, headers, _) = sign_in(
            &app,
            json!({"email": "ada@example.com", "password": PASSWORD}),
            &[],
        )
        .await;
        headers["set-cookie"].to_str().unwrap().to_string()
    };
    assert!(!plain_flags.contains("Secure"), "{plain_flags}");

    // The cookie is a credential for reading …
    let (status, _, me) = with_cookie(&app, "GET", "/console/session", set, None, None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["csrf_token"], admin.csrf.as_str());
    let allowed: Vec<&str> = me["allowed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(allowed.contains(&"GET /v1/api-keys"), "{allowed:?}");
    let (status, headers, runs) = with_cookie(&app, "GET", "/v1/runs", set, None, None).await;
    assert_eq!(status, StatusCode::OK, "{runs}");
    assert!(
        headers.contains_key("ratelimit-remaining"),
        "the workspace's limit applies"
    );

    // … and for acting, only with the session's CSRF token.
    let agent = json!({"name": "helper", "model": "offline/demo"});
    // Refused without a token, with a made-up one or another session's; accepted with the
    // session's own.
    let member = session(&app, "grace@example.com").await;
    let zeros = "0".repeat(64);
    for (csrf, expected) in [
        (None, StatusCode::FORBIDDEN),
        (Some(zeros.as_str()), StatusCode::FORBIDDEN),
        (Some("not hex"), StatusCode::FORBIDDEN),
        (Some(member.csrf.as_str()), StatusCode::FORBIDDEN),
        (Some(admin.csrf.as_str()), StatusCode::CREATED),
    ] {
        let (status, _, body) =
            with_cookie(&app, "POST", "/v1/agents", set, csrf, Some(agent.clone())).await;
        assert_eq!(status, expected, "{csrf:?}: {body}");
        if expected == StatusCode::FORBIDDEN {
            assert_eq!(code(&body), "csrf_failed", "{csrf:?}");
        }
    }

    // An `Authorization` header wins: the cookie is not looked at.
    let response = app
        .http
        .get(format!("{}/v1/runs", app.base))
        .header("cookie", set)
        .bearer_auth("lr_not-a-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = app
        .http
        .post(format!("{}/v1/agents", app.base))
        .header("cookie", "longrun_session=whatever")
        .bearer_auth(&admin_key)
        .json(&json!({"name": "keyed", "model": "offline/demo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        StatusCode::CREATED,
        "API clients need no CSRF token"
    );

    // The role table applies unchanged to a member's cookie.
    let (status, _, body) =
        with_cookie(&app, "GET", "/v1/api-keys", &member.cookie, None, None).await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, _, _) = with_cookie(&app, "GET", "/v1/agents", &member.cookie, None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !member.body["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("GET /v1/api-keys"))
    );

    // Another workspace's run is a 404 through the cookie too.
    let (_, [other_key, _, _]) = app.workspace("other", "pro", &[]).await;
    app.demo_agent(&other_key).await;
    let other_run = app.submit(&other_key, "hello").await;
    let path = format!("/v1/runs/{}", other_run["id"].as_str().unwrap());
    let (status, _, body) = with_cookie(&app, "GET", &path, set, None, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::NOT_FOUND, "run_not_found")
    );

    // The runs list filters by agent (the console's filter), and names a bad one.
    let own = app.submit(&admin_key, "hello").await;
    for (query, expected) in [
        ("?agent=demo", 1),
        ("?agent=helper", 0),
        ("?agent=demo&status=succeeded", 0),
    ] {
        let (status, _, page) =
            with_cookie(&app, "GET", &format!("/v1/runs{query}"), set, None, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        let runs = page["runs"].as_array().unwrap();
        assert_eq!(runs.len(), expected, "{query}: {page}");
        if expected == 1 {
            assert_eq!(runs[0]["id"], own["id"]);
        }
    }
    let (status, _, body) =
        with_cookie(&app, "GET", "/v1/runs?agent=Not%20OK", set, None, None).await;
    assert_invalid(status, &body, "agent");

    // A cookie holding an API key, an expired token or rubbish is no session.
    let keys = JwtKeys::new(TEST_JWT_SECRET.to_string().into(), 3600);
    let now = longrun_store::now_ms() / 1000;
    let expired = keys.sign(&Claims {
        sub: "usr_x".into(),
        workspace: workspace.id.to_string(),
        role: "admin".into(),
        exp: now - 1,
        iat: now - 3601,
        jti: "jti_expired".into(),
    });
    for cookie in [
        format!("longrun_session={admin_key}"),
        format!("longrun_session={expired}"),
        "longrun_session=rubbish".to_string(),
    ] {
        let (status, _, body) =
            with_cookie(&app, "GET", "/console/session", &cookie, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{cookie}: {body}");
    }

    // Signing out needs the CSRF token too, revokes the token and clears the cookie.
    let (status, _, body) = with_cookie(&app, "DELETE", "/console/session", set, None, None).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::FORBIDDEN, "csrf_failed")
    );
    let (status, headers, _) = with_cookie(
        &app,
        "DELETE",
        "/console/session",
        set,
        Some(&admin.csrf),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let cleared = headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.starts_with("longrun_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    let (status, _, _) = with_cookie(&app, "GET", "/v1/runs", set, None, None).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the token is revoked, not only forgotten"
    );
    let (status, _, _) = with_cookie(&app, "GET", "/v1/runs", &member.cookie, None, None).await;
    assert_eq!(status, StatusCode::OK, "another session is unaffected");
}
on_each_backend!(console_sessions_act_only_with_their_csrf_token);

async fn console_sign_in_shares_the_logins_limits(db: TestDb) {
    let app = TestApp::start_with(db, Options::no_worker()).await;
    let (workspace, _) = app.workspace("acme", "pro", &[]).await;
    longrun_api::users::add_user(
        &app.store,
        &workspace,
        "ada@example.com",
        PASSWORD,
        Role::Admin,
    )
    .await
    .unwrap();
    // A wrong password answers as the API's login does, and is audited as a failure.
    let (status, _, body) = sign_in(
        &app,
        json!({"email": "ada@example.com", "password": "wrong password"}),
        &[],
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "unauthorized")
    );
    let (status, _, body) = sign_in(&app, json!({"email": "ada@example.com"}), &[]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // Guessing through the console and the API counts as one: the guesser is slowed down.
    let mut limited = false;
    for attempt in 0..12 {
        let body = json!({"email": "ada@example.com", "password": format!("guess {attempt}")});
        let status = if attempt % 2 == 0 {
            sign_in(&app, body, &[]).await.0
        } else {
            app.post_public("/v1/auth/login", body).await.0
        };
        assert!(
            status == StatusCode::UNAUTHORIZED || status == StatusCode::TOO_MANY_REQUESTS,
            "{status}"
        );
        limited |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "repeated failures are throttled across both doors");
    // A cross-site form cannot sign a browser in (into the attacker's account): forms cannot
    // send JSON, and a script that could would need CORS, which longrun never grants.
    let response = app
        .http
        .post(format!("{}/console/session", app.base))
        .header("content-type", "text/plain")
        .body(json!({"email": "ada@example.com", "password": PASSWORD}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(response.headers().get("set-cookie").is_none());
}
on_each_backend!(console_sign_in_shares_the_logins_limits);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_files_are_served_with_types_caching_and_a_strict_policy() {
    let app = TestApp::start_with(TestDb::sqlite(), Options::no_worker()).await;
    let get = async |path: &str| {
        let (status, headers, body) = exchange(app.http.get(format!("{}{path}", app.base))).await;
        let text = match body {
            Value::String(text) => text,
            other => other.to_string(),
        };
        (status, headers, text)
    };
    let (status, headers, index) = get("/console").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["cache-control"], "no-cache");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"));
    assert!(
        !policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"),
        "{policy}"
    );
    assert!(!index.contains("<script>"), "no inline script");

    // Every path inside the app is the page itself (it routes in the browser).
    for path in ["/console/", "/console/runs/0190c0de", "/console/usage"] {
        let (status, headers, body) = get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(
            headers["content-type"], "text/html; charset=utf-8",
            "{path}"
        );
        assert_eq!(body, index, "{path}");
    }

    // The files it loads: their type, cached for good (their names hold their hash).
    let assets: Vec<&str> = index
        .split("\"/console/")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(assets.iter().any(|a| a.ends_with(".js")), "{index}");
    for asset in assets {
        let (status, headers, body) = get(&format!("/console/{asset}")).await;
        assert_eq!(status, StatusCode::OK, "{asset}");
        assert!(!body.is_empty());
        let expected = if asset.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(headers["content-type"], expected, "{asset}");
        assert_eq!(
            headers["cache-control"],
            "public, max-age=31536000, immutable"
        );
    }
    // A file that is not there is a 404, never the page in its place.
    for path in ["/console/assets/index-missing.js", "/console/robots.txt"] {
        let (status, headers, _) = get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(
            headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("application/json")
        );
    }
    // Unsafe methods on the files are refused.
    let response = app
        .http
        .post(format!("{}/console/usage", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    // Without a cookie, the session is 401: the page shows the sign-in form.
    let (status, _, _) = get("/console/session").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}
