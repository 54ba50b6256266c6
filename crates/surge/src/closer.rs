//! Evaluation at complete hours, in hour order, whatever order certificates arrive in.
//!
//! [`SurgeDetector::evaluate`] judges the windows ending at the moment it is called, so two runs
//! that see the same certificates in a different order (several logs read at different speeds,
//! or several instances sharing the work) can open the same surge at a different moment and on
//! a different dimension. [`HourCloser`] removes that dependence: certificates wait in a buffer
//! until their hour is complete — until every log has been read past the end of the hour, which
//! the caller says with [`HourCloser::advance`] — and each complete hour is then fed to the
//! detector and evaluated at its end, in order. The surges found are a function of the
//! certificates of each hour alone.
//!
//! Certificates of an hour already closed (a log more than the caller's allowance behind) are
//! counted at once, late; they still weigh in every later window that covers their hour.

use std::collections::BTreeMap;

use crate::detector::{IssuanceEvent, SurgeDetector};
use crate::series::MS_PER_HOUR;
use crate::surge::Surge;

/// One certificate waiting for its hour to close (an owned [`IssuanceEvent`]).
#[derive(Debug, Clone)]
struct Pending {
    issuer: [u8; 32],
    timestamp_ms: u64,
    validation_type: Box<str>,
    registered_domains: Vec<String>,
    cert_identity: [u8; 32],
}

/// Counters of an [`HourCloser`], for metrics and logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CloserStats {
    /// Certificates waiting for their hour to close.
    pub pending: usize,
    /// Certificates counted after their hour had closed.
    pub late: u64,
    /// Hours closed early because the buffer was full.
    pub forced_hours: u64,
    /// Hours evaluated.
    pub evaluated_hours: u64,
}

/// A [`SurgeDetector`] fed and evaluated one complete hour at a time.
///
/// ```
/// use ctwatch_surge::{HourCloser, IssuanceEvent, SurgeConfig, SurgeDetector};
///
/// let mut closer = HourCloser::new(SurgeDetector::new(SurgeConfig::default()).unwrap(), 10_000);
/// let hour0 = 480_000i64;
/// for hour in hour0..hour0 + 3 * 168 {
///     closer.detector_mut().seed_hourly([1; 32], hour, "ov", 10);
/// }
/// let now = (hour0 + 3 * 168) as u64 * 3_600_000;
/// for i in 0..150u64 {
///     let domains = [format!("agency{i}.gov.tw")];
///     let mut identity = [0u8; 32];
///     identity[..8].copy_from_slice(&i.to_be_bytes());
///     closer.observe(&IssuanceEvent {
///         issuer: [1; 32],
///         timestamp_ms: now + i * 1000,
///         validation_type: "ov",
///         registered_domains: &domains,
///         cert_identity: identity,
///     });
/// }
/// // The hour is not complete yet: nothing is judged.
/// assert!(closer.advance(now + 3_000_000).is_empty());
/// // Every log is past its end: the hour is fed and evaluated.
/// assert_eq!(closer.advance(now + 3_600_000).len(), 1);
/// ```
#[derive(Debug)]
pub struct HourCloser {
    detector: SurgeDetector,
    /// Waiting certificates by hour; every key is at or after `next_hour` once that is set.
    pending: BTreeMap<i64, Vec<Pending>>,
    pending_len: usize,
    max_pending: usize,
    /// The first hour not closed yet; `None` before the first certificate.
    next_hour: Option<i64>,
    late: u64,
    forced_hours: u64,
    evaluated_hours: u64,
    /// Surges found while closing hours early (buffer full), returned by the next `advance`.
    outbox: Vec<Surge>,
}

impl HourCloser {
    /// Wraps `detector`; at most `max_pending` certificates wait for their hour (beyond, the
    /// oldest hours are closed early).
    pub fn new(detector: SurgeDetector, max_pending: usize) -> HourCloser {
        HourCloser {
            detector,
            pending: BTreeMap::new(),
            pending_len: 0,
            max_pending: max_pending.max(1),
            next_hour: None,
            late: 0,
            forced_hours: 0,
            evaluated_hours: 0,
            outbox: Vec::new(),
        }
    }

