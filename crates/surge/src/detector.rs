//! The surge detector: per-issuer hourly counts in, surges out.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::baseline::{Baseline, WindowStats};
use crate::config::{SurgeConfig, SurgeConfigError};
use crate::series::{Counts, HourlySeries, MS_PER_HOUR};
use crate::surge::{Dimension, Surge, SurgeReason, SurgeStatus, surge_key};

/// Distinct validation-type names tracked per issuer; further names share the bucket `other`.
const MAX_VALIDATION_TYPES: usize = 16;

/// Lists up to this long are de-duplicated by linear scan.
const SHORT_LIST: usize = 16;

/// Spans of closed surges remembered per issuer (excluded from baselines).
const MAX_CLOSED_SPANS: usize = 16;

/// Largest hour accepted from [`SurgeDetector::seed_hourly`] (the hour of `u64::MAX` ms).
const MAX_HOUR: i64 = (u64::MAX / MS_PER_HOUR) as i64;

/// One certificate as the detector sees it.
///
/// The caller passes each distinct certificate once (a precertificate and its final certificate
/// are one certificate), timestamped with its SCT or log entry time.
#[derive(Debug, Clone, Copy)]
pub struct IssuanceEvent<'a> {
    /// SHA-256 of the issuer's SubjectPublicKeyInfo.
    pub issuer: [u8; 32],
    /// SCT or entry timestamp, in milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Validation type (`dv`, `ov`, `iv`, `ev`, `unknown`), from the policy OIDs.
    pub validation_type: &'a str,
    /// The certificate's distinct registered domains, from [`registered_domains`](crate::registered_domains).
    pub registered_domains: &'a [String],
    /// The certificate's identity, as stored.
    pub cert_identity: [u8; 32],
}

/// Sizes of the detector's state, for metrics and memory checks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorStats {
    /// Issuers tracked.
    pub issuers: usize,
    /// Registered domains tracked, over all issuers.
    pub registered_domains: usize,
    /// Public suffixes tracked, over all issuers.
    pub suffixes: usize,
    /// Non-empty hourly points held by all series.
    pub series_points: usize,
    /// Recent certificates kept for surge lists, over all issuers.
    pub recent_certificates: usize,
    /// Surges currently open.
    pub open_surges: usize,
    /// Events ignored because their hour was outside the retention or too far in the future.
    pub ignored_events: u64,
}

/// Detects issuance surges per issuer, validation type, public suffix and registered domain.
///
/// The detector is pure: it never reads a clock. Certificates come in through
/// [`observe`](SurgeDetector::observe) (or hourly counts through
/// [`seed_hourly`](SurgeDetector::seed_hourly)), and [`evaluate`](SurgeDetector::evaluate) is called
/// with the time to evaluate at — the wall clock while tailing, the position in the logs while
/// catching up. Call it no later than the oldest log's position, so no hour is judged before all
/// logs have delivered it.
///
/// Each issuer has at most one open surge: the first dimension that qualifies opens it (the
/// issuer as a whole first, then validation types, public suffixes and registered domains, larger
/// first), and the others are visible in its top lists.
///
/// # Memory
///
/// Per issuer: the total and each validation type's series (≤ `retention` points of 16 bytes,
/// retention = `(seasonal_weeks + 1)` weeks + longest window, 866 hours by default); at most
/// `1.5 × max_domains_per_issuer` registered-domain series and `1.5 × max_suffixes_per_issuer` suffix
/// series (same bound each, usually a handful of points); at most
/// `max_recent_certificates_per_issuer` recent certificates (≈ 56 bytes + 8 per registered domain);
/// one open surge with at most `max_certificates_per_surge` certificates (same size as a recent
/// certificate). At most `max_issuers` issuers are tracked.
#[derive(Debug)]
pub struct SurgeDetector {
    config: SurgeConfig,
    windows: Vec<i64>,
    retention: i64,
    max_window: i64,
    issuers: HashMap<[u8; 32], IssuerState>,
    tick: u64,
    now_hour: Option<i64>,
    ignored_events: u64,
}

/// A registered domain and its public suffix, shared by the domain map, recent certificates and
/// open surges.
#[derive(Debug)]
struct DomainName {
    name: Box<str>,
    suffix: Option<Arc<str>>,
}

/// A registered domain as a map key that can be looked up by `&str`.
#[derive(Debug, Clone)]
struct DomainKey(Arc<DomainName>);

impl Borrow<str> for DomainKey {
    fn borrow(&self) -> &str {
        &self.0.name
    }
}

impl Hash for DomainKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Must hash exactly like the `str` it borrows as.
        (*self.0.name).hash(state);
    }
}

impl PartialEq for DomainKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.name == other.0.name
    }
}

impl Eq for DomainKey {}

/// The series of a registered domain or public suffix, and when it was last seen.
#[derive(Debug)]
struct Tracked<K> {
    key: K,
    series: HourlySeries,
    last_hour: i64,
}

