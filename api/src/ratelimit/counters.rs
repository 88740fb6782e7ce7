//! Counters beside the request limits, shared through Redis like them (and local when Redis
//! is down):
//! - a fixed-window count, for caps like "sign-ups from one address a day";
//! - a failure backoff, for login: after a few failures for one key (an email from one client
//!   address), each further attempt must wait longer, doubling up to a ceiling. Keyed on the
//!   email *and* the address, a guesser slows only themselves: the owner, from their own
//!   address, is never locked out.

use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

use deadpool_redis::redis;

use super::RateLimiter;

/// Failures allowed before any wait.
const FREE_FAILURES: u32 = 5;
/// The longest wait between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(15 * 60);
/// Failures are forgotten after this long without one.
const FAILURE_MEMORY: Duration = Duration::from_secs(3600);
/// Local entries kept before old ones are forgotten (each is a few dozen bytes).
const MAX_LOCAL_ENTRIES: usize = 100_000;

/// The wait before another attempt after `failures` failures in a row.
pub fn backoff_delay(failures: u32) -> Duration {
    if failures < FREE_FAILURES {
        return Duration::ZERO;
    }
    let doublings = (failures - FREE_FAILURES).min(20);
    Duration::from_secs(1u64 << doublings).min(MAX_BACKOFF)
}

/// A local count: a window's events, or a key's failures.
#[derive(Debug, Clone, Copy)]
pub(super) struct LocalCount {
    count: u64,
    /// When the window started, or the last failure happened.
    at: Instant,
}

const COUNT_SCRIPT: &str = r#"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"#;

const FAIL_SCRIPT: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local f = redis.call('HINCRBY', KEYS[1], 'f', 1)
redis.call('HSET', KEYS[1], 't', now)
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return f
"#;

const WAIT_SCRIPT: &str = r#"
local v = redis.call('HMGET', KEYS[1], 'f', 't')
if not v[1] then return {0, 0} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return {tonumber(v[1]), now - tonumber(v[2])}
"#;

impl RateLimiter {
    /// Counts one event under `key` in fixed windows of `window`: `Ok` while the window holds
    /// at most `limit` events, else `Err(seconds until the window ends)`.
    pub async fn count_in_window(
        &self,
        key: &str,
        limit: u64,
        window: Duration,
    ) -> Result<(), u64> {
        let redis_key = format!("longrun:count:{key}");
        let window_ms = window.as_millis().max(1) as i64;
        let shared = self
            .shared_script::<(i64, i64)>(COUNT_SCRIPT, redis_key, &[window_ms])
            .await;
        let (count, left_ms) = match shared {
            Some((count, ttl_ms)) => (count.max(0) as u64, ttl_ms.max(0) as u64),
            None => self.count_locally(&format!("w:{key}"), window),
        };
        if count <= limit {
            Ok(())
        } else {
            Err(left_ms.div_ceil(1000).max(1))
        }
    }

    /// Seconds to wait before `key` may be tried again after its recent failures (0: now).
    pub async fn backoff_wait(&self, key: &str) -> u64 {
        let redis_key = format!("longrun:fail:{key}");
        let shared = self
            .shared_script::<(i64, i64)>(WAIT_SCRIPT, redis_key, &[])
            .await;
        let (failures, since) = match shared {
            Some((failures, since_ms)) => (
                failures.max(0) as u32,
                Duration::from_millis(since_ms.max(0) as u64),
            ),
            None => {
                let counts = self.local_counts();
                match counts.get(&format!("f:{key}")) {
                    Some(entry) if entry.at.elapsed() < FAILURE_MEMORY => {
                        (entry.count as u32, entry.at.elapsed())
                    }
                    _ => (0, Duration::ZERO),
                }
            }
        };
        let wait = backoff_delay(failures).saturating_sub(since);
        if wait.is_zero() {
            0
        } else {
            wait.as_secs().max(1)
        }
    }

    /// Records a failure of `key` (here, and in Redis when it answers).
    pub async fn backoff_failed(&self, key: &str) {
        let redis_key = format!("longrun:fail:{key}");
        let memory_ms = FAILURE_MEMORY.as_millis() as i64;
        self.shared_script::<i64>(FAIL_SCRIPT, redis_key, &[memory_ms])
            .await;
        // Kept locally too, so a Redis outage does not forget a guesser's failures.
        let mut counts = self.local_counts();
        prune(&mut counts);
        let entry = counts.entry(format!("f:{key}")).or_insert(LocalCount {
            count: 0,
            at: Instant::now(),
        });
        if entry.at.elapsed() >= FAILURE_MEMORY {
            entry.count = 0;
        }
        entry.count += 1;
        entry.at = Instant::now();
    }

