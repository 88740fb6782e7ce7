//! The HTTP side of the client commands: where the API is and with which key (flags, then
//! the environment, then a profile file), one request helper that turns the API's error body
//! into [`ClientError::Api`], and the exit codes every client command ends with.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Exit codes of the client commands (documented in docs/clients.md).
pub(crate) mod exit {
    /// The command did what it was asked; a followed run succeeded.
    pub(crate) const OK: u8 = 0;
    /// The API refused the request, or could not be reached.
    pub(crate) const API_ERROR: u8 = 1;
    /// The command line or the configuration is wrong (no URL or key, a bad file).
    pub(crate) const USAGE: u8 = 2;
    /// A followed run failed.
    pub(crate) const RUN_FAILED: u8 = 3;
    /// A followed run was cancelled.
    pub(crate) const RUN_CANCELLED: u8 = 4;
    /// A followed run used up its budget.
    pub(crate) const RUN_BUDGET_EXHAUSTED: u8 = 5;
    /// A followed run ran out of time.
    pub(crate) const RUN_TIMED_OUT: u8 = 6;
    /// Following stopped on Ctrl-C (the run goes on).
    pub(crate) const INTERRUPTED: u8 = 130;
}

/// Why a client command failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ClientError {
    /// The API answered with an error body.
    #[error("{code}: {message} (HTTP {status})")]
    Api {
        status: u16,
        code: String,
        message: String,
    },
    #[error("cannot reach the API at {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("{0}")]
    Usage(String),
}

impl ClientError {
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            ClientError::Usage(_) => exit::USAGE,
            _ => exit::API_ERROR,
        }
    }
}

/// Where to reach the API: `--api-url`/`--api-key`, else `LONGRUN_API_URL`/`LONGRUN_API_KEY`,
/// else the profile file.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Connection {
    /// The API's base URL (LONGRUN_API_URL), e.g. http://127.0.0.1:8080.
    #[arg(long, global = true, value_name = "URL")]
    api_url: Option<String>,
    /// A workspace API key (LONGRUN_API_KEY).
    #[arg(long, global = true, value_name = "KEY")]
    api_key: Option<String>,
    /// A profile of the profile file (LONGRUN_PROFILE; default `default`).
    #[arg(long, global = true, value_name = "NAME")]
    profile: Option<String>,
    /// Machine-readable output: JSON (one object per line when following).
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// A profile of `<config dir>/longrun/client.toml`: `[default]` or `[profiles.<name>]`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Profile {
    api_url: Option<String>,
    api_key: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    #[serde(default)]
    default: Profile,
    #[serde(default)]
    profiles: std::collections::BTreeMap<String, Profile>,
}

/// The profile file: `$LONGRUN_CLIENT_CONFIG`, else `$XDG_CONFIG_HOME/longrun/client.toml`,
/// else `~/.config/longrun/client.toml`.
pub(crate) fn profile_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(path) = env("LONGRUN_CLIENT_CONFIG") {
        return Some(PathBuf::from(path));
    }
    let base = env("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("longrun").join("client.toml"))
}

const NO_API_URL: &str = "no API URL: set LONGRUN_API_URL (or pass --api-url, or api_url in \
     the profile file), e.g. LONGRUN_API_URL=http://127.0.0.1:8080";
const NO_API_KEY: &str = "no API key: set LONGRUN_API_KEY (or pass --api-key, or api_key in \
     the profile file) to a workspace API key";

impl Connection {
    /// The API to talk to, or a message naming what to set.
    pub(crate) fn resolve(&self, env: &dyn Fn(&str) -> Option<String>) -> Result<Api, ClientError> {
        let name = self
            .profile
            .clone()
            .or_else(|| env("LONGRUN_PROFILE"))
            .unwrap_or_else(|| "default".into());
        let path = profile_path(env);
        let file = match path.as_ref().filter(|p| p.exists()) {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    ClientError::Usage(format!("cannot read {}: {e}", path.display()))
                })?;
                toml::from_str::<ProfileFile>(&text).map_err(|e| {
                    ClientError::Usage(format!("{} is not a profile file: {e}", path.display()))
                })?
            }
            None => ProfileFile::default(),
        };
        let profile = match name.as_str() {
            "default" => Some(&file.default),
            other => file.profiles.get(other),
        };
        if profile.is_none() {
            return Err(ClientError::Usage(format!(
                "no profile {name:?} in {}",
                path.map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
        // The flag, else the environment, else the profile; empty is unset.
        let setting = |flag: &Option<String>,
                       var: &str,
                       field: fn(&Profile) -> &Option<String>,
                       missing: &str| {
            flag.clone()
                .or_else(|| env(var))
                .or_else(|| profile.and_then(|p| field(p).clone()))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| ClientError::Usage(missing.to_string()))
        };
        let url = setting(&self.api_url, "LONGRUN_API_URL", |p| &p.api_url, NO_API_URL)?;
        let key = setting(&self.api_key, "LONGRUN_API_KEY", |p| &p.api_key, NO_API_KEY)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ClientError::Usage(format!(
                "LONGRUN_API_URL must be an http(s) URL, not {url:?}"
            )));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("longrun-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot build an HTTP client: {e}")))?;
        Ok(Api {
            base: url.trim_end_matches('/').to_string(),
            key,
            http,
        })
    }
}

