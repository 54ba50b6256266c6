//! The incident scenario: each incident of `../shared/seeds` in miniature, logged in real test
//! logs, with a real authoritative DNS server and a CRL server on 127.0.0.1. `ctwatch demo`
//! serves it so a user sees every kind of finding without network; the end-to-end tests check
//! that a monitor finds every planted problem and nothing else, on every store backend.
//!
//! - HiPKI (Chunghwa Telecom): three weeks at ~12 OV certificates a day, then 600 in six hours
//!   under gov.tw → `issuance_surge`; the gov.tw names sit under ten CAA cases, four of which
//!   forbid the CA → four `caa_conflict` findings (60 certificates each), the six permissive
//!   look-alikes → nothing.
//! - iTrus: 8 keys revoked as keyCompromise on the CA's CRL, then 33 certificates reusing them
//!   → 8 `compromised_key_reuse` findings (one per key), BR 6.1.1.3 violations.
//! - CFCA: 120 certificates with basicConstraints not critical → one `lint_violation` with 120
//!   certificates; 40 revoked within 5 days, 40 late, 40 never → `revocation_overdue` (80).
//! - Hongkong Post: 100 certificates (precert + final = 200 entries) with a CPS URI without
//!   scheme → one `lint_violation` with 100 distinct certificates, all revoked on time.
//!
//! Findings that oblige revocation within 24 h (CAA, key reuse) and were not revoked also get
//! their `revocation_overdue`. [`EXPECTED`] lists the exact outcome.

use base64::Engine as _;
use ctwatch_testdns::TestDns;
use ctwatch_testlog::{
    BasicConstraintsMode, CertFactory, CrlEntry, LeafSpec, Serial, SubscriberKey, TestLog, TestLogServer,
    ValidationLevel, encode_sct_list,
};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Seconds in an hour.
pub const HOUR: i64 = 3600;
/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// The CAs of the scenario, as named in its configuration.
pub const CAS: [&str; 4] = ["CFCA", "HKPost", "HiPKI", "iTrus"];

/// What a monitor must find in the scenario, finding by finding.
#[derive(Debug, Clone, Copy)]
pub struct Expected {
    /// Distinct certificates logged (a precertificate and its final certificate count once).
    pub certificates: u64,
    /// `caa_conflict` findings: (verdict, name where the CAA set was found, certificates).
    pub caa: [(&'static str, &'static str, u64); 4],
    /// `compromised_key_reuse` findings and the certificates they cover.
    pub key_reuse_findings: usize,
    pub key_reuse_certificates: u64,
    /// `lint_violation` findings: (CA, lint, certificates).
    pub lints: [(&'static str, &'static str, u64); 2],
    /// `revocation_overdue` findings, and certificates per source finding kind.
    pub overdue_findings: usize,
    pub overdue_by_source: [(&'static str, u64); 3],
}

/// The scenario's exact expected outcome.
pub const EXPECTED: Expected = Expected {
    certificates: 250 + 600 + 8 + 33 + 120 + 100,
    caa: [
        ("conflict", "case0.gov.tw", 60),
        ("conflict", "case1.gov.tw", 60),
        ("conflict", "case6.gov.tw", 60),
        ("critical_unknown", "case5.gov.tw", 60),
    ],
    key_reuse_findings: 8,
    key_reuse_certificates: 33,
    lints: [("CFCA", "e_sub_cert_basic_constraints_not_critical", 120), ("HKPost", "e_invalid_cps_uri", 100)],
    overdue_findings: 1 + 8 + 4,
    overdue_by_source: [("caa_conflict", 240), ("compromised_key_reuse", 33), ("lint_violation", 80)],
};

/// Why the scenario could not be built or served.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("generating test certificates: {0}")]
    Certificates(String),
    #[error("test log: {0}")]
    Log(String),
    #[error("serving on 127.0.0.1: {0}")]
    Io(#[from] std::io::Error),
}

fn cert_err(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Certificates(e.to_string())
}

fn log_err(e: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Log(e.to_string())
}

/// Served files by path.
type Files = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// A static HTTP server on 127.0.0.1 (the CAs' CRLs): paths map to bodies that may change
/// while it runs. Stops when the runtime that started it stops.
#[derive(Debug, Clone)]
pub struct FileServer {
    pub addr: SocketAddr,
    files: Files,
}

impl FileServer {
    /// Bind an ephemeral port on 127.0.0.1 and serve.
    pub async fn start() -> std::io::Result<FileServer> {
        use axum::extract::{Path as AxPath, State};
        let files: Files = Files::default();
        let app = axum::Router::new()
            .route(
                "/{*path}",
                axum::routing::get(|State(files): State<Files>, AxPath(path): AxPath<String>| async move {
                    let body = files.lock().ok().and_then(|f| f.get(&path).cloned());
                    match body {
                        Some(body) => (axum::http::StatusCode::OK, body),
                        None => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                    }
                }),
            )
            .with_state(files.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FileServer { addr, files })
    }

    /// `http://127.0.0.1:port/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Serve `body` at `path` from now on.
    pub fn put(&self, path: &str, body: Vec<u8>) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(path.to_string(), body);
        }
    }
}

