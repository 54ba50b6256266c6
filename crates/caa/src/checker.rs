//! [`CaaChecker`]: cached, rate-limited CAA checks of certificate names, with evidence.
//!
//! Every queried name's answer is cached until its TTL runs out, empty answers included (with
//! their negative TTL), so names under one parent share the parent's answers while climbing:
//! a surge of certificates under one suffix costs one query per distinct name plus one per
//! shared ancestor. Concurrent checks that need the same name wait for one query instead of
//! sending their own. Failures are never cached beyond the query in flight, so an
//! indeterminate name is asked again on the next check.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::json;
use tokio::sync::{OnceCell, Semaphore};

use crate::eval::{CaaVerdict, evaluate};
use crate::lookup::{
    CaaLookup, HickoryLookup, LookupError, LookupFuture, NameAnswer, RelevantRrset, ResolverSettings,
    ResolverSetupError, relevant_rrset,
};

/// The shortest window in which a check confirms what CAA said at issuance (DOMAIN.md §1: a
/// conflict is confirmed only when seen within max(TTL, 8 h) of issuance).
pub const CONFIRMATION_WINDOW: Duration = Duration::from_secs(8 * 3600);

/// Settings for a [`CaaChecker`]; `[dns]` in the configuration file maps onto this.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaCheckerSettings {
    /// How to reach the upstream resolvers.
    pub resolver: ResolverSettings,
    /// Upper bound on cached names; when full, expired entries go first, then arbitrary ones.
    pub cache_capacity: usize,
    /// Answers are cached for at least this long, so TTL-0 zones do not cost a query per check.
    pub min_cache_ttl: Duration,
    /// Answers are cached for at most this long, so a check never relies on very old DNS.
    pub max_cache_ttl: Duration,
    /// The most upstream queries in flight at once.
    pub max_in_flight: usize,
    /// The most upstream queries started per second; `None` for no limit.
    pub queries_per_second: Option<u32>,
}

impl Default for CaaCheckerSettings {
    fn default() -> Self {
        Self {
            resolver: ResolverSettings::default(),
            cache_capacity: 100_000,
            min_cache_ttl: Duration::from_secs(60),
            max_cache_ttl: Duration::from_secs(3600),
            max_in_flight: 64,
            queries_per_second: Some(1000),
        }
    }
}

/// Counters describing a checker's work so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckerStats {
    /// Queries sent upstream (one per name not in the cache).
    pub upstream_queries: u64,
    /// Name lookups answered from the cache (including waits on a query already in flight).
    pub cache_hits: u64,
    /// Names currently cached.
    pub cached_names: usize,
}

/// The result of checking one certificate name.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CaaCheck {
    /// The dNSName as given.
    pub name: String,
    /// The verdict.
    pub verdict: CaaVerdict,
    /// One sentence saying why.
    pub reason: String,
    /// Whether the check happened within max(TTL, 8 h) of issuance, so that the DNS seen is
    /// what the CA should have seen; otherwise a conflict is only *potential*.
    pub confirmed: bool,
    /// The DNS evidence: records (presentation format), owner, TTL, AD bit, names tried,
    /// resolvers, check time, notBefore, SCT time, issuance time, `confirmed`.
    pub evidence: serde_json::Value,
}

/// Checks certificate names against CAA. Cheap to clone; clones share the cache and limits.
#[derive(Clone)]
pub struct CaaChecker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CaaChecker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaaChecker")
            .field("lookup", &self.inner.lookup)
            .field("settings", &self.inner.settings)
            .field("stats", &self.stats())
            .finish()
    }
}

type Slot = Arc<OnceCell<Result<Cached, LookupError>>>;

#[derive(Debug, Clone)]
struct Cached {
    answer: Arc<NameAnswer>,
    expires: Instant,
}

struct Inner {
    lookup: Arc<dyn CaaLookup>,
    settings: CaaCheckerSettings,
    cache: Mutex<HashMap<String, Slot>>,
    permits: Semaphore,
    pacer: Option<Pacer>,
    upstream_queries: AtomicU64,
    cache_hits: AtomicU64,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inner").field("lookup", &self.lookup).finish_non_exhaustive()
    }
}

impl CaaChecker {
    /// Builds a checker that queries the configured upstream resolvers with hickory.
    pub fn new(settings: CaaCheckerSettings) -> Result<Self, ResolverSetupError> {
        let lookup = HickoryLookup::new(settings.resolver.clone())?;
        Ok(Self::with_lookup(Arc::new(lookup), settings))
    }