/// The series of one validation type.
#[derive(Debug)]
struct TypeSeries {
    name: Box<str>,
    series: HourlySeries,
}

/// A certificate kept for the longest window, so a surge can list the certificates issued before
/// it was detected.
#[derive(Debug, Clone)]
struct RecentCert {
    hour: i64,
    identity: [u8; 32],
    validation_type: usize,
    domains: Box<[DomainKey]>,
}

/// Everything known about one issuer.
#[derive(Debug)]
struct IssuerState {
    first_hour: i64,
    last_hour: i64,
    touched: u64,
    dirty: bool,
    last_eval_end: Option<i64>,
    pruned_at: i64,
    total: HourlySeries,
    types: Vec<TypeSeries>,
    domains: HashMap<DomainKey, Tracked<DomainKey>>,
    suffixes: HashMap<Arc<str>, Tracked<Arc<str>>>,
    recent: VecDeque<RecentCert>,
    open: Option<OpenSurge>,
    closed: Vec<(i64, i64)>,
    new_issuer_reported: bool,
    ratio: Option<f64>,
}

/// A surge being followed.
#[derive(Debug)]
struct OpenSurge {
    dimension: Dimension,
    /// Index of the validation type when the dimension is one.
    type_index: Option<usize>,
    start: i64,
    trigger_window_hours: u32,
    last_hot: i64,
    checked_until: i64,
    reported_until: i64,
    /// The surge's certificates seen individually, with their hours, so a closing surge lists
    /// only those up to its last elevated hour.
    certificates: Vec<RecentCert>,
}

/// The time an evaluation is made at.
#[derive(Debug, Clone, Copy)]
struct EvalTime {
    /// Hour after the last hour counted (that hour is partial when `fraction < 1`).
    end: i64,
    /// Fraction of hour `end − 1` elapsed.
    fraction: f64,
    /// Hour after the last complete hour.
    complete_end: i64,
}

/// Which series a dimension is measured on.
#[derive(Debug, Clone)]
enum Target {
    Total,
    Type(usize),
    Suffix(Arc<str>),
    Domain(DomainKey),
}

fn hour_of_ms(ms: u64) -> i64 {
    // u64::MAX / 3.6e6 is far below i64::MAX.
    (ms / MS_PER_HOUR) as i64
}

