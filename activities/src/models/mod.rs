//! Model providers behind one call: `provider/model-name` picks the provider; requests and
//! responses are the workflow's provider-neutral conversation types, so no provider format
//! leaks into workflow code.

pub mod anthropic;
pub mod offline;
pub mod openai;
pub mod provider;
pub mod sse;

use std::time::Duration;

use secrecy::SecretString;

use longrun_workflows::payloads::{LlmResponse, Message};

pub use provider::{ProviderCall, ProviderError, ToolDeclaration};

/// Providers a model name may start with.
pub const KNOWN_PROVIDERS: &[&str] = &["anthropic", "openai", "offline"];

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model {0:?} is not of the form provider/model-name")]
    BadModelName(String),
    #[error("unknown provider {0:?}: expected one of anthropic, openai, offline")]
    UnknownProvider(String),
    #[error("provider {0} is not configured on this worker (its API key is not set)")]
    NotConfigured(String),
    #[error("unknown offline model {0:?}: the built-in one is offline/demo")]
    UnknownOfflineModel(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// Splits `provider/model-name`, checking the provider is one longrun speaks.
pub fn split_model(model: &str) -> Result<(&str, &str), ModelError> {
    let (provider, name) = model
        .split_once('/')
        .filter(|(p, n)| !p.is_empty() && !n.is_empty())
        .ok_or_else(|| ModelError::BadModelName(model.to_string()))?;
    if !KNOWN_PROVIDERS.contains(&provider) {
        return Err(ModelError::UnknownProvider(provider.to_string()));
    }
    if provider == "offline" && name != offline::MODEL_NAME {
        return Err(ModelError::UnknownOfflineModel(name.to_string()));
    }
    Ok((provider, name))
}

/// A provider's endpoint and key.
#[derive(Debug, Clone)]
pub struct ProviderEndpoint {
    pub base_url: String,
    pub api_key: SecretString,
}

/// Which providers this worker can call, and how long a call may take.
#[derive(Debug, Clone)]
pub struct ProviderSettings {
    pub anthropic: Option<ProviderEndpoint>,
    pub openai: Option<ProviderEndpoint>,
    /// Connecting to a provider.
    pub connect_timeout: Duration,
    /// Silence between two pieces of a streamed answer.
    pub read_timeout: Duration,
}

impl Default for ProviderSettings {
    fn default() -> Self {
        Self {
            anthropic: None,
            openai: None,
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(120),
        }
    }
}

/// One model turn, as the model activity asks for it.
#[derive(Debug, Clone)]
pub struct Turn<'a> {
    /// `provider/model-name`.
    pub model: &'a str,
    pub system: &'a str,
    pub messages: &'a [Message],
    pub tools: &'a [ToolDeclaration],
    pub max_tokens: u32,
    /// The run's step number (the offline model makes tool call ids with it).
    pub step: u32,
}

/// Routes a model turn to its provider.
pub struct ModelRouter {
    http: reqwest::Client,
    anthropic: Option<anthropic::Anthropic>,
    openai: Option<openai::OpenAi>,
}

impl ModelRouter {
    pub fn new(settings: ProviderSettings) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .user_agent(concat!("longrun/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            anthropic: settings.anthropic.map(|e| anthropic::Anthropic {
                base_url: e.base_url,
                api_key: e.api_key,
            }),
            openai: settings.openai.map(|e| openai::OpenAi {
                base_url: e.base_url,
                api_key: e.api_key,
            }),
        })
    }

    /// Only the offline model: for tests and for workers without provider keys.
    pub fn offline() -> Self {
        Self {
            http: reqwest::Client::new(),
            anthropic: None,
            openai: None,
        }
    }

    /// One model turn, forwarding text deltas as they stream in.
    pub async fn complete(
        &self,
        turn: &Turn<'_>,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<LlmResponse, ModelError> {
        let (provider, name) = split_model(turn.model)?;
        let call = ProviderCall {
            model: name,
            system: turn.system,
            messages: turn.messages,
            tools: turn.tools,
            max_tokens: turn.max_tokens,
        };
        match provider {
            "offline" => {
                let tool_names: Vec<&str> = turn.tools.iter().map(|t| t.name.as_str()).collect();
                let response = offline::respond(turn.system, turn.messages, &tool_names, turn.step);
                on_delta(&response.text());
                Ok(response)
            }
            "anthropic" => {
                let client = self
                    .anthropic
                    .as_ref()
                    .ok_or_else(|| ModelError::NotConfigured("anthropic".into()))?;
                Ok(client.call(&self.http, &call, on_delta).await?)
            }
            "openai" => {
                let client = self
                    .openai
                    .as_ref()
                    .ok_or_else(|| ModelError::NotConfigured("openai".into()))?;
                Ok(client.call(&self.http, &call, on_delta).await?)
            }
            other => Err(ModelError::UnknownProvider(other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_need_a_known_provider() {
        assert!(split_model("offline/demo").is_ok());
        assert!(split_model("anthropic/claude-sonnet-4-5").is_ok());
        assert!(matches!(
            split_model("demo"),
            Err(ModelError::BadModelName(_))
        ));
        assert!(matches!(
            split_model("/x"),
            Err(ModelError::BadModelName(_))
        ));
        assert!(matches!(
            split_model("acme/x"),
            Err(ModelError::UnknownProvider(_))
        ));
        assert!(matches!(
            split_model("offline/gpt"),
            Err(ModelError::UnknownOfflineModel(_))
        ));
    }
}
