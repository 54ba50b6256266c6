//! Per-log request budget: a token bucket shared by every task that talks to one log.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket of `rate` requests per second with `burst` capacity. A `Retry-After` from the
/// log pauses every task of that log until the given instant.
#[derive(Debug)]
pub struct RequestBudget {
    rate: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
}

impl RequestBudget {
    /// `rate` requests per second (`f64::INFINITY` for no limit), up to `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RequestBudget {
            rate,
            burst,
            state: Mutex::new(BucketState { tokens: burst, last: Instant::now(), paused_until: None }),
        }
    }

    /// No limit.
    pub fn unlimited() -> Self {
        Self::new(f64::INFINITY, 1)
    }

    /// The configured rate, requests per second.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Wait until a request may be sent, then take a token.
    pub async fn acquire(&self) {
        loop {
            let wait = self.try_take(Instant::now());
            match wait {
                None => return,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Take a token at `now`, or say how long to wait before trying again.
    fn try_take(&self, now: Instant) -> Option<Duration> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(until) = s.paused_until {
            if now < until {
                return Some(until - now);
            }
            s.paused_until = None;
        }
        if self.rate.is_infinite() {
            return None;
        }
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * self.rate).min(self.burst);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            None
        } else {
            let missing = 1.0 - s.tokens;
            Some(Duration::from_secs_f64(missing / self.rate.max(1e-6)))
        }
    }

    /// Pause every request to this log for `delay` (from `Retry-After` or a backoff), and empty
    /// the bucket so requests resume gently afterwards.
    pub fn pause(&self, delay: Duration) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + delay;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
        s.tokens = 0.0;
        s.last = until;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_waits() {
        let b = RequestBudget::new(10.0, 3);
        let now = Instant::now();
        assert_eq!(b.try_take(now), None);
        assert_eq!(b.try_take(now), None);
        assert_eq!(b.try_take(now), None);
        let wait = b.try_take(now).expect("bucket should be empty");
        assert!(wait <= Duration::from_millis(100) && wait > Duration::from_millis(50), "{wait:?}");
        // After 100 ms one token is back.
        assert_eq!(b.try_take(now + Duration::from_millis(101)), None);
    }

    #[test]
    fn unlimited_never_waits() {
        let b = RequestBudget::unlimited();
        let now = Instant::now();
        for _ in 0..1000 {
            assert_eq!(b.try_take(now), None);
        }
    }

    #[test]
    fn pause_blocks_until_deadline() {
        let b = RequestBudget::unlimited();
        b.pause(Duration::from_secs(2));
        let wait = b.try_take(Instant::now()).expect("paused");
        assert!(wait > Duration::from_millis(1500));
        assert_eq!(b.try_take(Instant::now() + Duration::from_secs(3)), None);
    }
}