    /// The detector (for ratios and stats).
    pub fn detector(&self) -> &SurgeDetector {
        &self.detector
    }

    /// The detector, to seed history before the first certificate.
    pub fn detector_mut(&mut self) -> &mut SurgeDetector {
        &mut self.detector
    }

    /// Counters.
    pub fn stats(&self) -> CloserStats {
        CloserStats {
            pending: self.pending_len,
            late: self.late,
            forced_hours: self.forced_hours,
            evaluated_hours: self.evaluated_hours,
        }
    }

    /// The first hour not closed yet (hours since the Unix epoch), once there is one.
    pub fn next_hour(&self) -> Option<i64> {
        self.next_hour
    }

    /// Takes one distinct certificate: held until its hour closes, or counted at once when
    /// its hour has closed already.
    pub fn observe(&mut self, event: &IssuanceEvent<'_>) {
        let hour = hour_of(event.timestamp_ms);
        if self.next_hour.is_some_and(|next| hour < next) {
            self.late += 1;
            self.detector.observe(event);
            return;
        }
        self.pending.entry(hour).or_default().push(Pending {
            issuer: event.issuer,
            timestamp_ms: event.timestamp_ms,
            validation_type: event.validation_type.into(),
            registered_domains: event.registered_domains.to_vec(),
            cert_identity: event.cert_identity,
        });
        self.pending_len += 1;
        while self.pending_len > self.max_pending {
            let Some(&oldest) = self.pending.keys().next() else { break };
            self.forced_hours += 1;
            let mut surges = self.close_until(oldest + 1);
            self.outbox.append(&mut surges);
        }
    }

    /// Every log has been read up to `watermark_ms`: closes (feeds and evaluates, in order)
    /// every hour that ends at or before it, and returns the surges opened, updated or closed.
    pub fn advance(&mut self, watermark_ms: u64) -> Vec<Surge> {
        let mut surges = std::mem::take(&mut self.outbox);
        surges.append(&mut self.close_until(hour_of(watermark_ms)));
        surges
    }

    /// Closes the hours before `end`.
    fn close_until(&mut self, end: i64) -> Vec<Surge> {
        let mut surges = Vec::new();
        let Some(mut hour) = self.next_hour.or_else(|| self.pending.keys().next().copied()) else {
            return surges;
        };
        while hour < end {
            if let Some(events) = self.pending.remove(&hour) {
                self.pending_len -= events.len();
                for e in &events {
                    self.detector.observe(&IssuanceEvent {
                        issuer: e.issuer,
                        timestamp_ms: e.timestamp_ms,
                        validation_type: &e.validation_type,
                        registered_domains: &e.registered_domains,
                        cert_identity: e.cert_identity,
                    });
                }
            }
            if self.detector.is_active(hour + 1) {
                surges.append(&mut self.detector.close_hour(hour));
                self.evaluated_hours += 1;
                hour += 1;
            } else {
                // Nothing within the longest window and no open surge: no evaluation can find
                // anything until the next waiting certificate's hour. (Which hours are skipped
                // depends only on the certificates of closed hours.)
                self.detector.settle_idle(hour + 1);
                let next = self.pending.keys().next().copied().unwrap_or(end);
                hour = next.clamp(hour + 1, end.max(hour + 1));
            }
        }
        self.next_hour = Some(hour.max(self.next_hour.unwrap_or(hour)));
        surges
    }
}