    /// Forgets `key`'s failures (a success).
    pub async fn backoff_clear(&self, key: &str) {
        let redis_key = format!("longrun:fail:{key}");
        self.redis_call(|pool, _| async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            redis::cmd("DEL")
                .arg(redis_key)
                .query_async::<i64>(&mut conn)
                .await
                .map_err(|e| e.to_string())
        })
        .await;
        self.local_counts().remove(&format!("f:{key}"));
    }

    /// Runs `script` on `key` with `args` in Redis; `None` when the caller must count locally
    /// (see `redis_call`).
    async fn shared_script<T>(&self, script: &'static str, key: String, args: &[i64]) -> Option<T>
    where
        T: redis::FromRedisValue + Send,
    {
        let args = args.to_vec();
        self.redis_call(|pool, _| async move {
            let mut conn = pool.get().await.map_err(|e| e.to_string())?;
            let script = redis::Script::new(script);
            let mut invocation = script.key(key);
            for arg in args {
                invocation.arg(arg);
            }
            invocation
                .invoke_async(&mut conn)
                .await
                .map_err(|e| e.to_string())
        })
        .await
    }

    /// The local counts, for when Redis does not answer (and the failures kept beside it).
    fn local_counts(&self) -> MutexGuard<'_, HashMap<String, LocalCount>> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One event in the local window of `key`: the window's count and the milliseconds left.
    fn count_locally(&self, key: &str, window: Duration) -> (u64, u64) {
        let mut counts = self.local_counts();
        prune(&mut counts);
        let entry = counts.entry(key.to_string()).or_insert(LocalCount {
            count: 0,
            at: Instant::now(),
        });
        if entry.at.elapsed() >= window {
            *entry = LocalCount {
                count: 0,
                at: Instant::now(),
            };
        }
        entry.count += 1;
        let left = window.saturating_sub(entry.at.elapsed());
        (entry.count, left.as_millis() as u64)
    }
}

/// Bounds the local map: past the limit, entries older than the longest memory go first,
/// then (a flood of fresh keys) the oldest half.
fn prune(counts: &mut std::collections::HashMap<String, LocalCount>) {
    if counts.len() < MAX_LOCAL_ENTRIES {
        return;
    }
    counts.retain(|_, entry| entry.at.elapsed() < FAILURE_MEMORY);
    if counts.len() >= MAX_LOCAL_ENTRIES {
        let mut ages: Vec<Instant> = counts.values().map(|e| e.at).collect();
        ages.sort();
        let cut = ages[ages.len() / 2];
        counts.retain(|_, entry| entry.at > cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_failures_and_double_up_to_the_ceiling() {
        for failures in 0..FREE_FAILURES {
            assert_eq!(backoff_delay(failures), Duration::ZERO);
        }
        assert_eq!(backoff_delay(FREE_FAILURES), Duration::from_secs(1));
        assert_eq!(backoff_delay(FREE_FAILURES + 3), Duration::from_secs(8));
        assert_eq!(backoff_delay(FREE_FAILURES + 30), MAX_BACKOFF);
        assert_eq!(backoff_delay(u32::MAX), MAX_BACKOFF);
    }

    #[tokio::test]
    async fn failures_of_one_key_slow_that_key_only() {
        let limiter = RateLimiter::in_process();
        for _ in 0..FREE_FAILURES {
            assert_eq!(limiter.backoff_wait("guesser").await, 0);
            limiter.backoff_failed("guesser").await;
        }
        assert!(limiter.backoff_wait("guesser").await >= 1);
        assert_eq!(limiter.backoff_wait("owner").await, 0);
        limiter.backoff_clear("guesser").await;
        assert_eq!(limiter.backoff_wait("guesser").await, 0);
    }

    #[tokio::test]
    async fn a_window_admits_its_limit_then_says_when_it_ends() {
        let limiter = RateLimiter::in_process();
        let day = Duration::from_secs(86_400);
        for _ in 0..3 {
            assert!(limiter.count_in_window("ip", 3, day).await.is_ok());
        }
        let wait = limiter.count_in_window("ip", 3, day).await.unwrap_err();
        assert!(wait > 86_000 && wait <= 86_400, "{wait}");
        assert!(limiter.count_in_window("other", 3, day).await.is_ok());
    }

    #[tokio::test]
    async fn counters_are_shared_through_redis() {
        let url = super::super::tests::test_redis_url();
        let one = RateLimiter::redis(&url).unwrap();
        let two = RateLimiter::redis(&url).unwrap();
        let key = format!("shared-{}", longrun_store::new_run_id());
        let window = Duration::from_secs(60);
        assert!(one.count_in_window(&key, 2, window).await.is_ok());
        assert!(two.count_in_window(&key, 2, window).await.is_ok());
        assert!(one.count_in_window(&key, 2, window).await.is_err());
        for _ in 0..FREE_FAILURES {
            one.backoff_failed(&key).await;
        }
        assert!(
            two.backoff_wait(&key).await >= 1,
            "the other instance sees them"
        );
        two.backoff_clear(&key).await;
        // `one` remembers locally too, but asks Redis first while it answers.
        assert_eq!(one.backoff_wait(&key).await, 0);
        assert!(!one.degraded() && !two.degraded());
    }
}
