//! `ctwatch bench api`: how big the database of N watched certificates is next to their DER,
//! and how fast the HTTP API answers on it.
//!
//! The certificates go into a fresh SQLite store through [`ctwatch_store::Store::commit`], in
//! batches built as the follower builds them (a precertificate entry and its final
//! certificate's entry per certificate, findings linked in the same batch, the cursor and a
//! verified head with each commit). Signing a million certificates with rcgen would take most
//! of an hour, so a few templates are signed once per CA and each certificate is a template
//! with its serial, subscriber key and host name rewritten in place (same lengths, so the DER
//! stays well formed): every certificate is distinct and parses, only its signature no longer
//! verifies, which nothing on the store's or the API's path checks. Facts are recomputed from
//! the DER on read, as for real certificates.
//!
//! The database size is measured with the store closed (SQLite checkpoints the WAL then),
//! `-wal` included if one is left. Then the API server `ctwatch run` serves (same router,
//! `/metrics` reading the store on every request instead of every 5 s) listens on
//! 127.0.0.1:0 and every route is timed with varied parameters.

use crate::bench::median;
use anyhow::{Context as _, anyhow, bail};
use ctwatch_ct::Hash;
use ctwatch_ct::merkle::CompactRange;
use ctwatch_monitor::StoreHandle;
use ctwatch_store::{
    CertificateRecord, CommitBatch, EntryRecord, FindingFilter, FindingStatus, LogCheckpoint, LogIdentity, NewFinding,
    Severity, Store, VerifiedHead,
};
use ctwatch_testlog::{CertFactory, LeafSpec, Serial, SubscriberKey, ValidationLevel, encode_sct_list, now_ms};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The latency target of every API route.
const TARGET_MS: f64 = 50.0;
/// The size target: database bytes per byte of certificate DER.
const TARGET_RATIO: f64 = 2.0;
/// Certificates per commit (two log entries each: the follower's `commit_entries` of the
/// benchmark configurations is 8192).
const CERTS_PER_COMMIT: u64 = 4096;
/// The database and its description inside `--dir`.
const DB_FILE: &str = "bench-api.sqlite";
const CORPUS_FILE: &str = "bench-api.json";
/// The benchmark log's name.
const LOG_NAME: &str = "bench-api-log";
/// The two watched CAs.
const CA_NAMES: [&str; 2] = ["Bench HiPKI", "Bench Second CA"];
const LINTS: [&str; 8] = [
    "e_sub_cert_aia_missing",
    "w_sub_cert_sha1_expiration_too_long",
    "e_ext_san_dns_name_too_long",
    "e_subject_common_name_not_from_san",
    "w_ext_key_usage_not_critical",
    "e_sub_cert_eku_missing",
    "w_rsa_mod_not_odd",
    "e_cab_dv_conflicts_with_org",
];

/// Options of `ctwatch bench api`.
#[derive(Debug, Clone)]
pub struct ApiBenchOptions {
    /// Watched certificates in the database.
    pub certificates: u64,
    /// Where the database is kept (reused when it holds `certificates` certificates).
    pub dir: Option<PathBuf>,
    /// Requests per route.
    pub requests: u32,
}

/// What was generated, saved beside the database so a rerun can reuse it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Corpus {
    certificates: u64,
    entries: u64,
    /// Bytes of DER of the stored certificates (the final certificate of each).
    der_bytes: u64,
    findings: u64,
    generate_secs: f64,
}

/// Latency of one route.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RouteFigures {
    pub route: String,
    pub requests: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_bytes: f64,
}

