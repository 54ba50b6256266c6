//! End-to-end tests of the `ctwatch` binary's store-reading commands: a store is built with the
//! store library (real certificates from `ctwatch_testlog::CertFactory`), then the binary is run
//! against a config that points at it.

use base64::Engine as _;
use ctwatch_cert::facts::cert_facts;
use ctwatch_cert::identity::{certificate_identity, tbs_of_cert};
use ctwatch_ct::sth::LogSigner;
use ctwatch_store::{
    CertificateRecord, CommitBatch, EntryRecord, LogCheckpoint, LogIdentity, NewFinding, Severity, SqliteStore, Store,
};
use ctwatch_testlog::{CertFactory, LeafSpec};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const ARGON: [u8; 32] = [1; 32];
const XENON: [u8; 32] = [2; 32];
/// Unix seconds of the finding sightings: 2025-02-01T00:00:00Z and 2020-01-01T00:00:00Z.
const RECENT: i64 = 1_738_368_000;
const OLD: i64 = 1_577_836_800;

/// One certificate as the tests expect to see it.
struct Issued {
    der: Vec<u8>,
    serial_hex: String,
}

/// A store with two logs, two certificates (A: precert in argon, final in argon and xenon;
/// B: final only in argon), a `lint_violation` finding about both and an old `caa_conflict`
/// finding about none, plus a config file naming the store.
struct Fixture {
    _dir: TempDir,
    config: PathBuf,
    issuer_dn: String,
    a: Issued,
    b: Issued,
    lint_id: i64,
    caa_id: i64,
}

fn entry(index: u64, der: &[u8], identity: [u8; 32], is_precert: bool, issuer: [u8; 32]) -> EntryRecord {
    EntryRecord {
        index,
        leaf_hash: [index as u8; 32],
        timestamp_ms: 1_738_368_000_000 + index * 1_000,
        is_precert,
        certificate: CertificateRecord {
            identity,
            issuer_spki_sha256: Some(issuer),
            is_precert,
            der: der.to_vec(),
            facts: cert_facts(der).unwrap(),
        },
    }
}

fn batch(log_id: [u8; 32], cursor: u64, entries: Vec<EntryRecord>, findings: Vec<NewFinding>) -> CommitBatch {
    CommitBatch {
        log_id,
        previous_cursor: 0,
        checkpoint: LogCheckpoint { log_id, cursor, peaks: vec![], verified_head: None, position_ms: 0 },
        entries,
        malformed: vec![],
        issuance: vec![],
        findings,
        skipped_entries: 0,
    }
}

