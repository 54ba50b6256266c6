//! `ctwatch bench caa`: CAA checks per second of a certificate surge, with the monitor's
//! checker and cache, against a local authoritative DNS server.
//!
//! The workload is shaped like the HiPKI incident: N names (one certificate each, from a
//! watched CA whose CAA identifiers are `pki.hinet.net` and `tls.hinet.net`) spread over D
//! registered domains, nine in ten under `gov.tw` and the rest under `.com`, `.net` and `.org`.
//! A registered domain's CAA allows only letsencrypt.org, or the watched CA, or both, or is
//! absent (the climb goes on to `gov.tw` and `tw`), or is absent with `www` a CNAME to a CDN
//! name whose own CAA decides. Names are the domain, `www`, a wildcard, hosts, and hosts one
//! label deeper (climbing two labels). Every registered domain is a zone of its own, delegated
//! as in real DNS (one 11,000-record `gov.tw` zone made the test server's lookups, not the
//! checker, the bottleneck).
//!
//! Each run writes the certificates into a fresh SQLite store and runs one pass of the
//! monitor's CAA worker over them (`caa_worker::CaaWorker`: rounds of 256 certificates checked
//! concurrently, results and findings recorded in the store) with a new `CaaChecker` built as
//! `Monitor` builds it (so its cache starts empty and its query rate limit is the monitor's).
//! The DNS server (`ctwatch-testdns`) runs on a thread of its own, so its CPU time is measured
//! apart from the checker's; its query log gives the queries actually received.

use crate::bench::median;
use crate::bench_api::{BenchLogWriter, entry_record, load_average};
use crate::usage::{self, Usage};
use anyhow::{Context as _, anyhow, bail};
use ctwatch_caa::{CaaChecker, CaaCheckerSettings, CaaVerdict, ResolverSettings};
use ctwatch_monitor::StoreHandle;
use ctwatch_monitor::caa_worker::CaaWorker;
use ctwatch_monitor::config::CaSettings;
use ctwatch_monitor::watch::Watchlist;
use ctwatch_store::EntryRecord;
use ctwatch_testdns::TestDns;
use ctwatch_testlog::{CertFactory, LeafSpec, now_ms};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The throughput target, names per second.
const TARGET_NAMES_PER_SEC: f64 = 5000.0;
/// The watched CA's CAA identifiers.
const CA_IDENTIFIERS: [&str; 2] = ["pki.hinet.net", "tls.hinet.net"];
/// Entries per commit when writing the certificates.
const COMMIT_ENTRIES: usize = 8192;

/// Options of `ctwatch bench caa`.
#[derive(Debug, Clone)]
pub struct CaaBenchOptions {
    /// Names to check (one certificate each).
    pub names: u64,
    /// Registered domains they are spread over.
    pub domains: u64,
    pub runs: u32,
    /// The checker's upstream query rate limit; `None` keeps the monitor's default, `Some(0)`
    /// lifts it.
    pub queries_per_second: Option<u32>,
}

/// One measured run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaaFigures {
    pub names: u64,
    pub certificates: u64,
    pub wall_secs: f64,
    pub names_per_sec: f64,
    /// Queries the DNS server received: the checker's, plus the resolver's own follow-up
    /// queries for CNAME targets in another zone.
    pub server_queries: u64,
    /// Queries the checker sent (names not in its cache).
    pub checker_queries: u64,
    pub queries_per_name: f64,
    pub cache_hit_share: f64,
    /// CPU of this process minus the DNS server's thread: the checker, the worker and the store.
    pub checker_cpu_secs: f64,
    pub server_cpu_secs: f64,
    pub cpu_us_per_name: f64,
    pub conflicts: u64,
    pub permitted: u64,
    pub indeterminate: u64,
    pub findings: u64,
}

/// Counts the worker's checks by verdict.
#[derive(Debug, Default)]
struct CheckCounter {
    conflict: AtomicU64,
    permitted: AtomicU64,
    indeterminate: AtomicU64,
    other: AtomicU64,
}

