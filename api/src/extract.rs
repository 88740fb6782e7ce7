//! Extractors that turn malformed input into our error shape, naming the field at fault.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeOwned, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// Largest request body accepted anywhere, in bytes.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Time allowed for a whole request body when the server did not set one.
const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A JSON body. Bad syntax is 400 `invalid_json`; a missing, unknown or mistyped field is
/// 422 `invalid_request` with the field's path, and so is a string holding U+0000 (no text
/// column of Postgres can store it); an oversized body is 413.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| {
                let mime = mime.trim();
                mime.eq_ignore_ascii_case("application/json")
                    || (mime.starts_with("application/") && mime.ends_with("+json"))
            });
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        // The server sets the deadline; without one (tests calling the router directly) the
        // default applies.
        let deadline = req
            .extensions()
            .get::<crate::server::BodyTimeout>()
            .map_or(DEFAULT_BODY_TIMEOUT, |t| t.0);
        let read = tokio::time::timeout(deadline, Bytes::from_request(req, state))
            .await
            .map_err(|_| ApiError::RequestTimeout {
                seconds: deadline.as_secs(),
            })?;
        let bytes = read.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: MAX_BODY_BYTES,
                }
            } else {
                ApiError::InvalidJson(rejection.body_text())
            }
        })?;
        parse_json::<Object<T>>(&bytes).map(|body| Json(body.0))
    }
}

/// A struct that must be written as a JSON object. serde's derived structs also accept an
/// array of their fields in order (`"budget": [null, null]`), which no client means and the
/// OpenAPI document does not allow; request bodies and their nested objects go through this.
pub(crate) struct Object<T>(pub(crate) T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map))
            }
        }
        deserializer
            .deserialize_map(Fields(PhantomData))
            .map(Object)
    }
}

/// `#[serde(deserialize_with)]` for a field that must be a JSON object (see [`Object`]).
pub(crate) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<T, D::Error> {
    Object::deserialize(deserializer).map(|o| o.0)
}

/// [`object`] for an optional field (`null` is `None`).
pub(crate) fn optional_object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    Option::<Object<T>>::deserialize(deserializer).map(|o| o.map(|o| o.0))
}

/// Parses a JSON document, classifying errors as syntax (400) or shape (422, with the path).
/// Strings, and object keys, may not hold U+0000 (422, with the path).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                if path == "." {
                    ApiError::InvalidRequest(strip_position(&inner.to_string()))
                } else {
                    ApiError::invalid(&path, strip_position(&inner.to_string()))
                }
            }
            _ => ApiError::InvalidJson(inner.to_string()),
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    // JSON can only write U+0000 as the escape `\u0000`: without one there is nothing to look for.
    if bytes.windows(6).any(|w| w == b"\\u0000")
        && let Ok(document) = serde_json::from_slice::<serde_json::Value>(bytes)
        && let Some(path) = nul_at(&document, String::new())
    {
        return Err(if path.is_empty() {
            ApiError::InvalidRequest("text must not contain NUL (U+0000)".into())
        } else {
            ApiError::invalid(&path, "must not contain NUL (U+0000)")
        });
    }
    Ok(value)
}

/// Where the first string or object key holding U+0000 is, as a path like `tools[0].name`
/// (empty for the document itself).
fn nul_at(value: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0').then_some(path),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| nul_at(item, format!("{path}[{i}]"))),
        Value::Object(fields) => fields.iter().find_map(|(key, item)| {
            let inner = if path.is_empty() {
                key.clone()
            } else {
                format!("{path}.{key}")
            };
            if key.contains('\0') {
                Some(if path.is_empty() {
                    "(a key)".into()
                } else {
                    path.clone()
                })
            } else {
                nul_at(item, inner)
            }
        }),
        _ => None,
    }
}

/// serde_json appends "at line 1 column 17" to shape errors: noise once the path is named.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(cut) => message[..cut].to_string(),
        None => message.to_string(),
    }
}

