//! Readiness: whether the dependencies a process needs answer. Every role serves the same
//! report (`/readyz` on the API, and on the metrics listener of every process) and exports it
//! as `longrun_ready{check}` so an alert fires even when nothing polls `/readyz`.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use prometheus::{IntGaugeVec, Opts, Registry};
use serde::Serialize;
use utoipa::ToSchema;

pub const READY: &str = "longrun_ready";

/// A dependency slower than this counts as down: readiness must answer quickly, and a
/// dependency that takes seconds to answer one ping is not serving requests either.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

type CheckFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

struct Check {
    name: &'static str,
    run: Box<dyn Fn() -> CheckFuture + Send + Sync>,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessReport {
    /// `ready` (200) when every check passed, else `unavailable` (503).
    pub status: ReadyStatus,
    /// Each dependency by name (`database`, `temporal`, and `redis` when limits are shared
    /// through it).
    pub checks: BTreeMap<String, CheckReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    Unavailable,
}

/// One dependency's answer. Why it failed is logged, not shown: the route is unauthenticated.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckReport {
    pub status: CheckStatus,
    /// How long the check took.
    pub latency_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    Ok,
    Unavailable,
}

/// The checks of one process.
#[derive(Clone)]
pub struct Readiness {
    checks: Arc<Vec<Check>>,
    gauge: IntGaugeVec,
    /// How long one check may take before it counts as down.
    timeout: Duration,
}

impl Readiness {
    /// Registers `longrun_ready` in `registry` (once per process: the API and the worker of
    /// `longrun dev` share one).
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let gauge = IntGaugeVec::new(
            Opts::new(
                READY,
                "1 when the dependency answered its last readiness check, 0 when not.",
            ),
            &["check"],
        )?;
        registry.register(Box::new(gauge.clone()))?;
        Ok(Self {
            checks: Arc::new(Vec::new()),
            gauge,
            timeout: CHECK_TIMEOUT,
        })
    }

    /// The same checks with another time limit each.
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self { timeout, ..self }
    }

    /// Adds a check. Call before the value is cloned.
    pub fn check<F, Fut>(mut self, name: &'static str, run: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let checks =
            Arc::get_mut(&mut self.checks).expect("checks are added before the value is shared");
        checks.push(Check {
            name,
            run: Box::new(move || Box::pin(run())),
        });
        self
    }

    /// Runs every check at once (so one slow dependency does not hide another) and returns
    /// whether all passed, with `{status, checks: {name: {status, latency_ms}}}`. Errors are
    /// logged, not shown: the route is unauthenticated.
    pub async fn report(&self) -> (bool, ReadinessReport) {
        let runs = self.checks.iter().map(|check| async move {
            let started = Instant::now();
            let outcome = match tokio::time::timeout(self.timeout, (check.run)()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no answer within {:?}", self.timeout)),
            };
            (check.name, outcome, started.elapsed())
        });
        let outcomes = futures::future::join_all(runs).await;
        let mut ready = true;
        let mut checks = BTreeMap::new();
        for (name, outcome, elapsed) in outcomes {
            let ok = outcome.is_ok();
            if let Err(err) = &outcome {
                tracing::warn!(check = name, error = %err, "readiness check failed");
            }
            ready &= ok;
            self.gauge.with_label_values(&[name]).set(i64::from(ok));
            checks.insert(
                name.to_string(),
                CheckReport {
                    status: if ok {
                        CheckStatus::Ok
                    } else {
                        CheckStatus::Unavailable
                    },
                    latency_ms: elapsed.as_millis() as u64,
                },
            );
        }
        let body = ReadinessReport {
            status: if ready {
                ReadyStatus::Ready
            } else {
                ReadyStatus::Unavailable
            },
            checks,
        };
        (ready, body)
    }

    /// The report as an HTTP answer: 200, or 503 when a check failed.
    pub async fn respond(&self) -> (StatusCode, axum::Json<ReadinessReport>) {
        let (ready, body) = self.report().await;
        let status = if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        };
        (status, axum::Json(body))
    }

    /// Re-runs the checks every `every` until `shutdown`, keeping `longrun_ready` current
    /// for Prometheus whether or not anything polls `/readyz`.
    pub async fn refresh(self, every: Duration, mut shutdown: tokio::sync::watch::Receiver<bool>) {
        loop {
            self.report().await;
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }
}

/// The API's checks: the database, Temporal, and Redis when rate limits are shared through it
/// (while it is down limits are per instance, and the instance reports not ready).
pub fn api_readiness(
    registry: &Registry,
    store: &longrun_store::Store,
    scheduler: &Arc<crate::scheduler::Scheduler>,
    limiter: &Arc<crate::ratelimit::RateLimiter>,
) -> Result<Readiness, prometheus::Error> {
    let store = store.clone();
    let scheduler = scheduler.clone();
    let mut readiness = Readiness::new(registry)?
        .check("database", move || {
            let store = store.clone();
            async move { store.ping().await.map_err(|e| e.to_string()) }
        })
        .check("temporal", move || {
            let scheduler = scheduler.clone();
            async move { scheduler.ping().await.map_err(|e| e.to_string()) }
        });
    if limiter.uses_redis() {
        let limiter = limiter.clone();
        readiness = readiness.check("redis", move || {
            let limiter = limiter.clone();
            async move { limiter.ping().await.unwrap_or(Ok(())) }
        });
    }
    Ok(readiness)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failing_or_slow_check_makes_the_report_unready_and_sets_the_gauge() {
        let registry = Registry::new();
        let readiness = Readiness::new(&registry)
            .unwrap()
            .check("fine", || async { Ok(()) })
            .check("broken", || async { Err("refused".to_string()) });
        let (ready, body) = readiness.report().await;
        assert!(!ready);
        let body = serde_json::to_value(body).unwrap();
        assert_eq!(body["status"], "unavailable");
        assert_eq!(body["checks"]["fine"]["status"], "ok");
        assert_eq!(body["checks"]["broken"]["status"], "unavailable");
        assert_eq!(readiness.gauge.with_label_values(&["fine"]).get(), 1);
        assert_eq!(readiness.gauge.with_label_values(&["broken"]).get(), 0);

        let all_fine = Readiness::new(&Registry::new())
            .unwrap()
            .check("fine", || async { Ok(()) });
        assert!(all_fine.report().await.0);
    }

    #[tokio::test]
    async fn a_check_that_never_answers_times_out() {
        let readiness = Readiness::new(&Registry::new())
            .unwrap()
            .with_timeout(Duration::from_millis(20))
            .check("stuck", std::future::pending::<Result<(), String>>);
        let (ready, body) = readiness.report().await;
        assert!(!ready);
        assert_eq!(body.checks["stuck"].status, CheckStatus::Unavailable);
    }
}
