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
use longrun_workflows::payloads::{LlmResponse, Message};

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
        let ModelRef { provider, name } = ModelRef::split(turn.model)?;
        let call = ProviderCall {
            model: name,
            system: turn.system,
            messages: turn.messages,
            tools: turn.tools,
            max_tokens: turn.max_tokens,
        };
        match provider {
            Provider::Offline => {
                let tool_names: Vec<&str> = turn.tools.iter().map(|t| t.name.as_str()).collect();
                let response = offline::respond(turn.system, turn.messages, &tool_names, turn.step);
                on_delta(&response.text());
                Ok(response)
            }
            Provider::Anthropic => {
                let client = self
                    .anthropic
                    .as_ref()
                    .ok_or(ModelError::NotConfigured("anthropic"))?;
                Ok(client.call(&self.http, &call, on_delta).await?)
            }
            Provider::OpenAi => {
                let client = self
                    .openai
                    .as_ref()
                    .ok_or(ModelError::NotConfigured("openai"))?;
                Ok(client.call(&self.http, &call, on_delta).await?)
            }
        }
    }
}
