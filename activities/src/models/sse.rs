//! The SSE decoder providers' streams are read with lives in `longrun_domain::sse`; this
//! module re-exports it and holds the strategies the stream parsers' property tests share.

pub use longrun_domain::sse::{EventTooLarge, MAX_EVENT_BYTES, SseDecoder, SseEvent};

/// Strategies and helpers shared by the stream parsers' property tests.
#[cfg(test)]
pub(crate) mod testing {
    use proptest::prelude::*;
    use proptest::test_runner::TestCaseError;
    use serde_json::{Map, Value};

    use crate::models::provider::{ProviderApi, ProviderError, read_chunk, read_end};
    use longrun_domain::sse::SseEvent;
    use longrun_workflows::payloads::{ContentBlock, LlmResponse};

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

    /// A tool call as a stream carries it, its input's JSON cut into pieces.
    #[derive(Debug, Clone)]
    pub(crate) struct StreamedCall {
        pub(crate) id: String,
        pub(crate) name: String,
        pub(crate) input: Map<String, Value>,
        pub(crate) cuts: Vec<prop::sample::Index>,
        /// An empty input may come with no pieces at all.
        pub(crate) silent: bool,
    }

    impl StreamedCall {
        /// The pieces its input's JSON is streamed in.
        pub(crate) fn pieces(&self) -> Vec<String> {
            if self.input.is_empty() && self.silent {
                return Vec::new();
            }
            split_text(&Value::Object(self.input.clone()).to_string(), &self.cuts)
        }

        /// The call as the answer holds it, under `id`.
        pub(crate) fn answered_as(&self, id: &str) -> ContentBlock {
            ContentBlock::ToolUse {
                id: id.to_string(),
                name: self.name.clone(),
                input: Value::Object(self.input.clone()),
            }
        }
    }

    /// A tool call with an id and a name from the given strategies, and any input.
    pub(crate) fn streamed_call(
        id: impl Strategy<Value = String>,
        name: impl Strategy<Value = String>,
    ) -> impl Strategy<Value = StreamedCall> {
        (
            id,
            name,
            json_object(),
            prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            any::<bool>(),
        )
            .prop_map(|(id, name, input, cuts, silent)| StreamedCall {
                id,
                name,
                input,
                cuts,
                silent,
            })
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

    /// Reads `chunks` as a provider's `call` reads a response body: the text deltas it
    /// forwarded, and the answer.
    pub(crate) fn assemble<'a, P: ProviderApi>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<(String, LlmResponse), ProviderError> {
        let mut parser = P::default();
        let mut deltas = String::new();
        read_chunks(chunks, |event| {
            if let Some(delta) = parser.on_sse_event(&event)? {
                deltas.push_str(&delta);
            }
            Ok(parser.is_done())
        })?;
        Ok((deltas, parser.finish()?))
    }

    /// A stream cut at `cuts`, and one byte at a time, assembles to `expected` both ways.
    pub(crate) fn reassembles<P: ProviderApi>(
        bytes: &[u8],
        cuts: &[prop::sample::Index],
        expected: (String, LlmResponse),
    ) -> Result<(), TestCaseError> {
        prop_assert_eq!(assemble::<P>(split_bytes(bytes, cuts))?, expected.clone());
        prop_assert_eq!(assemble::<P>(bytes.chunks(1))?, expected);
        Ok(())
    }

    /// Any bytes after a plausible `prefix`, cut anywhere, end in an answer or an error,
    /// never a panic.
    pub(crate) fn survives<P: ProviderApi>(
        prefix: &str,
        bytes: &[u8],
        cuts: &[prop::sample::Index],
    ) {
        let bytes = [prefix.as_bytes(), bytes].concat();
        let _ = assemble::<P>(split_bytes(&bytes, cuts));
    }
}

