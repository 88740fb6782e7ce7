//! Model names: `provider/model-name`, checked once where they enter (an agent's definition),
//! split where they are used (the model router, metric labels).

use std::fmt;

/// Providers longrun speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    /// Anthropic's Messages API.
    Anthropic,
    /// Any OpenAI-compatible Chat Completions server.
    OpenAi,
    /// The built-in deterministic model, `offline/demo`.
    Offline,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Anthropic, Provider::OpenAi, Provider::Offline];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Anthropic => "anthropic",
            Provider::OpenAi => "openai",
            Provider::Offline => "offline",
        }
    }
}

/// The built-in offline model's name.
pub const OFFLINE_MODEL: &str = "demo";
/// Longest model accepted, `provider/` included.
pub const MAX_MODEL_BYTES: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelError {
    TooLong,
    BadCharacter(char),
    NotProviderSlashName,
    UnknownProvider(String),
    UnknownOfflineModel(String),
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::TooLong => write!(f, "longer than {MAX_MODEL_BYTES} bytes"),
            ModelError::BadCharacter(c) => write!(
                f,
                "{c:?} is not allowed; use letters, digits and . _ - : / @ +"
            ),
            ModelError::NotProviderSlashName => f.write_str("not of the form provider/model-name"),
            ModelError::UnknownProvider(p) => write!(
                f,
                "unknown provider {p:?}: expected one of anthropic, openai, offline"
            ),
            ModelError::UnknownOfflineModel(name) => write!(
                f,
                "unknown offline model {name:?}: the built-in one is offline/{OFFLINE_MODEL}"
            ),
        }
    }
}

impl std::error::Error for ModelError {}

/// A model: a known provider and the provider's name for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRef<'a> {
    pub provider: Provider,
    pub name: &'a str,
}

impl<'a> ModelRef<'a> {
    /// Splits `provider/model-name`, checking the provider is one longrun speaks (names that
    /// were stored before the character rules still split).
    pub fn split(model: &'a str) -> Result<Self, ModelError> {
        let (provider, name) = model
            .split_once('/')
            .filter(|(p, n)| !p.is_empty() && !n.is_empty())
            .ok_or(ModelError::NotProviderSlashName)?;
        let provider = Provider::ALL
            .into_iter()
            .find(|p| p.as_str() == provider)
            .ok_or_else(|| ModelError::UnknownProvider(provider.to_string()))?;
        if provider == Provider::Offline && name != OFFLINE_MODEL {
            return Err(ModelError::UnknownOfflineModel(name.to_string()));
        }
        Ok(Self { provider, name })
    }

    /// Checks a model given by a client: at most [`MAX_MODEL_BYTES`], in the characters model
    /// names use (letters, digits, `.`, `_`, `-`, `:`, `/`, `@`, `+`), then split. It is shown
    /// in the Temporal UI and logs, and must never carry markup or control characters.
    pub fn parse(model: &'a str) -> Result<Self, ModelError> {
        if model.len() > MAX_MODEL_BYTES {
            return Err(ModelError::TooLong);
        }
        if let Some(bad) = model
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "._-:/@+".contains(*c)))
        {
            return Err(ModelError::BadCharacter(bad));
        }
        Self::split(model)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_names_need_a_known_provider_and_plain_characters() {
        assert_eq!(
            ModelRef::parse("offline/demo").unwrap().provider,
            Provider::Offline
        );
        let vllm = ModelRef::parse("openai/meta-llama/Llama-3.1-8B").unwrap();
        assert_eq!(
            (vllm.provider, vllm.name),
            (Provider::OpenAi, "meta-llama/Llama-3.1-8B")
        );
        assert!(ModelRef::parse("openai/llama3.1:8b").is_ok());
        for (bad, error) in [
            ("demo", ModelError::NotProviderSlashName),
            ("/x", ModelError::NotProviderSlashName),
            ("acme/x", ModelError::UnknownProvider("acme".into())),
            ("offline/gpt", ModelError::UnknownOfflineModel("gpt".into())),
            ("openai/a b", ModelError::BadCharacter(' ')),
            ("openai/<b>", ModelError::BadCharacter('<')),
        ] {
            assert_eq!(ModelRef::parse(bad), Err(error), "{bad}");
        }
        let long = format!("openai/{}", "a".repeat(MAX_MODEL_BYTES));
        assert_eq!(ModelRef::parse(&long), Err(ModelError::TooLong));
    }
}
