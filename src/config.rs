//! Configuration: defaults → optional TOML file (`--config`) → `LONGRUN_*` environment →
//! command-line flags, then one validation that stops the process with a message naming the
//! variable at fault.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;

/// One configuration key: its name in the TOML file, its environment variable, its default.
struct Key {
    toml: &'static str,
    env: &'static str,
    default: Option<&'static str>,
}

/// Every key, with its unit and default in its doc (README's table mirrors this).
const KEYS: &[Key] = &[
    // API address, host:port; port 0 picks a free one.
    Key {
        toml: "listen",
        env: "LONGRUN_LISTEN",
        default: Some("127.0.0.1:8080"),
    },
    // Prometheus /metrics address of this process, host:port.
    Key {
        toml: "metrics_listen",
        env: "LONGRUN_METRICS_LISTEN",
        default: Some("127.0.0.1:9464"),
    },
    // sqlite://… or postgres://…; default sqlite://<data dir>/longrun.db.
    Key {
        toml: "database_url",
        env: "LONGRUN_DATABASE_URL",
        default: None,
    },
    // redis://…; unset: in-process rate limiting and fan-out.
    Key {
        toml: "redis_url",
        env: "LONGRUN_REDIS_URL",
        default: None,
    },
    // http://host:port of the Temporal frontend; unset: `longrun dev` starts a dev server.
    Key {
        toml: "temporal_address",
        env: "LONGRUN_TEMPORAL_ADDRESS",
        default: None,
    },
    Key {
        toml: "temporal_namespace",
        env: "LONGRUN_TEMPORAL_NAMESPACE",
        default: Some("default"),
    },
    Key {
        toml: "task_queue",
        env: "LONGRUN_TASK_QUEUE",
        default: Some("longrun-runs"),
    },
    // Gzip the gRPC traffic to Temporal (costs CPU on every request; for links where bytes
    // cost more than CPU).
    Key {
        toml: "temporal_gzip",
        env: "LONGRUN_TEMPORAL_GZIP",
        default: Some("false"),
    },
    // Base of the Temporal UI links in API responses.
    Key {
        toml: "temporal_ui_url",
        env: "LONGRUN_TEMPORAL_UI_URL",
        default: Some("http://127.0.0.1:8233"),
    },
    // At least 32 bytes; generated under the data dir by `longrun dev`, required by `longrun api`.
    Key {
        toml: "jwt_secret",
        env: "LONGRUN_JWT_SECRET",
        default: None,
    },
    // Dev databases, the dev Temporal state, workspace sandboxes.
    Key {
        toml: "data_dir",
        env: "LONGRUN_DATA_DIR",
        default: Some(".longrun"),
    },
    // json or pretty.
    Key {
        toml: "log_format",
        env: "LONGRUN_LOG_FORMAT",
        default: Some("pretty"),
    },
    // Seconds running activities get to finish after SIGTERM.
    Key {
        toml: "shutdown_grace_s",
        env: "LONGRUN_SHUTDOWN_GRACE_S",
        default: Some("30"),
    },
    // Model calls a run may make unless its request or agent says otherwise.
    Key {
        toml: "default_max_steps",
        env: "LONGRUN_DEFAULT_MAX_STEPS",
        default: Some("20"),
    },
    // Seconds a model call may take, and how many attempts it gets.
    Key {
        toml: "llm_timeout_s",
        env: "LONGRUN_LLM_TIMEOUT_S",
        default: Some("300"),
    },
    // Attempts per model call; 0 (the default): no count, the run's deadline and the
    // provider outage tolerance bound them.
    Key {
        toml: "llm_max_attempts",
        env: "LONGRUN_LLM_MAX_ATTEMPTS",
        default: Some("0"),
    },
    // Seconds a model call waits out its provider's outage (429, 5xx, timeouts) before the run
    // fails, unless its agent says otherwise; 0 fails at the first such error.
    Key {
        toml: "provider_outage_tolerance_s",
        env: "LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S",
        default: Some("3600"),
    },
    // Seconds without a heartbeat after which a model or tool call is presumed lost (a dead
    // worker) and retried elsewhere. Calls heartbeat once per timeout (a call shorter than it,
    // never); cancellation does not wait for heartbeats.
    Key {
        toml: "heartbeat_timeout_s",
        env: "LONGRUN_HEARTBEAT_TIMEOUT_S",
        default: Some("120"),
    },
    // Longest wait, in seconds, between two tries of anything that waits out an outage: a
    // run's workflow start or a command while Temporal does not answer, a store write while
    // the database is away, a model call while its provider fails.
    Key {
        toml: "retry_cap_s",
        env: "LONGRUN_RETRY_CAP_S",
        default: Some("60"),
    },
    // Seconds a gated tool call waits for a decision (then it is denied), and a question for
    // human input (then the run ends with the answer it has).
    Key {
        toml: "approval_timeout_s",
        env: "LONGRUN_APPROVAL_TIMEOUT_S",
        default: Some("86400"),
    },
    // Seconds a run waits for a client-executed tool's result (then the model gets an error
    // result), unless the tool says otherwise.
    Key {
        toml: "client_tool_timeout_s",
        env: "LONGRUN_CLIENT_TOOL_TIMEOUT_S",
        default: Some("3600"),
    },
    Key {
        toml: "input_timeout_s",
        env: "LONGRUN_INPUT_TIMEOUT_S",
        default: Some("86400"),
    },
    // The operator's credential for GET /v1/billing/export (at least 32 bytes); unset: no export.
    Key {
        toml: "billing_token",
        env: "LONGRUN_BILLING_TOKEN",
        default: None,
    },
    // Whether POST /v1/auth/register creates workspaces (true or false); unset: true for
    // `longrun dev`, false for `longrun api`.
    Key {
        toml: "allow_signup",
        env: "LONGRUN_ALLOW_SIGNUP",
        default: None,
    },
    // Sign-up attempts one client address may make a day (when sign-up is on).
    Key {
        toml: "signups_per_ip_per_day",
        env: "LONGRUN_SIGNUPS_PER_IP_PER_DAY",
        default: Some("5"),
    },
    // Seconds a client has to send a whole request head; keep-alive connections idle this
    // long are closed too.
    Key {
        toml: "http_header_timeout_s",
        env: "LONGRUN_HTTP_HEADER_TIMEOUT_S",
        default: Some("10"),
    },
    // Seconds a client has to send a whole request body (then 408).
    Key {
        toml: "http_body_timeout_s",
        env: "LONGRUN_HTTP_BODY_TIMEOUT_S",
        default: Some("30"),
    },
    // HTTP connections one API process holds open at once, in all and per client address.
    Key {
        toml: "http_max_connections",
        env: "LONGRUN_HTTP_MAX_CONNECTIONS",
        default: Some("4096"),
    },
    Key {
        toml: "http_max_connections_per_ip",
        env: "LONGRUN_HTTP_MAX_CONNECTIONS_PER_IP",
        default: Some("256"),
    },
    // Event streams (GET /v1/runs/{id}/events) one API process serves at once for one run.
    Key {
        toml: "max_streams_per_run",
        env: "LONGRUN_MAX_STREAMS_PER_RUN",
        default: Some("10"),
    },
    // Seconds an Idempotency-Key of a run route is remembered (then it may be used again).
    Key {
        toml: "idempotency_ttl_s",
        env: "LONGRUN_IDEMPOTENCY_TTL_S",
        default: Some("86400"),
    },
    // Lifetime of login tokens, seconds.
    Key {
        toml: "jwt_ttl_s",
        env: "LONGRUN_JWT_TTL_S",
        default: Some("3600"),
    },
    // Seconds between a paused run's own checks of the hard cap.
    Key {
        toml: "quota_recheck_s",
        env: "LONGRUN_QUOTA_RECHECK_S",
        default: Some("300"),
    },
    // Workflow tasks and activities one worker runs at once.
    Key {
        toml: "worker_workflow_slots",
        env: "LONGRUN_WORKER_WORKFLOW_SLOTS",
        default: Some("100"),
    },
    Key {
        toml: "worker_activity_slots",
        env: "LONGRUN_WORKER_ACTIVITY_SLOTS",
        default: Some("100"),
    },
    // Comma-separated CIDRs, IPs or host names that http_fetch and webhooks may reach even
    // though they are private (loopback, 10/8, …).
    Key {
        toml: "http_fetch_allow",
        env: "LONGRUN_HTTP_FETCH_ALLOW",
        default: None,
    },
    Key {
        toml: "anthropic_api_key",
        env: "ANTHROPIC_API_KEY",
        default: None,
    },
    Key {
        toml: "anthropic_base_url",
        env: "LONGRUN_ANTHROPIC_BASE_URL",
        default: Some("https://api.anthropic.com"),
    },
    Key {
        toml: "openai_api_key",
        env: "OPENAI_API_KEY",
        default: None,
    },
    Key {
        toml: "openai_base_url",
        env: "LONGRUN_OPENAI_BASE_URL",
        default: Some("https://api.openai.com/v1"),
    },
];