/// Query parameters, decoded into a map of strings and then deserialised, so an unknown or
/// repeated parameter is 422 naming it. Query structs take strings and parse them with
/// messages of their own.
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let object = query_object(parts.uri.query().unwrap_or_default())?;
        serde_path_to_error::deserialize(object)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                let message = err.into_inner().to_string();
                if path == "." {
                    ApiError::InvalidRequest(format!("query: {message}"))
                } else {
                    ApiError::invalid(&path, message)
                }
            })
    }
}

fn query_object(query: &str) -> Result<serde_json::Value, ApiError> {
    let mut map = serde_json::Map::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key)?;
        let value = percent_decode(value)?;
        if key.contains('\0') {
            return Err(ApiError::InvalidRequest(
                "query: a parameter name holds NUL (U+0000)".into(),
            ));
        }
        if value.contains('\0') {
            return Err(ApiError::invalid(&key, "must not contain NUL (U+0000)"));
        }
        if map
            .insert(key.clone(), serde_json::Value::String(value))
            .is_some()
        {
            return Err(ApiError::invalid(&key, "given more than once"));
        }
    }
    Ok(serde_json::Value::Object(map))
}

/// Decodes `%XX` escapes (and `+` as a space, as in query strings) into UTF-8.
pub(crate) fn percent_decode(text: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        ApiError::InvalidRequest(format!("query: bad percent-encoding in {text:?}"))
                    })?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| ApiError::InvalidRequest(format!("query: {text:?} is not UTF-8")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        agent: String,
        budget: Option<Budget>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Budget {
        max_steps: u32,
    }

    fn error_of(body: &str) -> (u16, String) {
        let err = parse_json::<Body>(body.as_bytes()).unwrap_err();
        (err.status().as_u16(), err.to_string())
    }

    #[test]
    fn json_errors_name_the_field_and_class() {
        let table = [
            ("{", 400, "not valid JSON"),
            ("{\"agent\": \"a\"} trailing", 400, "not valid JSON"),
            ("{}", 422, "missing field `agent`"),
            ("{\"agent\": 5}", 422, "agent: invalid type"),
            (
                "{\"agent\": \"a\", \"extra\": 1}",
                422,
                "unknown field `extra`",
            ),
            (
                "{\"agent\": \"a\", \"budget\": {\"max_steps\": -1}}",
                422,
                "budget.max_steps",
            ),
        ];
        for (body, status, needle) in table {
            let (got_status, message) = error_of(body);
            assert_eq!(got_status, status, "{body}: {message}");
            assert!(message.contains(needle), "{body}: {message}");
            if status == 422 {
                assert!(!message.contains(" at line "), "{message}");
            }
        }
    }

    #[test]
    fn nul_characters_are_refused_naming_where_they_are() {
        let table = [
            ("{\"agent\": \"a\\u0000b\"}", "agent: must not contain NUL"),
            (
                "{\"agent\": \"a\", \"budget\": null, \"tags\": [\"x\", \"\\u0000\"]}",
                "tags[1]",
            ),
        ];
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Loose {
            agent: String,
            #[serde(default)]
            tags: Vec<String>,
            #[serde(default)]
            budget: Option<u32>,
        }
        for (body, needle) in table {
            let err = parse_json::<Loose>(body.as_bytes()).unwrap_err();
            assert_eq!(err.status().as_u16(), 422, "{body}");
            assert!(err.to_string().contains(needle), "{body}: {err}");
        }
        // An escaped backslash before "u0000" is no NUL.
        let fine = parse_json::<Loose>(b"{\"agent\": \"\\\\u0000\"}").unwrap();
        assert_eq!(fine.agent, "\\u0000");
        assert!(query_object("cursor=aud_%00").is_err());
        assert!(query_object("a%00=1").is_err());
    }

    #[test]
    fn query_strings_decode_and_reject_repeats() {
        let value = query_object("a=1&b=x%20y+z&c").unwrap();
        assert_eq!(value["a"], "1");
        assert_eq!(value["b"], "x y z");
        assert_eq!(value["c"], "");
        assert!(query_object("a=1&a=2").is_err());
        assert!(query_object("a=%zz").is_err());
        assert!(query_object("a=%4").is_err());
    }
}