/// The properties every provider's stream parser has, as proptests: a stream it is given
/// (`$streamed`, a strategy of values with `bytes()` and `expected()`) reassembles exactly
/// however it is cut; events of the right kinds and shapes but any values (`$wild`, a
/// strategy of `SseEvent`s) and any bytes after a plausible prefix (one of `$prefixes`) end
/// in an answer or an error, never a panic.
#[cfg(test)]
macro_rules! stream_parser_properties {
    ($parser:ty, streamed: $streamed:expr, wild: $wild:expr, prefixes: $prefixes:expr $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn a_stream_reassembles_exactly_however_it_is_chunked(
                streamed in $streamed,
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..24),
            ) {
                $crate::models::sse::testing::reassembles::<$parser>(
                    &streamed.bytes(),
                    &cuts,
                    streamed.expected(),
                )?;
            }

            #[test]
            fn arbitrary_events_never_panic_the_parser(
                events in prop::collection::vec($wild, 0..24),
            ) {
                let mut parser = <$parser>::default();
                for event in &events {
                    if $crate::models::provider::ProviderApi::on_sse_event(&mut parser, event).is_err() {
                        break;
                    }
                }
                let _ = $crate::models::provider::ProviderApi::finish(parser);
            }

            #[test]
            fn arbitrary_bytes_never_panic_the_stream_reader(
                bytes in prop::collection::vec(any::<u8>(), 0..512),
                prefix in prop::sample::select($prefixes.to_vec()),
                cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
            ) {
                $crate::models::sse::testing::survives::<$parser>(prefix, &bytes, &cuts);
            }
        }
    };
}
#[cfg(test)]
pub(crate) use stream_parser_properties;

/// The decoder, against streams framed every way SSE allows and cut anywhere.
#[cfg(test)]
mod decoder_properties {
    use super::testing::{line_end, split_bytes};
    use super::{EventTooLarge, MAX_EVENT_BYTES, SseDecoder, SseEvent};
    use proptest::prelude::*;

    /// One event as a stream writer may frame it.
    #[derive(Debug, Clone)]
    struct Framed {
        kind: Option<String>,
        id: Option<String>,
        data_lines: Vec<String>,
        /// Where the `id:` and `event:` lines go among the data lines.
        id_at: prop::sample::Index,
        kind_at: prop::sample::Index,
        /// Comments and unknown fields, each before the data line it names.
        noise: Vec<(prop::sample::Index, String)>,
        /// Whether `field:value` is written without the optional space (kept when the
        /// value itself starts with one).
        tight: bool,
        /// Whether an empty data line is written as a bare `data`.
        bare: bool,
        ends: Vec<&'static str>,
    }

    impl Framed {
        fn expected(&self) -> SseEvent {
            SseEvent {
                event: self.kind.clone().unwrap_or_default(),
                data: self.data_lines.join("\n"),
                id: self.id.clone(),
            }
        }

        fn field(&self, name: &str, value: &str) -> String {
            if value.is_empty() && self.bare && name == "data" {
                name.to_string()
            } else if self.tight && !value.starts_with(' ') {
                format!("{name}:{value}")
            } else {
                format!("{name}: {value}")
            }
        }

        /// The event's lines, without line ends.
        fn lines(&self) -> Vec<String> {
            let mut lines: Vec<String> = self
                .data_lines
                .iter()
                .map(|line| self.field("data", line))
                .collect();
            if let Some(id) = &self.id {
                let at = self.id_at.index(lines.len() + 1);
                lines.insert(at, self.field("id", id));
            }
            if let Some(kind) = &self.kind {
                let at = self.kind_at.index(lines.len() + 1);
                lines.insert(at, self.field("event", kind));
            }
            for (at, noise) in &self.noise {
                let at = at.index(lines.len() + 1);
                lines.insert(at, noise.clone());
            }
            lines
        }
    }

    /// A field value: anything but a line end, which a field cannot hold.
    fn field_value() -> impl Strategy<Value = String> {
        prop_oneof!["[ a-z:é日😀]{0,8}", "[^\r\n]{0,12}"]
    }

