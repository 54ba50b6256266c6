//! End-to-end tests of `ctwatch ccadb`: import reports into a CA-owner map, name a CA by its
//! CCADB owner in a config checked by `ctwatch check-config`, and list issuers seen in CT that the
//! map does not know.

use ctwatch_store::{CommitBatch, IssuanceIncrement, LogCheckpoint, LogIdentity, SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use tempfile::TempDir;

const KEY: &str = "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEfahLEimAoz2t01p3uMziiLOl/fHTDM0YDOhBRuiBARsV4UvxG2LdNgoIGLrtCzWE0J5APC2em4JlvR8EEEFMoA==";

fn ctwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctwatch")).args(args).output().unwrap()
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Hand-written reports: a V5 file (one bad row), the SKI table and CAA identifiers.
fn write_reports(dir: &Path) -> Vec<PathBuf> {
    let fp = |b: u8| hex::encode_upper([b; 32]);
    let v5 = format!(
        "\u{feff}CA Owner,Certificate Name,SHA-256 Fingerprint,Parent SHA-256 Fingerprint,Subject Key Identifier,\
JSON Array of All Full CRL URLs,TLS Capable\r\n\
Chunghwa Telecom,HiPKI Root CA - G1,{},,{},\"[\"\"http://crl.example/root.crl\"\"]\",True\r\n\
Chunghwa Telecom,\"HiPKI OV TLS CA - G1\",{},{},{},,True\r\n\
Chunghwa Telecom,Broken,not-a-fingerprint,,,,True\r\n\
Other CA,Other Root,{},,{},,True\r\n",
        fp(1),
        b64(&[1]),
        fp(2),
        fp(1),
        b64(&[2]),
        fp(3),
        b64(&[3]),
    );
    let mut ski = String::from("Subject Key Identifier,SHA-256(Subject Public Key Info)\n");
    for k in 1..=3u8 {
        ski.push_str(&format!("{},{}\n", b64(&[k]), b64(&[0x10 * k; 32])));
    }
    let caa = "Subject,Recognized CAA Domains\nChunghwa Telecom,\"pki.hinet.net\ntls.hinet.net\"\n";
    let mut files = Vec::new();
    for (name, body) in [("records.csv", v5), ("ski.csv", ski), ("caa.csv", caa.to_string())] {
        let path = dir.join(name);
        std::fs::write(&path, body).unwrap();
        files.push(path);
    }
    files
}

fn import(dir: &Path) -> PathBuf {
    let files = write_reports(dir);
    let map = dir.join("map.json");
    let mut args = vec!["ccadb", "import"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.extend(["--out", map.to_str().unwrap()]);
    let out = ctwatch(&args);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("AllCertificateRecordsCSVFormatV5 (3 rows, 1 rejected)"), "{t}");
    assert!(t.contains("records.csv:4: `SHA-256 Fingerprint`"), "{t}");
    assert!(t.contains("owners:              2"), "{t}");
    assert!(t.contains("issuers:             3"), "{t}");
    assert!(t.contains("TLS-capable issuers: 3"), "{t}");
    assert!(t.contains("rejected rows:       1"), "{t}");
    map
}

fn write_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("[[log]]\nname = \"a\"\nurl = \"https://ct.example/a/\"\nkey = \"{KEY}\"\n\n[ccadb]\nmap = \"map.json\"\n{body}"),
    )
    .unwrap();
    path
}