impl ctwatch_monitor::MonitorObserver for CheckCounter {
    fn on_caa_check(&self, verdict: CaaVerdict, _elapsed: Duration) {
        let counter = match verdict {
            CaaVerdict::Conflict => &self.conflict,
            CaaVerdict::Permitted => &self.permitted,
            CaaVerdict::Indeterminate => &self.indeterminate,
            _ => &self.other,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The names to check and the zones that answer for them.
struct Workload {
    names: Vec<String>,
    zones: Vec<String>,
}

const SOA_NS: &str = "@ 3600 IN SOA ns admin 1 3600 600 86400 300\n@ 3600 IN NS ns\nns 3600 IN A 127.0.0.1\n";

/// `names` names over `domains` registered domains (see the module documentation). Each
/// registered domain is a zone of its own, as in real DNS where the registry delegates it; the
/// parents (`gov.tw`, `tw`, `com`, …) and the CDN are zones too.
fn workload(names: u64, domains: u64) -> Workload {
    let domains = domains.clamp(1, names.max(1));
    let mut zones = vec![format!("$ORIGIN tw.\n{SOA_NS}gov 3600 IN A 127.0.0.1\n")];
    zones.extend(["com", "net", "org"].iter().map(|t| format!("$ORIGIN {t}.\n{SOA_NS}")));
    let mut cdn = format!("$ORIGIN cdn-provider.net.\n{SOA_NS}");
    let mut registered = Vec::with_capacity(domains as usize);
    for d in 0..domains {
        // Nine in ten under gov.tw; the rest under .com/.net/.org.
        let fqdn = if d % 10 == 9 {
            format!("site{d}.{}", ["com", "net", "org"][(d / 10 % 3) as usize])
        } else {
            format!("agency{d}.gov.tw")
        };
        // The policy cycles with d and shifts every ten domains, so every kind of domain
        // also occurs outside gov.tw.
        let policy = (d + d / 10) % 5;
        let records = match policy {
            0 => "@ 3600 IN CAA 0 issue \"letsencrypt.org\"\n".to_string(),
            1 => format!("@ 3600 IN CAA 0 issue \"pki.hinet.net\"\n@ 3600 IN CAA 0 iodef \"mailto:pki@{fqdn}\"\n"),
            2 => "@ 3600 IN A 127.0.0.1\n".to_string(),
            3 => "@ 3600 IN CAA 0 issue \"letsencrypt.org\"\n@ 3600 IN CAA 0 issue \"tls.hinet.net\"\n".to_string(),
            _ => format!("@ 3600 IN A 127.0.0.1\nwww 3600 IN CNAME edge{d}.cdn-provider.net.\n"),
        };
        zones.push(format!("$ORIGIN {fqdn}.\n{SOA_NS}{records}"));
        if policy == 4 {
            // The CDN's name carries the CAA that decides for the alias.
            cdn.push_str(&format!("edge{d} 300 IN CAA 0 issue \"letsencrypt.org\"\n"));
        }
        registered.push(fqdn);
    }
    zones.push(cdn);
    let mut out = Vec::with_capacity(names as usize);
    for i in 0..names {
        let d = i % domains;
        let k = i / domains;
        let domain = &registered[d as usize];
        out.push(match k {
            0 => domain.clone(),
            1 => format!("www.{domain}"),
            2 => format!("*.{domain}"),
            k if k % 2 == 1 => format!("h{k}.dept{}.{domain}", k % 3),
            k => format!("h{k}.{domain}"),
        });
    }
    Workload { names: out, zones }
}

/// The DNS server on a thread of its own (a current-thread runtime), with that thread's id for
/// its CPU time.
struct DnsThread {
    dns: Arc<TestDns>,
    tid: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl DnsThread {
    fn start(zones: Vec<String>) -> anyhow::Result<DnsThread> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("bench-dns".into()).spawn(move || {
            // hickory-server logs every query at INFO: silence this thread, or the log lines
            // would cost more than the answers.
            let _quiet = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::default());
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(r) => r,
                Err(e) => {
                    let _ = ready_tx.send(Err(anyhow!("starting the DNS server's runtime: {e}")));
                    return;
                }
            };
            let tid = std::fs::read_link("/proc/thread-self")
                .ok()
                .and_then(|p| p.file_name().map(|t| t.to_string_lossy().into_owned()));
            let dns = runtime.block_on(async {
                let zones: Vec<&str> = zones.iter().map(String::as_str).collect();
                Arc::new(TestDns::start(&zones).await)
            });
            let _ = ready_tx.send(Ok((dns.clone(), tid)));
            runtime.block_on(async {
                let _ = stop_rx.await;
            });
            drop(dns);
        })?;
        let (dns, tid) = ready_rx.recv().context("the DNS server thread ended before starting")??;
        Ok(DnsThread { dns, tid, stop: Some(stop), thread: Some(thread) })
    }

    fn addr(&self) -> SocketAddr {
        self.dns.addr
    }

    fn usage(&self) -> Option<Usage> {
        usage::read(&format!("self/task/{}", self.tid.as_deref()?))
    }
}

impl Drop for DnsThread {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Build the zones and certificates once, then measure `runs` passes.
pub async fn caa(opts: CaaBenchOptions) -> anyhow::Result<()> {
    if opts.names == 0 || opts.domains == 0 || opts.runs == 0 {
        bail!("--names, --domains and --runs must be positive");
    }
    let work = workload(opts.names, opts.domains);
    let dns = DnsThread::start(work.zones)?;
    eprintln!("bench: DNS server at {}; issuing {} certificates", dns.addr(), work.names.len());
    let t0 = Instant::now();
    let names = work.names;
    let (issuer, entries) = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let ca = CertFactory::new("Bench HiPKI CA")?;
        let issuer = ca.issuer_key_hash();
        let first_seen = now_ms();
        let entries = names
            .iter()
            .map(|name| entry_record(ca.x509(&LeafSpec::new([name.as_str()]))?, false, first_seen, issuer))
            .collect::<anyhow::Result<Vec<EntryRecord>>>()?;
        Ok((issuer, entries))
    })
    .await??;
    eprintln!("bench: issued in {:.1} s", t0.elapsed().as_secs_f64());
    let entries = Arc::new(entries);
    let watch = Arc::new(Watchlist::new(
        &[CaSettings {
            name: "Bench HiPKI CA".into(),
            issuer_spki_sha256: vec![issuer],
            issuer_certs: Vec::new(),
            caa_identifiers: CA_IDENTIFIERS.iter().map(|s| s.to_string()).collect(),
        }],
        false,
    ));
    let mut figures = Vec::new();
    for run in 0..opts.runs {
        let fig = run_once(&dns, &entries, &watch, opts.queries_per_second).await?;
        eprintln!(
            "bench: run {run}: {:.0} names/s, {} queries ({:.2} per name)",
            fig.names_per_sec, fig.server_queries, fig.queries_per_name
        );
        figures.push(fig);
    }
    print_figures(&opts, &figures);
    Ok(())
}

