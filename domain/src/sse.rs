//! A Server-Sent Events decoder: bytes in, complete events out. Model providers stream their
//! answers this way and longrun streams run events this way, so providers' parsers, the API's
//! tests and clients read both with it. It
//! accepts `\n`, `\r\n` and `\r` line ends, joins multi-line `data:`, ignores comments, and
//! refuses an event larger than a bound instead of buffering without limit. As the WHATWG
//! rules say, an event is dispatched only at its blank line: one the stream ends before is
//! discarded, so a stream cut mid-event reads as a stream that ended early (retryable), never
//! as a complete but truncated event.

/// Largest single event accepted, in bytes.
pub const MAX_EVENT_BYTES: usize = 4 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SseEvent {
    /// The `event:` field; empty when absent (the default "message" type).
    pub event: String,
    pub data: String,
    /// The `id:` field, when the event has one.
    pub id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTooLarge;

impl std::fmt::Display for EventTooLarge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a stream event is larger than {MAX_EVENT_BYTES} bytes")
    }
}

impl std::error::Error for EventTooLarge {}

#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    event: String,
    data: String,
    id: Option<String>,
    has_data: bool,
    /// The last byte was `\r`: a following `\n` belongs to the same line end.
    after_cr: bool,
    size: usize,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns the events they completed.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, EventTooLarge> {
        let mut out = Vec::new();
        for &byte in bytes {
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\n' => self.end_line(&mut out),
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut out);
                }
                _ => {
                    self.line.push(byte);
                    self.size += 1;
                    if self.size > MAX_EVENT_BYTES {
                        return Err(EventTooLarge);
                    }
                }
            }
        }
        Ok(out)
    }

    /// Ends the stream. An event not yet followed by its blank line is discarded (WHATWG
    /// "end of the file": pending data is not dispatched); returns whether one was.
    pub fn finish(&mut self) -> bool {
        let pending = !self.line.is_empty() || self.has_data || !self.event.is_empty();
        *self = Self::default();
        pending
    }

    fn end_line(&mut self, out: &mut Vec<SseEvent>) {
        if self.line.is_empty() {
            if self.has_data || !self.event.is_empty() {
                out.push(SseEvent {
                    event: std::mem::take(&mut self.event),
                    data: std::mem::take(&mut self.data),
                    id: self.id.take(),
                });
            }
            self.id = None;
            self.has_data = false;
            self.size = 0;
            return;
        }
        let line = String::from_utf8_lossy(&self.line).into_owned();
        self.line.clear();
        if line.starts_with(':') {
            return;
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_str(), ""),
        };
        match field {
            "event" => self.event = value.to_string(),
            "id" => self.id = Some(value.to_string()),
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_chunks(input: &[u8], chunk: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::new();
        let mut events = Vec::new();
        for piece in input.chunks(chunk) {
            events.extend(decoder.push(piece).unwrap());
        }
        decoder.finish();
        events
    }

    #[test]
    fn an_event_cut_before_its_blank_line_is_discarded() {
        for tail in [
            &b"data: {\"partial\": tr"[..],
            b"data: whole line\n",
            b"event: x\ndata: y\r\n",
            b"data: y\r",
        ] {
            let mut decoder = SseDecoder::new();
            let mut input = b"data: first\n\n".to_vec();
            input.extend_from_slice(tail);
            let events = decoder.push(&input).unwrap();
            assert_eq!(events.len(), 1, "{:?}", String::from_utf8_lossy(tail));
            assert_eq!(events[0].data, "first");
            assert!(decoder.finish(), "the cut event counts as pending");
            assert!(!decoder.finish(), "finish resets the decoder");
        }
        let mut decoder = SseDecoder::new();
        assert_eq!(decoder.push(b"data: a\n\n").unwrap().len(), 1);
        assert!(!decoder.finish(), "nothing pending after a complete event");
    }

    #[test]
    fn decodes_events_whatever_the_chunking_and_line_ends() {
        let input = b"event: message_start\nid: 7\ndata: {\"a\":1}\n\n: keep-alive\n\ndata: line1\r\ndata: line2\r\n\r\nevent: end\rdata: x\r\rdata: tail\n\n";
        let expected = vec![
            SseEvent {
                event: "message_start".into(),
                data: "{\"a\":1}".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event: "".into(),
                data: "line1\nline2".into(),
                id: None,
            },
            SseEvent {
                event: "end".into(),
                data: "x".into(),
                id: None,
            },
            SseEvent {
                event: "".into(),
                data: "tail".into(),
                id: None,
            },
        ];
        for chunk in 1..=input.len() {
            assert_eq!(
                decode_in_chunks(input, chunk),
                expected,
                "chunk size {chunk}"
            );
        }
    }

    #[test]
    fn refuses_an_unbounded_event() {
        let mut decoder = SseDecoder::new();
        let big = vec![b'a'; MAX_EVENT_BYTES + 1];
        assert_eq!(decoder.push(&big), Err(EventTooLarge));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// A line end of any of the three kinds SSE allows.
        fn line_end() -> impl Strategy<Value = &'static str> {
            prop_oneof![Just("\n"), Just("\r\n"), Just("\r")]
        }

        /// `bytes` cut into chunks at the given places, anywhere (inside a character too).
        fn split_bytes<'a>(bytes: &'a [u8], cuts: &[prop::sample::Index]) -> Vec<&'a [u8]> {
            let mut at: Vec<usize> = cuts.iter().map(|cut| cut.index(bytes.len() + 1)).collect();
            at.push(0);
            at.push(bytes.len());
            at.sort_unstable();
            at.dedup();
            at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
        }

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
                    prop_assert!(decoder.line.len() <= MAX_EVENT_BYTES);
                    prop_assert!(decoder.data.len() <= MAX_EVENT_BYTES);
                    prop_assert!(decoder.event.len() + decoder.id.as_ref().map_or(0, String::len) <= MAX_EVENT_BYTES);
                }
                prop_assert!(refused, "{} bytes in {} lines were accepted", bytes.len(), lines);
                prop_assert!(decoder.line.len() <= MAX_EVENT_BYTES + 1);
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
}
