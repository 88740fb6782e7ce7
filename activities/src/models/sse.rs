//! The SSE decoder providers' streams are read with lives in `longrun_domain::sse`; this
//! module re-exports it and holds the strategies the stream parsers' property tests share.

pub use longrun_domain::sse::{EventTooLarge, MAX_EVENT_BYTES, SseDecoder, SseEvent};

/// Strategies and helpers shared by the stream parsers' property tests.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;
    use serde_json::{Map, Value};

    use crate::models::provider::{ProviderError, read_chunk, read_end};
    use longrun_domain::sse::SseEvent;

    /// A line end of any of the three kinds SSE allows.
    pub(crate) fn line_end() -> impl Strategy<Value = &'static str> {
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")]
    }

    /// Text of every sort: ASCII, multi-byte characters, quotes, backslashes and line ends
    /// (which JSON escapes), control characters.
    pub(crate) fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z ]{0,12}",
            "[a-zé日😀\"\\\\\r\n\t {}:]{0,16}",
            any::<String>(),
        ]
    }

    /// Any JSON value but floats (which serde_json does not promise to round-trip exactly).
    pub(crate) fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(text(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A JSON object, as tool inputs are.
    pub(crate) fn json_object() -> impl Strategy<Value = Map<String, Value>> {
        prop::collection::btree_map(text(), json_value(), 0..4)
            .prop_map(|m| m.into_iter().collect())
    }

    /// `text` cut into pieces at the given places (moved back to character boundaries).
    pub(crate) fn split_text(text: &str, cuts: &[prop::sample::Index]) -> Vec<String> {
        let mut at: Vec<usize> = cuts
            .iter()
            .map(|cut| {
                let mut at = cut.index(text.len() + 1);
                while !text.is_char_boundary(at) {
                    at -= 1;
                }
                at
            })
            .collect();
        at.push(0);
        at.push(text.len());
        at.sort_unstable();
        at.dedup();
        at.windows(2)
            .map(|w| text[w[0]..w[1]].to_string())
            .collect()
    }

    /// `bytes` cut into chunks at the given places, anywhere (inside a character too).
    pub(crate) fn split_bytes<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
        let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
        at.push(0);
        at.push(bytes.len());
        at.sort_unstable();
        at.dedup();
        at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
    }

    /// One event framed as a server writes it: its name, its data over as many `data:` lines
    /// as it has lines, and a blank line, every line ended by `end`.
    pub(crate) fn frame(name: Option<&str>, data: &str, end: &str) -> String {
        let mut framed = String::new();
        if let Some(name) = name {
            framed.push_str(&format!("event: {name}{end}"));
        }
        for line in data.split('\n') {
            framed.push_str(&format!("data: {line}{end}"));
        }
        framed.push_str(end);
        framed
    }

    /// Feeds `chunks` through the same glue as a provider's response body, handing each event
    /// to `on_event` until it says the stream is done.
    pub(crate) fn read_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
        mut on_event: impl FnMut(SseEvent) -> Result<bool, ProviderError>,
    ) -> Result<(), ProviderError> {
        let mut decoder = super::SseDecoder::new();
        for chunk in chunks {
            if read_chunk(&mut decoder, chunk, &mut on_event)? {
                return Ok(());
            }
        }
        read_end(&mut decoder);
        Ok(())
    }
}