/// Generate (or reuse) the database, measure its size, time the API routes, print both.
pub async fn api(opts: ApiBenchOptions) -> anyhow::Result<()> {
    if opts.certificates == 0 || opts.requests == 0 {
        bail!("--certificates and --requests must be positive");
    }
    let (dir, _tmp) = crate::bench::work_dir(opts.dir.as_deref())?;
    let db = dir.join(DB_FILE);
    let corpus = match reusable(&dir, opts.certificates).await? {
        Some(c) => {
            eprintln!("bench: reusing {} ({} certificates)", db.display(), c.certificates);
            c
        }
        None => {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(dir.join(format!("{DB_FILE}{suffix}")));
            }
            eprintln!("bench: generating {} certificates into {}", opts.certificates, db.display());
            let n = opts.certificates;
            let path = db.clone();
            let corpus = tokio::task::spawn_blocking(move || generate(&path, n)).await??;
            std::fs::write(dir.join(CORPUS_FILE), serde_json::to_string_pretty(&corpus)?)?;
            corpus
        }
    };
    let (db_bytes, wal_bytes) = file_sizes(&db);
    let ratio = (db_bytes + wal_bytes) as f64 / corpus.der_bytes.max(1) as f64;

    let location = path_str(&db)?;
    let store = ctwatch_store::open(&location).with_context(|| format!("opening {location}"))?;
    let handle = StoreHandle::new(store);
    let routes = time_routes(&handle, opts.requests).await?;
    print_figures(&corpus, db_bytes, wal_bytes, ratio, &routes);
    let figures = serde_json::json!({
        "corpus": corpus,
        "db_bytes": db_bytes,
        "wal_bytes": wal_bytes,
        "ratio": ratio,
        "routes": routes,
        "load_average": load_average(),
    });
    std::fs::write(dir.join("figures-api.json"), serde_json::to_string_pretty(&figures)?)?;
    Ok(())
}

/// The saved corpus when the database in `dir` holds exactly `certificates` certificates.
async fn reusable(dir: &Path, certificates: u64) -> anyhow::Result<Option<Corpus>> {
    let Ok(text) = std::fs::read_to_string(dir.join(CORPUS_FILE)) else { return Ok(None) };
    let Ok(corpus) = serde_json::from_str::<Corpus>(&text) else { return Ok(None) };
    let db = dir.join(DB_FILE);
    if corpus.certificates != certificates || !db.exists() {
        return Ok(None);
    }
    let location = path_str(&db)?;
    let count = tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
        let store = ctwatch_store::open_read_only(&location)?;
        Ok(store.certificate_count()?)
    })
    .await??;
    Ok((count == certificates).then_some(corpus))
}

fn path_str(path: &Path) -> anyhow::Result<String> {
    path.to_str().map(str::to_string).ok_or_else(|| anyhow!("{} is not valid UTF-8", path.display()))
}

/// Sizes of the database file and of its WAL (0 when absent).
fn file_sizes(db: &Path) -> (u64, u64) {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    (size(db.to_path_buf()), size(PathBuf::from(wal)))
}

/// The 1-minute load average, when /proc says.
pub(crate) fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

// ---------------------------------------------------------------------------------- writing

/// The store record of one certificate DER, as the entry processing makes it: facts and the
/// precert/final identity from the DER, the leaf hash over the DER (the benchmark has no log
/// entry encoding to hash).
pub(crate) fn entry_record(
    der: Vec<u8>,
    is_precert: bool,
    timestamp_ms: u64,
    issuer: Hash,
) -> anyhow::Result<EntryRecord> {
    let facts =
        ctwatch_cert::facts::cert_facts(&der).map_err(|e| anyhow!("a generated certificate does not parse: {e}"))?;
    let tbs = ctwatch_cert::identity::tbs_of_cert(&der)?;
    let identity = ctwatch_cert::identity::certificate_identity(&tbs)?;
    Ok(EntryRecord {
        index: 0,
        leaf_hash: ctwatch_ct::merkle::leaf_hash(&der),
        timestamp_ms,
        is_precert,
        certificate: CertificateRecord { identity, issuer_spki_sha256: Some(issuer), is_precert, der, facts },
    })
}

