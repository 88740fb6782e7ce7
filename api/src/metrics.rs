//! The API's Prometheus metrics, named and described once. Labels are the route template,
//! never a raw path or a tenant id, so cardinality stays bounded.

use prometheus::{HistogramOpts, HistogramVec, IntCounterVec, Opts, Registry};

pub const HTTP_REQUESTS_TOTAL: &str = "longrun_http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "longrun_http_request_duration_seconds";

#[derive(Clone)]
pub struct ApiMetrics {
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
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
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(Self { requests, duration })
    }
}
