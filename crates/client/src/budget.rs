//! Per-log request budget: a token bucket shared by every task that talks to one log, whose
//! rate adapts to the log's own limit.
//!
//! The configured rate is a ceiling. Real logs enforce limits of their own that nobody
//! publishes (DigiCert ~0.15 requests/s per IP, Sectigo ~30), answering 429 beyond them. The
//! budget learns that limit from the 429s themselves:
//!
//! * A *segment* is the time since the last pause (or since the start). The log's bucket held
//!   at most what it refilled during that pause when the segment began, so the `S` requests it
//!   accepted in a segment of length `T` after a pause `p` bound its rate from below:
//!   `N ≥ S / (T + p)`. With a log whose bucket holds at least `p` seconds of tokens (the usual
//!   case for a `Retry-After` of a second or two) the bound is exact.
//! * On a 429 the rate drops to [`TARGET_SHARE`] of that estimate: just under the log's limit,
//!   so almost no request is refused while almost every allowed one is used.
//! * After a quiet interval (first [`PROBE_INTERVAL`]) the rate rises one step (first
//!   [`PROBE_STEP`], each further quiet step twice as large up to [`MAX_PROBE_STEP`]; never
//!   above the ceiling), so a log that raises its limit, or an estimate that came out low (the
//!   bound is loose when the client was below the limit for most of the segment), is caught up
//!   with quickly.
//! * A 429 right after such a step means the step overshot: the rate returns to the last rate
//!   that was quiet for a whole interval (when that is above the estimate), the step size starts
//!   again small and the quiet interval doubles (up to [`MAX_PROBE_INTERVAL`]), so a budget
//!   that sits just under the limit probes it ever more rarely.
//!
//! 429s of requests sent before the current segment began (in flight when the first 429
//! arrived) do not count: they say nothing about the new rate.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Share of the estimated log limit the budget settles at after a 429.
pub const TARGET_SHARE: f64 = 0.97;
/// How long the rate must go without a 429 before it is raised one step.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(10);
/// Factor of the first upward step after a 429.
pub const PROBE_STEP: f64 = 1.02;
/// Quiet time between the quick steps that climb through an estimate's uncertainty.
pub const CLIMB_INTERVAL: Duration = Duration::from_secs(2);
/// Largest factor of one upward step.
pub const MAX_PROBE_STEP: f64 = 1.25;
/// Longest quiet interval between upward steps (for slow logs: the time of
/// [`MAX_PROBE_REQUESTS`] requests, if longer).
pub const MAX_PROBE_INTERVAL: Duration = Duration::from_secs(160);
/// For slow logs, the longest quiet interval between upward steps in requests.
pub const MAX_PROBE_REQUESTS: f64 = 500.0;
/// The lowest rate the budget adapts down to, requests per second.
pub const MIN_RATE: f64 = 0.01;
/// Pause assumed to precede the first segment (the log's bucket state is unknown then).
const FIRST_SEGMENT_PAUSE: Duration = Duration::from_secs(1);
/// Fewest accepted requests in a segment for its estimate to be trusted; below it a 429
/// halves the rate instead.
const MIN_SAMPLE: u64 = 1;

/// A token bucket of `rate` requests per second with `burst` capacity. A `Retry-After` from the
/// log pauses every task of that log until the given instant; a 429 also lowers the rate to
/// what the log was seen to accept (see the module documentation).
#[derive(Debug)]
pub struct RequestBudget {
    ceiling: f64,
    burst: f64,
    state: Mutex<BucketState>,
}

#[derive(Debug)]
struct BucketState {
    /// The rate in force, at most `ceiling`.
    rate: f64,
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
    /// When the current 429-free segment began (the end of the last pause).
    segment_start: Instant,
    /// The pause that preceded the segment.
    segment_pause: Duration,
    /// Successful requests sent during the segment.
    accepted: u64,
    /// When the rate last changed (by a 429 or a probe step).
    last_change: Instant,
    /// 429s that lowered the rate.
    adaptations: u64,
    /// The rate before the last upward step (it went a whole interval without a 429).
    last_good: Option<f64>,
    /// Factor of the next upward step.
    step: f64,
    /// Quiet time before the next upward step.
    probe_interval: Duration,
    /// The highest lower bound of the log's limit measured so far (requests per second).
    known_low: Option<f64>,
}