fn fixture() -> Fixture {
    let dir = TempDir::new().unwrap();
    let store_path = dir.path().join("ctwatch.sqlite");
    let ca = CertFactory::new("Findings Test CA").unwrap();
    let issuer = ca.issuer_key_hash();

    let precert = ca.precert(&LeafSpec::new(["a.example.tw", "www.a.example.tw"])).unwrap();
    let final_a = ca.final_cert(&precert, &ctwatch_testlog::encode_sct_list(&[])).unwrap();
    let identity_a = certificate_identity(&precert.leaf_tbs).unwrap();
    assert_eq!(identity_a, certificate_identity(&tbs_of_cert(&final_a).unwrap()).unwrap());
    let cert_b = ca.x509(&LeafSpec::new(["b.example.tw"])).unwrap();
    let identity_b = certificate_identity(&tbs_of_cert(&cert_b).unwrap()).unwrap();

    let mut store = SqliteStore::open(&store_path).unwrap();
    for (log_id, name) in [(ARGON, "argon2025h1"), (XENON, "xenon2025h1")] {
        store
            .open_log(&LogIdentity { log_id, name: name.to_string(), url: format!("https://{name}.example/") })
            .unwrap();
    }
    let lint = NewFinding {
        key: "lint:bc_not_critical".to_string(),
        kind: "lint_violation".to_string(),
        severity: Severity::Error,
        ca: Some("Findings Test CA".to_string()),
        issuer: Some(hex::encode(issuer)),
        evidence: json!({ "lint": "e_basic_constraints_not_critical" }),
        certificates: vec![identity_a, identity_b],
        seen_at: RECENT,
    };
    let caa = NewFinding {
        key: "caa:old".to_string(),
        kind: "caa_conflict".to_string(),
        severity: Severity::Warning,
        ca: Some("Other CA".to_string()),
        issuer: None,
        evidence: json!({ "domain": "old.example" }),
        certificates: vec![],
        seen_at: OLD,
    };
    store
        .commit(&batch(
            ARGON,
            3,
            vec![
                entry(0, &precert.der, identity_a, true, issuer),
                entry(1, &final_a, identity_a, false, issuer),
                entry(2, &cert_b, identity_b, false, issuer),
            ],
            vec![caa, lint],
        ))
        .unwrap();
    store.commit(&batch(XENON, 8, vec![entry(7, &final_a, identity_a, false, issuer)], vec![])).unwrap();
    let findings = store.findings(&Default::default()).unwrap();
    let id_of = |kind: &str| findings.iter().find(|f| f.kind == kind).unwrap().id;
    let (lint_id, caa_id) = (id_of("lint_violation"), id_of("caa_conflict"));
    let issuer_dn = cert_facts(&cert_b).unwrap().issuer;
    drop(store);

    let key = base64::engine::general_purpose::STANDARD.encode(LogSigner::generate().spki_der());
    let config = dir.path().join("ctwatch.toml");
    let text = format!(
        "[store]\npath = {:?}\n\n[[log]]\nname = \"argon2025h1\"\nurl = \"https://argon2025h1.example/\"\nkey = \"{key}\"\n",
        store_path.display().to_string()
    );
    std::fs::write(&config, text).unwrap();
    let serial = |der: &[u8]| hex::encode(cert_facts(der).unwrap().serial);
    Fixture {
        _dir: dir,
        config,
        issuer_dn,
        a: Issued { serial_hex: serial(&final_a), der: final_a },
        b: Issued { serial_hex: serial(&cert_b), der: cert_b },
        lint_id,
        caa_id,
    }
}

fn ctwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctwatch")).args(args).env_remove("CTWATCH_LOG").output().unwrap()
}