/// One certificate to log.
struct Planned {
    ca: &'static str,
    ts: i64,
    spec: LeafSpec,
    log_final: bool,
}

fn spec(names: Vec<String>, ts: i64, crl: &str) -> LeafSpec {
    let mut s = LeafSpec::new(names);
    s.not_before = ts - 60;
    s.not_after = ts - 60 + 90 * DAY;
    s.crl_url = Some(crl.to_string());
    s.ocsp_url = Some("http://ocsp.example.test/".into());
    s.ca_issuers_url = Some("http://aia.example.test/issuer.cer".into());
    s
}

/// A 16-byte positive serial derived from a label, as the DER INTEGER content bytes
/// `CertFacts::serial` holds.
fn serial_for(label: &str, n: u64) -> Vec<u8> {
    let digest = ctwatch_ct::sha256(format!("{label}-{n}").as_bytes());
    let mut out = digest[..16].to_vec();
    out[0] = (out[0] & 0x7f) | 0x40;
    out
}

/// The `tw.` zone: case k of the surge lives under casek.gov.tw.
pub fn tw_zone() -> String {
    let cases = [
        "case0.gov 300 IN CAA 0 issue \"letsencrypt.org\"",
        "case1.gov 300 IN CAA 0 issue \"globalsign.com\"",
        "case2.gov 300 IN CAA 0 issue \"pki.hinet.net\"",
        "case3.gov 300 IN CAA 0 issue \"TLS.HINET.NET.\"",
        "case4.gov 300 IN CAA 0 issue \"pki.hinet.net; accounturi=https://acme.hinet.net/acct/1\"",
        "case5.gov 300 IN CAA 128 tbs \"unknown\"\ncase5.gov 300 IN CAA 0 issue \"pki.hinet.net\"",
        "case6.gov 300 IN CAA 0 issue \";\"",
        "",
        "case8.gov 300 IN CAA 0 issue \"letsencrypt.org\"\ncase8.gov 300 IN CAA 0 issue \"tls.hinet.net\"",
        "case9.gov 300 IN CAA 0 issue \"letsencrypt.org\"\ncase9.gov 300 IN CAA 0 issuewild \"pki.hinet.net\"",
    ];
    format!(
        "$ORIGIN tw.\n@ 3600 IN SOA ns.tw. admin.tw. 1 3600 600 86400 300\n@ 3600 IN NS ns.tw.\nns 3600 IN A 127.0.0.1\n{}\n",
        cases.join("\n")
    )
}