    /// Builds a checker over any [`CaaLookup`] (`settings.resolver` is then unused).
    pub fn with_lookup(lookup: Arc<dyn CaaLookup>, settings: CaaCheckerSettings) -> Self {
        let pacer = settings.queries_per_second.filter(|&q| q > 0).map(Pacer::new);
        let permits = Semaphore::new(settings.max_in_flight.max(1));
        Self {
            inner: Arc::new(Inner {
                lookup,
                settings,
                cache: Mutex::new(HashMap::new()),
                permits,
                pacer,
                upstream_queries: AtomicU64::new(0),
                cache_hits: AtomicU64::new(0),
            }),
        }
    }

    /// Work counters so far.
    pub fn stats(&self) -> CheckerStats {
        CheckerStats {
            upstream_queries: self.inner.upstream_queries.load(Ordering::Relaxed),
            cache_hits: self.inner.cache_hits.load(Ordering::Relaxed),
            cached_names: self.inner.cache.lock().map(|c| c.len()).unwrap_or(0),
        }
    }

    /// Finds the relevant RRset of `dns_name` through the cache.
    pub async fn relevant_rrset(&self, dns_name: &str) -> Result<RelevantRrset, LookupError> {
        relevant_rrset(self.inner.as_ref(), dns_name).await
    }

    /// Checks one certificate name (`*.x` allowed) for a CA with the given CAA identifiers.
    ///
    /// `not_before` is the certificate's notBefore in Unix seconds and `sct_time_ms` the
    /// earliest SCT timestamp in Unix milliseconds; the issuance time is the SCT time when
    /// known, else notBefore. With neither (an on-demand check) the result is never
    /// `confirmed`.
    pub async fn check(
        &self,
        dns_name: &str,
        ca_identifiers: &[String],
        not_before: Option<i64>,
        sct_time_ms: Option<u64>,
    ) -> CaaCheck {
        let result = self.relevant_rrset(dns_name).await;
        let checked_at_ms = unix_ms_now();
        build_check(
            dns_name,
            ca_identifiers,
            result,
            &self.inner.lookup.upstreams(),
            checked_at_ms,
            not_before,
            sct_time_ms,
        )
    }
}

/// Assembles a [`CaaCheck`] from a lookup result; pure, so the evidence format and the
/// confirmation rule can be tested without a clock or a network.
pub fn build_check(
    dns_name: &str,
    ca_identifiers: &[String],
    result: Result<RelevantRrset, LookupError>,
    resolvers: &[String],
    checked_at_ms: i64,
    not_before: Option<i64>,
    sct_time_ms: Option<u64>,
) -> CaaCheck {
    let issuance_ms = sct_time_ms.and_then(|t| i64::try_from(t).ok()).or(not_before.map(|s| s.saturating_mul(1000)));
    let mut evidence = json!({
        "resolvers": resolvers,
        "checked_at": rfc3339_ms(checked_at_ms),
        "not_before": not_before.map(|s| rfc3339_ms(s.saturating_mul(1000))),
        "sct_time": sct_time_ms.and_then(|t| i64::try_from(t).ok()).map(rfc3339_ms),
        "issuance_time": issuance_ms.map(rfc3339_ms),
    });
    let (verdict, reason, confirmed) = match result {
        Ok(rrset) => {
            let decision = evaluate(dns_name, &rrset.records, ca_identifiers);
            let confirmed = issuance_ms.is_some_and(|i| is_confirmed(checked_at_ms, i, rrset.ttl));
            let fields = json!({
                "query_name": rrset.query_name,
                "found_at": rrset.found_at,
                "owner": rrset.owner,
                "aliases": rrset.aliases,
                "records": rrset.records.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                "matched": decision.matched.as_ref().map(|r| r.to_string()),
                "ttl": rrset.ttl,
                "authentic_data": rrset.authentic_data,
                "tried": rrset.tried,
                "source": rrset.source,
                "registered_domain": psl::domain_str(&rrset.query_name),
            });
            merge(&mut evidence, fields);
            (decision.verdict, decision.reason, confirmed)
        }
        Err(e) => {
            merge(&mut evidence, json!({ "error": e.to_string() }));
            (CaaVerdict::Indeterminate, format!("lookup failed, check again later: {e}"), false)
        }
    };
    merge(&mut evidence, json!({ "verdict": verdict, "confirmed": confirmed }));
    CaaCheck { name: dns_name.to_string(), verdict, reason, confirmed, evidence }
}

