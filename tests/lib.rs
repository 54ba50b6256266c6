//! Shared helpers for the integration tests: scenarios on a test log and a monitor run over
//! them.

use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_monitor::config::Settings;
use ctwatch_monitor::{LogSummary, Monitor, RunMode};
use ctwatch_scenario::{EXPECTED, ServedScenario};
use ctwatch_store::testing::TestSchema;
use ctwatch_store::{Finding, FindingFilter, SqliteStore, Store};
use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, TestLogServer, encode_sct_list};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What a scenario put in a log, for assertions.
#[derive(Debug, Default, Clone)]
pub struct Planted {
    /// Distinct certificates issued (a precert and its final certificate count once).
    pub distinct_certificates: usize,
    /// Log entries added.
    pub entries: u64,
}

/// Log `n` certificates from `ca` in every log of `logs`, in a realistic mix: precert + final
/// (most), precert only, plain x509 without SCTs. Deterministic given `n`. The final
/// certificates embed the first log's SCT.
pub fn populate(logs: &[&TestLog], ca: &CertFactory, n: usize, start_ms: u64) -> Planted {
    let mut planted = Planted::default();
    let chain = ca.chain();
    for i in 0..n {
        let names = vec![format!("host{i}.example{}.test", i % 7), format!("www.host{i}.example{}.test", i % 7)];
        let spec = LeafSpec::new(names);
        let ts = start_ms + i as u64 * 1000;
        match i % 10 {
            0 => {
                let der = ca.x509(&spec).expect("x509");
                for log in logs {
                    log.add_x509_entry(&der, chain.clone(), ts).expect("add x509");
                }
                planted.entries += 1;
            }
            k => {
                let precert = ca.precert(&spec).expect("precert");
                let mut first_index = None;
                for log in logs {
                    let idx = log
                        .add_precert_entry(&precert.der, ca.issuer_der(), chain[1..].to_vec(), ts)
                        .expect("add precert");
                    first_index.get_or_insert(idx);
                }
                planted.entries += 1;
                if k >= 3 {
                    let sct = logs[0].sct_for_entry(first_index.expect("one log")).expect("sct");
                    let final_der = ca.final_cert(&precert, &encode_sct_list(&[sct])).expect("final");
                    for log in logs {
                        log.add_x509_entry(&final_der, chain.clone(), ts).expect("add final");
                    }
                    planted.entries += 1;
                }
            }
        }
        planted.distinct_certificates += 1;
    }
    planted
}

/// Which view of the test log the monitor reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Rfc6962,
    Tiled,
}

/// Knobs for a monitor run in tests.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub commit_entries: u64,
    pub batch_size: u64,
    pub concurrency: usize,
    pub extra_toml: String,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { commit_entries: 100, batch_size: 32, concurrency: 4, extra_toml: String::new() }
    }
}

/// The `[[log]]` TOML for one view of a test log.
pub fn log_toml(server: &TestLogServer, log: &TestLog, view: View, opts: &RunOptions) -> String {
    let name = log.name();
    let key = base64::engine::general_purpose::STANDARD.encode(log.log_key_spki_der());
    let endpoint = match view {
        View::Rfc6962 => format!("url = \"{}\"", server.url_rfc6962(&name)),
        View::Tiled => format!(
            "monitoring_url = \"{}\"\nsubmission_url = \"{}\"",
            server.url_monitoring(&name),
            server.url_submission(&name)
        ),
    };
    format!(
        "[[log]]\nname = \"{name}\"\n{endpoint}\nkey = \"{key}\"\nbatch_size = {}\nconcurrency = {}\nrequests_per_second = 100000.0\n",
        opts.batch_size, opts.concurrency
    )
}

/// A complete config for the given logs, with fast polling for tests.
pub fn config_toml(store: &Path, logs: &[String], opts: &RunOptions) -> String {
    format!(
        "[store]\npath = \"{}\"\n[fetch]\npoll_interval_secs = 0.05\npartial_tile_delay_secs = 0\ncommit_entries = {}\ntimeout_secs = 10\n{}\n{}",
        store.display(),
        opts.commit_entries,
        opts.extra_toml,
        logs.join("\n")
    )
}