impl RequestBudget {
    /// `rate` requests per second (`f64::INFINITY` for no limit), up to `burst` at once.
    pub fn new(rate: f64, burst: u32) -> Self {
        Self::starting_at(rate, burst, Instant::now())
    }

    fn starting_at(rate: f64, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        let ceiling = if rate.is_nan() || rate <= 0.0 { MIN_RATE } else { rate };
        RequestBudget {
            ceiling,
            burst,
            state: Mutex::new(BucketState {
                rate: ceiling,
                tokens: burst,
                last: now,
                paused_until: None,
                segment_start: now,
                segment_pause: FIRST_SEGMENT_PAUSE,
                accepted: 0,
                last_change: now,
                adaptations: 0,
                last_good: None,
                step: PROBE_STEP,
                probe_interval: PROBE_INTERVAL,
                known_low: None,
            }),
        }
    }

    /// No limit (until the log answers 429).
    pub fn unlimited() -> Self {
        Self::new(f64::INFINITY, 1)
    }

    /// The rate in force, requests per second: the configured ceiling until a 429 taught a
    /// lower one.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// The configured rate, requests per second.
    pub fn ceiling(&self) -> f64 {
        self.ceiling
    }

    /// How many 429s lowered the rate so far.
    pub fn adaptations(&self) -> u64 {
        self.lock().adaptations
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wait until a request may be sent, then take a token. Returns the instant the request
    /// is sent at, to pass to [`RequestBudget::on_success`] or
    /// [`RequestBudget::on_rate_limited`].
    pub async fn acquire(&self) -> Instant {
        loop {
            let now = Instant::now();
            match self.try_take(now) {
                None => return now,
                Some(d) => tokio::time::sleep(d).await,
            }
        }
    }

    /// Take a token at `now`, or say how long to wait before trying again.
    fn try_take(&self, now: Instant) -> Option<Duration> {
        let mut s = self.lock();
        if let Some(until) = s.paused_until {
            if now < until {
                return Some(until - now);
            }
            s.paused_until = None;
        }
        if s.rate.is_infinite() {
            return None;
        }
        let elapsed = now.saturating_duration_since(s.last).as_secs_f64();
        s.tokens = (s.tokens + elapsed * s.rate).min(self.burst);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            None
        } else {
            // At least a microsecond, so that a caller never spins on a zero wait.
            let missing = 1.0 - s.tokens;
            Some(Duration::from_secs_f64(missing / s.rate.max(MIN_RATE)).max(Duration::from_micros(1)))
        }
    }

    /// The log accepted a request sent at `sent_at`.
    pub fn on_success(&self, sent_at: Instant) {
        self.success_at(sent_at, Instant::now());
    }

    fn success_at(&self, sent_at: Instant, now: Instant) {
        let mut s = self.lock();
        if sent_at >= s.segment_start {
            s.accepted += 1;
        }
        // Probe upwards after a quiet interval, but only once a 429 has lowered the rate.
        let quiet = now.saturating_duration_since(s.last_change.max(s.segment_start));
        if s.rate < self.ceiling && quiet >= s.probe_interval {
            s.last_good = Some(s.rate);
            s.rate = (s.rate * s.step).min(self.ceiling);
            s.step = (1.0 + (s.step - 1.0) * 2.0).min(MAX_PROBE_STEP);
            s.last_change = now;
            tracing::debug!(rate = s.rate, "quiet interval: request rate adapted upwards");
        }
    }

    /// The log answered 429 to a request sent at `sent_at` and asked for a pause of `delay`:
    /// pause every task of the log and, when the request belongs to the current segment, lower
    /// the rate to the segment's estimate of the log's limit.
    pub fn on_rate_limited(&self, sent_at: Instant, delay: Duration) {
        self.rate_limited_at(sent_at, delay, Instant::now());
    }