    fn noise() -> impl Strategy<Value = String> {
        prop_oneof![
            field_value().prop_map(|text| format!(":{text}")),
            (
                prop::sample::select(vec!["retry", "Data", "EVENT", " data", "ids", "x"]),
                field_value()
            )
                .prop_map(|(name, value)| format!("{name}: {value}")),
        ]
    }

    fn framed() -> impl Strategy<Value = Framed> {
        (
            prop::option::of(field_value()),
            prop::option::of(field_value()),
            prop::collection::vec(field_value(), 1..4),
            any::<prop::sample::Index>(),
            any::<prop::sample::Index>(),
            prop::collection::vec((any::<prop::sample::Index>(), noise()), 0..3),
            any::<bool>(),
            any::<bool>(),
            prop::collection::vec(line_end(), 12),
        )
            .prop_map(
                |(kind, id, data_lines, id_at, kind_at, noise, tight, bare, ends)| Framed {
                    kind,
                    id,
                    data_lines,
                    id_at,
                    kind_at,
                    noise,
                    tight,
                    bare,
                    ends,
                },
            )
    }

    /// A stream of events, the last one possibly cut short of its blank line (or of its
    /// last line end), as a server that closes the connection leaves it: such an event is
    /// not expected back (WHATWG discards it).
    fn stream(max_events: usize) -> impl Strategy<Value = (Vec<u8>, Vec<SseEvent>)> {
        (
            prop::collection::vec(framed(), 0..max_events),
            0..3usize,
            any::<bool>(),
        )
            .prop_map(|(events, cut, extra_blank)| {
                let mut bytes = String::new();
                let count = events.len();
                for (n, event) in events.iter().enumerate() {
                    let lines = event.lines();
                    let last = n + 1 == count;
                    let end = |i: usize| event.ends[i % event.ends.len()];
                    for (i, line) in lines.iter().enumerate() {
                        bytes.push_str(line);
                        if !(last && cut == 2 && i + 1 == lines.len()) {
                            bytes.push_str(end(i));
                        }
                    }
                    if !(last && cut > 0) {
                        // After a `\r`, a `\n` would only complete that line end.
                        let blank = match (end(lines.len() - 1), end(lines.len())) {
                            ("\r", "\n") => "\r\n",
                            (_, blank) => blank,
                        };
                        bytes.push_str(blank);
                        if extra_blank {
                            bytes.push_str("\r\n");
                        }
                    }
                }
                let complete = if cut > 0 {
                    count.saturating_sub(1)
                } else {
                    count
                };
                (
                    bytes.into_bytes(),
                    events[..complete].iter().map(Framed::expected).collect(),
                )
            })
    }

