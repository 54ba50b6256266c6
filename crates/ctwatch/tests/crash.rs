//! Crash safety: SIGKILL `ctwatch run --until-caught-up` at ≥ 20 pseudo-random moments
//! (seeded, logged), restart it each time, and compare the final store with an uninterrupted
//! run: same certificates, same log entries, same findings with the same certificates, same
//! cursor — nothing lost, nothing duplicated, no finding raised twice.

use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_store::{FindingFilter, SqliteStore, Store as _};
use ctwatch_testlog::{BasicConstraintsMode, CertFactory, LeafSpec, TestLog, now_ms, serve_local};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Everything that must be identical between the two runs.
#[derive(Debug, PartialEq, Eq)]
struct Snapshot {
    cursor: u64,
    verified: Option<u64>,
    certificates: Vec<([u8; 32], bool, bool, usize)>,
    findings: Vec<(String, String, u64)>,
}

fn snapshot(path: &Path) -> Snapshot {
    let store = SqliteStore::open_read_only(path).unwrap();
    let status = store.log_status().unwrap();
    let mut certificates = Vec::new();
    for c in ctwatch_store::testing::all_certificates(&store).unwrap() {
        let entries = store.entries_for_certificate(c.id).unwrap().len();
        certificates.push((c.identity, c.has_precert, c.has_final, entries));
    }
    certificates.sort();
    let mut findings: Vec<(String, String, u64)> = store
        .findings(&FindingFilter { limit: Some(100_000), ..Default::default() })
        .unwrap()
        .into_iter()
        .map(|f| (f.key, f.kind, f.certificate_count))
        .collect();
    findings.sort();
    Snapshot { cursor: status[0].cursor, verified: status[0].verified_tree_size, certificates, findings }
}

fn write_config(dir: &Path, name: &str, url: &str, key: &str, issuer: &str) -> std::path::PathBuf {
    let config = dir.join(format!("{name}.toml"));
    // Small batches and commits and a request budget make a run last long enough to be killed
    // many times mid-way, at every stage (fetch, verify, commit).
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"{name}.sqlite\"\n[fetch]\npoll_interval_secs = 0.05\ncommit_entries = 40\n\
             [[log]]\nname = \"crash\"\nurl = \"{url}\"\nkey = \"{key}\"\nbatch_size = 16\nconcurrency = 3\nrequests_per_second = 25\n\
             [[ca]]\nname = \"Crash CA\"\nissuers = [\"{issuer}\"]\n"
        ),
    )
    .unwrap();
    config
}

/// xorshift64*: a seeded, logged sequence of kill delays.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_twenty_moments_loses_and_duplicates_nothing() {
    let ca = CertFactory::new("Crash CA").unwrap();
    let log = TestLog::new("crash", LogSigner::generate());
    for i in 0..1500u64 {
        let mut spec = LeafSpec::new([format!("host{i}.example.com")]);
        // Reachable instantly (connection refused): a CRL fetch must not dominate the runs.
        spec.crl_url = Some("http://127.0.0.1:9/1.crl".into());
        spec.ocsp_url = Some("http://ocsp.example.com/".into());
        spec.ca_issuers_url = Some("http://aia.example.com/ca.cer".into());
        if i % 7 == 0 {
            // A lint finding that grows across restarts.
            spec.basic_constraints = BasicConstraintsMode::NonCritical;
        }
        log.issue(&ca, &spec, now_ms() - 3_600_000 + i, i % 3 != 0).unwrap();
    }
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode(log.log_key_spki_der());
    let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(ca.issuer_der()).unwrap());
    let url = server.url_rfc6962("crash");
    let reference = write_config(dir.path(), "reference", &url, &key, &issuer);
    let crashed = write_config(dir.path(), "crashed", &url, &key, &issuer);
    let run = |config: &Path| {
        Command::new(env!("CARGO_BIN_EXE_ctwatch"))
            .args(["--log-level", "warn", "run", "--until-caught-up", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };

    // The uninterrupted run.
    let status = tokio::task::spawn_blocking({
        let reference = reference.clone();
        move || run(&reference).wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "{status}");
    let expected = snapshot(&dir.path().join("reference.sqlite"));
    assert_eq!(expected.cursor, log.published_size());
    assert!(expected.findings.iter().any(|f| f.1 == "lint_violation"), "{:?}", expected.findings);

    // The same, killed with SIGKILL at pseudo-random moments.
    let seed = 0x5eed_c7a5_u64 ^ u64::from(std::process::id());
    eprintln!("crash test seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let mut kills = 0;
    let mut finished = false;
    for attempt in 0..200 {
        // After 20 kills the last restart runs to the end (its final CRL/revocation pass may
        // outlast any kill delay on a slow machine).
        let delay = if kills >= 20 { Duration::from_secs(600) } else { Duration::from_millis(60 + rng.next() % 400) };
        let mut child = run(&crashed);
        let outcome = tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + delay;
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    return Some(status);
                }
                if std::time::Instant::now() >= deadline {
                    // SIGKILL: no chance to drain or commit.
                    child.kill().unwrap();
                    child.wait().unwrap();
                    return None;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
        .await
        .unwrap();
        match outcome {
            None => {
                kills += 1;
                eprintln!("attempt {attempt}: killed after {delay:?}");
            }
            Some(status) => {
                assert!(status.success(), "attempt {attempt}: {status}");
                if kills >= 20 {
                    finished = true;
                    break;
                }
                // Finished before enough kills: the next runs are no-ops; keep killing
                // until 20 kills happened (restarts of an up-to-date store must also be safe).
            }
        }
    }
    assert!(finished, "did not finish after {kills} kills");
    assert!(kills >= 20);
    let got = snapshot(&dir.path().join("crashed.sqlite"));
    assert_eq!(got.cursor, expected.cursor);
    assert_eq!(got.verified, expected.verified);
    assert_eq!(got.certificates.len(), expected.certificates.len());
    assert!(got.certificates == expected.certificates, "certificates or their entries differ");
    assert_eq!(got.findings, expected.findings);
    server.shutdown().await;
}