/// Whether a check at `checked_at_ms` saw the DNS as of issuance at `issuance_ms`: the two are
/// at most max(TTL, 8 h) apart (in either direction, since notBefore may be backdated).
pub fn is_confirmed(checked_at_ms: i64, issuance_ms: i64, ttl: u32) -> bool {
    let window_ms = i64::from(ttl).saturating_mul(1000).max(CONFIRMATION_WINDOW.as_millis() as i64);
    checked_at_ms.saturating_sub(issuance_ms).saturating_abs() <= window_ms
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value) {
    if let (Some(a), serde_json::Value::Object(b)) = (into.as_object_mut(), from) {
        a.extend(b);
    }
}

fn unix_ms_now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn rfc3339_ms(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| format!("@{ms}ms"))
}

impl Inner {
    fn clamp_ttl(&self, ttl: u32) -> Duration {
        Duration::from_secs(u64::from(ttl))
            .clamp(self.settings.min_cache_ttl, self.settings.max_cache_ttl.max(self.settings.min_cache_ttl))
    }

    /// The cache slot for `name`, replacing an expired one.
    fn slot(&self, name: &str) -> (Slot, bool) {
        let now = Instant::now();
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(slot) = cache.get(name) {
            let fresh = match slot.get() {
                Some(Ok(c)) => c.expires > now,
                // A failed or pending query: share it while it is in flight.
                Some(Err(_)) | None => true,
            };
            if fresh {
                return (slot.clone(), true);
            }
        }
        if cache.len() >= self.settings.cache_capacity.max(1) {
            evict(&mut cache, now, self.settings.cache_capacity.max(1));
        }
        let slot: Slot = Arc::new(OnceCell::new());
        cache.insert(name.to_string(), slot.clone());
        (slot, false)
    }

    fn forget_failure(&self, name: &str, slot: &Slot) {
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.get(name).is_some_and(|s| Arc::ptr_eq(s, slot)) {
            cache.remove(name);
        }
    }

    async fn upstream(&self, name: &str) -> Result<Cached, LookupError> {
        let _permit = self.permits.acquire().await.map_err(|_| LookupError::Transport {
            name: name.to_string(),
            message: "checker is shutting down".into(),
        })?;
        if let Some(pacer) = &self.pacer {
            pacer.wait().await;
        }
        self.upstream_queries.fetch_add(1, Ordering::Relaxed);
        let answer = self.lookup.query(name).await?;
        let expires = Instant::now() + self.clamp_ttl(answer.ttl);
        Ok(Cached { answer: Arc::new(answer), expires })
    }
}

/// Makes room in a full cache: drops expired entries and failures, then, if still above 90 %
/// of capacity, arbitrary entries (hash order) until it is not.
fn evict(cache: &mut HashMap<String, Slot>, now: Instant, capacity: usize) {
    cache.retain(|_, slot| match slot.get() {
        Some(Ok(c)) => c.expires > now,
        Some(Err(_)) => false,
        None => true,
    });
    let target = capacity - capacity / 10;
    if cache.len() >= target {
        let excess = cache.len() + 1 - target;
        let victims: Vec<String> = cache.keys().take(excess).cloned().collect();
        for v in victims {
            cache.remove(&v);
        }
    }
}

impl CaaLookup for Inner {
    fn query<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
        Box::pin(async move {
            let (slot, hit) = self.slot(name);
            let mut queried = false;
            let result = slot
                .get_or_init(|| {
                    queried = true;
                    self.upstream(name)
                })
                .await
                .clone();
            if hit && !queried {
                self.cache_hits.fetch_add(1, Ordering::Relaxed);
            }
            match result {
                Ok(c) => Ok((*c.answer).clone()),
                Err(e) => {
                    self.forget_failure(name, &slot);
                    Err(e)
                }
            }
        })
    }

    fn upstreams(&self) -> Vec<String> {
        self.lookup.upstreams()
    }
}

/// Spaces upstream queries at a fixed rate, allowing a burst of one second's worth.
#[derive(Debug)]
struct Pacer {
    interval: Duration,
    burst: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    fn new(per_second: u32) -> Self {
        Self { interval: Duration::from_secs(1) / per_second, burst: Duration::from_secs(1), next: Mutex::new(None) }
    }