/// The checker settings `Monitor` uses (`[dns] nameservers` is the test server), with the rate
/// limit overridden when asked.
fn checker_settings(addr: SocketAddr, queries_per_second: Option<u32>) -> CaaCheckerSettings {
    let mut settings = CaaCheckerSettings {
        resolver: ResolverSettings { nameservers: vec![addr], timeout: Duration::from_secs(5), ..Default::default() },
        ..Default::default()
    };
    if let Some(q) = queries_per_second {
        settings.queries_per_second = (q > 0).then_some(q);
    }
    settings
}

async fn run_once(
    dns: &DnsThread,
    entries: &Arc<Vec<EntryRecord>>,
    watch: &Arc<Watchlist>,
    queries_per_second: Option<u32>,
) -> anyhow::Result<CaaFigures> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("caa.sqlite");
    let location = path.to_str().ok_or_else(|| anyhow!("{} is not valid UTF-8", path.display()))?.to_string();
    let store = tokio::task::spawn_blocking({
        let entries = entries.clone();
        move || -> anyhow::Result<_> {
            let mut store = ctwatch_store::open(&location)?;
            let mut writer = BenchLogWriter::open(store.as_mut(), "bench-caa-log")?;
            for e in entries.iter() {
                writer.push(e.clone());
                if writer.pending() >= COMMIT_ENTRIES {
                    writer.commit(store.as_mut())?;
                }
            }
            writer.commit(store.as_mut())?;
            Ok(store)
        }
    })
    .await??;
    let handle = StoreHandle::new(store);
    let checker = CaaChecker::new(checker_settings(dns.addr(), queries_per_second))?;
    let counter = Arc::new(CheckCounter::default());
    let mut worker =
        CaaWorker::new(handle.clone(), watch.clone(), checker.clone(), Duration::from_secs(600), 5, counter.clone());

    let queries_before = dns.dns.query_count() as u64;
    let (process_before, server_before) = (usage::read("self"), dns.usage());
    let t0 = Instant::now();
    let pass = worker.pass().await?;
    let wall = t0.elapsed().as_secs_f64();
    let (process_after, server_after) = (usage::read("self"), dns.usage());
    let server_queries = dns.dns.query_count() as u64 - queries_before;

    let cpu = |a: Option<Usage>, b: Option<Usage>| match (a, b) {
        (Some(a), Some(b)) => b.cpu_secs() - a.cpu_secs(),
        _ => 0.0,
    };
    let server_cpu = cpu(server_before, server_after);
    let checker_cpu = cpu(process_before, process_after) - server_cpu;
    let stats = checker.stats();
    let names = counter.conflict.load(Ordering::Relaxed)
        + counter.permitted.load(Ordering::Relaxed)
        + counter.indeterminate.load(Ordering::Relaxed)
        + counter.other.load(Ordering::Relaxed);
    if names != entries.len() as u64 || pass.checked != entries.len() {
        bail!(
            "the CAA worker checked {names} names of {} certificates, expected {} ({} deferred)",
            pass.checked,
            entries.len(),
            pass.deferred
        );
    }
    let lookups = stats.upstream_queries + stats.cache_hits;
    Ok(CaaFigures {
        names,
        certificates: pass.checked as u64,
        wall_secs: wall,
        names_per_sec: names as f64 / wall.max(1e-9),
        server_queries,
        checker_queries: stats.upstream_queries,
        queries_per_name: server_queries as f64 / names.max(1) as f64,
        cache_hit_share: stats.cache_hits as f64 / lookups.max(1) as f64,
        checker_cpu_secs: checker_cpu,
        server_cpu_secs: server_cpu,
        cpu_us_per_name: checker_cpu * 1e6 / names.max(1) as f64,
        conflicts: counter.conflict.load(Ordering::Relaxed),
        permitted: counter.permitted.load(Ordering::Relaxed),
        indeterminate: counter.indeterminate.load(Ordering::Relaxed),
        findings: pass.findings as u64,
    })
}

