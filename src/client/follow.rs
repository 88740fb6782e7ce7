//! `longrun runs follow`: a run's events as they happen, model text as it streams. A dropped
//! connection is resumed with `Last-Event-ID` (events already shown are not shown again),
//! with a growing pause between attempts; the command ends with the run, its exit code saying
//! how the run ended. Ctrl-C is handled by the caller: it stops following, never the run.

use std::io::Write;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use longrun_domain::RunStatus;
use longrun_domain::sse::{SseDecoder, SseEvent};

use super::api::{Api, ClientError, api_error, exit};

/// Consecutive failed connection attempts before giving up.
const MAX_ATTEMPTS: u32 = 10;
/// The server sends a keep-alive comment every 15 s: this long without a byte is a dead
/// connection.
const SILENCE: Duration = Duration::from_secs(45);

/// What a follower prints and remembers.
struct Printer {
    json: bool,
    run_id: String,
    /// Model text was streamed since the last newline.
    mid_line: bool,
}

/// The exit code of a run that ended with `status`.
pub(crate) fn exit_code_of(status: &str) -> u8 {
    match RunStatus::parse(status) {
        Some(RunStatus::Succeeded) => exit::OK,
        Some(RunStatus::Cancelled) => exit::RUN_CANCELLED,
        Some(RunStatus::BudgetExhausted) => exit::RUN_BUDGET_EXHAUSTED,
        Some(RunStatus::TimedOut) => exit::RUN_TIMED_OUT,
        _ => exit::RUN_FAILED,
    }
}

/// Follows the run to its end; returns the exit code its final status maps to.
pub(crate) async fn follow(api: &Api, run_id: &str, json: bool) -> Result<u8, ClientError> {
    let mut printer = Printer {
        json,
        run_id: run_id.to_string(),
        mid_line: false,
    };
    let mut last_id: Option<u64> = None;
    let mut failures = 0u32;
    loop {
        match stream_once(api, run_id, &mut last_id, &mut printer).await? {
            Some(code) => return Ok(code),
            None => {
                // The stream broke before the run's end: resume after the last event seen.
                failures += 1;
                if failures > MAX_ATTEMPTS {
                    return Err(ClientError::Transport {
                        url: api.base.clone(),
                        detail: format!("the event stream broke {MAX_ATTEMPTS} times in a row"),
                    });
                }
                printer.end_line();
                if !json {
                    eprintln!(
                        "(connection lost; resuming after event {})",
                        last_id.map_or("0".into(), |id| id.to_string())
                    );
                }
                let pause = Duration::from_millis(200 * 2u64.pow(failures.min(5)));
                tokio::time::sleep(pause).await;
            }
        }
    }
}

/// One connection: `Ok(Some(code))` when the run ended, `Ok(None)` when the connection broke
/// first (resume), an error when the API refuses.
async fn stream_once(
    api: &Api,
    run_id: &str,
    last_id: &mut Option<u64>,
    printer: &mut Printer,
) -> Result<Option<u8>, ClientError> {
    let mut request = api
        .request(Method::GET, &format!("/v1/runs/{run_id}/events"))
        .header("accept", "text/event-stream");
    if let Some(id) = last_id {
        request = request.header("last-event-id", id.to_string());
    }
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(_) => return Ok(None),
    };
    let status = response.status();
    if status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error() {
        let wait = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
            .unwrap_or(1)
            .min(30);
        tokio::time::sleep(Duration::from_secs(wait)).await;
        return Ok(None);
    }
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(api_error(status, &text));
    }
    let mut decoder = SseDecoder::new();
    loop {
        let chunk = match tokio::time::timeout(SILENCE, response.chunk()).await {
            Ok(Ok(Some(chunk))) => chunk,
            // Ended, broke, or fell silent: resume.
            Ok(Ok(None)) | Ok(Err(_)) | Err(_) => return Ok(None),
        };
        let events = decoder.push(&chunk).map_err(|e| ClientError::Transport {
            url: api.base.clone(),
            detail: e.to_string(),
        })?;
        for event in events {
            if let Some(id) = event.id.as_deref().and_then(|id| id.parse::<u64>().ok()) {
                if last_id.is_some_and(|last| id <= last) {
                    continue;
                }
                *last_id = Some(id);
            }
            if let Some(code) = printer.show(&event) {
                return Ok(Some(code));
            }
        }
    }
}

impl Printer {
    fn end_line(&mut self) {
        if self.mid_line {
            println!();
            self.mid_line = false;
        }
    }

    /// Prints one event; returns the exit code once the run has ended.
    fn show(&mut self, event: &SseEvent) -> Option<u8> {
        let data: Value = serde_json::from_str(&event.data).unwrap_or(Value::Null);
        let ended = (event.event == "run.completed")
            .then(|| exit_code_of(data["status"].as_str().unwrap_or_default()));
        if self.json {
            let line = json!({"id": event.id, "event": event.event, "data": data});
            println!("{line}");
            return ended;
        }
        let run = self.run_id.clone();
        match event.event.as_str() {
            "llm.delta" => {
                print!("{}", data["text"].as_str().unwrap_or_default());
                let _ = std::io::stdout().flush();
                self.mid_line = true;
            }
            "llm.completed" => {
                if !self.mid_line {
                    let text = text_of(&data["content"]);
                    if !text.is_empty() {
                        println!("{text}");
                    }
                }
                self.end_line();
            }
            "tool.started" => {
                self.end_line();
                println!(
                    "→ {} {}",
                    data["tool"].as_str().unwrap_or("?"),
                    data["input"]
                );
            }
            "tool.completed" => {
                let mark = if data["is_error"] == true {
                    "✗"
                } else {
                    "←"
                };
                println!(
                    "{mark} {}",
                    excerpt(data["content"].as_str().unwrap_or_default())
                );
            }
            "approval.requested" => {
                self.end_line();
                let call = data["tool_call_id"].as_str().unwrap_or("?");
                println!(
                    "⏸ waiting for approval: {} {}\n  longrun runs approve {run} {call} [--deny]",
                    data["tool"].as_str().unwrap_or("?"),
                    data["input"]
                );
            }
            "input.requested" => {
                self.end_line();
                println!(
                    "⏸ waiting for input: {}\n  longrun runs message {run} \"…\"",
                    data["question"].as_str().unwrap_or_default()
                );
            }
            "run.completed" => {
                self.end_line();
                let status = data["status"].as_str().unwrap_or("?");
                match data["result"].as_str() {
                    Some(result) => println!("● {status}: {result}"),
                    None => println!(
                        "● {status}: {}",
                        data["error"]["message"].as_str().unwrap_or_default()
                    ),
                }
            }
            "run.started" | "approval.decided" | "input.received" => {}
            other => {
                self.end_line();
                println!("· {other} {data}");
            }
        }
        ended
    }
}

/// The text blocks of a message's content.
fn text_of(content: &Value) -> String {
    content
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|block| block["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

fn excerpt(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > 120 || text.lines().count() > 1 {
        format!("{}…", line.chars().take(120).collect::<String>())
    } else {
        line.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_final_status_has_its_own_exit_code() {
        let codes: Vec<u8> = [
            "succeeded",
            "failed",
            "cancelled",
            "budget_exhausted",
            "timed_out",
        ]
        .iter()
        .map(|s| exit_code_of(s))
        .collect();
        assert_eq!(codes, [0, 3, 4, 5, 6]);
    }
}