    fn rate_limited_at(&self, sent_at: Instant, delay: Duration, now: Instant) {
        {
            let mut s = self.lock();
            if sent_at >= s.segment_start {
                let span = sent_at.saturating_duration_since(s.segment_start) + s.segment_pause;
                let segment = sent_at.saturating_duration_since(s.segment_start).as_secs_f64();
                let (estimate, climb) = if s.accepted >= MIN_SAMPLE {
                    let measured = s.accepted as f64 / span.as_secs_f64().max(1e-3);
                    // Lower bounds stay valid until a 429 comes at or below them: then the
                    // log has lowered its limit and the old bound is dropped.
                    let (low, first) = match s.known_low {
                        Some(known) if s.rate > known => (known.max(measured), false),
                        _ => (measured, true),
                    };
                    s.known_low = Some(low);
                    // When the client was above the limit all segment long the log also
                    // accepted at most `limit · T` beyond its refilled bucket, so the limit lies
                    // within [low, accepted / T]: climb through that range in a few quick steps.
                    let high = (s.accepted as f64 / segment.max(1e-3)).min(s.rate);
                    (TARGET_SHARE * low, if first { (high / low).max(1.0).cbrt() } else { PROBE_STEP })
                } else if s.rate.is_finite() {
                    (s.rate / 2.0, MAX_PROBE_STEP)
                } else {
                    // No limit so far and nothing learned: one request per second to start.
                    (1.0, MAX_PROBE_STEP)
                };
                let new_rate = match s.last_good.take() {
                    // The last step overshot: back to the rate before it, and probe less often.
                    Some(good) if good > estimate => {
                        let longest =
                            MAX_PROBE_INTERVAL.max(Duration::from_secs_f64(MAX_PROBE_REQUESTS / good.max(MIN_RATE)));
                        s.probe_interval = (s.probe_interval * 2).clamp(PROBE_INTERVAL, longest);
                        s.step = PROBE_STEP;
                        good
                    }
                    _ => {
                        s.step = climb.clamp(PROBE_STEP, MAX_PROBE_STEP);
                        if s.step > PROBE_STEP {
                            s.probe_interval = CLIMB_INTERVAL;
                        } else {
                            s.probe_interval = s.probe_interval.max(PROBE_INTERVAL);
                        }
                        estimate
                    }
                };
                s.rate = new_rate.clamp(MIN_RATE, self.ceiling);
                let accepted = s.accepted;
                s.segment_start = now + delay;
                s.segment_pause = delay;
                s.accepted = 0;
                s.last_change = now;
                s.adaptations += 1;
                tracing::debug!(
                    rate = s.rate,
                    accepted,
                    segment_secs = segment,
                    "429: request rate adapted to the log's limit"
                );
            }
        }
        self.pause_at(delay, now);
    }

    /// Pause every request to this log for `delay` (from `Retry-After` or a backoff), and empty
    /// the bucket so requests resume gently afterwards.
    pub fn pause(&self, delay: Duration) {
        self.pause_at(delay, Instant::now());
    }

