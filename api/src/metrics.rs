//! The API's Prometheus metrics, named and described once. Labels are the route template,
//! never a raw path or a tenant id, so cardinality stays bounded.

use prometheus::core::Collector;
use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry};

pub const HTTP_REQUESTS_TOTAL: &str = "longrun_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "longrun_http_request_duration_seconds";
pub const RATE_LIMIT_DECISIONS_TOTAL: &str = "longrun_rate_limit_decisions_total";
pub const ADMISSIONS_REFUSED_TOTAL: &str = "longrun_admissions_refused_total";
pub const HTTP_CONNECTIONS_OPEN: &str = "longrun_http_connections_open";
pub const HTTP_CONNECTIONS_REFUSED_TOTAL: &str = "longrun_http_connections_refused_total";

#[derive(Clone)]
pub struct ApiMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) rate_limit: IntCounterVec,
    pub(crate) admissions_refused: IntCounterVec,
    pub(crate) connections_open: IntGauge,
    pub(crate) connections_refused: IntCounterVec,
}

impl ApiMetrics {
    /// Creates the API's metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let by_request = &["method", "route", "status"];
        Ok(Self {
            requests: counter_vec(
                registry,
                HTTP_REQUESTS_TOTAL,
                "HTTP requests served, by method, route and status.",
                by_request,
            )?,
            duration: registered(
                registry,
                HistogramVec::new(
                    HistogramOpts::new(
                        HTTP_REQUEST_DURATION_SECONDS,
                        "HTTP request latency in seconds, by method, route and status.",
                    )
                    .buckets(vec![
                        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                        10.0,
                    ]),
                    by_request,
                )?,
            )?,
            rate_limit: counter_vec(
                registry,
                RATE_LIMIT_DECISIONS_TOTAL,
                "Rate-limit decisions, by tier and decision.",
                &["tier", "decision"],
            )?,
            admissions_refused: counter_vec(
                registry,
                ADMISSIONS_REFUSED_TOTAL,
                "Run submissions refused at admission, by reason and tier.",
                &["reason", "tier"],
            )?,
            connections_open: gauge(
                registry,
                HTTP_CONNECTIONS_OPEN,
                "HTTP connections open now (each holds a place under the connection caps).",
            )?,
            connections_refused: counter_vec(
                registry,
                HTTP_CONNECTIONS_REFUSED_TOTAL,
                "HTTP connections refused at accept, by the cap they were over (total, per_ip).",
                &["cap"],
            )?,
        })
    }
}

/// `metric`, registered in `registry`.
pub(crate) fn registered<M>(registry: &Registry, metric: M) -> Result<M, prometheus::Error>
where
    M: Collector + Clone + 'static,
{
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

/// A counter by `labels`, registered in `registry`.
pub(crate) fn counter_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
) -> Result<IntCounterVec, prometheus::Error> {
    registered(registry, IntCounterVec::new(Opts::new(name, help), labels)?)
}

/// A gauge, registered in `registry`.
pub(crate) fn gauge(
    registry: &Registry,
    name: &str,
    help: &str,
) -> Result<IntGauge, prometheus::Error> {
    registered(registry, IntGauge::new(name, help)?)
}