/// Writes entries of one benchmark log through [`Store::commit`]: entries get consecutive
/// indexes, the compact range follows them, and every commit carries the cursor and a
/// verified head at it.
pub(crate) struct BenchLogWriter {
    log_id: Hash,
    checkpoint: LogCheckpoint,
    range: CompactRange,
    cursor: u64,
    entries: Vec<EntryRecord>,
    findings: Vec<NewFinding>,
}

impl BenchLogWriter {
    /// Register the log `name` in `store`; it must have no entries yet.
    pub(crate) fn open(store: &mut dyn Store, name: &str) -> anyhow::Result<Self> {
        let log_id = ctwatch_ct::sha256(name.as_bytes());
        let url = format!("https://{name}.bench.test/");
        let checkpoint = store.open_log(&LogIdentity { log_id, name: name.to_string(), url })?;
        if checkpoint.cursor != 0 {
            bail!("log {name} already has {} entries in this store", checkpoint.cursor);
        }
        Ok(BenchLogWriter {
            log_id,
            checkpoint,
            range: CompactRange::new(),
            cursor: 0,
            entries: Vec::new(),
            findings: Vec::new(),
        })
    }

    /// Append an entry at the next index.
    pub(crate) fn push(&mut self, mut entry: EntryRecord) {
        entry.index = self.cursor + self.entries.len() as u64;
        self.range.append(entry.leaf_hash);
        self.entries.push(entry);
    }

    /// Add a finding to the next commit (its certificates must be in it or stored before).
    pub(crate) fn add_finding(&mut self, finding: NewFinding) {
        self.findings.push(finding);
    }

    /// Entries waiting for the next commit.
    pub(crate) fn pending(&self) -> usize {
        self.entries.len()
    }

    /// Commit what was pushed since the last commit, in one transaction.
    pub(crate) fn commit(&mut self, store: &mut dyn Store) -> anyhow::Result<()> {
        let entries = std::mem::take(&mut self.entries);
        let previous_cursor = self.cursor;
        let cursor = previous_cursor + entries.len() as u64;
        let timestamp_ms = entries.iter().map(|e| e.timestamp_ms).max().unwrap_or_else(now_ms);
        // The stored checkpoint with what this commit changes (fields it does not know about
        // keep what `open_log` returned).
        let mut checkpoint = self.checkpoint.clone();
        checkpoint.cursor = cursor;
        checkpoint.peaks = self.range.peaks().to_vec();
        checkpoint.verified_head =
            Some(VerifiedHead { tree_size: cursor, timestamp_ms, root_hash: self.range.root(), signature: Vec::new() });
        let batch = CommitBatch {
            log_id: self.log_id,
            previous_cursor,
            checkpoint,
            entries,
            malformed: Vec::new(),
            issuance: Vec::new(),
            findings: std::mem::take(&mut self.findings),
            skipped_entries: 0,
        };
        store.commit(&batch)?;
        self.cursor = cursor;
        self.checkpoint = batch.checkpoint;
        Ok(())
    }
}

// ------------------------------------------------------------------------------- generating

/// One certificate shape signed once: a precertificate and its final certificate whose serial,
/// key and host/domain labels sit at known offsets.
struct Template {
    issuer: Hash,
    ca: &'static str,
    precert: Patchable,
    final_cert: Patchable,
}

/// A DER and where to rewrite it.
struct Patchable {
    der: Vec<u8>,
    serial: Vec<usize>,
    key: Vec<usize>,
    host: Vec<usize>,
    domain: Vec<usize>,
}

const SERIAL_MARK: &[u8; 16] = b"\x41SERIAL-MARKER-\x01";
const HOST_MARK: &[u8; 8] = b"hhhhhhhh";
const DOMAIN_MARK: &[u8; 6] = b"dddddd";

fn positions(hay: &[u8], needle: &[u8]) -> Vec<usize> {
    hay.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(i, _)| i).collect()
}

