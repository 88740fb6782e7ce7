//! Rate limiting: GCRA (a token bucket without a refill timer) per key, with a burst of the
//! per-minute figure. Backed by Redis (one atomic Lua script, so every API instance shares
//! one limit) when configured; in-process otherwise. If Redis fails, decisions fall back to
//! the in-process limiter of each instance (per-instance limits, never an error) and readiness
//! says Redis is down; the next successful call goes back to Redis.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::{Duration, Instant};

use deadpool_redis::redis;

/// One minute, in microseconds: the unit of the limits.
const WINDOW_US: i64 = 60_000_000;
/// After a Redis failure, decisions stay local this long before Redis is tried again, so a
/// dead Redis does not add its timeout to every request.
const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// Longest a Redis call may take before the decision goes local.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

/// The outcome of one check, with what the `RateLimit-*` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the bucket is full again.
    pub reset_s: u64,
    /// Seconds to wait before a refused request would be allowed.
    pub retry_after_s: u64,
}

/// GCRA over microsecond times: returns the decision and the new theoretical arrival time
/// to store (when allowed).
fn gcra(stored_tat: Option<i64>, now: i64, per_minute: u64) -> (Decision, Option<i64>) {
    let per_minute = per_minute.max(1) as i64;
    let period = WINDOW_US / per_minute;
    let tolerance = period * per_minute;
    let tat = stored_tat.unwrap_or(now).max(now);
    let new_tat = tat + period;
    let allow_at = new_tat - tolerance;
    if now < allow_at {
        let decision = Decision {
            allowed: false,
            limit: per_minute as u64,
            remaining: 0,
            reset_s: ceil_s(tat - now),
            retry_after_s: ceil_s(allow_at - now).max(1),
        };
        return (decision, None);
    }
    let decision = Decision {
        allowed: true,
        limit: per_minute as u64,
        remaining: ((tolerance - (new_tat - now)) / period).max(0) as u64,
        reset_s: ceil_s(new_tat - now),
        retry_after_s: 0,
    };
    (decision, Some(new_tat))
}

fn ceil_s(us: i64) -> u64 {
    (us.max(0) as u64).div_ceil(1_000_000)
}

const SCRIPT: &str = r#"
local period = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + period
local allow_at = new_tat - tolerance
if now < allow_at then
  return {0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.floor((new_tat - now) / 1000) + 1)
return {1, tolerance - (new_tat - now), new_tat - now}
"#;

pub struct RateLimiter {
    local: Mutex<HashMap<String, i64>>,
    redis: Option<(deadpool_redis::Pool, redis::Script)>,
    /// Whether the last Redis call failed.
    degraded: AtomicBool,
    /// When Redis may be tried again (ms since `epoch`), after a failure.
    retry_redis_at_ms: AtomicI64,
    epoch: Instant,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("redis", &self.redis.is_some())
            .field("degraded", &self.degraded())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid Redis URL: {0}")]
pub struct RedisUrlError(String);

impl RateLimiter {
    pub fn in_process() -> Self {
        Self {
            local: Mutex::new(HashMap::new()),
            redis: None,
            degraded: AtomicBool::new(false),
            retry_redis_at_ms: AtomicI64::new(0),
            epoch: Instant::now(),
        }
    }

    /// A limiter shared through Redis. The pool connects lazily: a Redis that is down at start
    /// only degrades decisions to local ones.
    pub fn redis(url: &str) -> Result<Self, RedisUrlError> {
        let mut config = deadpool_redis::Config::from_url(url);
        config.pool = Some(deadpool_redis::PoolConfig {
            max_size: 16,
            timeouts: deadpool_redis::Timeouts {
                wait: Some(REDIS_TIMEOUT),
                create: Some(REDIS_TIMEOUT),
                recycle: Some(REDIS_TIMEOUT),
            },
            ..Default::default()
        });
        let pool = config
            .create_pool(Some(deadpool_redis::Runtime::Tokio1))
            .map_err(|e| RedisUrlError(e.to_string()))?;
        Ok(Self {
            redis: Some((pool, redis::Script::new(SCRIPT))),
            ..Self::in_process()
        })
    }

    pub fn uses_redis(&self) -> bool {
        self.redis.is_some()
    }