impl SurgeDetector {
    /// Creates a detector, checking the configuration first.
    pub fn new(config: SurgeConfig) -> Result<SurgeDetector, SurgeConfigError> {
        config.validate()?;
        let mut windows: Vec<i64> = config.windows_hours.iter().map(|&w| i64::from(w)).collect();
        windows.sort_unstable();
        windows.dedup();
        Ok(SurgeDetector {
            retention: config.retention_hours(),
            max_window: config.max_window(),
            windows,
            config,
            issuers: HashMap::new(),
            tick: 0,
            now_hour: None,
            ignored_events: 0,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &SurgeConfig {
        &self.config
    }

    /// Counts one distinct certificate. O(1) amortised in the number of its registered domains.
    ///
    /// Events older than the retention (relative to the latest evaluation time, or to the issuer's
    /// newest event before the first evaluation) or more than `max_future_hours` after the latest
    /// evaluation time are ignored and counted in [`DetectorStats::ignored_events`].
    pub fn observe(&mut self, event: &IssuanceEvent<'_>) {
        let hour = hour_of_ms(event.timestamp_ms);
        if !self.accepts(&event.issuer, hour) {
            self.ignored_events += 1;
            return;
        }
        let SurgeDetector { config, issuers, tick, max_window, .. } = self;
        let st = issuer_state(issuers, tick, config.max_issuers, event.issuer, hour);
        st.total.add(hour, 1);
        let type_index = st.type_index(event.validation_type);
        if let Some(t) = st.types.get_mut(type_index) {
            t.series.add(hour, 1);
        }

        // Registered domains: count each once per certificate, and each suffix once too. Most
        // certificates have one or two, so duplicates are found by a linear scan; long lists are
        // sorted first.
        let domains = event.registered_domains;
        let mut keys: Vec<DomainKey> = Vec::with_capacity(domains.len());
        if domains.len() <= SHORT_LIST {
            for (i, name) in domains.iter().enumerate() {
                if !domains.iter().take(i).any(|earlier| earlier == name) {
                    keys.push(st.count_domain(name, hour));
                }
            }
        } else {
            let mut names: Vec<&str> = domains.iter().map(String::as_str).collect();
            names.sort_unstable();
            names.dedup();
            for name in names {
                keys.push(st.count_domain(name, hour));
            }
        }
        if keys.len() <= SHORT_LIST {
            for (i, key) in keys.iter().enumerate() {
                if let Some(suffix) = &key.0.suffix
                    && !keys.iter().take(i).any(|k| k.0.suffix.as_ref() == Some(suffix))
                {
                    st.count_suffix(suffix, hour);
                }
            }
        } else {
            let mut suffixes: Vec<&Arc<str>> = keys.iter().filter_map(|k| k.0.suffix.as_ref()).collect();
            suffixes.sort_unstable();
            suffixes.dedup();
            for suffix in suffixes {
                st.count_suffix(suffix, hour);
            }
        }
        st.evict_domains(config.max_domains_per_issuer, config.max_suffixes_per_issuer);

        let cert = RecentCert {
            hour,
            identity: event.cert_identity,
            validation_type: type_index,
            domains: keys.into_boxed_slice(),
        };
        if let Some(open) = st.open.as_mut()
            && hour >= open.start
            && open.matches(cert.validation_type, &cert.domains)
            && open.certificates.len() < config.max_certificates_per_surge
        {
            open.certificates.push(cert.clone());
        }
        st.recent.push_back(cert);
        let oldest = st.last_hour - *max_window;
        while st.recent.front().is_some_and(|c| c.hour < oldest)
            || st.recent.len() > config.max_recent_certificates_per_issuer
        {
            st.recent.pop_front();
        }
    }

    /// Adds an hourly count of certificates (no identities, no domains) to an issuer's history.
    ///
    /// Used at start-up to rebuild the baseline from stored hourly counts
    /// (`issuance_hourly(issuer, hour, validation_type, count)`), and for count-only feeds. Counts
    /// for the same hour add up. Hours outside the retention or before the epoch are ignored.
    pub fn seed_hourly(&mut self, issuer: [u8; 32], hour: i64, validation_type: &str, count: u64) {
        if !(0..=MAX_HOUR).contains(&hour) || !self.accepts(&issuer, hour) {
            self.ignored_events += 1;
            return;
        }
        if count == 0 {
            return;
        }
        let count = u32::try_from(count).unwrap_or(u32::MAX);
        let st = issuer_state(&mut self.issuers, &mut self.tick, self.config.max_issuers, issuer, hour);
        st.total.add(hour, count);
        let type_index = st.type_index(validation_type);
        if let Some(t) = st.types.get_mut(type_index) {
            t.series.add(hour, count);
        }
    }

    /// Evaluates every issuer at `now_ms` and returns the surges opened, updated or closed.
    ///
    /// Windows end at `now_ms`: the current hour counts with the fraction of it elapsed, so a sharp
    /// surge is raised within the hour it starts once it clears the thresholds. An open surge is
    /// reported when it opens, then at most once per completed hour, and once when it closes.
    pub fn evaluate(&mut self, now_ms: u64) -> Vec<Surge> {
        let current = hour_of_ms(now_ms);
        let elapsed = now_ms % MS_PER_HOUR;
        let time = if elapsed == 0 {
            EvalTime { end: current, fraction: 1.0, complete_end: current }
        } else {
            EvalTime { end: current + 1, fraction: elapsed as f64 / MS_PER_HOUR as f64, complete_end: current }
        };
        self.now_hour = Some(self.now_hour.map_or(current, |h| h.max(current)));
        let mut surges = Vec::new();
        let evaluator = Evaluator {
            config: &self.config,
            windows: &self.windows,
            retention: self.retention,
            max_window: self.max_window,
            time,
        };
        for (issuer, st) in &mut self.issuers {
            if !st.dirty && st.last_eval_end == Some(time.end) {
                continue;
            }
            evaluator.evaluate_issuer(issuer, st, &mut surges);
            st.dirty = false;
            st.last_eval_end = Some(time.end);
        }
        surges.sort_by(|a, b| a.key.cmp(&b.key));
        surges
    }

    /// Evaluates at the end of `hour` (hours since the Unix epoch), when it is complete.
    pub fn close_hour(&mut self, hour: i64) -> Vec<Surge> {
        match u64::try_from(hour.saturating_add(1)).ok().and_then(|h| h.checked_mul(MS_PER_HOUR)) {
            Some(ms) if hour >= 0 => self.evaluate(ms),
            _ => Vec::new(),
        }
    }

    /// Whether an evaluation whose windows end at `end_hour` could find anything: some issuer has
    /// a surge open or certificates within the longest window before it.
    pub fn is_active(&self, end_hour: i64) -> bool {
        let since = end_hour - self.max_window;
        self.issuers.values().any(|st| st.open.is_some() || st.last_hour >= since)
    }

    /// Sets the ratio gauge of issuers without certificates in the longest window before
    /// `end_hour` to 0 (what an evaluation would measure), without evaluating.
    pub fn settle_idle(&mut self, end_hour: i64) {
        let since = end_hour - self.max_window;
        for st in self.issuers.values_mut() {
            if st.open.is_none() && st.last_hour < since && st.ratio.is_some() {
                st.ratio = Some(0.0);
            }
        }
    }

    /// The issuer's `observed / expected` over the longest window at the latest evaluation, for a
    /// gauge; `None` for an unknown issuer or one without a baseline yet.
    pub fn current_ratio(&self, issuer: &[u8; 32]) -> Option<f64> {
        self.issuers.get(issuer).and_then(|st| st.ratio)
    }

    /// Sizes of the state.
    pub fn stats(&self) -> DetectorStats {
        let mut stats =
            DetectorStats { issuers: self.issuers.len(), ignored_events: self.ignored_events, ..Default::default() };
        for st in self.issuers.values() {
            stats.registered_domains += st.domains.len();
            stats.suffixes += st.suffixes.len();
            stats.recent_certificates += st.recent.len();
            stats.open_surges += usize::from(st.open.is_some());
            stats.series_points += st.total.len()
                + st.types.iter().map(|t| t.series.len()).sum::<usize>()
                + st.domains.values().map(|d| d.series.len()).sum::<usize>()
                + st.suffixes.values().map(|s| s.series.len()).sum::<usize>();
        }
        stats
    }

    /// Whether an event of `issuer` at `hour` falls inside the retention and not in the future.
    fn accepts(&self, issuer: &[u8; 32], hour: i64) -> bool {
        let reference = match (self.now_hour, self.issuers.get(issuer)) {
            (Some(now), _) => {
                if hour > now + i64::from(self.config.max_future_hours) {
                    return false;
                }
                now
            }
            (None, Some(st)) => st.last_hour,
            (None, None) => return true,
        };
        hour > reference - self.retention
    }
}

/// The state of `issuer`, created (forgetting the least recently active issuer if full), and
/// marked as touched at `hour`.
fn issuer_state<'m>(
    issuers: &'m mut HashMap<[u8; 32], IssuerState>,
    tick: &mut u64,
    max_issuers: usize,
    issuer: [u8; 32],
    hour: i64,
) -> &'m mut IssuerState {
    *tick += 1;
    if !issuers.contains_key(&issuer) && issuers.len() >= max_issuers {
        let oldest = issuers.iter().min_by_key(|(_, st)| st.touched).map(|(k, _)| *k);
        if let Some(oldest) = oldest {
            issuers.remove(&oldest);
        }
    }
    let st = issuers.entry(issuer).or_insert_with(|| IssuerState::new(hour));
    st.touched = *tick;
    st.dirty = true;
    st.first_hour = st.first_hour.min(hour);
    st.last_hour = st.last_hour.max(hour);
    st
}

impl IssuerState {
    fn new(hour: i64) -> IssuerState {
        IssuerState {
            first_hour: hour,
            last_hour: hour,
            touched: 0,
            dirty: true,
            last_eval_end: None,
            pruned_at: i64::MIN,
            total: HourlySeries::default(),
            types: Vec::new(),
            domains: HashMap::new(),
            suffixes: HashMap::new(),
            recent: VecDeque::new(),
            open: None,
            closed: Vec::new(),
            new_issuer_reported: false,
            ratio: None,
        }
    }

