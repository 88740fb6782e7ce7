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

    /// What the decoder holds between pushes, in bytes: the unfinished line, the event's
    /// data, and its other fields (`event`, `id`). Each stays within [`MAX_EVENT_BYTES`], the
    /// line within one byte more.
    pub fn held(&self) -> (usize, usize, usize) {
        let fields = self.event.len() + self.id.as_ref().map_or(0, String::len);
        (self.line.len(), self.data.len(), fields)
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
}
