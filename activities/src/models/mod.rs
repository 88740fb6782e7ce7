//! Model providers behind one call: `provider/model-name` picks the provider, the request and
//! response are the workflow's provider-neutral conversation types.

pub mod anthropic;
pub mod offline;
pub mod provider;
pub mod sse;

use longrun_workflows::payloads::{LlmRequest, LlmResponse};

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

/// Routes a model turn to its provider.
#[derive(Debug, Clone, Default)]
pub struct ModelRouter {}

impl ModelRouter {
    pub fn new() -> Self {
        Self {}
    }

    pub async fn complete(&self, request: &LlmRequest) -> Result<LlmResponse, ModelError> {
        let (provider, _) = split_model(&request.model)?;
        match provider {
            "offline" => Ok(offline::respond(request)),
            other => Err(ModelError::NotConfigured(other.to_string())),
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