    /// Index of a validation type's series, created if new.
    fn type_index(&mut self, name: &str) -> usize {
        if let Some(i) = self.types.iter().position(|t| &*t.name == name) {
            return i;
        }
        let name = if self.types.len() + 1 >= MAX_VALIDATION_TYPES { "other" } else { name };
        if let Some(i) = self.types.iter().position(|t| &*t.name == name) {
            return i;
        }
        self.types.push(TypeSeries { name: name.into(), series: HourlySeries::default() });
        self.types.len() - 1
    }

    /// Counts one certificate under a registered domain and returns its shared key.
    fn count_domain(&mut self, name: &str, hour: i64) -> DomainKey {
        if let Some(tracked) = self.domains.get_mut(name) {
            tracked.series.add(hour, 1);
            tracked.last_hour = tracked.last_hour.max(hour);
            return tracked.key.clone();
        }
        let suffix = psl::suffix_str(name).map(|s| match self.suffixes.get(s) {
            Some(tracked) => tracked.key.clone(),
            None => Arc::from(s),
        });
        let key = DomainKey(Arc::new(DomainName { name: name.into(), suffix }));
        let mut series = HourlySeries::default();
        series.add(hour, 1);
        self.domains.insert(key.clone(), Tracked { key: key.clone(), series, last_hour: hour });
        key
    }

    /// Counts one certificate under a public suffix.
    fn count_suffix(&mut self, suffix: &Arc<str>, hour: i64) {
        if let Some(tracked) = self.suffixes.get_mut(&**suffix) {
            tracked.series.add(hour, 1);
            tracked.last_hour = tracked.last_hour.max(hour);
            return;
        }
        let tracked = self.suffixes.entry(suffix.clone()).or_insert_with(|| Tracked {
            key: suffix.clone(),
            series: HourlySeries::default(),
            last_hour: hour,
        });
        tracked.series.add(hour, 1);
        tracked.last_hour = tracked.last_hour.max(hour);
    }

