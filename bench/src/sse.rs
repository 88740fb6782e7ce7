//! A small Server-Sent Events reader: bytes in, `(event, data)` pairs out. Enough for the two
//! streams the tool reads (longrun's run events and the fake model's answers, both with `\n`
//! line ends); not a general decoder.

#[derive(Debug, Default)]
pub struct SseReader {
    buffer: Vec<u8>,
    event: String,
    data: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub data: String,
}

impl SseReader {
    /// Feeds a chunk; returns the events it completed.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        self.buffer.extend_from_slice(chunk);
        let mut out = Vec::new();
        let mut start = 0;
        while let Some(end) = self.buffer[start..].iter().position(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(&self.buffer[start..start + end]).into_owned();
            let line = line.strip_suffix('\r').unwrap_or(&line);
            start += end + 1;
            if line.is_empty() {
                if !self.data.is_empty() || !self.event.is_empty() {
                    out.push(SseEvent {
                        event: std::mem::take(&mut self.event),
                        data: std::mem::take(&mut self.data),
                    });
                }
            } else if let Some(value) = line.strip_prefix("event:") {
                self.event = value.trim_start().to_string();
            } else if let Some(value) = line.strip_prefix("data:") {
                if !self.data.is_empty() {
                    self.data.push('\n');
                }
                self.data.push_str(value.strip_prefix(' ').unwrap_or(value));
            }
        }
        self.buffer.drain(..start);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_survive_any_chunking() {
        let input = b"event: a\ndata: {\"x\":1}\n\n: comment\n\nid: 3\nevent: b\ndata: two\r\n\r\n";
        for size in 1..input.len() {
            let mut reader = SseReader::default();
            let events: Vec<SseEvent> = input.chunks(size).flat_map(|c| reader.push(c)).collect();
            assert_eq!(
                events,
                vec![
                    SseEvent {
                        event: "a".into(),
                        data: "{\"x\":1}".into()
                    },
                    SseEvent {
                        event: "b".into(),
                        data: "two".into()
                    },
                ],
                "chunk size {size}"
            );
        }
    }
}