    /// Whether decisions are local because Redis failed.
    pub fn degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// One request under `key`, against `per_minute`.
    pub async fn check(&self, key: &str, per_minute: u64) -> Decision {
        if let Some((pool, script)) = &self.redis {
            let now_ms = self.epoch.elapsed().as_millis() as i64;
            if now_ms >= self.retry_redis_at_ms.load(Ordering::Relaxed) {
                match tokio::time::timeout(
                    REDIS_TIMEOUT,
                    redis_check(pool, script, key, per_minute),
                )
                .await
                {
                    Ok(Ok(decision)) => {
                        self.degraded.store(false, Ordering::Relaxed);
                        return decision;
                    }
                    outcome => {
                        if !self.degraded.swap(true, Ordering::Relaxed) {
                            let reason = match outcome {
                                Ok(Err(err)) => err.to_string(),
                                _ => "timed out".to_string(),
                            };
                            tracing::warn!(%reason, "Redis is unavailable: rate limits are per instance until it is back");
                        }
                        self.retry_redis_at_ms
                            .store(now_ms + REDIS_BACKOFF.as_millis() as i64, Ordering::Relaxed);
                    }
                }
            }
        }
        self.check_local(key, per_minute)
    }

    fn check_local(&self, key: &str, per_minute: u64) -> Decision {
        let now = self.epoch.elapsed().as_micros() as i64;
        let mut buckets = self.local.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Buckets whose arrival time passed are full again: forgetting them changes nothing.
            buckets.retain(|_, tat| *tat > now);
        }
        let (decision, new_tat) = gcra(buckets.get(key).copied(), now, per_minute);
        if let Some(tat) = new_tat {
            buckets.insert(key.to_string(), tat);
        }
        decision
    }

    /// For readiness: whether Redis answers (`None` when not configured).
    /// Whether limits are shared through Redis (else they are per instance by design).
    pub fn shares_limits(&self) -> bool {
        self.redis.is_some()
    }

    pub async fn ping(&self) -> Option<Result<(), String>> {
        let (pool, _) = self.redis.as_ref()?;
        let outcome = tokio::time::timeout(Duration::from_secs(1), async {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("PING")
                .query_async::<String>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        Some(match outcome {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(err)) => Err(err),
            Err(_) => Err("timed out".into()),
        })
    }
}

async fn redis_check(
    pool: &deadpool_redis::Pool,
    script: &redis::Script,
    key: &str,
    per_minute: u64,
) -> Result<Decision, String> {
    let per_minute = per_minute.max(1) as i64;
    let period = WINDOW_US / per_minute;
    let tolerance = period * per_minute;
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let (allowed, a, b): (i64, i64, i64) = script
        .key(format!("longrun:rl:{key}"))
        .arg(period)
        .arg(tolerance)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(if allowed == 1 {
        Decision {
            allowed: true,
            limit: per_minute as u64,
            remaining: (a.max(0) / period) as u64,
            reset_s: ceil_s(b),
            retry_after_s: 0,
        }
    } else {
        Decision {
            allowed: false,
            limit: per_minute as u64,
            remaining: 0,
            reset_s: ceil_s(b),
            retry_after_s: ceil_s(a).max(1),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_of_the_limit_passes_then_requests_pace_out() {
        let mut tat = None;
        let start = 1_000_000_000;
        for n in 0..10 {
            let (decision, new_tat) = gcra(tat, start, 10);
            assert!(decision.allowed, "request {n}");
            assert_eq!(decision.remaining, 9 - n);
            tat = new_tat;
        }
        let (refused, none) = gcra(tat, start, 10);
        assert!(!refused.allowed);
        assert!(none.is_none());
        assert_eq!(refused.retry_after_s, 6, "one request every 6 s at 10/min");
        assert_eq!(refused.reset_s, 60);
        // Six seconds later one more fits, and only one.
        let later = start + 6_000_000;
        let (allowed, new_tat) = gcra(tat, later, 10);
        assert!(allowed.allowed);
        let (refused, _) = gcra(new_tat, later, 10);
        assert!(!refused.allowed);
    }

    #[tokio::test]
    async fn in_process_limits_are_per_key() {
        let limiter = RateLimiter::in_process();
        for _ in 0..3 {
            assert!(limiter.check("a", 3).await.allowed);
        }
        assert!(!limiter.check("a", 3).await.allowed);
        assert!(limiter.check("b", 3).await.allowed);
        assert!(limiter.ping().await.is_none());
    }

    #[tokio::test]
    async fn an_unreachable_redis_degrades_to_local_decisions() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let limiter = RateLimiter::redis(&format!("redis://127.0.0.1:{port}")).unwrap();
        let decision = limiter.check("k", 2).await;
        assert!(decision.allowed);
        assert!(limiter.degraded());
        assert!(limiter.check("k", 2).await.allowed);
        assert!(
            !limiter.check("k", 2).await.allowed,
            "the local limit still holds"
        );
        assert!(matches!(limiter.ping().await, Some(Err(_))));
    }
}