impl Patchable {
    fn new(der: Vec<u8>, key_tail: &[u8]) -> anyhow::Result<Self> {
        let p = Patchable {
            serial: positions(&der, SERIAL_MARK),
            key: positions(&der, key_tail),
            host: positions(&der, HOST_MARK),
            domain: positions(&der, DOMAIN_MARK),
            der,
        };
        if p.serial.len() != 1 || p.key.len() != 1 || p.host.is_empty() || p.domain.is_empty() {
            bail!(
                "template markers not found exactly where expected (serial {}, key {}, host {}, domain {})",
                p.serial.len(),
                p.key.len(),
                p.host.len(),
                p.domain.len()
            );
        }
        Ok(p)
    }

    /// The DER of certificate `i` in domain `domain`.
    fn instance(&self, i: u64, host: &[u8; 8], domain: &[u8; 6]) -> Vec<u8> {
        let mut der = self.der.clone();
        let digest = ctwatch_ct::sha256(&i.to_be_bytes());
        for &at in &self.serial {
            // A positive 16-byte INTEGER: 0x41, then i, then hash bytes.
            der[at + 1..at + 8].copy_from_slice(&i.to_be_bytes()[1..]);
            der[at + 8..at + 16].copy_from_slice(&digest[..8]);
        }
        for &at in &self.key {
            // The last 8 bytes of the EC point: a distinct key per certificate.
            for (k, b) in i.to_be_bytes().iter().enumerate() {
                der[at + k] ^= b;
            }
        }
        for &at in &self.host {
            der[at..at + 8].copy_from_slice(host);
        }
        for &at in &self.domain {
            der[at..at + 6].copy_from_slice(domain);
        }
        der
    }
}

/// A syntactically real SCT (v1, ECDSA-sized signature) for the final certificates.
fn fake_sct(log: u8, timestamp_ms: u64) -> Vec<u8> {
    let mut sct = vec![0u8];
    sct.extend_from_slice(&ctwatch_ct::sha256(&[log]));
    sct.extend_from_slice(&timestamp_ms.to_be_bytes());
    sct.extend_from_slice(&[0, 0, 4, 3, 0, 71]);
    sct.extend_from_slice(&[0x30, 69, 0x02, 0x20]);
    sct.extend_from_slice(&ctwatch_ct::sha256(&[log, 1]));
    sct.extend_from_slice(&[0x02, 0x21, 0x00]);
    sct.extend_from_slice(&ctwatch_ct::sha256(&[log, 2]));
    sct
}

fn templates() -> anyhow::Result<Vec<Template>> {
    let host = std::str::from_utf8(HOST_MARK)?;
    let domain = std::str::from_utf8(DOMAIN_MARK)?;
    let base = format!("{host}.{domain}.gov.tw");
    let shapes: [(Vec<String>, ValidationLevel); 4] = [
        (vec![base.clone()], ValidationLevel::Dv),
        (vec![base.clone(), format!("www.{base}")], ValidationLevel::Dv),
        (vec![base.clone(), format!("api.{base}"), format!("mail.{base}")], ValidationLevel::Ov),
        (vec![format!("*.{base}"), base.clone()], ValidationLevel::Ov),
    ];
    let sct_list = encode_sct_list(&[fake_sct(1, now_ms()), fake_sct(2, now_ms())]);
    let mut out = Vec::new();
    for ca_name in CA_NAMES {
        let ca = CertFactory::new(ca_name)?;
        for (names, validation) in &shapes {
            let key = SubscriberKey::generate()?;
            let spki = key.spki_der();
            let key_tail = spki.get(spki.len().saturating_sub(8)..).unwrap_or_default().to_vec();
            let mut spec = LeafSpec::new(names.clone());
            spec.serial = Serial::Bytes(SERIAL_MARK.to_vec());
            spec.key = Some(key);
            spec.validation = *validation;
            spec.crl_url = Some("http://crl.bench.test/issuing.crl".into());
            spec.ocsp_url = Some("http://ocsp.bench.test/".into());
            let precert = ca.precert(&spec)?;
            let final_der = ca.final_cert(&precert, &sct_list)?;
            out.push(Template {
                issuer: ca.issuer_key_hash(),
                ca: ca_name,
                precert: Patchable::new(precert.der, &key_tail)?,
                final_cert: Patchable::new(final_der, &key_tail)?,
            });
        }
    }
    Ok(out)
}