/// Write `toml` to `dir/ctwatch.toml`, run the monitor until caught up, return the summaries.
pub async fn run_until_caught_up(dir: &Path, toml: &str) -> Vec<LogSummary> {
    let path = dir.join("ctwatch.toml");
    std::fs::write(&path, toml).expect("write config");
    let settings = Settings::load(&path).expect("valid config");
    let store = settings.store.open().expect("open store");
    let monitor = Monitor::new(settings, store).await.expect("monitor");
    monitor.run(RunMode::UntilCaughtUp, tokio_util::sync::CancellationToken::new()).await.expect("run")
}

/// Open a store read-only for assertions.
pub fn open_store(path: &Path) -> SqliteStore {
    SqliteStore::open(path).expect("open store")
}

/// Every stored certificate as (identity, der, has_precert, has_final), sorted by identity.
pub fn certificate_set(store: &SqliteStore) -> Vec<([u8; 32], Vec<u8>, bool, bool)> {
    let mut out: Vec<_> = ctwatch_store::testing::all_certificates(store)
        .expect("certificates")
        .into_iter()
        .map(|c| (c.identity, c.der, c.has_precert, c.has_final))
        .collect();
    out.sort();
    out
}

/// A fresh temporary directory.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

/// Store path inside `dir`.
pub fn store_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.sqlite"))
}

/// A static HTTP server on 127.0.0.1 (CRLs for the scenarios): paths map to bodies that the
/// test may change while it runs.
#[derive(Debug, Clone)]
pub struct StaticFiles {
    pub addr: std::net::SocketAddr,
    inner: ctwatch_scenario::FileServer,
}

impl StaticFiles {
    pub async fn start() -> StaticFiles {
        let inner = ctwatch_scenario::FileServer::start().await.expect("bind 127.0.0.1");
        StaticFiles { addr: inner.addr, inner }
    }

    /// `http://127.0.0.1:port/<path>`.
    pub fn url(&self, path: &str) -> String {
        self.inner.url(path)
    }

    pub fn put(&self, path: &str, body: Vec<u8>) {
        self.inner.put(path, body);
    }
}

pub use ctwatch_scenario::pem_cert;

/// The scenario served into `n` logs named `shard0`, `shard1`, … (every entry in every log).
pub async fn scenario_in_logs(n: usize) -> ServedScenario {
    let logs = (0..n).map(|i| TestLog::new(&format!("shard{i}"), LogSigner::generate())).collect();
    ServedScenario::start(logs, ctwatch_monitor::follow::unix_now()).await.unwrap()
}

/// A config for every log of the served scenario on the PostgreSQL schema, with `extra` TOML
/// (e.g. a `[shard]` section) put first.
pub fn postgres_config(scenario: &ServedScenario, dir: &Path, schema: &TestSchema, extra: &str) -> String {
    let opts = RunOptions { extra_toml: scenario.detectors_toml(dir).unwrap(), ..Default::default() };
    let logs: Vec<String> =
        scenario.logs.iter().map(|log| log_toml(&scenario.server, log, View::Rfc6962, &opts)).collect();
    let sqlite = store_path(dir, "unused");
    let toml = config_toml(&sqlite, &logs, &opts);
    let path_line = format!("[store]\npath = \"{}\"\n", sqlite.display());
    assert!(toml.contains(&path_line), "config_toml changed its [store] section: {toml}");
    format!("{extra}\n{}", toml.replace(&path_line, &format!("[store]\nurl = \"{}\"\n", schema.url())))
}

/// The findings as (kind, key, certificate count), sorted; fails on a key seen twice.
pub fn finding_set(store: &dyn Store) -> BTreeSet<(String, String, u64)> {
    let findings = store.findings(&FindingFilter { limit: Some(100_000), ..Default::default() }).unwrap();
    let set: BTreeSet<_> = findings.iter().map(|f| (f.kind.clone(), f.key.clone(), f.certificate_count)).collect();
    let keys: BTreeSet<&str> = findings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys.len(), findings.len(), "a finding key is stored twice");
    set
}