    /// Keeps the domain and suffix maps within 1.5 times their bounds, dropping the least
    /// recently seen (never the open surge's own dimension).
    fn evict_domains(&mut self, max_domains: usize, max_suffixes: usize) {
        let pinned = self.open.as_ref().map(|o| &o.dimension);
        if self.domains.len() > max_domains + max_domains / 2 {
            let pinned = match pinned {
                Some(Dimension::RegisteredDomain(d)) => Some(d.as_str()),
                _ => None,
            };
            evict_least_recent(&mut self.domains, max_domains, pinned);
        }
        let pinned = self.open.as_ref().map(|o| &o.dimension);
        if self.suffixes.len() > max_suffixes + max_suffixes / 2 {
            let pinned = match pinned {
                Some(Dimension::Suffix(s)) => Some(s.as_str()),
                _ => None,
            };
            evict_least_recent(&mut self.suffixes, max_suffixes, pinned);
        }
    }

    /// Drops counts older than `horizon` (once per hour).
    fn prune(&mut self, horizon: i64) {
        if self.pruned_at == horizon {
            return;
        }
        self.pruned_at = horizon;
        self.total.prune(horizon);
        for t in &mut self.types {
            t.series.prune(horizon);
        }
        let pinned = self.open.as_ref().map(|o| o.dimension.clone());
        self.domains.retain(|k, d| {
            d.series.prune(horizon);
            !d.series.is_empty() || matches!(&pinned, Some(Dimension::RegisteredDomain(p)) if **p == *k.0.name)
        });
        self.suffixes.retain(|k, s| {
            s.series.prune(horizon);
            !s.series.is_empty() || matches!(&pinned, Some(Dimension::Suffix(p)) if **p == **k)
        });
        self.closed.retain(|&(_, to)| to > horizon);
    }

    /// Hours excluded from baseline samples: closed surges and the open one.
    fn excluded_spans(&self) -> Vec<(i64, i64)> {
        let mut spans = self.closed.clone();
        if let Some(open) = &self.open {
            spans.push((open.start, i64::MAX));
        }
        spans
    }

    /// The series a dimension is measured on.
    fn series(&self, target: &Target) -> Option<&HourlySeries> {
        match target {
            Target::Total => Some(&self.total),
            Target::Type(i) => self.types.get(*i).map(|t| &t.series),
            Target::Suffix(s) => self.suffixes.get(&**s).map(|t| &t.series),
            Target::Domain(d) => self.domains.get(&*d.0.name).map(|t| &t.series),
        }
    }

    /// The series target of a dimension.
    fn target(&self, dimension: &Dimension) -> Option<Target> {
        match dimension {
            Dimension::Issuer => Some(Target::Total),
            Dimension::ValidationType(v) => self.types.iter().position(|t| *t.name == **v).map(Target::Type),
            Dimension::Suffix(s) => self.suffixes.get(s.as_str()).map(|t| Target::Suffix(t.key.clone())),
            Dimension::RegisteredDomain(d) => self.domains.get(d.as_str()).map(|t| Target::Domain(t.key.clone())),
        }
    }
}

/// Removes the least recently seen entries of `map` down to `keep`, sparing `pinned`.
fn evict_least_recent<K, Q>(map: &mut HashMap<K, Tracked<Q>>, keep: usize, pinned: Option<&str>)
where
    K: Borrow<str> + Hash + Eq,
    Q: Clone + Borrow<str>,
{
    let doomed: Vec<Q> = {
        let mut candidates: Vec<(i64, usize, &Q)> = map
            .values()
            .filter(|t| pinned != Some(t.key.borrow()))
            .map(|t| (t.last_hour, t.series.len(), &t.key))
            .collect();
        let remove = map.len().saturating_sub(keep).min(candidates.len());
        if remove == 0 {
            return;
        }
        // Oldest first, then fewest hours with issuance, then by name so the choice is
        // deterministic. Selection, not a full sort: O(n).
        if remove < candidates.len() {
            candidates.select_nth_unstable_by(remove - 1, |a, b| {
                (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| a.2.borrow().cmp(b.2.borrow()))
            });
        }
        candidates.into_iter().take(remove).map(|(_, _, key)| key.clone()).collect()
    };
    for key in doomed {
        map.remove(key.borrow());
    }
}

impl OpenSurge {
    fn new(dimension: Dimension, type_index: Option<usize>, start: i64, trigger_window_hours: u32) -> Self {
        OpenSurge {
            dimension,
            type_index,
            start,
            trigger_window_hours,
            last_hot: start,
            checked_until: start,
            reported_until: i64::MIN,
            certificates: Vec::new(),
        }
    }