/// The host label of certificate `i` (8 base-36 digits).
fn host_label(i: u64) -> [u8; 8] {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = [b'0'; 8];
    let mut v = i;
    for slot in out.iter_mut().rev() {
        *slot = DIGITS[(v % 36) as usize];
        v /= 36;
    }
    out
}

/// The registered-domain label of domain `d` ("a" and 5 digits).
fn domain_label(d: u64) -> [u8; 6] {
    let mut out = *b"a00000";
    let mut v = d % 100_000;
    for slot in out[1..].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out
}

/// One certificate's two entries plus the findings it takes part in.
struct Generated {
    precert: EntryRecord,
    final_cert: EntryRecord,
    findings: Vec<NewFinding>,
}

/// Certificate `i` of `n`: template, names, entries 30 days back to now, and findings:
/// a CAA conflict per tenth registered domain (every certificate of it linked), an invalid
/// SCT on one certificate in 500, a reused compromised key shared by three certificates
/// (one in 1000), and eight lints per CA each failing on one certificate in 97.
fn generate_one(templates: &[Template], i: u64, n: u64, start_ms: u64) -> anyhow::Result<Generated> {
    let t = &templates[(i % templates.len() as u64) as usize];
    let domains = (n / 100).clamp(1, 100_000);
    let d = i % domains;
    let (host, domain) = (host_label(i), domain_label(d));
    let ts = start_ms + i * (30 * 86_400_000 / n.max(1));
    let precert = entry_record(t.precert.instance(i, &host, &domain), true, ts, t.issuer)?;
    let final_cert = entry_record(t.final_cert.instance(i, &host, &domain), false, ts + 1, t.issuer)?;
    let identity = precert.certificate.identity;
    let issuer = hex::encode(t.issuer);
    let name = precert.certificate.facts.dns_names.first().cloned().unwrap_or_default();
    let registered = format!("{}.gov.tw", String::from_utf8_lossy(&domain));
    let finding = |key: String, kind: &str, severity: Severity, evidence: serde_json::Value| NewFinding {
        key,
        kind: kind.to_string(),
        severity,
        ca: Some(t.ca.to_string()),
        issuer: Some(issuer.clone()),
        evidence,
        certificates: vec![identity],
        seen_at: (ts / 1000) as i64,
    };
    let mut findings = Vec::new();
    if d.is_multiple_of(10) {
        findings.push(finding(
            format!("caa_conflict:{issuer}:conflict:{registered}"),
            "caa_conflict",
            Severity::Error,
            serde_json::json!({
                "verdict": "conflict", "name": name, "confirmed": true, "status": "confirmed",
                "reason": format!("CAA at {registered} allows only letsencrypt.org"),
                "dns": { "found_at": registered, "records": ["0 issue \"letsencrypt.org\""], "ttl": 3600 },
            }),
        ));
    }
    if i % 500 == 7 {
        findings.push(finding(
            format!("invalid_sct:{}:{}", hex::encode(identity), hex::encode(ctwatch_ct::sha256(&[1]))),
            "invalid_sct",
            Severity::Warning,
            serde_json::json!({ "reason": "embedded SCT signature does not verify", "name": name }),
        ));
    }
    if i % 1000 == 3 {
        let key = hex::encode(ctwatch_ct::sha256(&(i / 3000).to_be_bytes()));
        findings.push(finding(
            format!("compromised_key_reuse:{issuer}:{key}"),
            "compromised_key_reuse",
            Severity::Critical,
            serde_json::json!({ "spki_sha256": key, "source": "crl", "name": name }),
        ));
    }
    if i.is_multiple_of(97) {
        let lint = LINTS[((i / 97) % LINTS.len() as u64) as usize];
        findings.push(finding(
            format!("lint_violation:{issuer}:{lint}"),
            "lint_violation",
            Severity::Error,
            serde_json::json!({ "lint": lint, "name": name, "detail": "fails" }),
        ));
    }
    Ok(Generated { precert, final_cert, findings })
}