/// A longrun API and the key to use it with.
#[derive(Clone)]
pub(crate) struct Api {
    pub(crate) base: String,
    key: String,
    pub(crate) http: reqwest::Client,
}

/// How long one plain request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

impl Api {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A request with the key, not sent yet.
    pub(crate) fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(&self.key)
    }

    /// Sends a request (with a JSON body when given) and reads the JSON answer; an error
    /// status becomes [`ClientError::Api`] with the API's code and message.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<(StatusCode, Value), ClientError> {
        let mut request = self.request(method, path).timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(key) = idempotency_key {
            request = request.header("idempotency-key", key);
        }
        let response = request.send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| self.transport(&e))?;
        if status.is_success() {
            let value = if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap_or(Value::String(text))
            };
            return Ok((status, value));
        }
        Err(api_error(status, &text))
    }

    pub(crate) async fn get(&self, path: &str) -> Result<Value, ClientError> {
        Ok(self.call(Method::GET, path, None, None).await?.1)
    }

    pub(crate) async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        Ok(self.call(Method::POST, path, Some(body), None).await?.1)
    }

    pub(crate) fn transport(&self, err: &reqwest::Error) -> ClientError {
        let detail = if err.is_timeout() {
            "timed out".to_string()
        } else if err.is_connect() {
            "connection refused or unreachable".to_string()
        } else {
            err.to_string()
        };
        ClientError::Transport {
            url: self.base.clone(),
            detail,
        }
    }
}

/// The API's error body (`{"error":{"code","message"}}`) as an error; anything else keeps its
/// status and text.
pub(crate) fn api_error(status: StatusCode, text: &str) -> ClientError {
    let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or("http_error");
    let message = body["error"]["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| text.chars().take(200).collect());
    ClientError::Api {
        status: status.as_u16(),
        code: code.to_string(),
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(url: Option<&str>, key: Option<&str>) -> Connection {
        Connection {
            api_url: url.map(str::to_string),
            api_key: key.map(str::to_string),
            profile: None,
            json: false,
        }
    }

    #[test]
    fn a_missing_url_or_key_names_the_variable_to_set() {
        let nothing = |_: &str| None;
        let err = connection(None, Some("k")).resolve(&nothing).err().unwrap();
        assert!(err.to_string().contains("LONGRUN_API_URL"), "{err}");
        assert_eq!(err.exit_code(), exit::USAGE);
        let err = connection(Some("http://x"), None)
            .resolve(&nothing)
            .err()
            .unwrap();
        assert!(err.to_string().contains("LONGRUN_API_KEY"), "{err}");
    }

    #[test]
    fn flags_beat_the_environment_which_beats_the_profile_file() {
        let (_dir, file) = crate::testing::file_with(
            "client.toml",
            "[default]\napi_url = \"http://file\"\napi_key = \"file-key\"\n\
             [profiles.staging]\napi_url = \"http://staging\"\napi_key = \"s\"\n",
        );
        let path = file.display().to_string();
        let env = |name: &str| match name {
            "LONGRUN_CLIENT_CONFIG" => Some(path.clone()),
            "LONGRUN_API_KEY" => Some("env-key".to_string()),
            _ => None,
        };
        let api = connection(None, None).resolve(&env).unwrap();
        assert_eq!(
            (api.base.as_str(), api.key.as_str()),
            ("http://file", "env-key")
        );
        let api = connection(Some("http://flag/"), Some("flag-key"))
            .resolve(&env)
            .unwrap();
        assert_eq!(
            (api.base.as_str(), api.key.as_str()),
            ("http://flag", "flag-key")
        );
        let staging = Connection {
            profile: Some("staging".into()),
            ..connection(None, None)
        };
        assert_eq!(staging.resolve(&env).unwrap().base, "http://staging");
        let unknown = Connection {
            profile: Some("nope".into()),
            ..connection(None, None)
        };
        assert!(unknown.resolve(&env).is_err());
    }

    #[test]
    fn error_bodies_keep_the_apis_code_and_message() {
        let err = api_error(
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":"run_not_found","message":"no such run in this workspace"}}"#,
        );
        assert_eq!(
            err.to_string(),
            "run_not_found: no such run in this workspace (HTTP 404)"
        );
        let err = api_error(StatusCode::BAD_GATEWAY, "upstream down");
        assert_eq!(err.to_string(), "http_error: upstream down (HTTP 502)");
    }
}