fn print_figures(opts: &CaaBenchOptions, figures: &[CaaFigures]) {
    let limit = match opts.queries_per_second {
        None => format!("the monitor's ({} queries/s)", CaaCheckerSettings::default().queries_per_second.unwrap_or(0)),
        Some(0) => "none".to_string(),
        Some(q) => format!("{q} queries/s"),
    };
    println!(
        "workload: {} names over {} registered domains; checker rate limit: {limit}",
        opts.names,
        opts.domains.min(opts.names)
    );
    println!(
        "{:>7} {:>8} {:>9} {:>8} {:>8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "NAMES",
        "WALL s",
        "NAMES/s",
        "QUERIES",
        "CHECKER",
        "Q/NAME",
        "HIT %",
        "CPU s",
        "DNS CPU s",
        "CPU µs/nm",
        "CONFLICTS",
        "FINDINGS"
    );
    for f in figures {
        println!(
            "{:>7} {:>8.2} {:>9.0} {:>8} {:>8} {:>9.3} {:>6.1}% {:>9.2} {:>9.2} {:>9.1} {:>9} {:>9}",
            f.names,
            f.wall_secs,
            f.names_per_sec,
            f.server_queries,
            f.checker_queries,
            f.queries_per_name,
            f.cache_hit_share * 100.0,
            f.checker_cpu_secs,
            f.server_cpu_secs,
            f.cpu_us_per_name,
            f.conflicts,
            f.findings
        );
    }
    let med = |g: fn(&CaaFigures) -> f64| median(figures.iter().map(g).collect());
    let rate = med(|f| f.names_per_sec);
    println!(
        "\nmedians: {rate:.0} names/s, {:.3} queries per name, {:.1} % cache hits, {:.1} CPU µs per name \
         (DNS server {:.2} s CPU); target >= {TARGET_NAMES_PER_SEC:.0} names/s: {}; load average {}",
        med(|f| f.queries_per_name),
        med(|f| f.cache_hit_share) * 100.0,
        med(|f| f.cpu_us_per_name),
        med(|f| f.server_cpu_secs),
        if rate >= TARGET_NAMES_PER_SEC { "met" } else { "MISSED" },
        load_average().map_or("-".to_string(), |l| format!("{l:.2}"))
    );
}
