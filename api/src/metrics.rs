//! The API's Prometheus metrics, named and described once. Labels are the route template,
//! never a raw path or a tenant id, so cardinality stays bounded.

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
        let requests = IntCounterVec::new(
            Opts::new(
                HTTP_REQUESTS_TOTAL,
                "HTTP requests served, by method, route and status.",
            ),
            &["method", "route", "status"],
        )?;
        let duration = HistogramVec::new(
            HistogramOpts::new(
                HTTP_REQUEST_DURATION_SECONDS,
                "HTTP request latency in seconds, by method, route and status.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )?;
        let rate_limit = IntCounterVec::new(
            Opts::new(
                RATE_LIMIT_DECISIONS_TOTAL,
                "Rate-limit decisions, by tier and decision.",
            ),
            &["tier", "decision"],
        )?;
        let admissions_refused = IntCounterVec::new(
            Opts::new(
                ADMISSIONS_REFUSED_TOTAL,
                "Run submissions refused at admission, by reason and tier.",
            ),
            &["reason", "tier"],
        )?;
        let connections_open = IntGauge::new(
            HTTP_CONNECTIONS_OPEN,
            "HTTP connections open now (each holds a place under the connection caps).",
        )?;
        let connections_refused = IntCounterVec::new(
            Opts::new(
                HTTP_CONNECTIONS_REFUSED_TOTAL,
                "HTTP connections refused at accept, by the cap they were over (total, per_ip).",
            ),
            &["cap"],
        )?;
        registry.register(Box::new(connections_open.clone()))?;
        registry.register(Box::new(connections_refused.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        registry.register(Box::new(rate_limit.clone()))?;
        registry.register(Box::new(admissions_refused.clone()))?;
        Ok(Self {
            requests,
            duration,
            rate_limit,
            admissions_refused,
            connections_open,
            connections_refused,
        })
    }
}