/// Write `n` certificates (two entries each) and their findings into a new store at `db`. A
/// second thread builds the records while this one commits.
fn generate(db: &Path, n: u64) -> anyhow::Result<Corpus> {
    let started = Instant::now();
    let templates = Arc::new(templates()?);
    let start_ms = now_ms().saturating_sub(30 * 86_400_000);
    let (tx, rx) = std::sync::mpsc::sync_channel::<anyhow::Result<Vec<Generated>>>(4);
    let producer = {
        let templates = templates.clone();
        std::thread::spawn(move || {
            let mut i = 0;
            while i < n {
                let end = (i + CERTS_PER_COMMIT).min(n);
                let chunk = (i..end).map(|j| generate_one(&templates, j, n, start_ms)).collect();
                if tx.send(chunk).is_err() {
                    return;
                }
                i = end;
            }
        })
    };
    let mut store = ctwatch_store::open(&path_str(db)?)?;
    let mut writer = BenchLogWriter::open(store.as_mut(), LOG_NAME)?;
    let (mut der_bytes, mut done) = (0u64, 0u64);
    for chunk in rx {
        for g in chunk? {
            der_bytes += g.final_cert.certificate.der.len() as u64;
            writer.push(g.precert);
            writer.push(g.final_cert);
            for f in g.findings {
                writer.add_finding(f);
            }
        }
        let certificates = writer.pending() / 2;
        done += certificates as u64;
        writer.commit(store.as_mut())?;
        // As the CAA worker would soon after: the new certificates are checked (a running
        // monitor's backlog of pending checks is small), leaving the pending index.
        let pending: Vec<i64> = store.certificates_pending_caa(certificates)?.iter().map(|c| c.id).collect();
        store.record_caa(&pending, Some((now_ms() / 1000) as i64), &[])?;
        if done.is_multiple_of(CERTS_PER_COMMIT * 25) || done == n {
            eprintln!(
                "bench: {done} / {n} certificates ({:.0}/s)",
                done as f64 / started.elapsed().as_secs_f64().max(1e-9)
            );
        }
    }
    producer.join().map_err(|_| anyhow!("the certificate generator thread panicked"))?;
    if done != n {
        bail!("generated {done} certificates instead of {n}");
    }
    // Some findings acknowledged or resolved, so the status filter has something to select.
    let findings = store.findings(&FindingFilter::default())?;
    for f in &findings {
        let status = match f.id % 10 {
            0 => FindingStatus::Resolved,
            1 | 2 => FindingStatus::Acknowledged,
            _ => continue,
        };
        store.set_finding_status(f.id, status)?;
    }
    drop(store);
    Ok(Corpus {
        certificates: n,
        entries: 2 * n,
        der_bytes,
        findings: findings.len() as u64,
        generate_secs: started.elapsed().as_secs_f64(),
    })
}

// ---------------------------------------------------------------------------------- timing

/// A small deterministic generator for request parameters (splitmix64).
struct Mix(u64);