/// Log one certificate of `ca` for `spec` at `ts_ms` in every log of `logs`: the
/// precertificate, then (when `log_final`) the final certificate embedding the first log's
/// SCT. Returns the entries added to each log (1 or 2).
pub fn log_certificate(
    ca: &CertFactory,
    logs: &[&TestLog],
    spec: &LeafSpec,
    ts_ms: u64,
    log_final: bool,
) -> Result<u64, ScenarioError> {
    let Some(first_log) = logs.first() else {
        return Err(ScenarioError::Log("no log to add the certificate to".into()));
    };
    let precert = ca.precert(spec).map_err(cert_err)?;
    let chain = ca.chain();
    let rest = chain.get(1..).unwrap_or_default().to_vec();
    let mut first_index = None;
    for log in logs {
        let index = log.add_precert_entry(&precert.der, ca.issuer_der(), rest.clone(), ts_ms).map_err(log_err)?;
        first_index.get_or_insert(index);
    }
    if !log_final {
        return Ok(1);
    }
    let sct = first_log.sct_for_entry(first_index.unwrap_or_default()).map_err(log_err)?;
    let final_der = ca.final_cert(&precert, &encode_sct_list(&[sct])).map_err(cert_err)?;
    for log in logs {
        log.add_x509_entry(&final_der, chain.clone(), ts_ms).map_err(log_err)?;
    }
    Ok(2)
}

/// The scenario's certificates, logged, and the CRLs its CAs publish.
#[derive(Debug)]
pub struct Incidents {
    /// The four CAs by configuration name.
    pub factories: BTreeMap<&'static str, CertFactory>,
    /// CRL file name → DER, as the CAs publish them at `now`.
    pub crls: Vec<(String, Vec<u8>)>,
    /// Entries added to each log.
    pub entries: u64,
}