/// The environment variable of every key, for the checks of the deploy files.
#[cfg(test)]
pub(crate) fn env_names() -> impl Iterator<Item = &'static str> {
    KEYS.iter().map(|key| key.env)
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum ConfigError {
    #[error("cannot read config file {path}: {message}")]
    File { path: String, message: String },
    #[error("{key} ({origin}): {message}")]
    Invalid {
        key: &'static str,
        origin: String,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LogFormat {
    Json,
    Pretty,
}

/// The validated configuration.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) listen: SocketAddr,
    pub(crate) metrics_listen: SocketAddr,
    pub(crate) database_url: String,
    pub(crate) redis_url: Option<String>,
    pub(crate) temporal_address: Option<String>,
    pub(crate) temporal_namespace: String,
    pub(crate) task_queue: String,
    pub(crate) temporal_ui_url: String,
    pub(crate) jwt_secret: Option<SecretString>,
    pub(crate) data_dir: PathBuf,
    pub(crate) log_format: LogFormat,
    pub(crate) shutdown_grace: Duration,
    pub(crate) default_max_steps: u32,
    pub(crate) llm_timeout_s: u64,
    pub(crate) llm_max_attempts: u32,
    pub(crate) heartbeat_timeout_s: u64,
    pub(crate) approval_timeout_s: u64,
    pub(crate) input_timeout_s: u64,
    pub(crate) client_tool_timeout_s: u64,
    pub(crate) http_fetch_allow: Vec<longrun_activities::egress::AllowRule>,
    /// `None`: the role's default (on for `dev`, off for `api`).
    pub(crate) allow_signup: Option<bool>,
    pub(crate) temporal_gzip: bool,
    pub(crate) retry_cap_s: u64,
    pub(crate) provider_outage_tolerance_s: u64,
    pub(crate) signups_per_ip_per_day: u64,
    pub(crate) server_limits: longrun_api::ServerLimits,
    pub(crate) max_streams_per_run: usize,
    pub(crate) idempotency_ttl_s: u64,
    pub(crate) billing_token: Option<SecretString>,
    pub(crate) jwt_ttl_s: i64,
    pub(crate) quota_recheck_s: u64,
    pub(crate) worker_workflow_slots: usize,
    pub(crate) worker_activity_slots: usize,
    pub(crate) tiers: longrun_domain::Tiers,
    pub(crate) prices: longrun_activities::prices::Prices,
    pub(crate) anthropic_api_key: Option<SecretString>,
    pub(crate) anthropic_base_url: String,
    pub(crate) openai_api_key: Option<SecretString>,
    pub(crate) openai_base_url: String,
}

/// Values by key, each with where it came from.
#[derive(Debug, Default)]
pub(crate) struct Layers {
    values: BTreeMap<&'static str, (String, String)>,
    tiers: longrun_domain::TierConfig,
    prices: longrun_activities::prices::Prices,
}

impl Layers {
    /// Defaults, then the TOML file if given, then the environment.
    pub(crate) fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut layers = Layers::default();
        for key in KEYS {
            if let Some(default) = key.default {
                layers
                    .values
                    .insert(key.env, (default.to_string(), "default".into()));
            }
        }
        if let Some(path) = file {
            layers.apply_toml(path)?;
        }
        for key in KEYS {
            if let Some(value) = env(key.env).filter(|v| !v.is_empty()) {
                layers.values.insert(key.env, (value, "environment".into()));
            }
        }
        Ok(layers)
    }

    fn apply_toml(&mut self, path: &Path) -> Result<(), ConfigError> {
        let file_error = |message: String| ConfigError::File {
            path: path.display().to_string(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| file_error(e.to_string()))?;
        for (name, value) in table {
            if name == "prices" {
                // `[[prices.models]]`, `[[prices.agent_minute]]`, `[[prices.tool_call]]`.
                let prices = serde_json::to_value(&value).map_err(|e| file_error(e.to_string()))?;
                self.prices = serde_json::from_value(prices)
                    .map_err(|e| file_error(format!("prices: {e}")))?;
                continue;
            }
            if name == "tiers" {
                // `[tiers.<name>]` tables: the tier table's values (see README).
                let tiers = serde_json::to_value(&value).map_err(|e| file_error(e.to_string()))?;
                self.tiers = serde_json::from_value(tiers).map_err(|e| {
                    file_error(format!(
                        "tiers: expected [tiers.<name>] tables of values: {e}"
                    ))
                })?;
                continue;
            }
            let key = KEYS
                .iter()
                .find(|k| k.toml == name)
                .ok_or_else(|| file_error(format!("unknown key {name:?}")))?;
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(file_error(format!(
                        "{name}: expected a string or number, found {}",
                        other.type_str()
                    )));
                }
            };
            self.values
                .insert(key.env, (text, format!("in {}", path.display())));
        }
        Ok(())
    }

    /// A command-line flag: the last word.
    pub(crate) fn set_flag(&mut self, env: &'static str, value: Option<String>) {
        if let Some(value) = value {
            self.values.insert(env, (value, "command line".into()));
        }
    }

    fn get(&self, env: &'static str) -> Option<(&str, &str)> {
        self.values
            .get(env)
            .map(|(v, origin)| (v.as_str(), origin.as_str()))
    }

    fn invalid(&self, env: &'static str, message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key: env,
            origin: self
                .get(env)
                .map(|(_, o)| o.to_string())
                .unwrap_or_else(|| "unset".into()),
            message: message.into(),
        }
    }

    fn string(&self, env: &'static str) -> Option<String> {
        self.get(env).map(|(v, _)| v.to_string())
    }

    /// A yes/no setting: `true`/`1`/`yes` or `false`/`0`/`no`; `None` when unset.
    fn flag(&self, env: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.string(env).as_deref() {
            None => Ok(None),
            Some("true" | "1" | "yes") => Ok(Some(true)),
            Some("false" | "0" | "no") => Ok(Some(false)),
            Some(other) => Err(self.invalid(env, format!("{other:?} is not true or false"))),
        }
    }

    fn required(&self, env: &'static str) -> Result<String, ConfigError> {
        self.string(env)
            .ok_or_else(|| self.invalid(env, "is required"))
    }

    fn socket(&self, env: &'static str) -> Result<SocketAddr, ConfigError> {
        let text = self.required(env)?;
        text.to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| {
                self.invalid(
                    env,
                    format!("{text:?} is not an address of the form host:port"),
                )
            })
    }

    fn url(&self, env: &'static str, schemes: &[&str]) -> Result<Option<String>, ConfigError> {
        let Some(text) = self.string(env) else {
            return Ok(None);
        };
        let scheme_ok = text
            .split_once("://")
            .is_some_and(|(scheme, rest)| schemes.contains(&scheme) && !rest.is_empty());
        if !scheme_ok {
            return Err(self.invalid(
                env,
                format!(
                    "{:?} is not a URL starting with {}",
                    longrun_store::redact_url(&text),
                    schemes
                        .iter()
                        .map(|s| format!("{s}://"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        Ok(Some(text.trim_end_matches('/').to_string()))
    }

    fn number<T>(
        &self,
        env: &'static str,
        range: std::ops::RangeInclusive<T>,
    ) -> Result<T, ConfigError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display,
    {
        let text = self.required(env)?;
        text.parse::<T>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                self.invalid(
                    env,
                    format!(
                        "{text:?} is not a number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                )
            })
    }

    /// Checks and types every value.
    pub(crate) fn validate(&self) -> Result<Config, ConfigError> {
        let data_dir = PathBuf::from(self.required("LONGRUN_DATA_DIR")?);
        let database_url = match self.url(
            "LONGRUN_DATABASE_URL",
            &["sqlite", "postgres", "postgresql"],
        )? {
            Some(url) => url,
            None => format!("sqlite://{}/longrun.db", data_dir.display()),
        };
        let log_format = match self.required("LONGRUN_LOG_FORMAT")?.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            other => {
                return Err(self.invalid(
                    "LONGRUN_LOG_FORMAT",
                    format!("{other:?} is not json or pretty"),
                ));
            }
        };
        let jwt_secret = match self.string("LONGRUN_JWT_SECRET") {
            Some(secret) if secret.len() < 32 => {
                return Err(self.invalid("LONGRUN_JWT_SECRET", "must be at least 32 bytes"));
            }
            other => other.map(SecretString::from),
        };
        let name = |env: &'static str| -> Result<String, ConfigError> {
            let value = self.required(env)?;
            if value.is_empty()
                || value.len() > 200
                || !value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(self.invalid(
                    env,
                    format!("{value:?}: use letters, digits, '-', '_', '.'"),
                ));
            }
            Ok(value)
        };
        Ok(Config {
            listen: self.socket("LONGRUN_LISTEN")?,
            metrics_listen: self.socket("LONGRUN_METRICS_LISTEN")?,
            database_url,
            redis_url: self.url("LONGRUN_REDIS_URL", &["redis", "rediss"])?,
            temporal_address: self.url("LONGRUN_TEMPORAL_ADDRESS", &["http", "https"])?,
            temporal_namespace: name("LONGRUN_TEMPORAL_NAMESPACE")?,
            task_queue: name("LONGRUN_TASK_QUEUE")?,
            temporal_ui_url: self
                .url("LONGRUN_TEMPORAL_UI_URL", &["http", "https"])?
                .ok_or_else(|| self.invalid("LONGRUN_TEMPORAL_UI_URL", "is required"))?,
            jwt_secret,
            data_dir,
            log_format,
            shutdown_grace: Duration::from_secs(
                self.number("LONGRUN_SHUTDOWN_GRACE_S", 0u64..=3600)?,
            ),
            default_max_steps: self.number("LONGRUN_DEFAULT_MAX_STEPS", 1u32..=200)?,
            llm_timeout_s: self.number("LONGRUN_LLM_TIMEOUT_S", 1u64..=86_400)?,
            llm_max_attempts: self.number("LONGRUN_LLM_MAX_ATTEMPTS", 0u32..=100)?,
            provider_outage_tolerance_s: self
                .number("LONGRUN_PROVIDER_OUTAGE_TOLERANCE_S", 0u64..=7 * 86_400)?,
            heartbeat_timeout_s: self.number("LONGRUN_HEARTBEAT_TIMEOUT_S", 1u64..=3600)?,
            approval_timeout_s: self.number("LONGRUN_APPROVAL_TIMEOUT_S", 1u64..=30 * 86_400)?,
            input_timeout_s: self.number("LONGRUN_INPUT_TIMEOUT_S", 1u64..=30 * 86_400)?,
            client_tool_timeout_s: self
                .number("LONGRUN_CLIENT_TOOL_TIMEOUT_S", 1u64..=7 * 86_400)?,
            allow_signup: self.flag("LONGRUN_ALLOW_SIGNUP")?,
            temporal_gzip: self.flag("LONGRUN_TEMPORAL_GZIP")?.unwrap_or(false),
            retry_cap_s: self.number("LONGRUN_RETRY_CAP_S", 1u64..=3600)?,
            signups_per_ip_per_day: self
                .number("LONGRUN_SIGNUPS_PER_IP_PER_DAY", 1u64..=1_000_000)?,
            server_limits: longrun_api::ServerLimits {
                header_timeout: Duration::from_secs(
                    self.number("LONGRUN_HTTP_HEADER_TIMEOUT_S", 1u64..=3600)?,
                ),
                body_timeout: Duration::from_secs(
                    self.number("LONGRUN_HTTP_BODY_TIMEOUT_S", 1u64..=3600)?,
                ),
                max_connections: self.number("LONGRUN_HTTP_MAX_CONNECTIONS", 1usize..=1_000_000)?,
                max_connections_per_ip: self
                    .number("LONGRUN_HTTP_MAX_CONNECTIONS_PER_IP", 1usize..=1_000_000)?,
                ..longrun_api::ServerLimits::default()
            },
            max_streams_per_run: self.number("LONGRUN_MAX_STREAMS_PER_RUN", 1usize..=10_000)?,
            idempotency_ttl_s: self.number("LONGRUN_IDEMPOTENCY_TTL_S", 60u64..=30 * 86_400)?,
            jwt_ttl_s: self.number("LONGRUN_JWT_TTL_S", 60i64..=30 * 86_400)?,
            billing_token: match self.string("LONGRUN_BILLING_TOKEN") {
                Some(token) if token.len() < 32 => {
                    return Err(self.invalid("LONGRUN_BILLING_TOKEN", "must be at least 32 bytes"));
                }
                other => other.map(SecretString::from),
            },
            quota_recheck_s: self.number("LONGRUN_QUOTA_RECHECK_S", 1u64..=86_400)?,
            worker_workflow_slots: self.number("LONGRUN_WORKER_WORKFLOW_SLOTS", 1usize..=10_000)?,
            worker_activity_slots: self.number("LONGRUN_WORKER_ACTIVITY_SLOTS", 1usize..=10_000)?,
            tiers: longrun_domain::Tiers::with_config(&self.tiers).map_err(|e| {
                ConfigError::Invalid {
                    key: "tiers",
                    origin: "the configuration file".into(),
                    message: e.to_string(),
                }
            })?,
            prices: {
                self.prices.validate().map_err(|e| ConfigError::Invalid {
                    key: "prices",
                    origin: "the configuration file".into(),
                    message: e.to_string(),
                })?;
                self.prices.clone()
            },
            http_fetch_allow: match self.string("LONGRUN_HTTP_FETCH_ALLOW") {
                Some(text) => longrun_activities::egress::parse_allowlist(&text)
                    .map_err(|e| self.invalid("LONGRUN_HTTP_FETCH_ALLOW", e))?,
                None => Vec::new(),
            },
            anthropic_api_key: self.string("ANTHROPIC_API_KEY").map(SecretString::from),
            anthropic_base_url: self
                .url("LONGRUN_ANTHROPIC_BASE_URL", &["http", "https"])?
                .ok_or_else(|| self.invalid("LONGRUN_ANTHROPIC_BASE_URL", "is required"))?,
            openai_api_key: self.string("OPENAI_API_KEY").map(SecretString::from),
            openai_base_url: self
                .url("LONGRUN_OPENAI_BASE_URL", &["http", "https"])?
                .ok_or_else(|| self.invalid("LONGRUN_OPENAI_BASE_URL", "is required"))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_validate() {
        let config = Layers::load(None, env_of(&[])).unwrap().validate().unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_url, "sqlite://.longrun/longrun.db");
        assert_eq!(config.task_queue, "longrun-runs");
        assert!(config.temporal_address.is_none());
    }

    #[test]
    fn later_layers_win_and_errors_name_the_variable() {
        let (_dir, file) = crate::testing::file_with(
            "longrun.toml",
            "listen = \"127.0.0.1:1\"\ntask_queue = \"from-file\"\n",
        );
        let mut layers = Layers::load(
            Some(&file),
            env_of(&[
                ("LONGRUN_TASK_QUEUE", "from-env"),
                ("LONGRUN_DATA_DIR", "/srv/lr"),
            ]),
        )
        .unwrap();
        layers.set_flag("LONGRUN_LISTEN", Some("127.0.0.1:2".into()));
        let config = layers.validate().unwrap();
        assert_eq!(config.listen.port(), 2);
        assert_eq!(config.task_queue, "from-env");
        assert_eq!(config.database_url, "sqlite:///srv/lr/longrun.db");

        let table = [
            ("LONGRUN_LISTEN", "nope", "LONGRUN_LISTEN (environment)"),
            (
                "LONGRUN_DATABASE_URL",
                "mysql://u:secret@h/db",
                "LONGRUN_DATABASE_URL",
            ),
            ("LONGRUN_SHUTDOWN_GRACE_S", "-1", "LONGRUN_SHUTDOWN_GRACE_S"),
            ("LONGRUN_LOG_FORMAT", "xml", "LONGRUN_LOG_FORMAT"),
            ("LONGRUN_JWT_SECRET", "short", "LONGRUN_JWT_SECRET"),
            ("LONGRUN_TASK_QUEUE", "a b", "LONGRUN_TASK_QUEUE"),
            (
                "LONGRUN_TEMPORAL_ADDRESS",
                "127.0.0.1:7233",
                "LONGRUN_TEMPORAL_ADDRESS",
            ),
        ];
        for (key, value, needle) in table {
            let err = Layers::load(None, env_of(&[(key, value)]))
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{key}={value}: {err}");
            assert!(!err.contains("secret@"), "{err}");
        }
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let (_dir, file) = crate::testing::file_with("bad.toml", "lisen = \"x\"\n");
        let err = Layers::load(Some(&file), env_of(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown key \"lisen\""), "{err}");
    }
}