    /// Reserves the next send slot and waits for it.
    async fn wait(&self) {
        let slot = {
            let mut next = match self.next.lock() {
                Ok(n) => n,
                Err(poisoned) => poisoned.into_inner(),
            };
            let now = Instant::now();
            let earliest = now.checked_sub(self.burst).unwrap_or(now);
            let slot = next.map_or(earliest, |n| n.max(earliest));
            *next = Some(slot + self.interval);
            slot
        };
        if slot > Instant::now() {
            tokio::time::sleep_until(slot.into()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lookup::{AnswerSource, AnswerStatus};
    use crate::rdata::CaaRecord;
    use std::sync::atomic::AtomicUsize;

    /// Answers `issue "ca.example"` at `example`, NXDOMAIN elsewhere, SERVFAIL for names
    /// starting with `fail`; counts queries per name.
    #[derive(Debug, Default)]
    struct Fake {
        queries: Mutex<HashMap<String, usize>>,
        total: AtomicUsize,
    }

    impl CaaLookup for Fake {
        fn query<'a>(&'a self, name: &'a str) -> LookupFuture<'a> {
            Box::pin(async move {
                *self.queries.lock().unwrap().entry(name.to_string()).or_default() += 1;
                self.total.fetch_add(1, Ordering::SeqCst);
                tokio::task::yield_now().await;
                if name.starts_with("fail") {
                    return Err(LookupError::ServFail { name: name.into() });
                }
                let records = if name == "example" { vec![CaaRecord::new(0, "issue", "ca.example")] } else { vec![] };
                Ok(NameAnswer {
                    name: name.into(),
                    status: if records.is_empty() { AnswerStatus::NxDomain } else { AnswerStatus::Records },
                    records,
                    owner: name.into(),
                    aliases: vec![],
                    ttl: 600,
                    authentic_data: false,
                    source: AnswerSource::Resolver,
                })
            })
        }

        fn upstreams(&self) -> Vec<String> {
            vec!["fake:53".into()]
        }
    }

    fn checker(fake: Arc<Fake>) -> CaaChecker {
        let settings = CaaCheckerSettings { queries_per_second: None, ..Default::default() };
        CaaChecker::with_lookup(fake, settings)
    }

    fn ids() -> Vec<String> {
        vec!["ca.example".to_string()]
    }

    #[tokio::test]
    async fn parents_are_queried_once() {
        let fake = Arc::new(Fake::default());
        let c = checker(fake.clone());
        for i in 0..100 {
            let r = c.check(&format!("h{i}.sub.example"), &ids(), None, None).await;
            assert_eq!(r.verdict, CaaVerdict::Permitted, "{}", r.reason);
        }
        let q = fake.queries.lock().unwrap();
        assert_eq!(q.get("sub.example"), Some(&1));
        assert_eq!(q.get("example"), Some(&1));
        assert_eq!(fake.total.load(Ordering::SeqCst), 102);
        assert_eq!(c.stats().upstream_queries, 102);
        assert_eq!(c.stats().cache_hits, 198);
    }

    #[tokio::test]
    async fn concurrent_checks_share_queries_in_flight() {
        let fake = Arc::new(Fake::default());
        let c = checker(fake.clone());
        let mut tasks = Vec::new();
        for i in 0..50 {
            let c = c.clone();
            tasks.push(tokio::spawn(async move { c.check(&format!("h{}.example", i % 5), &ids(), None, None).await }));
        }
        for t in tasks {
            assert_eq!(t.await.unwrap().verdict, CaaVerdict::Permitted);
        }
        assert_eq!(fake.total.load(Ordering::SeqCst), 6);
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let fake = Arc::new(Fake::default());
        let c = checker(fake.clone());
        for _ in 0..3 {
            let r = c.check("fail.example", &ids(), None, None).await;
            assert_eq!(r.verdict, CaaVerdict::Indeterminate);
            assert!(r.evidence["error"].as_str().unwrap().contains("SERVFAIL"));
        }
        assert_eq!(fake.queries.lock().unwrap().get("fail.example"), Some(&3));
    }

    #[tokio::test]
    async fn cache_stays_bounded() {
        let fake = Arc::new(Fake::default());
        let settings = CaaCheckerSettings { queries_per_second: None, cache_capacity: 50, ..Default::default() };
        let c = CaaChecker::with_lookup(fake, settings);
        for i in 0..500 {
            c.check(&format!("h{i}.example"), &ids(), None, None).await;
            assert!(c.stats().cached_names <= 50);
        }
    }

    #[tokio::test]
    async fn pacer_spaces_queries() {
        // 1000 per second with a one-second burst: the first 1000 slots are immediate, the
        // next ones are spaced by 1 ms, which tokio's paused clock makes observable.
        tokio::time::pause();
        let p = Pacer::new(1000);
        let start = tokio::time::Instant::now();
        for _ in 0..1010 {
            p.wait().await;
        }
        let elapsed = tokio::time::Instant::now() - start;
        assert!(elapsed >= Duration::from_millis(9), "{elapsed:?}");
        assert!(elapsed < Duration::from_millis(100), "{elapsed:?}");
    }

    #[test]
    fn confirmation_window() {
        let h = 3600 * 1000;
        assert!(is_confirmed(8 * h, 0, 300));
        assert!(!is_confirmed(8 * h + 1, 0, 300));
        assert!(is_confirmed(20 * h, 0, 86_400));
        assert!(!is_confirmed(25 * h, 0, 86_400));
        assert!(is_confirmed(0, 2 * h, 60));
    }

    #[test]
    fn every_lookup_failure_is_indeterminate() {
        let name = || "a.example".to_string();
        let errors = [
            LookupError::ServFail { name: name() },
            LookupError::Timeout { name: name() },
            LookupError::Bogus { name: name() },
            LookupError::AliasLoop { name: name() },
            LookupError::ResponseCode { name: name(), code: "REFUSED".into() },
            LookupError::Malformed { name: name(), message: "x".into() },
            LookupError::Transport { name: name(), message: "x".into() },
            LookupError::InvalidName { name: name(), reason: "x" },
        ];
        for e in errors {
            let c = build_check("a.example", &ids(), Err(e.clone()), &[], 0, Some(0), None);
            assert_eq!(c.verdict, CaaVerdict::Indeterminate, "{e}");
            assert!(!c.confirmed);
            assert_eq!(c.evidence["error"], e.to_string());
        }
    }

    #[test]
    fn evidence_shape() {
        let rrset = RelevantRrset {
            query_name: "www.moe.gov.tw".into(),
            found_at: Some("moe.gov.tw".into()),
            owner: Some("moe.gov.tw".into()),
            aliases: vec![],
            records: vec![CaaRecord::new(0, "issue", "letsencrypt.org"), CaaRecord::new(0, "iodef", "mailto:a@b")],
            ttl: 3600,
            authentic_data: false,
            tried: vec!["www.moe.gov.tw".into(), "moe.gov.tw".into()],
            source: AnswerSource::Resolver,
        };
        let ids = vec!["pki.hinet.net".to_string(), "tls.hinet.net".to_string()];
        // notBefore 2025-02-10T00:00:00Z, SCT one minute later, checked 2 h after the SCT.
        let nb = 1_739_145_600i64;
        let sct = (nb as u64 + 60) * 1000;
        let checked = sct as i64 + 2 * 3600 * 1000;
        let c = build_check(
            "www.moe.gov.tw",
            &ids,
            Ok(rrset.clone()),
            &["127.0.0.1:53".into()],
            checked,
            Some(nb),
            Some(sct),
        );
        assert_eq!(c.verdict, CaaVerdict::Conflict);
        assert!(c.confirmed);
        let e = &c.evidence;
        assert_eq!(e["records"], json!(["0 issue \"letsencrypt.org\"", "0 iodef \"mailto:a@b\""]));
        assert_eq!(e["found_at"], "moe.gov.tw");
        assert_eq!(e["ttl"], 3600);
        assert_eq!(e["resolvers"], json!(["127.0.0.1:53"]));
        assert_eq!(e["not_before"], "2025-02-10T00:00:00Z");
        assert_eq!(e["sct_time"], "2025-02-10T00:01:00Z");
        assert_eq!(e["issuance_time"], "2025-02-10T00:01:00Z");
        assert_eq!(e["checked_at"], "2025-02-10T02:01:00Z");
        assert_eq!(e["verdict"], "conflict");
        assert_eq!(e["confirmed"], true);
        assert_eq!(e["registered_domain"], "moe.gov.tw");
        assert_eq!(e["tried"], json!(["www.moe.gov.tw", "moe.gov.tw"]));

        // Checked nine hours after issuance: only a potential conflict.
        let late = checked + 7 * 3600 * 1000 + 1;
        let c = build_check("www.moe.gov.tw", &ids, Ok(rrset), &[], late, Some(nb), Some(sct));
        assert_eq!(c.verdict, CaaVerdict::Conflict);
        assert!(!c.confirmed);

        // On demand: no issuance time, never confirmed.
        let c = build_check(
            "x.example",
            &ids,
            Err(LookupError::Timeout { name: "x.example".into() }),
            &[],
            checked,
            None,
            None,
        );
        assert_eq!(c.verdict, CaaVerdict::Indeterminate);
        assert!(!c.confirmed);
        assert_eq!(c.evidence["issuance_time"], serde_json::Value::Null);
        assert_eq!(c.evidence["error"], "CAA query for x.example timed out");
    }
}