impl Incidents {
    /// Issue the scenario's certificates relative to `now` (Unix seconds) and add them, in time
    /// order, to every log of `logs` (precertificate, then the final certificate embedding the
    /// first log's SCT). `crl_url` maps a CRL file name to the URL certificates point at.
    /// Does not publish the logs.
    pub fn build(logs: &[&TestLog], now: i64, crl_url: &dyn Fn(&str) -> String) -> Result<Incidents, ScenarioError> {
        if logs.is_empty() {
            return Err(ScenarioError::Log("the scenario needs at least one log".into()));
        }
        let mut factories = BTreeMap::new();
        for name in CAS {
            factories.insert(name, CertFactory::new(&format!("{name} Test CA")).map_err(cert_err)?);
        }
        let mut plan: Vec<Planned> = Vec::new();

        // HiPKI: history, then the surge.
        let surge_start = now - 2 * DAY;
        let hipki_crl = crl_url("hipki.crl");
        for i in 0..250i64 {
            let ts = surge_start - 21 * DAY + i * 2 * HOUR;
            let mut s = spec(vec![format!("host{i}.corp.tw")], ts, &hipki_crl);
            s.validation = ValidationLevel::Ov;
            plan.push(Planned { ca: "HiPKI", ts, spec: s, log_final: i % 2 == 0 });
        }
        for k in 0..600i64 {
            let case = k % 10;
            let ts = surge_start + k * 36; // 600 certificates in 6 hours
            let name = if case == 9 { format!("*.host{k}.case9.gov.tw") } else { format!("host{k}.case{case}.gov.tw") };
            let mut s = spec(vec![name], ts, &hipki_crl);
            s.validation = ValidationLevel::Ov;
            plan.push(Planned { ca: "HiPKI", ts, spec: s, log_final: true });
        }

        // iTrus: 8 keys, revoked for keyCompromise, then reused by 33 certificates.
        let itrus_crl = crl_url("itrus.crl");
        let mut keys = Vec::new();
        for _ in 0..8 {
            keys.push(SubscriberKey::generate().map_err(cert_err)?);
        }
        let mut itrus_revoked = Vec::new();
        for (i, key) in keys.iter().enumerate() {
            let ts = now - 20 * DAY + i as i64 * HOUR;
            let mut s = spec(vec![format!("original{i}.itrus-customer.cn")], ts, &itrus_crl);
            s.key = Some(key.clone());
            s.serial = Serial::Bytes(serial_for("itrus", i as u64));
            itrus_revoked.push(CrlEntry {
                serial: serial_for("itrus", i as u64),
                revoked_at: now - 15 * DAY,
                reason: Some(1),
            });
            plan.push(Planned { ca: "iTrus", ts, spec: s, log_final: true });
        }
        for (j, key) in (0..33i64).zip(keys.iter().cycle()) {
            let ts = now - 10 * DAY + j * HOUR;
            let mut s = spec(vec![format!("reissued{j}.itrus-customer.cn")], ts, &itrus_crl);
            s.key = Some(key.clone());
            plan.push(Planned { ca: "iTrus", ts, spec: s, log_final: true });
        }

        // CFCA: basicConstraints not critical; 40 on time, 40 late, 40 never revoked.
        let cfca_crl = crl_url("cfca.crl");
        let mut cfca_revoked = Vec::new();
        for i in 0..120i64 {
            let ts = now - 10 * DAY + i * 60;
            let mut s = spec(vec![format!("www{i}.cfca-customer.cn")], ts, &cfca_crl);
            s.basic_constraints = BasicConstraintsMode::NonCritical;
            s.serial = Serial::Bytes(serial_for("cfca", i as u64));
            let delay = match i % 3 {
                0 => Some(2 * DAY),
                1 => Some(7 * DAY),
                _ => None,
            };
            if let Some(delay) = delay {
                cfca_revoked.push(CrlEntry {
                    serial: serial_for("cfca", i as u64),
                    revoked_at: ts + delay,
                    reason: Some(4),
                });
            }
            plan.push(Planned { ca: "CFCA", ts, spec: s, log_final: i % 2 == 0 });
        }

        // Hongkong Post: CPS URI without a scheme; precert and final both logged; all revoked on
        // time.
        let hk_crl = crl_url("hkpost.crl");
        let mut hk_revoked = Vec::new();
        for i in 0..100i64 {
            let ts = now - 10 * DAY + i * 60 + 30;
            let mut s = spec(vec![format!("service{i}.hongkongpost-customer.hk")], ts, &hk_crl);
            s.cps_uri = Some("www.hongkongpost.gov.hk/cps".into());
            s.serial = Serial::Bytes(serial_for("hkpost", i as u64));
            hk_revoked.push(CrlEntry { serial: serial_for("hkpost", i as u64), revoked_at: ts + DAY, reason: Some(4) });
            plan.push(Planned { ca: "HKPost", ts, spec: s, log_final: true });
        }

        // CRLs as the CAs would publish them now.
        let crl = |ca: &str, number: u64, entries: &[CrlEntry]| -> Result<Vec<u8>, ScenarioError> {
            let factory = factories.get(ca).ok_or_else(|| ScenarioError::Certificates(format!("no CA {ca}")))?;
            factory.crl(number, now - HOUR, now + DAY, entries).map_err(cert_err)
        };
        let crls = vec![
            ("hipki.crl".to_string(), crl("HiPKI", 1, &[])?),
            ("itrus.crl".to_string(), crl("iTrus", 5, &itrus_revoked)?),
            ("cfca.crl".to_string(), crl("CFCA", 9, &cfca_revoked)?),
            ("hkpost.crl".to_string(), crl("HKPost", 3, &hk_revoked)?),
        ];

        // Log everything in time order, precertificate then final certificate.
        plan.sort_by_key(|p| p.ts);
        let mut entries = 0;
        for p in &plan {
            let ca = factories.get(p.ca).ok_or_else(|| ScenarioError::Certificates(format!("no CA {}", p.ca)))?;
            let ts_ms = (p.ts.max(0) as u64) * 1000;
            entries += log_certificate(ca, logs, &p.spec, ts_ms, p.log_final)?;
        }
        Ok(Incidents { factories, crls, entries })
    }