    /// Whether a certificate belongs to the surge's dimension.
    fn matches(&self, type_index: usize, domains: &[DomainKey]) -> bool {
        match &self.dimension {
            Dimension::Issuer => true,
            Dimension::ValidationType(_) => self.type_index == Some(type_index),
            Dimension::Suffix(s) => domains.iter().any(|d| d.0.suffix.as_deref() == Some(s.as_str())),
            Dimension::RegisteredDomain(name) => domains.iter().any(|d| *d.0.name == **name),
        }
    }

    /// Takes the recent certificates from `start` on that belong to the surge.
    fn collect_recent(&mut self, recent: &VecDeque<RecentCert>, config: &SurgeConfig) {
        for cert in recent.iter().filter(|c| c.hour >= self.start) {
            if self.certificates.len() >= config.max_certificates_per_surge {
                break;
            }
            if self.matches(cert.validation_type, &cert.domains) {
                self.certificates.push(cert.clone());
            }
        }
    }
}

/// The most frequent entries of a counter, largest first (ties by name).
fn top<'a>(counts: impl Iterator<Item = (&'a str, u64)>, n: usize) -> Vec<(String, u64)> {
    let mut all: Vec<(&str, u64)> = counts.filter(|(_, c)| *c > 0).collect();
    all.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    all.into_iter().take(n).map(|(name, c)| (name.to_owned(), c)).collect()
}

/// One evaluation pass: the settings and the time, shared by all issuers.
#[derive(Debug)]
struct Evaluator<'a> {
    config: &'a SurgeConfig,
    windows: &'a [i64],
    retention: i64,
    max_window: i64,
    time: EvalTime,
}

/// Measurements of one dimension over a span.
#[derive(Debug, Clone, Copy)]
struct Measured {
    stats: WindowStats,
    level: f64,
    fraction: f64,
}