    fn pause_at(&self, delay: Duration, now: Instant) {
        let mut s = self.lock();
        let until = now + delay;
        if s.paused_until.is_none_or(|p| p < until) {
            s.paused_until = Some(until);
        }
        s.tokens = 0.0;
        s.last = s.last.max(until);
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

    #[test]
    fn a_429_sets_the_rate_from_the_accepted_requests() {
        let t0 = Instant::now();
        let b = RequestBudget::starting_at(100.0, 4, t0);
        // 40 requests accepted in 3 s (plus the assumed 1 s before): 10/s.
        for i in 0..40 {
            b.success_at(t0 + Duration::from_millis(75 * i), t0 + Duration::from_millis(75 * i));
        }
        b.rate_limited_at(t0 + Duration::from_secs(3), Duration::from_secs(1), t0 + Duration::from_secs(3));
        assert!((b.rate() - 9.7).abs() < 1e-9, "{}", b.rate());
        assert_eq!(b.adaptations(), 1);
        // A 429 of a request sent before the pause does not lower the rate again.
        b.rate_limited_at(t0 + Duration::from_millis(2990), Duration::from_secs(1), t0 + Duration::from_secs(3));
        assert_eq!(b.adaptations(), 1);
        assert!((b.rate() - 9.7).abs() < 1e-9);
    }

    #[test]
    fn a_429_without_a_sample_halves_the_rate() {
        let t0 = Instant::now();
        let b = RequestBudget::starting_at(8.0, 1, t0);
        b.rate_limited_at(t0, Duration::from_secs(1), t0);
        assert_eq!(b.rate(), 4.0);
        let u = RequestBudget::starting_at(f64::INFINITY, 1, t0);
        u.rate_limited_at(t0, Duration::from_secs(1), t0);
        assert_eq!(u.rate(), 1.0);
    }

    #[test]
    fn quiet_intervals_raise_the_rate_up_to_the_ceiling() {
        let t0 = Instant::now();
        let b = RequestBudget::starting_at(10.0, 1, t0);
        b.rate_limited_at(t0, Duration::from_secs(1), t0);
        assert_eq!(b.rate(), 5.0);
        let mut t = t0 + Duration::from_secs(1);
        for _ in 0..2000 {
            t += Duration::from_secs(1);
            b.success_at(t, t);
        }
        assert_eq!(b.rate(), 10.0, "never above the ceiling");
        // One step per interval, not per success.
        let c = RequestBudget::starting_at(10.0, 1, t0);
        c.rate_limited_at(t0, Duration::from_secs(1), t0);
        let at = t0 + Duration::from_secs(12);
        for _ in 0..100 {
            c.success_at(at, at);
        }
        // (Nothing was measured before the 429, so the climb starts with the largest step.)
        assert!((c.rate() - 5.0 * MAX_PROBE_STEP).abs() < 1e-9, "{}", c.rate());
    }

    /// A log's token bucket, in virtual time.
    struct SimulatedLog {
        rate: f64,
        burst: f64,
        tokens: f64,
        last: f64,
    }

    impl SimulatedLog {
        /// `Ok` when the request is admitted, else the Retry-After seconds (as the test log
        /// computes them: until one token is back, at least one second).
        fn admit(&mut self, t: f64) -> Result<(), u64> {
            self.tokens = (self.tokens + (t - self.last) * self.rate).min(self.burst);
            self.last = t;
            if self.tokens >= 1.0 {
                self.tokens -= 1.0;
                Ok(())
            } else {
                Err(((1.0 - self.tokens) / self.rate).ceil().max(1.0) as u64)
            }
        }
    }

    /// Drive a budget against a simulated rate-limited log for `secs` virtual seconds with
    /// `concurrency` requests in flight of `latency` each; returns (accepted, refused).
    fn simulate(ceiling: f64, log_rate: f64, log_burst: f64, concurrency: usize, secs: f64) -> (u64, u64) {
        let t0 = Instant::now();
        let at = |t: f64| t0 + Duration::from_secs_f64(t);
        let budget = RequestBudget::starting_at(ceiling, concurrency as u32, t0);
        let mut log = SimulatedLog { rate: log_rate, burst: log_burst, tokens: log_burst, last: 0.0 };
        let latency = 0.05;
        // Each worker: the virtual time it is next ready to send.
        let mut ready = vec![0.0f64; concurrency];
        let (mut accepted, mut refused) = (0u64, 0u64);
        loop {
            let (w, &t) = ready.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).unwrap();
            if t >= secs {
                break;
            }
            match budget.try_take(at(t)) {
                Some(wait) => ready[w] = t + wait.as_secs_f64().max(1e-6),
                None => {
                    let done = t + latency;
                    if let Err(retry_after) = log.admit(t) {
                        refused += 1;
                        budget.rate_limited_at(at(t), Duration::from_secs(retry_after), at(done));
                    } else {
                        accepted += 1;
                        budget.success_at(at(t), at(done));
                    }
                    ready[w] = done;
                }
            }
        }
        (accepted, refused)
    }

    #[test]
    fn adapts_to_a_rate_limited_log() {
        for (ceiling, log_rate, burst, concurrency) in [
            (100.0, 10.0, 10.0, 4),
            (40.0, 20.0, 5.0, 4),
            (f64::INFINITY, 5.0, 5.0, 8),
            (30.0, 2.0, 2.0, 2),
            (50.0, 10.0, 30.0, 4),
            (5.0, 0.2, 1.0, 2),
        ] {
            // Ten minutes, or at least 1,000 allowed requests for very slow logs.
            let secs = (1000.0_f64 / log_rate).max(600.0);
            let (accepted, refused) = simulate(ceiling, log_rate, burst, concurrency, secs);
            let share = accepted as f64 / (log_rate * secs);
            let refused_share = refused as f64 / (accepted + refused) as f64;
            eprintln!(
                "{ceiling}/{log_rate}/{burst}/{concurrency}: {share:.3} of the allowed rate, {refused_share:.4} refused"
            );
            assert!(share >= 0.95, "{ceiling}/{log_rate}: {share:.3} of the allowed rate");
            assert!(refused_share < 0.02, "{ceiling}/{log_rate}: {refused_share:.4} of requests refused");
        }
    }

    #[test]
    fn a_ceiling_below_the_log_limit_is_kept() {
        let (accepted, refused) = simulate(5.0, 10.0, 10.0, 4, 100.0);
        assert_eq!(refused, 0);
        assert!((495..=510).contains(&accepted), "{accepted}");
    }
}