fn hour_of(ms: u64) -> i64 {
    // u64::MAX / 3.6e6 is far below i64::MAX.
    (ms / MS_PER_HOUR) as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SurgeConfig;
    use rand::seq::SliceRandom as _;
    use rand::{Rng as _, SeedableRng as _};

    const H: u64 = MS_PER_HOUR;

    /// A certificate of the workload: issuer, time, registered domain.
    #[derive(Debug, Clone)]
    struct Cert {
        issuer: [u8; 32],
        ms: u64,
        domain: String,
        id: u64,
    }

    fn event(c: &Cert) -> (IssuanceEvent<'static>, Vec<String>) {
        (
            IssuanceEvent {
                issuer: c.issuer,
                timestamp_ms: c.ms,
                validation_type: "ov",
                registered_domains: &[],
                cert_identity: identity(c.id),
            },
            vec![c.domain.clone()],
        )
    }

    fn identity(id: u64) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&id.to_be_bytes());
        out
    }

    /// Three weeks of a small steady issuer, then a surge under gov.tw spread over six hours,
    /// plus a second issuer with no surge.
    fn workload() -> Vec<Cert> {
        let start = 480_000 * H;
        let mut certs = Vec::new();
        let mut id = 0;
        for i in 0..250u64 {
            certs.push(Cert { issuer: [1; 32], ms: start + i * 2 * H, domain: format!("host{i}.corp.tw"), id });
            id += 1;
        }
        let surge = start + 21 * 24 * H + H / 3;
        for k in 0..600u64 {
            let domain = format!("case{}.gov.tw", k % 10);
            certs.push(Cert { issuer: [1; 32], ms: surge + k * 36_000, domain, id });
            id += 1;
        }
        for i in 0..400u64 {
            certs.push(Cert { issuer: [2; 32], ms: start + i * 3 * H / 2, domain: format!("x{i}.example.com"), id });
            id += 1;
        }
        certs
    }

    fn observe(closer: &mut HourCloser, c: &Cert) {
        let (mut e, domains) = event(c);
        e.registered_domains = &domains;
        closer.observe(&e);
    }

    /// Feeds `certs` as `logs` logs read at different speeds: each log holds every
    /// certificate in time order; after each step the watermark is the slowest log's position.
    fn run(certs: &[Cert], seed: u64, logs: usize) -> Vec<Report> {
        let mut sorted = certs.to_vec();
        sorted.sort_by_key(|c| c.ms);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut closer = HourCloser::new(SurgeDetector::new(SurgeConfig::default()).unwrap(), 100_000);
        let mut positions = vec![0usize; logs];
        let mut seen = std::collections::HashSet::new();
        let mut surges = Vec::new();
        while positions.iter().any(|&p| p < sorted.len()) {
            let log = rng.random_range(0..logs);
            let step = rng.random_range(1..50);
            let from = positions[log];
            let to = (from + step).min(sorted.len());
            let mut batch: Vec<&Cert> = sorted[from..to].iter().collect();
            batch.shuffle(&mut rng);
            for c in batch {
                if seen.insert(c.id) {
                    observe(&mut closer, c);
                }
            }
            positions[log] = to;
            let watermark = positions.iter().map(|&p| if p == 0 { 0 } else { sorted[p - 1].ms }).min().unwrap_or(0);
            surges.extend(closer.advance(watermark));
        }
        let end = sorted.last().map_or(0, |c| c.ms) + 48 * H;
        surges.extend(closer.advance(end));
        surges
            .iter()
            .map(|s| {
                let mut certificates = s.certificates.clone();
                certificates.sort_unstable();
                (s.key.clone(), format!("{:?}", s.status), s.observed, certificates)
            })
            .collect()
    }

    /// What a surge report says: key, status, count and certificates.
    type Report = (String, String, u64, Vec<[u8; 32]>);

    #[test]
    fn the_same_certificates_give_the_same_surges_in_any_order() {
        let certs = workload();
        let reference = run(&certs, 1, 1);
        assert!(!reference.is_empty(), "the workload has a surge");
        assert!(reference.iter().all(|(key, ..)| key.contains(&hex(&[1; 32]))), "{reference:?}");
        for seed in 2..12 {
            assert_eq!(run(&certs, seed, 1 + (seed as usize % 6)), reference, "seed {seed}");
        }
    }

    /// The same feeding as [`run`], but evaluating the detector directly at the newest
    /// timestamp after each step, as a follower did before hours were closed.
    fn run_mid_hour(certs: &[Cert], seed: u64, logs: usize) -> Vec<Report> {
        let mut sorted = certs.to_vec();
        sorted.sort_by_key(|c| c.ms);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let mut detector = SurgeDetector::new(SurgeConfig::default()).unwrap();
        let mut positions = vec![0usize; logs];
        let mut seen = std::collections::HashSet::new();
        let mut surges = Vec::new();
        let mut latest = 0;
        while positions.iter().any(|&p| p < sorted.len()) {
            let log = rng.random_range(0..logs);
            let to = (positions[log] + rng.random_range(1..50)).min(sorted.len());
            for c in &sorted[positions[log]..to] {
                if seen.insert(c.id) {
                    let (mut e, domains) = event(c);
                    e.registered_domains = &domains;
                    detector.observe(&e);
                    latest = latest.max(c.ms);
                }
            }
            positions[log] = to;
            surges.extend(detector.evaluate(latest));
        }
        surges.iter().map(|s| (s.key.clone(), format!("{:?}", s.status), s.observed, Vec::new())).collect()
    }

    #[test]
    fn evaluating_mid_hour_depends_on_the_order_which_is_why_hours_are_closed() {
        // Without the closer, the same workload read at different speeds gives different
        // surge reports: the determinism test above has something to catch.
        let certs = workload();
        let runs: std::collections::BTreeSet<Vec<Report>> =
            (1..12).map(|seed| run_mid_hour(&certs, seed, 1 + (seed as usize % 6))).collect();
        assert!(runs.len() > 1, "every order gave {:?}", runs.first());
    }

    #[test]
    fn late_certificates_are_counted_not_dropped() {
        let mut closer = HourCloser::new(SurgeDetector::new(SurgeConfig::default()).unwrap(), 100);
        let c = Cert { issuer: [3; 32], ms: 480_000 * H + 10, domain: "a.example.com".into(), id: 1 };
        observe(&mut closer, &c);
        assert_eq!(closer.stats().pending, 1);
        assert!(closer.advance(480_002 * H).is_empty());
        assert_eq!(closer.stats().pending, 0);
        assert_eq!(closer.next_hour(), Some(480_002));
        // A certificate of a closed hour goes to the detector at once.
        let late = Cert { ms: 480_001 * H, id: 2, ..c.clone() };
        observe(&mut closer, &late);
        assert_eq!(closer.stats().late, 1);
        assert_eq!(closer.stats().pending, 0);
        assert_eq!(closer.detector().stats().recent_certificates, 2);
    }

    #[test]
    fn a_full_buffer_closes_the_oldest_hours_early() {
        let mut closer = HourCloser::new(SurgeDetector::new(SurgeConfig::default()).unwrap(), 10);
        for i in 0..25u64 {
            let c = Cert { issuer: [4; 32], ms: (480_000 + i / 5) * H, domain: "a.example.com".into(), id: i };
            observe(&mut closer, &c);
        }
        let stats = closer.stats();
        assert!(stats.pending <= 10, "{stats:?}");
        assert!(stats.forced_hours >= 3, "{stats:?}");
        assert_eq!(closer.detector().stats().recent_certificates + stats.pending, 25);
        // The watermark never moves an hour back.
        closer.advance(0);
        assert!(closer.next_hour().is_some_and(|h| h >= 480_003));
    }

    #[test]
    fn idle_stretches_are_skipped_but_open_surges_are_followed() {
        let certs = workload();
        let mut closer = HourCloser::new(SurgeDetector::new(SurgeConfig::default()).unwrap(), 100_000);
        for c in &certs {
            observe(&mut closer, c);
        }
        let last = certs.iter().map(|c| c.ms).max().unwrap_or(0);
        let surges = closer.advance(last + 400 * 24 * H);
        // Opened, then closed after the quiet hours: both reported.
        assert!(surges.iter().any(|s| s.status == crate::SurgeStatus::Opened), "{surges:?}");
        assert!(surges.iter().any(|s| s.status == crate::SurgeStatus::Closed), "{surges:?}");
        // A year of idle hours is not evaluated hour by hour.
        assert!(closer.stats().evaluated_hours < 3 * 24 * 7 * 2, "{:?}", closer.stats());
        assert_eq!(closer.detector().current_ratio(&[1; 32]), Some(0.0));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