impl Mix {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Start the API server on the store and time `requests` requests per route.
async fn time_routes(store: &StoreHandle, requests: u32) -> anyhow::Result<Vec<RouteFigures>> {
    let findings = store.call(|s| s.findings(&FindingFilter::default())).await?;
    if findings.is_empty() {
        bail!("the benchmark database has no findings");
    }
    let total = findings.len() as u64;
    let ids: Vec<i64> = findings.iter().map(|f| f.id).collect();
    let mut largest: Vec<(u64, i64)> = findings.iter().map(|f| (f.certificate_count, f.id)).collect();
    largest.sort_unstable_by(|a, b| b.cmp(a));
    largest.truncate(16);
    let newest = findings.iter().map(|f| f.last_seen).max().unwrap_or(0);
    let oldest = findings.iter().map(|f| f.first_seen).min().unwrap_or(0);
    let kinds: Vec<(String, u64)> = {
        let mut m = std::collections::BTreeMap::<String, u64>::new();
        for f in &findings {
            *m.entry(f.kind.clone()).or_default() += 1;
        }
        m.into_iter().collect()
    };

    let registry = prometheus::Registry::new();
    let metrics = Arc::new(ctwatch_api::Metrics::new(
        &registry,
        ctwatch_api::MetricsConfig {
            watched_cas: CA_NAMES.iter().map(|s| s.to_string()).collect(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            ..Default::default()
        },
    )?);
    // The watched CAs and their issuers, as the findings name them.
    let mut cas = std::collections::BTreeMap::<String, std::collections::BTreeSet<Hash>>::new();
    for f in &findings {
        if let (Some(ca), Some(issuer)) = (&f.ca, f.issuer.as_deref().and_then(|h| hex::decode(h).ok())) {
            cas.entry(ca.clone()).or_default().extend(<Hash>::try_from(issuer.as_slice()).ok());
        }
    }
    let watched =
        cas.into_iter().map(|(name, issuers)| ctwatch_api::WatchedCa { name, issuers: issuers.into_iter().collect() });
    let state = ctwatch_api::ApiState::new(store.clone(), metrics)
        .with_readiness(ctwatch_api::Readiness::LogsVerified(vec![LOG_NAME.to_string()]))
        .with_watched_cas(watched.collect());
    let mut config = ctwatch_api::ApiConfig::new("127.0.0.1:0".parse()?);
    config.metrics_refresh = Duration::ZERO;
    let server = ctwatch_api::ApiServer::bind(config, state).await?;
    let base = format!("http://{}", server.local_addr());
    let cancel = tokio_util::sync::CancellationToken::new();
    let serving = tokio::spawn(server.run(cancel.clone().cancelled_owned()));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(120)).build()?;

    type Url = Box<dyn FnMut(&mut Mix) -> String + Send>;
    let day = 86_400i64;
    let routes: Vec<(&str, Url)> = vec![
        ("/healthz", Box::new(|_| "/healthz".into())),
        ("/readyz", Box::new(|_| "/readyz".into())),
        ("/metrics (store read each time)", Box::new(|_| "/metrics".into())),
        ("/api/v1/logs", Box::new(|_| "/api/v1/logs".into())),
        ("/api/v1/issuers", Box::new(|_| "/api/v1/issuers".into())),
        ("/api/v1/findings", Box::new(|_| "/api/v1/findings".into())),
        (
            "findings?kind=K&offset=random",
            Box::new({
                let kinds = kinds.clone();
                move |m| {
                    let (k, count) = &kinds[m.below(kinds.len() as u64) as usize];
                    format!("/api/v1/findings?kind={k}&offset={}", m.below(*count))
                }
            }),
        ),
        (
            "findings?ca=C&since=T",
            Box::new(move |m| {
                let since = oldest + m.below(((newest - oldest) / day).max(1) as u64) as i64 * day;
                format!("/api/v1/findings?ca={}&since={since}", CA_NAMES[m.below(2) as usize].replace(' ', "%20"))
            }),
        ),
        (
            "findings?offset=deep&limit=100",
            Box::new(move |m| format!("/api/v1/findings?limit=100&offset={}", m.below(total))),
        ),
        (
            "findings?status=S&offset=random",
            Box::new(move |m| {
                let status = ["open", "acknowledged", "resolved"][m.below(3) as usize];
                format!("/api/v1/findings?status={status}&offset={}", m.below(total / 3))
            }),
        ),
        (
            "findings/{id} (random)",
            Box::new({
                let ids = ids.clone();
                move |m| format!("/api/v1/findings/{}", ids[m.below(ids.len() as u64) as usize])
            }),
        ),
        (
            "findings/{id} (16 largest)",
            Box::new({
                let largest = largest.clone();
                move |m| format!("/api/v1/findings/{}", largest[m.below(largest.len() as u64) as usize].1)
            }),
        ),
        (
            "findings/{id}/certificates.csv (random)",
            Box::new({
                let ids = ids.clone();
                move |m| format!("/api/v1/findings/{}/certificates.csv", ids[m.below(ids.len() as u64) as usize])
            }),
        ),
        (
            "findings/{id}/certificates.csv (16 largest)",
            Box::new({
                let largest = largest.clone();
                move |m| {
                    format!("/api/v1/findings/{}/certificates.csv", largest[m.below(largest.len() as u64) as usize].1)
                }
            }),
        ),
    ];
    let mut out = Vec::new();
    let mut mix = Mix(0x0063_7477_6174_6368);
    for (route, mut url) in routes {
        let mut latencies = Vec::with_capacity(requests as usize);
        let mut bytes = 0usize;
        for _ in 0..requests {
            let path = url(&mut mix);
            let t0 = Instant::now();
            let response = client.get(format!("{base}{path}")).send().await.with_context(|| format!("GET {path}"))?;
            let status = response.status();
            let body = response.bytes().await.with_context(|| format!("GET {path}: reading the body"))?;
            latencies.push(t0.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
            }
            bytes += body.len();
        }
        let n = latencies.len();
        latencies.sort_by(|a, b| a.total_cmp(b));
        let p99_at = ((n as f64 * 0.99).ceil() as usize).clamp(1, n) - 1;
        let figures = RouteFigures {
            route: route.to_string(),
            requests: n,
            p50_ms: median(latencies.clone()),
            p99_ms: latencies[p99_at],
            max_ms: latencies[n - 1],
            mean_bytes: bytes as f64 / n as f64,
        };
        eprintln!("bench: {route}: p50 {:.2} ms, p99 {:.2} ms", figures.p50_ms, figures.p99_ms);
        out.push(figures);
    }
    cancel.cancel();
    serving.await??;
    Ok(out)
}

fn print_figures(corpus: &Corpus, db_bytes: u64, wal_bytes: u64, ratio: f64, routes: &[RouteFigures]) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "database: {} certificates ({} log entries), {} findings; generated in {:.0} s",
        corpus.certificates, corpus.entries, corpus.findings, corpus.generate_secs
    );
    println!(
        "size: raw DER {:.1} MiB, database {:.1} MiB + WAL {:.1} MiB = {:.2}x the DER (target <= {TARGET_RATIO}x: {})",
        mib(corpus.der_bytes),
        mib(db_bytes),
        mib(wal_bytes),
        ratio,
        if ratio <= TARGET_RATIO { "met" } else { "MISSED" }
    );
    println!(
        "\n{:<44} {:>8} {:>9} {:>9} {:>9} {:>10}  FLAG",
        "ROUTE", "REQUESTS", "P50 ms", "P99 ms", "MAX ms", "BYTES"
    );
    for r in routes {
        let flag = if r.p99_ms > TARGET_MS {
            "SLOW (p99 > 50 ms)"
        } else if r.max_ms > TARGET_MS {
            "max > 50 ms"
        } else {
            ""
        };
        println!(
            "{:<44} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>10.0}  {flag}",
            r.route, r.requests, r.p50_ms, r.p99_ms, r.max_ms, r.mean_bytes
        );
    }
    let slow = routes.iter().filter(|r| r.p99_ms > TARGET_MS).count();
    println!(
        "\nlatency target (< {TARGET_MS} ms): {} ({slow} of {} routes have p99 above it); load average {}",
        if slow == 0 { "met" } else { "MISSED" },
        routes.len(),
        load_average().map_or("-".to_string(), |l| format!("{l:.2}"))
    );
}
