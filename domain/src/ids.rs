//! Identifiers and names, each a type that can only hold a well-formed value: parsed once
//! where text enters (a path, a row, a payload), trusted everywhere after.
//!
//! They dereference to `str`, so code that only reads them (SQL binds, logs, keys) takes them
//! as they are.

use std::fmt;

/// Why a text is not an id of the kind asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdError {
    kind: &'static str,
    rule: &'static str,
}

impl IdError {
    /// What kind of id was expected (`run id`, `agent name`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }
}

impl fmt::Display for IdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a {}: {}", self.kind, self.rule)
    }
}

impl std::error::Error for IdError {}

fn is_hex32(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A name as agents and workspace slugs have them: 1 to 64 of a-z, 0-9, '-' and '_',
/// starting with a letter or digit. They appear in URLs, workflow ids, search attributes and
/// logs, so they stay plain.
pub fn is_plain_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

const PLAIN_NAME_RULE: &str =
    "1 to 64 characters of a-z, 0-9, '-' and '_', starting with a letter or digit";

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $rule:expr, $valid:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Checks `text` and makes it an id; the error names the rule.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                let valid: fn(&str) -> bool = $valid;
                if valid(text) {
                    Ok(Self(text.to_string()))
                } else {
                    Err(IdError { kind: $kind, rule: $rule })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(text: String) -> Result<Self, IdError> {
                Self::parse(&text)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// A run: 32 lower-case hex digits (a UUIDv7 without dashes, so ids sort by creation).
    RunId,
    "run id",
    "32 lower-case hex digits",
    is_hex32
);
id_type!(
    /// A workspace's internal id: `ws_` and 32 lower-case hex digits.
    WorkspaceId,
    "workspace id",
    "ws_ and 32 lower-case hex digits",
    |text| text.strip_prefix("ws_").is_some_and(is_hex32)
);
id_type!(
    /// An API key's id: `key_` and 32 lower-case hex digits.
    ApiKeyId,
    "API key id",
    "key_ and 32 lower-case hex digits",
    |text| text.strip_prefix("key_").is_some_and(is_hex32)
);
id_type!(
    /// An agent's name within its workspace.
    AgentName,
    "agent name",
    PLAIN_NAME_RULE,
    is_plain_name
);
id_type!(
    /// A workspace's public name (in workflow ids and search attributes).
    WorkspaceSlug,
    "workspace slug",
    PLAIN_NAME_RULE,
    is_plain_name
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_only_their_shape() {
        let run = "0195f3a2b4c67d8e9f00112233445566";
        assert_eq!(RunId::parse(run).unwrap().as_str(), run);
        for bad in ["", "x", &run.to_uppercase(), &format!("{run}0")] {
            assert!(RunId::parse(bad).is_err(), "{bad}");
        }
        assert!(WorkspaceId::parse(&format!("ws_{run}")).is_ok());
        assert!(WorkspaceId::parse(run).is_err());
        assert!(ApiKeyId::parse(&format!("key_{run}")).is_ok());
        let error = AgentName::parse("Bad Name").unwrap_err();
        assert_eq!(error.kind(), "agent name");
        assert!(error.to_string().contains("1 to 64 characters"));
    }

    #[test]
    fn names_are_plain() {
        for good in ["demo", "a", "support-bot_2", "0x"] {
            assert!(is_plain_name(good), "{good}");
        }
        for bad in ["", "Demo", "-x", "a b", "a/b", &"a".repeat(65), "é"] {
            assert!(!is_plain_name(bad), "{bad}");
        }
    }

    #[test]
    fn ids_serialise_as_their_text_and_refuse_bad_text() {
        let name = AgentName::parse("helper").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"helper\"");
        let back: AgentName = serde_json::from_str("\"helper\"").unwrap();
        assert_eq!(back, name);
        assert!(serde_json::from_str::<AgentName>("\"Not OK\"").is_err());
    }
}