impl Evaluator<'_> {
    fn evaluate_issuer(&self, issuer: &[u8; 32], st: &mut IssuerState, out: &mut Vec<Surge>) {
        let time = self.time;
        // An open surge is measured against the baseline at its start, so history is kept for a
        // retention before the start (at most `max_surge_hours` more than usual).
        let open_start = st.open.as_ref().map_or(time.end, |o| o.start.min(time.end));
        st.prune(open_start - self.retention);
        let history = time.complete_end - st.first_hour;
        let has_baseline = history >= i64::from(self.config.min_history_hours);

        // The gauge: the issuer as a whole over the longest window.
        st.ratio = if has_baseline {
            let counts = self.counts(st, &st.total, st.excluded_spans());
            let baseline = Baseline::cached(&counts, self.config, time.complete_end, st.total.level_cache());
            baseline.window(time.end - self.max_window, time.end, time.fraction, self.config).map(|w| w.ratio)
        } else {
            None
        };

        if let Some(open) = st.open.take() {
            if let Some(surge) = self.follow(issuer, st, open) {
                out.push(surge);
            }
            return;
        }
        if !has_baseline {
            if let Some(surge) = self.new_issuer(issuer, st) {
                out.push(surge);
            }
            return;
        }
        for (dimension, target) in self.candidates(st) {
            if let Some(surge) = self.try_open(issuer, st, dimension, target) {
                out.push(surge);
                return;
            }
        }
    }

    /// Dimensions worth testing, in priority order: only those with at least `min_excess`
    /// certificates in the longest window can pass the absolute test.
    fn candidates(&self, st: &IssuerState) -> Vec<(Dimension, Target)> {
        let since = self.time.end - self.max_window;
        let enough = |s: &HourlySeries| s.sum_since(since) >= self.config.min_excess;
        let mut out = Vec::new();
        if enough(&st.total) {
            out.push((Dimension::Issuer, Target::Total));
        } else {
            // Every dimension is a subset of the issuer's certificates.
            return out;
        }
        if self.config.track_validation_types && st.types.len() > 1 {
            for (i, t) in st.types.iter().enumerate() {
                if enough(&t.series) {
                    out.push((Dimension::ValidationType(t.name.to_string()), Target::Type(i)));
                }
            }
        }
        if self.config.track_suffixes {
            let mut found: Vec<(u64, &Arc<str>)> = st
                .suffixes
                .values()
                .map(|s| (s.series.sum_since(since), &s.key))
                .filter(|(n, _)| *n >= self.config.min_excess)
                .collect();
            found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            out.extend(found.into_iter().map(|(_, s)| (Dimension::Suffix(s.to_string()), Target::Suffix(s.clone()))));
        }
        if self.config.track_domains {
            let mut found: Vec<(u64, &DomainKey)> = st
                .domains
                .values()
                .map(|d| (d.series.sum_since(since), &d.key))
                .filter(|(n, _)| *n >= self.config.min_excess)
                .collect();
            found.sort_unstable_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.0.name.cmp(&b.1.0.name)));
            out.extend(
                found
                    .into_iter()
                    .map(|(_, d)| (Dimension::RegisteredDomain(d.0.name.to_string()), Target::Domain(d.clone()))),
            );
        }
        out
    }

    /// Materialises a series for this evaluation.
    fn counts(&self, st: &IssuerState, series: &HourlySeries, excluded: Vec<(i64, i64)>) -> Counts {
        self.counts_since(st, series, self.time.end, excluded)
    }

    /// Materialises a series with a retention of history before `anchor` (an open surge's start).
    fn counts_since(&self, st: &IssuerState, series: &HourlySeries, anchor: i64, excluded: Vec<(i64, i64)>) -> Counts {
        let time = self.time;
        let from = anchor.min(time.end) - self.retention;
        Counts::new(series, from, time.end, st.first_hour, time.complete_end, excluded)
    }

    /// Tests a dimension's windows; opens and reports a surge if one qualifies.
    fn try_open(&self, issuer: &[u8; 32], st: &mut IssuerState, dimension: Dimension, target: Target) -> Option<Surge> {
        let time = self.time;
        let series = st.series(&target)?;
        let counts = self.counts(st, series, st.excluded_spans());
        let baseline = Baseline::cached(&counts, self.config, time.complete_end, series.level_cache());
        // A new surge starts after the last closed one: windows reaching back into it are cut.
        let floor = st.closed.iter().map(|&(_, to)| to).max().unwrap_or(i64::MIN);
        let trigger = self.windows.iter().find_map(|&w| {
            let start = (time.end - w).max(floor);
            if start >= time.end {
                return None;
            }
            let stats = baseline.window(start, time.end, time.fraction, self.config)?;
            stats.qualifies(self.config).then_some((w, stats))
        })?;
        let (w, stats) = trigger;

        // The surge starts at the first elevated hour of the trigger window, or earlier if the
        // hours before it were elevated too.
        let fraction_of = |t: i64| if t == time.end - 1 { time.fraction } else { 1.0 };
        let hot = |t: i64| baseline.is_hot(t, fraction_of(t), self.config);
        let mut start = (stats.start..stats.end).find(|&t| hot(t)).unwrap_or(stats.start);
        let earliest = (stats.start - self.max_window).max(st.first_hour).max(floor);
        while start > earliest && hot(start - 1) {
            start -= 1;
        }
        let last_hot = (start..time.complete_end).rev().find(|&t| hot(t)).unwrap_or(start);

        let type_index = match target {
            Target::Type(i) => Some(i),
            _ => None,
        };
        let trigger_hours = u32::try_from(w).unwrap_or(u32::MAX);
        let mut open = OpenSurge::new(dimension, type_index, start, trigger_hours);
        open.last_hot = last_hot;
        open.checked_until = time.complete_end;
        open.reported_until = time.complete_end;
        open.collect_recent(&st.recent, self.config);
        let measured = self.measure(st, &target, start, time.end, time.fraction).unwrap_or(Measured {
            stats,
            level: baseline.level(),
            fraction: time.fraction,
        });
        let surge = self.report(issuer, st, &open, SurgeStatus::Opened, SurgeReason::AboveBaseline, measured);
        st.open = Some(open);
        Some(surge)
    }

    /// Follows an open surge: extends, reports hourly, or closes it.
    fn follow(&self, issuer: &[u8; 32], st: &mut IssuerState, mut open: OpenSurge) -> Option<Surge> {
        let time = self.time;
        let series = st.target(&open.dimension).and_then(|target| st.series(&target).map(|series| (target, series)));
        let Some((target, series)) = series else {
            // The dimension's counts are gone (the issuer was re-created); close with what is known.
            st.closed.push((open.start, open.last_hot + 1));
            return None;
        };
        let mut excluded = st.closed.clone();
        excluded.push((open.start, i64::MAX));
        let counts = self.counts_since(st, series, open.start, excluded);
        let baseline = Baseline::cached(&counts, self.config, time.complete_end.min(open.start), series.level_cache());
        for t in open.checked_until..time.complete_end {
            if baseline.is_hot(t, 1.0, self.config) {
                open.last_hot = open.last_hot.max(t);
            }
        }
        open.checked_until = open.checked_until.max(time.complete_end);

        let quiet = time.complete_end - 1 - open.last_hot;
        let too_long = time.end - open.start > i64::from(self.config.max_surge_hours);
        if quiet >= i64::from(self.config.quiet_hours) || too_long {
            let end = if too_long { time.complete_end } else { open.last_hot + 1 };
            let measured = self.measure(st, &target, open.start, end, 1.0);
            st.closed.push((open.start, end));
            if st.closed.len() > MAX_CLOSED_SPANS {
                st.closed.remove(0);
            }
            return measured
                .map(|m| self.report(issuer, st, &open, SurgeStatus::Closed, SurgeReason::AboveBaseline, m));
        }
        let mut surge = None;
        if time.complete_end > open.reported_until
            && let Some(measured) = self.measure(st, &target, open.start, time.end, time.fraction)
        {
            open.reported_until = time.complete_end;
            surge = Some(self.report(issuer, st, &open, SurgeStatus::Ongoing, SurgeReason::AboveBaseline, measured));
        }
        st.open = Some(open);
        surge
    }

    /// Measures `[start, end)` of a dimension against the baseline frozen at `start`: samples from
    /// inside the surge are excluded (falling back to fewer exclusions if that leaves some hour
    /// without a baseline).
    fn measure(&self, st: &IssuerState, target: &Target, start: i64, end: i64, fraction: f64) -> Option<Measured> {
        let series = st.series(target)?;
        let mut frozen = st.closed.clone();
        frozen.push((start, i64::MAX));
        let mut counts = self.counts_since(st, series, start, frozen);
        for fallback in [Some(st.closed.clone()), Some(Vec::new()), None] {
            let baseline =
                Baseline::cached(&counts, self.config, self.time.complete_end.min(start), series.level_cache());
            if let Some(stats) = baseline.window(start, end, fraction, self.config) {
                return Some(Measured { stats, level: baseline.level(), fraction });
            }
            counts = counts.with_excluded(fallback?);
        }
        None
    }

    /// Builds the report of an open surge.
    fn report(
        &self,
        issuer: &[u8; 32],
        st: &IssuerState,
        open: &OpenSurge,
        status: SurgeStatus,
        reason: SurgeReason,
        measured: Measured,
    ) -> Surge {
        let n = self.config.top_entries;
        let stats = measured.stats;
        let listed: Vec<&RecentCert> = open.certificates.iter().filter(|c| c.hour < stats.end).collect();
        let mut domain_counts: HashMap<&str, u64> = HashMap::new();
        let mut suffix_counts: HashMap<&str, u64> = HashMap::new();
        let mut type_counts = vec![0u64; st.types.len()];
        for cert in &listed {
            if let Some(c) = type_counts.get_mut(cert.validation_type) {
                *c += 1;
            }
            let mut suffixes: Vec<&str> = Vec::new();
            for d in &cert.domains {
                *domain_counts.entry(&d.0.name).or_insert(0) += 1;
                if let Some(s) = d.0.suffix.as_deref()
                    && !suffixes.contains(&s)
                {
                    suffixes.push(s);
                }
            }
            for s in suffixes {
                *suffix_counts.entry(s).or_insert(0) += 1;
            }
        }
        Surge {
            key: surge_key(issuer, &open.dimension, open.start),
            status,
            reason,
            issuer: *issuer,
            dimension: open.dimension.clone(),
            window_start_hour: open.start,
            window_end_hour: stats.end,
            last_hour_fraction: measured.fraction,
            trigger_window_hours: open.trigger_window_hours,
            observed: stats.observed,
            baseline_expected: stats.expected,
            ratio: stats.ratio,
            excess: stats.excess,
            spread: stats.spread,
            score: stats.score,
            level_factor: measured.level,
            top_registered_domains: top(domain_counts.into_iter(), n),
            top_suffixes: top(suffix_counts.into_iter(), n),
            validation_types: top(st.types.iter().zip(&type_counts).map(|(t, c)| (&*t.name, *c)), MAX_VALIDATION_TYPES),
            certificates_listed: listed.len() as u64,
            certificates: listed.iter().map(|c| c.identity).collect(),
        }
    }

    /// The optional absolute rule for issuers without a baseline: raised once per issuer.
    fn new_issuer(&self, issuer: &[u8; 32], st: &mut IssuerState) -> Option<Surge> {
        let threshold = self.config.new_issuer_min_certificates?;
        if st.new_issuer_reported {
            return None;
        }
        let time = self.time;
        let from = time.end - self.max_window;
        let observed = st.total.sum(from, time.end);
        if observed < threshold {
            return None;
        }
        st.new_issuer_reported = true;
        let start = (from..time.end).find(|&t| st.total.sum(t, t + 1) > 0).unwrap_or(from);
        let mut open =
            OpenSurge::new(Dimension::Issuer, None, start, u32::try_from(self.max_window).unwrap_or(u32::MAX));
        open.collect_recent(&st.recent, self.config);
        let hours = (time.end - start - 1) as f64 + time.fraction;
        let observed_f = observed as f64;
        let spread = observed_f.sqrt().max(self.config.min_spread);
        let stats = WindowStats {
            start,
            end: time.end,
            observed,
            expected: 0.0,
            spread,
            ratio: observed_f / (self.config.expected_floor_per_hour * hours.max(time.fraction)),
            excess: observed_f,
            score: observed_f / spread,
        };
        let measured = Measured { stats, level: 1.0, fraction: time.fraction };
        Some(self.report(issuer, st, &open, SurgeStatus::Closed, SurgeReason::NewIssuer, measured))
    }
}