fn findings(config: &Path, args: &[&str]) -> Output {
    let config = config.to_str().unwrap();
    let mut all = vec!["findings", args[0], "--config", config];
    all.extend_from_slice(&args[1..]);
    ctwatch(&all)
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "exit {:?}, stderr: {}", output.status, String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn jsonl(output: &Output) -> Vec<Value> {
    stdout(output).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn sha256_hex(der: &[u8]) -> String {
    hex::encode(ctwatch_ct::sha256(der))
}

#[test]
fn list_as_jsonl_with_filters() {
    let f = fixture();
    let all = jsonl(&findings(&f.config, &["list", "--format", "jsonl"]));
    assert_eq!(all.len(), 2);
    let lint = all.iter().find(|v| v["kind"] == "lint_violation").unwrap();
    assert_eq!(lint["id"], f.lint_id);
    assert_eq!(lint["severity"], "error");
    assert_eq!(lint["ca"], "Findings Test CA");
    assert_eq!(lint["certificate_count"], 2);
    assert_eq!(lint["first_seen"], "2025-02-01T00:00:00Z");
    assert_eq!(lint["last_seen"], "2025-02-01T00:00:00Z");
    assert_eq!(lint["status"], "open");
    assert_eq!(lint["key"], "lint:bc_not_critical");
    assert_eq!(lint["evidence"], json!({ "lint": "e_basic_constraints_not_critical" }));
    assert!(lint["issuer"].is_string());

    let kinds = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["list", "--format", "jsonl"];
        full.extend_from_slice(args);
        jsonl(&findings(&f.config, &full)).iter().map(|v| v["kind"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(kinds(&["--kind", "caa_conflict"]), ["caa_conflict"]);
    assert_eq!(kinds(&["--ca", "Findings Test CA"]), ["lint_violation"]);
    assert_eq!(kinds(&["--since", "2024-01-01T00:00:00Z"]), ["lint_violation"]);
    assert_eq!(kinds(&["--since", &(OLD - 1).to_string()]).len(), 2);
    assert!(kinds(&["--since", "7d"]).is_empty(), "both findings are older than a week");
    assert_eq!(kinds(&["--limit", "1"]).len(), 1);
}

#[test]
fn list_as_table() {
    let f = fixture();
    let text = stdout(&findings(&f.config, &["list"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for column in ["ID", "KIND", "SEVERITY", "CA", "CERTS", "FIRST SEEN", "STATUS"] {
        assert!(lines[0].contains(column), "{text}");
    }
    let row = lines.iter().find(|l| l.contains("lint_violation")).unwrap();
    for cell in [&f.lint_id.to_string(), "error", "Findings Test CA", " 2 ", "2025-02-01T00:00:00Z", "open"] {
        assert!(row.contains(cell), "{cell:?} missing from {row:?}");
    }
}

#[test]
fn bad_since_is_a_usage_error() {
    let f = fixture();
    for bad in ["yesterday", "7x", "-3d", ""] {
        let out = findings(&f.config, &["list", "--since", bad]);
        assert_eq!(out.status.code(), Some(64), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--since"), "{bad:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn show_prints_the_finding_and_its_certificates() {
    let f = fixture();
    let doc: Value = serde_json::from_str(&stdout(&findings(&f.config, &["show", &f.lint_id.to_string()]))).unwrap();
    assert_eq!(doc["finding"]["id"], f.lint_id);
    assert_eq!(doc["finding"]["kind"], "lint_violation");
    let certs = doc["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    let a = &certs[0];
    assert_eq!(a["serial_hex"], f.a.serial_hex);
    assert_eq!(a["subject"], "CN=a.example.tw");
    assert_eq!(a["dns_names"], json!(["a.example.tw", "www.a.example.tw"]));
    assert_eq!(a["sha256"], sha256_hex(&f.a.der), "the final certificate replaced the precertificate");
    assert!(a["not_before"].as_str().unwrap().ends_with('Z'));
    assert!(a["not_after"].as_str().unwrap() > a["not_before"].as_str().unwrap());
    let entries: Vec<(String, u64, bool)> = a["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (e["log"].as_str().unwrap().to_string(), e["index"].as_u64().unwrap(), e["precert"].as_bool().unwrap())
        })
        .collect();
    assert_eq!(
        entries,
        [
            ("argon2025h1".to_string(), 0, true),
            ("argon2025h1".to_string(), 1, false),
            ("xenon2025h1".to_string(), 7, false)
        ]
    );
    assert_eq!(certs[1]["serial_hex"], f.b.serial_hex);
    assert_eq!(certs[1]["entries"].as_array().unwrap().len(), 1);

    let empty: Value = serde_json::from_str(&stdout(&findings(&f.config, &["show", &f.caa_id.to_string()]))).unwrap();
    assert_eq!(empty["certificates"], json!([]));
}

/// Split one CSV line into fields (RFC 4180 quoting), to check the export's quoting.
fn parse_csv_line(line: &str) -> Vec<String> {
    let mut fields = vec![String::new()];
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                fields.last_mut().unwrap().push('"');
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(String::new()),
            (c, _) => fields.last_mut().unwrap().push(c),
        }
    }
    fields
}

#[test]
fn export_csv_lists_the_affected_certificates() {
    let f = fixture();
    let text = stdout(&findings(&f.config, &["export", &f.lint_id.to_string(), "--format", "csv"]));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "serial_hex,issuer,subject,not_before,not_after,dns_names,precert_entries,final_entries,sha256,crtsh_url"
    );
    assert_eq!(lines.len(), 3, "{text}");
    assert!(f.issuer_dn.contains(','), "the issuer DN exercises quoting: {}", f.issuer_dn);
    assert!(lines[1].contains(&format!("\"{}\"", f.issuer_dn)), "{}", lines[1]);

    let a = parse_csv_line(lines[1]);
    assert_eq!(a.len(), 10, "{a:?}");
    assert_eq!(a[0], f.a.serial_hex);
    assert_eq!(a[1], f.issuer_dn);
    assert_eq!(a[2], "CN=a.example.tw");
    assert!(a[3].ends_with('Z') && a[4].ends_with('Z'));
    assert_eq!(a[5], "a.example.tw www.a.example.tw");
    assert_eq!(a[6], "argon2025h1:0");
    assert_eq!(a[7], "argon2025h1:1 xenon2025h1:7");
    let upper = sha256_hex(&f.a.der).to_uppercase();
    assert_eq!(a[8], upper);
    assert_eq!(a[9], format!("https://crt.sh/?q={upper}"));

    let b = parse_csv_line(lines[2]);
    assert_eq!(
        (b[0].as_str(), b[5].as_str(), b[6].as_str(), b[7].as_str()),
        (&*f.b.serial_hex, "b.example.tw", "", "argon2025h1:2")
    );
}

#[test]
fn ack_and_resolve_change_the_status() {
    let f = fixture();
    let id = f.lint_id.to_string();
    let status = || {
        let all = jsonl(&findings(&f.config, &["list", "--format", "jsonl", "--kind", "lint_violation"]));
        all[0]["status"].as_str().unwrap().to_string()
    };
    assert!(stdout(&findings(&f.config, &["ack", &id])).contains("acknowledged"));
    assert_eq!(status(), "acknowledged");
    stdout(&findings(&f.config, &["resolve", &id]));
    assert_eq!(status(), "resolved");
}

#[test]
fn unknown_finding_id_is_a_clear_error() {
    let f = fixture();
    for command in ["show", "export", "ack", "resolve"] {
        let out = findings(&f.config, &[command, "999999"]);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("no finding with id 999999"), "{command}: {stderr}");
        assert!(out.stdout.is_empty(), "{command}");
    }
}

#[test]
fn ack_does_not_create_a_missing_store() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("ctwatch.toml");
    let key = base64::engine::general_purpose::STANDARD.encode(LogSigner::generate().spki_der());
    std::fs::write(
        &config,
        format!("[store]\npath = \"missing.sqlite\"\n\n[[log]]\nname = \"l\"\nurl = \"https://l.example/\"\nkey = \"{key}\"\n"),
    )
    .unwrap();
    let out = findings(&config, &["ack", "1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
    assert!(!dir.path().join("missing.sqlite").exists());
}

#[test]
fn bad_config_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[store]\npath = \"x.sqlite\"\nno_such_key = 1\n").unwrap();
    let out = ctwatch(&["check-config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64));
    assert!(!out.stderr.is_empty());
    let out = findings(&config, &["list"]);
    assert_eq!(out.status.code(), Some(64));

    let f = fixture();
    let out = ctwatch(&["check-config", f.config.to_str().unwrap()]);
    assert!(stdout(&out).contains("OK"));
}

#[test]
fn lint_reports_the_incident_lint_and_exits_2_only_on_errors() {
    let dir = TempDir::new().unwrap();
    let ca = CertFactory::new("Lint CLI CA").unwrap();
    let mut spec = LeafSpec::new(["www.example.com"]);
    spec.crl_url = Some("http://crl.example.com/1.crl".into());
    spec.ocsp_url = Some("http://ocsp.example.com/".into());
    spec.ca_issuers_url = Some("http://aia.example.com/ca.cer".into());
    let clean = ca.x509(&spec).unwrap();
    spec.basic_constraints = ctwatch_testlog::BasicConstraintsMode::NonCritical;
    let bad = ca.x509(&spec).unwrap();
    // One file as DER, one as PEM surrounded by text.
    let clean_path = dir.path().join("clean.der");
    std::fs::write(&clean_path, &clean).unwrap();
    let bad_path = dir.path().join("bad.pem");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bad);
    std::fs::write(&bad_path, format!("note\n-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n"))
        .unwrap();

    let out = ctwatch(&["lint", clean_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stdout));
    let out = ctwatch(&["lint", "--format", "json", bad_path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(
        lines.iter().any(|l| l["lint"] == "e_sub_cert_basic_constraints_not_critical" && l["result"] == "error"),
        "{lines:?}"
    );
    let out = ctwatch(&["lint", dir.path().join("missing.pem").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn report_is_an_incident_appendix_with_counts_and_the_csv() {
    let f = fixture();
    let out = ctwatch(&["report", &f.lint_id.to_string(), "--config", f.config.to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.starts_with(&format!("# ctwatch finding {}: ", f.lint_id)), "{text}");
    assert!(text.contains("## Timeline") && text.contains("## Counts"), "{text}");
    assert!(text.contains("- Distinct certificates: 2"), "{text}");
    assert!(text.contains("serial_hex,issuer,subject,not_before"), "{text}");
    assert!(text.contains(&f.a.serial_hex), "{text}");
    let missing = ctwatch(&["report", "999999", "--config", f.config.to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(1));
}

#[test]
fn status_shows_who_holds_each_log_in_a_sharded_deployment() {
    let f = fixture();
    let config = f.config.to_str().unwrap();
    // Unsharded: no lease column.
    let table = stdout(&ctwatch(&["status", "--config", config]));
    assert!(!table.contains("HELD BY"), "{table}");
    assert!(table.contains("argon2025h1"), "{table}");

    let store_path = f.config.with_file_name("ctwatch.sqlite");
    let mut store = SqliteStore::open(&store_path).unwrap();
    let now = ctwatch_monitor::follow::unix_now();
    let ttl = std::time::Duration::from_secs(600);
    store.acquire_log_lease(&ARGON, "node-a", ttl, now).unwrap().unwrap();
    for instance in ["node-a", "node-b"] {
        store.acquire_log_lease(&ctwatch_monitor::shard::presence_id(instance), instance, ttl, now).unwrap().unwrap();
    }
    store.acquire_log_lease(&ctwatch_monitor::shard::SINGLETON_LEASE, "node-b", ttl, now).unwrap().unwrap();
    // A lapsed lease is nobody's.
    store.acquire_log_lease(&XENON, "node-c", std::time::Duration::from_secs(1), now - 10).unwrap().unwrap();
    drop(store);

    let table = stdout(&ctwatch(&["status", "--config", config]));
    let line = |name: &str| table.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(table.lines().next().unwrap_or_default().contains("HELD BY"), "{table}");
    assert!(line("argon2025h1").trim_end().ends_with("node-a"), "{table}");
    assert!(line("xenon2025h1").trim_end().ends_with('-'), "{table}");
    assert!(table.contains("instances alive: node-a, node-b"), "{table}");
    assert!(table.contains("surges): node-b"), "{table}");

    let rows = jsonl(&ctwatch(&["status", "--config", config, "--format", "json"]));
    let by_name = |name: &str| rows.iter().find(|r| r["name"] == name).unwrap().clone();
    assert_eq!(by_name("argon2025h1")["lease_holder"], "node-a");
    assert!(by_name("argon2025h1")["lease_expires_at"].as_i64().unwrap() > now);
    assert_eq!(by_name("xenon2025h1")["lease_holder"], Value::Null);
    assert_eq!(by_name("argon2025h1")["cursor"], 3);
}
