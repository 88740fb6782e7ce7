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

mod counters;
pub use counters::backoff_delay;

/// One minute, in microseconds: the unit of the limits.
const WINDOW_US: i64 = 60_000_000;
/// After a Redis failure, decisions stay local this long before Redis is tried again, so a
/// dead Redis does not add its timeout to every request.
const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// Longest a Redis call may take before the decision goes local. Generous: on a host short
/// of CPU a healthy Redis answers late, and every fallback lets an instance decide alone for
/// [`REDIS_BACKOFF`]; a Redis that is down refuses connections at once instead.
const REDIS_TIMEOUT: Duration = Duration::from_secs(1);

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
    let (period, tolerance) = period_and_tolerance(per_minute);
    let per_minute = per_minute.max(1) as i64;
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

/// GCRA's emission interval and burst tolerance, in microseconds, for `per_minute`: a burst
/// of `per_minute`, then one request per interval, so no minute admits more than twice the
/// limit. The interval is rounded up: rounded down, a limit that does not divide a minute
/// would refill faster than `per_minute` a minute (by up to a sixth near a million a minute).
fn period_and_tolerance(per_minute: u64) -> (i64, i64) {
    let per_minute = per_minute.clamp(1, WINDOW_US as u64);
    let period = (WINDOW_US as u64).div_ceil(per_minute) as i64;
    (period, period * per_minute as i64)
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
    /// Local fixed-window counts and failure backoffs (see `counters`).
    counts: Mutex<HashMap<String, counters::LocalCount>>,
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
            counts: Mutex::new(HashMap::new()),
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
        let shared = self
            .redis_call(
                |pool, script| async move { redis_check(&pool, &script, key, per_minute).await },
            )
            .await;
        if let Some((decision, tat_in_us)) = shared {
            self.follow_shared(key, tat_in_us);
            return decision;
        }
        self.check_local(key, per_minute)
    }

    /// Runs `call` against Redis when it is configured and not backing off after a failure;
    /// `None` when the caller must decide locally. A failure (or a call slower than
    /// [`REDIS_TIMEOUT`]) marks the limiter degraded and keeps Redis out for [`REDIS_BACKOFF`].
    async fn redis_call<T, F, Fut>(&self, call: F) -> Option<T>
    where
        F: FnOnce(deadpool_redis::Pool, redis::Script) -> Fut,
        Fut: std::future::Future<Output = Result<T, String>>,
    {
        let (pool, script) = self.redis.as_ref()?;
        let now_ms = self.epoch.elapsed().as_millis() as i64;
        if now_ms < self.retry_redis_at_ms.load(Ordering::Relaxed) {
            return None;
        }
        match tokio::time::timeout(REDIS_TIMEOUT, call(pool.clone(), script.clone())).await {
            Ok(Ok(value)) => {
                self.degraded.store(false, Ordering::Relaxed);
                Some(value)
            }
            outcome => {
                if !self.degraded.swap(true, Ordering::Relaxed) {
                    let reason = match outcome {
                        Ok(Err(err)) => err,
                        _ => "timed out".to_string(),
                    };
                    tracing::warn!(%reason, "Redis is unavailable: rate limits are per instance until it is back");
                }
                self.retry_redis_at_ms
                    .store(now_ms + REDIS_BACKOFF.as_millis() as i64, Ordering::Relaxed);
                None
            }
        }
    }

    /// Mirrors the shared bucket locally after each Redis decision, so that if Redis stalls
    /// (a slow call on an overloaded host is enough) this instance goes on from what every
    /// instance had used, instead of from a full bucket of its own: a fallback then lets
    /// through at most what refills meanwhile, not a whole extra burst.
    fn follow_shared(&self, key: &str, tat_in_us: i64) {
        let now = self.epoch.elapsed().as_micros() as i64;
        let mut buckets = self.local.lock().unwrap_or_else(|e| e.into_inner());
        buckets.insert(key.to_string(), now + tat_in_us.max(0));
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
) -> Result<(Decision, i64), String> {
    let (period, tolerance) = period_and_tolerance(per_minute);
    let per_minute = per_minute.max(1) as i64;
    let mut conn = pool.get().await.map_err(|e| e.to_string())?;
    let (allowed, a, b): (i64, i64, i64) = script
        .key(format!("longrun:rl:{key}"))
        .arg(period)
        .arg(tolerance)
        .invoke_async(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    // `b` is how far the bucket's arrival time lies ahead of Redis's clock, either way.
    let decision = if allowed == 1 {
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
    };
    Ok((decision, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Redis of `LONGRUN_TEST_REDIS_URL`. Tests that need one have `redis` in their name:
    /// `scripts/test` leaves them out of the run (reported as skipped) when it is unset.
    pub(super) fn test_redis_url() -> String {
        std::env::var("LONGRUN_TEST_REDIS_URL").expect(
            "LONGRUN_TEST_REDIS_URL is unset: run the suite with scripts/test, which leaves the \
             Redis tests out, or set it",
        )
    }

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

    // A stalled Redis must not hand an instance a fresh burst: its local bucket follows the
    // shared one, so falling back refuses what the shared limit would refuse.
    #[tokio::test]
    async fn a_fallback_goes_on_from_the_shared_bucket_in_redis() {
        let url = test_redis_url();
        let limiter = RateLimiter::redis(&url).unwrap();
        let other = RateLimiter::redis(&url).unwrap();
        let key = format!("fallback-{}", longrun_store::new_run_id());
        // Another instance spends most of the burst; this one spends the rest.
        for _ in 0..4 {
            assert!(other.check(&key, 5).await.allowed);
        }
        assert!(limiter.check(&key, 5).await.allowed);
        assert!(!limiter.degraded());
        assert!(
            !limiter.check_local(&key, 5).allowed,
            "the local bucket knows the shared one is empty"
        );
    }

    #[test]
    fn a_limit_that_does_not_divide_a_minute_is_not_exceeded() {
        // Found by `saturating_clients_get_at_most_the_limit_and_burst_per_minute`: with the
        // interval rounded down (1977 µs instead of 1977.98), a minute admitted 60,682.
        let per_minute = 30_334;
        let mut tat = None;
        let mut admitted = 0;
        for now in (0..=WINDOW_US).step_by(100) {
            let (decision, new_tat) = gcra(tat, now, per_minute);
            if decision.allowed {
                tat = new_tat;
                admitted += 1;
            }
        }
        assert!(admitted <= 2 * per_minute, "{admitted} in a minute");
        assert!(admitted >= 2 * per_minute - 1, "{admitted} in a minute");
    }

    #[test]
    fn limits_beyond_one_a_microsecond_do_not_divide_by_zero() {
        for per_minute in [WINDOW_US as u64, WINDOW_US as u64 + 1, u64::MAX] {
            let (first, tat) = gcra(None, 0, per_minute);
            assert!(first.allowed);
            assert_eq!(first.limit, per_minute);
            assert!(gcra(tat, 0, per_minute).0.allowed);
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Offers requests at `times` (µs, ascending); returns the times admitted.
        fn admitted(times: impl IntoIterator<Item = i64>, per_minute: u64) -> Vec<i64> {
            let mut tat = None;
            let mut admitted = Vec::new();
            for now in times {
                let (decision, new_tat) = gcra(tat, now, per_minute);
                assert_eq!(decision.allowed, new_tat.is_some());
                if let Some(new_tat) = new_tat {
                    tat = Some(new_tat);
                    admitted.push(now);
                }
            }
            admitted
        }

        /// Most requests a window of `length` µs may admit: a full burst of `per_minute`, and
        /// what refills at `per_minute` a minute over the window.
        fn bound(per_minute: u64, length: i64) -> u128 {
            let refill = u128::from(per_minute) * length as u128 / WINDOW_US as u128;
            u128::from(per_minute) + refill
        }

        /// Checks every window of one minute (two pointers: linear in the admissions).
        fn check_minutes(admitted: &[i64], per_minute: u64) -> Result<(), TestCaseError> {
            let mut first = 0;
            for (last, &t) in admitted.iter().enumerate() {
                while t - admitted[first] > WINDOW_US {
                    first += 1;
                }
                let count = (last - first + 1) as u128;
                prop_assert!(
                    count <= bound(per_minute, WINDOW_US),
                    "{} admitted within a minute from {} at {}/min",
                    count,
                    admitted[first],
                    per_minute
                );
            }
            Ok(())
        }

        /// Request times: bursts, paced runs and pauses, from `start`.
        fn times(per_minute: u64) -> impl Strategy<Value = Vec<i64>> {
            let period = WINDOW_US / per_minute as i64;
            let gap = prop_oneof![
                3 => Just(0i64),
                3 => 0..=period,
                2 => 0..=2 * period,
                1 => 0..=3 * WINDOW_US,
            ];
            (0i64..1_000_000_000_000, prop::collection::vec(gap, 1..300)).prop_map(
                |(start, gaps)| {
                    gaps.iter()
                        .scan(start, |now, gap| {
                            *now += gap;
                            Some(*now)
                        })
                        .collect()
                },
            )
        }

        /// A limit in the range a tier or an override may set, spread over its magnitudes.
        fn any_limit() -> impl Strategy<Value = u64> {
            prop_oneof![
                1u64..=20,
                20u64..=1_000,
                1_000u64..=100_000,
                100_000u64..=1_000_000
            ]
        }

        proptest! {
            // Hundreds of requests, checked pairwise, per case.
            #![proptest_config(ProptestConfig::with_cases(64))]

            #[test]
            fn no_window_admits_more_than_the_burst_and_the_refill(
                (per_minute, times) in (1u64..=30).prop_flat_map(|n| (Just(n), times(n))),
            ) {
                let admitted = admitted(times, per_minute);
                for (i, &from) in admitted.iter().enumerate() {
                    for (j, &to) in admitted.iter().enumerate().skip(i) {
                        prop_assert!(
                            (j - i + 1) as u128 <= bound(per_minute, to - from),
                            "{} admitted in {} µs at {}/min", j - i + 1, to - from, per_minute
                        );
                    }
                }
                check_minutes(&admitted, per_minute)?;
            }

            #[test]
            fn the_headers_tell_the_truth(
                (per_minute, times) in (1u64..=30).prop_flat_map(|n| (Just(n), times(n))),
            ) {
                let mut tat = None;
                for now in times {
                    let (decision, new_tat) = gcra(tat, now, per_minute);
                    prop_assert_eq!(decision.limit, per_minute);
                    if decision.allowed {
                        tat = new_tat;
                        // `remaining` more pass right now, and not one more.
                        let mut probe = tat;
                        for _ in 0..decision.remaining {
                            let (next, next_tat) = gcra(probe, now, per_minute);
                            prop_assert!(next.allowed);
                            probe = next_tat;
                        }
                        prop_assert!(!gcra(probe, now, per_minute).0.allowed);
                    } else {
                        prop_assert_eq!(decision.remaining, 0);
                        prop_assert!(decision.retry_after_s >= 1);
                        let retry_at = now + decision.retry_after_s as i64 * 1_000_000;
                        prop_assert!(gcra(tat, retry_at, per_minute).0.allowed);
                    }
                    // After `reset_s` of silence the whole burst is there again.
                    let full_at = now + decision.reset_s as i64 * 1_000_000;
                    let (first, _) = gcra(tat, full_at, per_minute);
                    prop_assert_eq!(first.remaining, per_minute - 1);
                }
            }
        }

        proptest! {
            // Up to millions of requests per case.
            #![proptest_config(ProptestConfig::with_cases(32))]

            #[test]
            fn saturating_clients_get_at_most_the_limit_and_burst_per_minute(
                per_minute in any_limit(),
                seed in any::<u64>(),
            ) {
                // Requests at least once per emission interval, for a minute and a half:
                // every slot the limiter opens is taken.
                let mut state = seed | 1;
                let mut now = 0i64;
                let widest = (WINDOW_US / per_minute as i64).max(1);
                let times = std::iter::from_fn(|| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    now += (state % widest as u64) as i64;
                    (now <= WINDOW_US * 3 / 2).then_some(now)
                });
                check_minutes(&admitted(times, per_minute), per_minute)?;
            }
        }
    }
}
