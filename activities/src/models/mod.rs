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

use longrun_domain::{ModelRef, Provider};
use longrun_workflows::payloads::LlmResponse;

pub use provider::{ProviderCall, ProviderError, ToolDeclaration};

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model {0}")]
    BadModel(#[from] longrun_domain::ModelError),
    #[error("provider {0} is not configured on this worker (its API key is not set)")]
    NotConfigured(&'static str),
    #[error(transparent)]
    Provider(#[from] ProviderError),
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

/// Routes a model turn to its provider.
pub struct ModelRouter {
    http: reqwest::Client,
    anthropic: Option<ProviderEndpoint>,
    openai: Option<ProviderEndpoint>,
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
            anthropic: settings.anthropic,
            openai: settings.openai,
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

    /// One model turn of `turn.model` (`provider/model-name`), at the run's `step` (the
    /// offline model makes tool call ids with it), forwarding text deltas as they stream in.
    pub async fn complete(
        &self,
        turn: &ProviderCall<'_>,
        step: u32,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<LlmResponse, ModelError> {
        let ModelRef { provider, name } = ModelRef::split(turn.model)?;
        let call = ProviderCall {
            model: name,
            ..*turn
        };
        match provider {
            Provider::Offline => {
                let tool_names: Vec<&str> = turn.tools.iter().map(|t| t.name.as_str()).collect();
                let response = offline::respond(turn.system, turn.messages, &tool_names, step);
                on_delta(&response.text());
                Ok(response)
            }
            Provider::Anthropic => {
                self.call::<anthropic::StreamAssembler>(
                    &self.anthropic,
                    "anthropic",
                    &call,
                    on_delta,
                )
                .await
            }
            Provider::OpenAi => {
                self.call::<openai::StreamAssembler>(&self.openai, "openai", &call, on_delta)
                    .await
            }
        }
    }

    /// One turn at a provider's API, if this worker has its endpoint (`name` says which).
    async fn call<P: provider::ProviderApi>(
        &self,
        endpoint: &Option<ProviderEndpoint>,
        name: &'static str,
        call: &ProviderCall<'_>,
        on_delta: &mut (dyn FnMut(&str) + Send),
    ) -> Result<LlmResponse, ModelError> {
        let endpoint = endpoint.as_ref().ok_or(ModelError::NotConfigured(name))?;
        Ok(provider::call::<P>(&self.http, endpoint, call, on_delta).await?)
    }
}
