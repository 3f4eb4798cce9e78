//! Per-account backoff on failed sign-ins. The login rate limit is per tenant and client
//! address, which a password guesser spreads across addresses and which, behind a proxy, one
//! attacker spends for a whole office. This counts failures per account instead: after a few,
//! each further attempt must wait longer (doubling, up to a quarter of an hour), whatever
//! address it comes from; a successful sign-in clears the count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before waits start.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

#[derive(Default)]
pub struct Lockout(Mutex<HashMap<String, (u32, Instant)>>);

impl Lockout {
    /// Seconds the account must still wait, if any.
    pub fn wait(&self, account: &str) -> Option<u64> {
        let map = self.0.lock().expect("lockout lock");
        let (failures, last) = map.get(account)?;
        let wait = Self::wait_after(*failures)?;
        let left = wait.checked_sub(last.elapsed())?;
        // Whole seconds, rounded up: a client told to wait 1 s when 1.4 s remain would be
        // refused again.
        Some((left.as_millis().div_ceil(1000) as u64).max(1))
    }

    pub fn failed(&self, account: &str) {
        let mut map = self.0.lock().expect("lockout lock");
        // Forget accounts that have been quiet for a while, so the map stays small.
        if map.len() > 100_000 {
            map.retain(|_, (_, last)| last.elapsed() < MAX_WAIT);
        }
        let entry = map.entry(account.to_owned()).or_insert((0, Instant::now()));
        entry.0 += 1;
        entry.1 = Instant::now();
    }

    pub fn succeeded(&self, account: &str) {
        self.0.lock().expect("lockout lock").remove(account);
    }

    fn wait_after(failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(FREE_FAILURES)?;
        Some(Duration::from_secs(1u64 << over.min(10)).min(MAX_WAIT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_start_after_the_free_failures_and_double() {
        let l = Lockout::default();
        for _ in 0..FREE_FAILURES - 1 {
            l.failed("acme:ann@acme.example");
        }
        assert_eq!(l.wait("acme:ann@acme.example"), None);
        l.failed("acme:ann@acme.example");
        assert_eq!(l.wait("acme:ann@acme.example"), Some(1));
        l.failed("acme:ann@acme.example");
        assert_eq!(l.wait("acme:ann@acme.example"), Some(2));
        assert_eq!(l.wait("acme:bob@acme.example"), None);
        l.succeeded("acme:ann@acme.example");
        assert_eq!(l.wait("acme:ann@acme.example"), None);
        assert_eq!(Lockout::wait_after(40), Some(MAX_WAIT));
    }
}
