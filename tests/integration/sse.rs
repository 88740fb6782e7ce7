//! A reader of a run's live event stream (`GET /v1/runs/{id}/events`), event by event.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::TestApp;

/// A Server-Sent Events reader over a live HTTP response.
pub struct SseReader {
    response: reqwest::Response,
    decoder: longrun_activities::models::sse::SseDecoder,
    ready: std::collections::VecDeque<longrun_activities::models::sse::SseEvent>,
}

impl SseReader {
    /// Opens `GET /v1/runs/{id}/events`, optionally resuming after `last_event_id`.
    pub async fn open(app: &TestApp, key: &str, run_id: &str, last_event_id: Option<i64>) -> Self {
        let mut request = app
            .http
            .get(format!("{}/v1/runs/{run_id}/events", app.base))
            .bearer_auth(key);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"].to_str().unwrap(),
            "text/event-stream"
        );
        Self {
            response,
            decoder: Default::default(),
            ready: Default::default(),
        }
    }

    /// The next event, or `None` when the server ended the stream.
    pub async fn next(
        &mut self,
        timeout: Duration,
    ) -> Option<longrun_activities::models::sse::SseEvent> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let chunk = tokio::time::timeout(timeout, self.response.chunk())
                .await
                .expect("no event in time")
                .unwrap()?;
            self.ready.extend(self.decoder.push(&chunk).unwrap());
        }
    }
}