/// Assert the scenario's exact outcome; return the findings.
pub fn check_findings(store: &dyn Store) -> Vec<Finding> {
    // Distinct certificates: precert and final counted once.
    assert_eq!(store.certificate_count().unwrap(), EXPECTED.certificates);
    let findings = store.findings(&FindingFilter { limit: Some(10_000), ..Default::default() }).unwrap();
    let by_kind = |kind: &str| -> Vec<&Finding> { findings.iter().filter(|f| f.kind == kind).collect() };
    let summary: Vec<String> =
        findings.iter().map(|f| format!("{} {} {:?} {}", f.kind, f.key, f.ca, f.certificate_count)).collect();
    let context = summary.join("\n");

    // Nothing unexpected.
    let kinds: BTreeSet<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    let expected_kinds: BTreeSet<&str> =
        ["issuance_surge", "caa_conflict", "compromised_key_reuse", "lint_violation", "revocation_overdue"].into();
    assert_eq!(kinds, expected_kinds, "{context}");

    // Surge: HiPKI only.
    let surges = by_kind("issuance_surge");
    assert!(!surges.is_empty(), "{context}");
    assert!(surges.iter().all(|f| f.ca.as_deref() == Some("HiPKI")), "{context}");
    assert!(surges.iter().any(|f| f.certificate_count >= 100), "{context}");

    // CAA: the four forbidding cases, 60 certificates each; no permissive look-alike.
    let mut caa: Vec<(String, String, u64)> = by_kind("caa_conflict")
        .iter()
        .map(|f| {
            (
                f.evidence["verdict"].as_str().unwrap_or("?").to_string(),
                f.evidence["dns"]["found_at"].as_str().unwrap_or("?").to_string(),
                f.certificate_count,
            )
        })
        .collect();
    caa.sort();
    assert_eq!(
        caa,
        EXPECTED.caa.iter().map(|(v, n, c)| (v.to_string(), n.to_string(), *c)).collect::<Vec<_>>(),
        "{context}"
    );

    // Key reuse: 8 keys, 33 certificates, all BR violations by iTrus.
    let reuse = by_kind("compromised_key_reuse");
    assert_eq!(reuse.len(), EXPECTED.key_reuse_findings, "{context}");
    assert_eq!(reuse.iter().map(|f| f.certificate_count).sum::<u64>(), EXPECTED.key_reuse_certificates, "{context}");
    assert!(
        reuse.iter().all(|f| f.ca.as_deref() == Some("iTrus") && f.evidence["class"] == "br_violation"),
        "{context}"
    );

    // Lints: exactly the two incident lints, counted in distinct certificates.
    let mut lints: Vec<(String, String, u64)> = by_kind("lint_violation")
        .iter()
        .map(|f| {
            (
                f.ca.clone().unwrap_or_default(),
                f.evidence["lint"].as_str().unwrap_or("?").to_string(),
                f.certificate_count,
            )
        })
        .collect();
    lints.sort();
    assert_eq!(
        lints,
        EXPECTED.lints.iter().map(|(ca, l, c)| (ca.to_string(), l.to_string(), *c)).collect::<Vec<_>>(),
        "{context}"
    );

    // Revocation: CFCA's 80 late or unrevoked, Hongkong Post none; the 24-hour findings all
    // overdue (nothing of theirs was revoked).
    let overdue = by_kind("revocation_overdue");
    let mut by_source: BTreeMap<String, u64> = BTreeMap::new();
    for f in &overdue {
        *by_source.entry(f.evidence["source_kind"].as_str().unwrap_or("?").to_string()).or_default() +=
            f.certificate_count;
    }
    let expected: BTreeMap<String, u64> = EXPECTED.overdue_by_source.iter().map(|(k, c)| (k.to_string(), *c)).collect();
    assert_eq!(by_source, expected, "{context}");
    let cfca = overdue.iter().find(|f| f.evidence["source_kind"] == "lint_violation").unwrap();
    assert_eq!(cfca.evidence["counts"]["late"], 40, "{context}");
    assert_eq!(cfca.evidence["counts"]["unrevoked"], 40, "{context}");
    assert_eq!(cfca.evidence["counts"]["on_time"], 40, "{context}");
    assert_eq!(overdue.len(), EXPECTED.overdue_findings, "{context}");

    findings
}
