//! Rate limits per tenant, per user, and stricter ones for login, uploads and queries, with
//! `governor`'s keyed GCRA limiters (well kept, lock-free, exact Retry-After). A refusal is a
//! 429 with `Retry-After`.

use super::error::ApiError;
use crate::config::RateLimits;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// Which limit a request counts against.
#[derive(Debug, Clone, Copy)]
pub enum Bucket {
    Tenant,
    User,
    Login,
    Upload,
    Query,
    Chat,
}

pub struct Limiter {
    buckets: [Keyed; 6],
    calls: AtomicU64,
}

fn keyed(per_minute: u32) -> Keyed {
    let n = NonZeroU32::new(per_minute.max(1)).expect("at least one");
    RateLimiter::keyed(Quota::per_minute(n))
}

impl Limiter {
    pub fn new(r: &RateLimits) -> Self {
        Self {
            buckets: [
                keyed(r.per_tenant),
                keyed(r.per_user),
                keyed(r.login),
                keyed(r.uploads),
                keyed(r.query),
                keyed(r.chat),
            ],
            calls: AtomicU64::new(0),
        }
    }

    /// Counts one request; refuses it when the key's quota is spent.
    pub fn check(&self, bucket: Bucket, key: &str) -> Result<(), ApiError> {
        let limiter = &self.buckets[bucket as usize];
        if self
            .calls
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(4096)
        {
            for b in &self.buckets {
                b.retain_recent();
            }
        }
        limiter.check_key(&key.to_owned()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            ApiError::RateLimited(wait.as_secs_f64().ceil() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spent_quota_is_refused_with_a_wait_and_other_keys_are_not_affected() {
        let l = Limiter::new(&RateLimits {
            login: 2,
            ..Default::default()
        });
        assert!(l.check(Bucket::Login, "acme:1.2.3.4").is_ok());
        assert!(l.check(Bucket::Login, "acme:1.2.3.4").is_ok());
        match l.check(Bucket::Login, "acme:1.2.3.4") {
            Err(ApiError::RateLimited(secs)) => assert!((1..=60).contains(&secs), "{secs}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(l.check(Bucket::Login, "globex:1.2.3.4").is_ok());
    }
}
