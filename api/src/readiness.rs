//! Readiness: whether a process can serve. Every role serves the same report (`/readyz` on
//! the API, and on the metrics listener of every process) and exports each dependency as
//! `longrun_ready{check}` so an alert fires even when nothing polls `/readyz`.
//!
//! A dependency the process cannot serve without is *required*: down, the process is not
//! ready (503), and a load balancer takes it out of rotation. One it can do without for a
//! while is *optional*: down, the process is `degraded` (still 200) and says which. The API
//! needs its database (it cannot admit anything without it), not Temporal (admitted runs wait
//! for their start, see `dispatcher`) nor Redis (rate limits fall back to per-instance ones).

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
    required: bool,
    run: Box<dyn Fn() -> CheckFuture + Send + Sync>,
}

/// What `/readyz` answers.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReadinessReport {
    /// `ready` (200) when every check passed, `degraded` (200) when only optional ones
    /// failed (the process serves, with less: see `checks`), else `unavailable` (503).
    pub status: ReadyStatus,
    /// Each dependency by name (`database`, `temporal`, and `redis` when limits are shared
    /// through it).
    pub checks: BTreeMap<String, CheckReport>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    Ready,
    Degraded,
    Unavailable,
}

/// One dependency's answer. Why it failed is logged, not shown: the route is unauthenticated.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CheckReport {
    pub status: CheckStatus,
    /// Whether the process cannot serve without it.
    pub required: bool,
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
                "1 when the dependency answered its last readiness check, 0 when not; \
                 `required` says whether the process can serve without it.",
            ),
            &["check", "required"],
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

    /// Adds a required check. Call before the value is cloned.
    pub fn check<F, Fut>(self, name: &'static str, run: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, true, run)
    }

    /// Adds an optional check: down, the process is degraded, not unready.
    pub fn optional<F, Fut>(self, name: &'static str, run: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        self.add(name, false, run)
    }

    fn add<F, Fut>(mut self, name: &'static str, required: bool, run: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        let checks =
            Arc::get_mut(&mut self.checks).expect("checks are added before the value is shared");
        checks.push(Check {
            name,
            required,
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
            (check.name, check.required, outcome, started.elapsed())
        });
        let outcomes = futures::future::join_all(runs).await;
        let mut ready = true;
        let mut degraded = false;
        let mut checks = BTreeMap::new();
        for (name, required, outcome, elapsed) in outcomes {
            let ok = outcome.is_ok();
            if let Err(err) = &outcome {
                tracing::warn!(check = name, required, error = %err, "readiness check failed");
            }
            if required {
                ready &= ok;
            } else {
                degraded |= !ok;
            }
            let label = if required { "true" } else { "false" };
            self.gauge
                .with_label_values(&[name, label])
                .set(i64::from(ok));
            checks.insert(
                name.to_string(),
                CheckReport {
                    status: if ok {
                        CheckStatus::Ok
                    } else {
                        CheckStatus::Unavailable
                    },
                    required,
                    latency_ms: elapsed.as_millis() as u64,
                },
            );
        }
        let body = ReadinessReport {
            status: match (ready, degraded) {
                (false, _) => ReadyStatus::Unavailable,
                (true, true) => ReadyStatus::Degraded,
                (true, false) => ReadyStatus::Ready,
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

/// The API's checks: the database (required), Temporal (optional: admitted runs wait for
/// their start) and Redis when rate limits are shared through it (optional: while it is down
/// limits are per instance).
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
        .optional("temporal", move || {
            let scheduler = scheduler.clone();
            async move { scheduler.ping().await.map_err(|e| e.to_string()) }
        });
    if limiter.uses_redis() {
        let limiter = limiter.clone();
        readiness = readiness.optional("redis", move || {
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
        assert_eq!(
            readiness.gauge.with_label_values(&["fine", "true"]).get(),
            1
        );
        assert_eq!(
            readiness.gauge.with_label_values(&["broken", "true"]).get(),
            0
        );

        let all_fine = Readiness::new(&Registry::new())
            .unwrap()
            .check("fine", || async { Ok(()) });
        assert!(all_fine.report().await.0);
    }

    #[tokio::test]
    async fn an_optional_dependency_down_degrades_without_unreadying() {
        let readiness = Readiness::new(&Registry::new())
            .unwrap()
            .check("database", || async { Ok(()) })
            .optional("redis", || async { Err("refused".to_string()) });
        let (ready, body) = readiness.report().await;
        assert!(
            ready,
            "an optional dependency does not take the process out"
        );
        assert_eq!(body.status, ReadyStatus::Degraded);
        assert_eq!(body.checks["redis"].status, CheckStatus::Unavailable);
        assert!(!body.checks["redis"].required);
        assert_eq!(
            readiness.gauge.with_label_values(&["redis", "false"]).get(),
            0
        );
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