    /// `[[ca]]` sections for the four CAs, with their issuer certificates written as PEM files
    /// into `dir`; HiPKI carries its CAA identifiers.
    pub fn ca_toml(&self, dir: &Path) -> std::io::Result<String> {
        let mut out = String::new();
        for (name, ca) in &self.factories {
            let pem = dir.join(format!("{name}.pem"));
            std::fs::write(&pem, pem_cert(ca.issuer_der()))?;
            let caa = if *name == "HiPKI" { "[\"pki.hinet.net\", \"tls.hinet.net\"]" } else { "[]" };
            out.push_str(&format!(
                "[[ca]]\nname = \"{name}\"\nissuers = [{}]\ncaa_identifiers = {caa}\n\n",
                toml_string(&pem.display().to_string())
            ));
        }
        Ok(out)
    }
}

/// The scenario served: logs, the CRL server and the DNS server, all on 127.0.0.1.
#[allow(missing_debug_implementations)]
pub struct ServedScenario {
    pub logs: Vec<TestLog>,
    pub server: TestLogServer,
    pub dns: TestDns,
    pub crls: FileServer,
    pub incidents: Incidents,
}

impl ServedScenario {
    /// Build the scenario into `logs` relative to `now`, publish the logs and serve everything.
    pub async fn start(logs: Vec<TestLog>, now: i64) -> Result<ServedScenario, ScenarioError> {
        let crls = FileServer::start().await?;
        let dns = TestDns::start(&[&tw_zone()]).await;
        let refs: Vec<&TestLog> = logs.iter().collect();
        let incidents = {
            let crls = crls.clone();
            Incidents::build(&refs, now, &move |file| crls.url(file))?
        };
        for (file, der) in &incidents.crls {
            crls.put(file, der.clone());
        }
        for log in &logs {
            log.publish();
        }
        let server = ctwatch_testlog::serve_local(logs.clone()).await?;
        Ok(ServedScenario { logs, server, dns, crls, incidents })
    }

    /// The detector sections of a configuration for this scenario: the DNS server, fast CAA
    /// retries, the revocation clock from issuance (the scenario's certificates are days old),
    /// and the CAs (issuer files written into `dir`).
    pub fn detectors_toml(&self, dir: &Path) -> std::io::Result<String> {
        Ok(format!(
            "[dns]\nnameservers = [\"{}\"]\n\n[caa]\nretry_secs = 0.2\ntimeout_secs = 2\n\n\
             [revocation]\nclock_start = \"issuance\"\n\n[crl]\ninterval_secs = 60\n\n{}",
            self.dns.addr,
            self.incidents.ca_toml(dir)?
        ))
    }
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// PEM text of a DER certificate.
pub fn pem_cert(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(toml_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(toml_string("x\ny"), "\"x\\u000Ay\"");
    }

    #[test]
    fn the_scenario_logs_every_planned_certificate_in_every_log() {
        let a = TestLog::new("a", ctwatch_ct::sth::LogSigner::generate());
        let b = TestLog::new("b", ctwatch_ct::sth::LogSigner::generate());
        let incidents = Incidents::build(&[&a, &b], 1_800_000_000, &|f| format!("http://crl.test/{f}")).unwrap();
        // Precert for every certificate, final for all but half of HiPKI's history and CFCA.
        let finals = 125 + 600 + 8 + 33 + 60 + 100;
        assert_eq!(incidents.entries, EXPECTED.certificates + finals);
        assert_eq!(a.tree_size(), incidents.entries);
        assert_eq!(b.tree_size(), incidents.entries);
        assert_eq!(incidents.crls.len(), 4);
        let dir = std::env::temp_dir().join(format!("ctwatch-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let toml = incidents.ca_toml(&dir).unwrap();
        assert_eq!(toml.matches("[[ca]]").count(), 4);
        assert!(toml.contains("caa_identifiers = [\"pki.hinet.net\", \"tls.hinet.net\"]"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