    fn decode_chunks<'a>(
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Vec<SseEvent>, EventTooLarge> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for chunk in chunks {
            events.extend(decoder.push(chunk)?);
        }
        decoder.finish();
        Ok(events)
    }

    /// Bytes that look like SSE often and like garbage otherwise.
    fn sse_like_bytes() -> impl Strategy<Value = Vec<u8>> {
        let token = prop_oneof![
            Just(b"data:".to_vec()),
            Just(b"data: ".to_vec()),
            Just(b"event:".to_vec()),
            Just(b"id:".to_vec()),
            Just(b":".to_vec()),
            Just(b" ".to_vec()),
            Just(b"\n".to_vec()),
            Just(b"\r".to_vec()),
            Just(b"\r\n".to_vec()),
            Just("é日😀".as_bytes().to_vec()),
            Just(vec![0xf0, 0x9f]),
            Just(vec![0xff, 0xfe, 0x80]),
            prop::collection::vec(any::<u8>(), 0..8),
        ];
        prop::collection::vec(token, 0..64).prop_map(|tokens| tokens.concat())
    }

    proptest! {
        #[test]
        fn valid_streams_decode_to_their_events_however_they_are_chunked(
            (bytes, expected) in stream(8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        ) {
            prop_assert_eq!(decode_chunks(split_bytes(&bytes, &cuts)).unwrap(), expected.clone());
            prop_assert_eq!(decode_chunks(bytes.chunks(1)).unwrap(), expected);
        }

        #[test]
        fn splitting_a_valid_stream_at_any_byte_changes_nothing((bytes, expected) in stream(4)) {
            // Every boundary: inside multi-byte characters and between `\r` and `\n` too.
            for at in 0..=bytes.len() {
                let (head, tail) = bytes.split_at(at);
                prop_assert_eq!(
                    decode_chunks([head, tail]).unwrap(),
                    expected.clone(),
                    "split at {}", at
                );
            }
        }

        #[test]
        fn arbitrary_bytes_decode_the_same_in_any_chunks_without_panicking(
            bytes in sse_like_bytes(),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..16),
        ) {
            let whole = decode_chunks([bytes.as_slice()]).unwrap();
            prop_assert_eq!(decode_chunks(split_bytes(&bytes, &cuts)).unwrap(), whole.clone());
            prop_assert_eq!(decode_chunks(bytes.chunks(1)).unwrap(), whole.clone());
            for event in whole {
                prop_assert!(!event.event.contains(['\r', '\n']), "{:?}", event);
                prop_assert!(!event.data.contains('\r'), "{:?}", event);
                prop_assert!(event.id.as_deref().is_none_or(|id| !id.contains(['\r', '\n'])));
            }
        }
    }

    proptest! {
        // Megabytes per case: a few cases suffice.
        #![proptest_config(ProptestConfig::with_cases(8))]

        #[test]
        fn an_event_over_the_limit_is_refused_and_buffers_stay_bounded(
            prefix in prop::sample::select(vec!["data: ", ": ", "event: ", "id: ", "x"]),
            chunk in 1usize..300_000,
            lines in 1usize..4,
            ends in prop::collection::vec(line_end(), 4),
        ) {
            // The event's bytes are spread over `lines` lines; a line end does not count.
            let line_bytes = (MAX_EVENT_BYTES + 1).div_ceil(lines);
            let mut bytes = Vec::new();
            for end in &ends[..lines] {
                bytes.extend_from_slice(prefix.as_bytes());
                bytes.resize(bytes.len() + line_bytes - prefix.len(), b'a');
                bytes.extend_from_slice(end.as_bytes());
            }
            let mut decoder = SseDecoder::new();
            let mut refused = false;
            for piece in bytes.chunks(chunk) {
                match decoder.push(piece) {
                    Ok(events) => prop_assert!(events.is_empty()),
                    Err(err) => {
                        prop_assert_eq!(err, EventTooLarge);
                        refused = true;
                        break;
                    }
                }
                let (line, data, fields) = decoder.held();
                prop_assert!(line <= MAX_EVENT_BYTES);
                prop_assert!(data <= MAX_EVENT_BYTES);
                prop_assert!(fields <= MAX_EVENT_BYTES);
            }
            prop_assert!(refused, "{} bytes in {} lines were accepted", bytes.len(), lines);
            prop_assert!(decoder.held().0 <= MAX_EVENT_BYTES + 1);
        }
    }

    #[test]
    fn an_event_of_exactly_the_limit_passes_and_the_next_one_starts_afresh() {
        let mut bytes = b"data: ".to_vec();
        bytes.resize(MAX_EVENT_BYTES, b'a');
        bytes.extend_from_slice(b"\r\n\r\n");
        let mut decoder = SseDecoder::new();
        let events = decoder.push(&bytes).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data.len(), MAX_EVENT_BYTES - 6);
        // The limit is per event: a second one as large passes too.
        assert_eq!(decoder.push(&bytes).unwrap().len(), 1);
    }
}
