//! The tenants' web console at `/console`: a single-page app (built from `api/console/` by
//! `scripts/build-console`, committed under `api/console/dist/` and embedded here at compile
//! time, so building longrun needs no Node.js), and the cookie session it signs in with
//! ([`session`]).
//!
//! The console is a client of the `/v1` API on the same origin, not a second API: besides its
//! files, it adds only the session routes a browser needs. These routes are no part of the
//! OpenAPI document, which describes the bearer API; [`ROUTES`] names them, and the OpenAPI
//! test checks that the router and the document differ by exactly these.
//!
//! Files are served with their content type, `X-Content-Type-Options: nosniff` and a
//! Content-Security-Policy that allows scripts and styles from this origin only (no inline
//! script); files under `assets/` carry a content hash in their name and are cached for a
//! year, `index.html` (every other path: the app routes in the page) is revalidated.

mod assets;
pub(crate) mod session;

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub use session::{CSRF_HEADER, SESSION_COOKIE};

/// Every console route: served by the router, left out of the OpenAPI document.
pub const ROUTES: &[(Method, &str)] = &[
    (Method::GET, "/console"),
    (Method::GET, "/console/"),
    (Method::GET, "/console/{*path}"),
    (Method::POST, "/console/session"),
    (Method::GET, "/console/session"),
    (Method::DELETE, "/console/session"),
];

/// Scripts, styles, images and connections from this origin only; no inline script, no
/// framing, no plug-ins, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One embedded file of the built console.
struct Asset {
    /// Relative to `dist/`: `index.html`, `assets/index-<hash>.js`, …
    path: &'static str,
    bytes: &'static [u8],
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn find(path: &str) -> Option<&'static Asset> {
    assets::ASSETS.iter().find(|asset| asset.path == path)
}

fn serve(asset: &Asset) -> Response {
    let cache = if asset.path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(content_type(asset.path)),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    response
}

/// The page itself, for `/console` and every route inside the app.
pub(crate) async fn index() -> Response {
    match find("index.html") {
        Some(asset) => serve(asset),
        None => missing(),
    }
}

/// `/console/{*path}`: a built file, or the page for a route of the app. A missing file
/// under `assets/` is a 404, so a stale page fails visibly instead of running HTML as script.
pub(crate) async fn file(Path(path): Path<String>) -> Response {
    if let Some(asset) = find(&path) {
        return serve(asset);
    }
    if path.starts_with("assets/") || path.contains('.') {
        return ApiError::NotFound {
            code: "not_found",
            message: "no such console file".into(),
        }
        .into_response();
    }
    index().await
}

fn missing() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        "the console was built without its files: run scripts/build-console",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_is_embedded_with_hashed_assets() {
        let index = find("index.html").expect("index.html is embedded");
        let html = std::str::from_utf8(index.bytes).unwrap();
        assert!(!html.contains("<script>"), "no inline script: {html}");
        for asset in assets::ASSETS.iter().filter(|a| a.path != "index.html") {
            assert!(asset.path.starts_with("assets/"), "{}", asset.path);
        }
        // Every file the page loads is embedded.
        let referenced: Vec<&str> = html
            .split("\"/console/")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        assert!(
            referenced.iter().any(|path| path.ends_with(".js")),
            "{html}"
        );
        for path in referenced {
            assert!(
                find(path).is_some(),
                "index.html loads {path}, which is not embedded"
            );
        }
    }

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("assets/index-1a2b.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("assets/index-1a2b.css"),
            "text/css; charset=utf-8"
        );
        assert_eq!(content_type("assets/x"), "application/octet-stream");
    }
}