#[test]
fn an_owner_from_the_imported_map_validates_and_an_unknown_owner_is_a_usage_error() {
    let dir = TempDir::new().unwrap();
    import(dir.path());

    let good = write_config(dir.path(), "good.toml", "\n[[ca]]\nowner = \"chunghwa telecom\"\n");
    let out = ctwatch(&["check-config", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("1 CAs"), "{}", text(&out));

    let all = write_config(dir.path(), "all.toml", "watch_all_tls = true\n");
    let out = ctwatch(&["check-config", all.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 CAs"), "{}", text(&out));

    let bad = write_config(dir.path(), "bad.toml", "\n[[ca]]\nowner = \"Chunghwa Telecon\"\n");
    let out = ctwatch(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("did you mean \"Chunghwa Telecom\""), "{}", text(&out));
}

#[test]
fn unknown_lists_counted_issuers_missing_from_the_map() {
    let dir = TempDir::new().unwrap();
    import(dir.path());
    let store_path = dir.path().join("ctwatch.sqlite");
    let config = write_config(dir.path(), "ctwatch.toml", "");
    // Point the config at the store.
    let body = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("[store]\npath = \"ctwatch.sqlite\"\n{body}")).unwrap();

    let now_hour =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 3600) as i64;
    let log_id = [7; 32];
    let mut store = SqliteStore::open(&store_path).unwrap();
    store.open_log(&LogIdentity { log_id, name: "a".into(), url: "https://ct.example/a/".into() }).unwrap();
    let inc = |issuer: u8, hour: i64, count: u64| IssuanceIncrement {
        issuer_spki_sha256: [issuer; 32],
        hour,
        validation_type: "dv".into(),
        count,
    };
    store
        .commit(&CommitBatch {
            log_id,
            previous_cursor: 0,
            checkpoint: LogCheckpoint { log_id, cursor: 10, peaks: vec![], verified_head: None, position_ms: 0 },
            entries: vec![],
            malformed: vec![],
            // 0x10 is in the map; 0xaa and 0xbb are not; 0xcc is outside the window.
            issuance: vec![
                inc(0x10, now_hour - 1, 5),
                inc(0xaa, now_hour - 2, 3),
                inc(0xaa, now_hour - 1, 4),
                inc(0xbb, now_hour, 9),
                inc(0xcc, now_hour - 1000, 50),
            ],
            findings: vec![],
            skipped_entries: 10,
        })
        .unwrap();
    drop(store);

    let out = ctwatch(&["ccadb", "unknown", "--config", config.to_str().unwrap(), "--hours", "48"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    let bb = t.find(&hex::encode([0xbb; 32])).unwrap();
    let aa = t.find(&hex::encode([0xaa; 32])).unwrap();
    assert!(bb < aa, "sorted by count: {t}");
    assert!(!t.contains(&hex::encode([0x10; 32])) && !t.contains(&hex::encode([0xcc; 32])), "{t}");
    assert!(t.contains("2 unknown issuers (16 certificates); 5 certificates from issuers in the map"), "{t}");

    // The default window (30 days) leaves out the issuer last seen 1000 hours ago; a wider one
    // includes it.
    let json = |extra: &[&str]| -> Vec<serde_json::Value> {
        let mut args = vec!["ccadb", "unknown", "--config", config.to_str().unwrap(), "--format", "json"];
        args.extend(extra);
        let out = ctwatch(&args);
        assert!(out.status.success(), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    assert_eq!(json(&[]).len(), 2);
    let lines = json(&["--hours", "2000"]);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["certificates"], 50);
    assert_eq!(lines[0]["issuer_spki_sha256"], hex::encode([0xcc; 32]));
}

#[test]
fn a_config_without_a_map_cannot_list_unknown_issuers() {
    let dir = TempDir::new().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, format!("[[log]]\nname = \"a\"\nurl = \"https://ct.example/a/\"\nkey = \"{KEY}\"\n"))
        .unwrap();
    let out = ctwatch(&["ccadb", "unknown", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out));
    assert!(text(&out).contains("--map"), "{}", text(&out));
}

/// The real files: Mozilla's roots, crt.sh's SKI table and PEM reports.
#[test]
fn importing_the_real_reports_finds_chunghwa_telecom() {
    let Some(moz) = ctwatch_testdata::data_dir("ccadb/mozilla_IncludedCACertificateReport_2023") else { return };
    let Some(crtsh) = ctwatch_testdata::data_dir("ccadb/crtsh_ccadb_data_2026-08") else { return };
    let dir = TempDir::new().unwrap();
    let map = dir.path().join("map.json");
    let mut files = vec![moz.join("IncludedCACertificateReport.csv"), crtsh.join("ski_spkisha256.csv")];
    let mut pems: Vec<PathBuf> =
        std::fs::read_dir(crtsh.join("AllCertificatePEMsCSVFormat")).unwrap().map(|e| e.unwrap().path()).collect();
    pems.sort();
    files.extend(pems);
    let mut args = vec!["ccadb".to_string(), "import".to_string()];
    args.extend(files.iter().map(|f| f.display().to_string()));
    args.extend(["--out".to_string(), map.display().to_string()]);
    let out = Command::new(env!("CARGO_BIN_EXE_ctwatch")).args(&args).output().unwrap();
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("owners:              55"), "{t}");
    assert!(t.contains("issuers:             5255"), "{t}");
    assert!(t.contains("rejected rows:       0"), "{t}");

    let config = write_config(dir.path(), "c.toml", "\n[[ca]]\nowner = \"Chunghwa Telecom\"\n");
    let out = ctwatch(&["check-config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
}
