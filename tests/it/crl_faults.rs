//! CRL faults end to end: the monitor's CRL worker polls the CRL distribution points of watched
//! issuers' certificates. A CRL that cannot be fetched, is too large, does not verify, names
//! another issuer or whose number went backwards is recorded as a `crl_problem` finding and
//! teaches nothing: no key is learned from it, while the good CRLs beside it are still
//! processed.
//!
//! Every CA here logs two certificates with one key, and its CRL (whatever is wrong with it)
//! lists the first one as revoked for keyCompromise. Accepting a bad CRL therefore shows up as
//! a learned key and a `compromised_key_reuse` finding for that CA.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::{Finding, FindingFilter, Store as _};
use ctwatch_testlog::{CertFactory, CrlEntry, LeafSpec, Serial, SubscriberKey, TestLog, serve_local};

const DAY: i64 = 86_400;

/// One watched CA, its compromised key and the serial its CRL revokes.
struct Ca {
    name: &'static str,
    factory: CertFactory,
    key: SubscriberKey,
    serial: Vec<u8>,
}

impl Ca {
    fn new(name: &'static str, n: u8) -> Ca {
        Ca {
            name,
            factory: CertFactory::new(&format!("{name} CRL Test CA")).unwrap(),
            key: SubscriberKey::generate().unwrap(),
            serial: vec![0x51, n, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
        }
    }

    /// The CRL entry revoking this CA's first certificate for keyCompromise.
    fn key_compromise(&self, now: i64) -> CrlEntry {
        CrlEntry { serial: self.serial.clone(), revoked_at: now - DAY, reason: Some(1) }
    }
}

fn crl_problems(findings: &[Finding]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = findings
        .iter()
        .filter(|f| f.kind == "crl_problem")
        .map(|f| {
            let url = f.evidence["url"].as_str().unwrap_or("?");
            let name = url.rsplit('/').next().unwrap_or("?").to_string();
            (name, f.evidence["problem"].as_str().unwrap_or("?").to_string(), f.evidence["detail"].to_string())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_crls_are_recorded_teach_nothing_and_do_not_stop_good_ones() {
    let now = ctwatch_monitor::follow::unix_now();
    let files = StaticFiles::start().await;
    let cas: Vec<Ca> = ["good", "unreachable", "badsig", "backwards", "huge", "wrongissuer"]
        .iter()
        .enumerate()
        .map(|(i, name)| Ca::new(name, i as u8))
        .collect();
    // A port nothing listens on: connection refused.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let url_of = |ca: &Ca| match ca.name {
        "unreachable" => format!("http://{closed}/unreachable.crl"),
        name => files.url(&format!("{name}.crl")),
    };

    let log = TestLog::new("crls", LogSigner::generate());
    for ca in &cas {
        for (i, serial) in [Serial::Bytes(ca.serial.clone()), Serial::Random].into_iter().enumerate() {
            let mut spec = LeafSpec::new([format!("host{i}.{}.example", ca.name)]);
            spec.not_before = now - 10 * DAY;
            spec.not_after = now + 80 * DAY;
            spec.serial = serial;
            spec.key = Some(ca.key.clone());
            spec.crl_url = Some(url_of(ca));
            log.issue(&ca.factory, &spec, (now - 9 * DAY) as u64 * 1000, true).unwrap();
        }
    }
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();

    // The CRLs, each with the keyCompromise entry of its CA.
    let stranger = CertFactory::new("Stranger CA").unwrap();
    for ca in &cas {
        let entry = [ca.key_compromise(now)];
        let crl = |number: u64, entries: &[CrlEntry]| ca.factory.crl(number, now - 3600, now + DAY, entries).unwrap();
        let body = match ca.name {
            "good" => crl(1, &entry),
            "unreachable" => continue,
            "badsig" => {
                // The last byte is inside the signature's INTEGER s: still DER, no longer valid.
                let mut der = crl(1, &entry);
                *der.last_mut().unwrap() ^= 0x01;
                der
            }
            // First a CRL numbered 5 without the entry; the second run serves number 3 with it.
            "backwards" => crl(5, &[]),
            "huge" => {
                // Past the configured 8 KiB bound (about 40 bytes an entry).
                let mut entries: Vec<CrlEntry> = (0..400u32)
                    .map(|i| CrlEntry {
                        serial: [&[0x22u8][..], &i.to_be_bytes()].concat(),
                        revoked_at: now,
                        reason: None,
                    })
                    .collect();
                entries.push(ca.key_compromise(now));
                crl(1, &entries)
            }
            // Signed by a CA that is not watched and never logged anything.
            "wrongissuer" => stranger.crl(1, now - 3600, now + DAY, &entry).unwrap(),
            other => unreachable!("{other}"),
        };
        files.put(&format!("{}.crl", ca.name), body);
    }

    let dir = tempdir();
    let mut toml_cas = String::new();
    for ca in &cas {
        let pem = dir.path().join(format!("{}.pem", ca.name));
        std::fs::write(&pem, pem_cert(ca.factory.issuer_der())).unwrap();
        toml_cas.push_str(&format!("[[ca]]\nname = \"{}\"\nissuers = [\"{}\"]\n", ca.name, pem.display()));
    }
    let opts = RunOptions {
        extra_toml: format!("[crl]\nmax_bytes = 8192\ninterval_secs = 60\n{toml_cas}"),
        ..Default::default()
    };
    let store_file = store_path(dir.path(), "crls");
    let toml = config_toml(&store_file, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts);

    let summaries = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");
    let good = &cas[0];
    let check = |expected_problems: &[(&str, &str, &str)]| {
        let store = open_store(&store_file);
        let findings = store.findings(&FindingFilter { limit: Some(1000), ..Default::default() }).unwrap();
        let problems = crl_problems(&findings);
        let summary: Vec<(&str, &str)> = problems.iter().map(|(n, p, _)| (n.as_str(), p.as_str())).collect();
        let expected: Vec<(String, &str)> =
            expected_problems.iter().map(|(n, p, _)| (format!("{n}.crl"), *p)).collect();
        assert_eq!(summary, expected.iter().map(|(n, p)| (n.as_str(), *p)).collect::<Vec<_>>(), "{problems:#?}");
        for ((_, _, detail), (name, _, words)) in problems.iter().zip(expected_problems) {
            assert!(detail.contains(words), "{name}: {detail:?} does not say {words:?}");
        }
        // Only the good CRL taught a key, and only its CA's key reuse is a finding.
        let keys = store.compromised_keys().unwrap();
        assert_eq!(keys.len(), 1, "{keys:?}");
        assert_eq!(keys[0].spki_sha256, good.key.spki_sha256());
        let reuse: Vec<&Finding> = findings.iter().filter(|f| f.kind == "compromised_key_reuse").collect();
        assert!(!reuse.is_empty());
        assert!(reuse.iter().all(|f| f.ca.as_deref() == Some("good")), "{reuse:?}");
        // The good CRL's revocation is stored.
        let issuer = ctwatch_cert::facts::spki_sha256_of_cert(good.factory.issuer_der()).unwrap();
        assert_eq!(store.revocation(&issuer, &good.serial).unwrap().map(|r| r.reason), Some(Some(1)));
    };
    // Catches, in order: a bad signature accepted (the signature check in keys::crl), the size
    // bound removed (client max_response_bytes / CrlLimits), an unreachable CRL not recorded,
    // and a CRL verified without checking its issuer name against the issuer certificate.
    let first = [
        ("badsig", "rejected", "signature does not verify"),
        ("huge", "too_large", "larger than 8192"),
        ("unreachable", "unreachable", "unreachable.crl"),
        ("wrongissuer", "rejected", "Stranger"),
    ];
    check(&first);

    // The backwards CRL now carries the keyCompromise entry under a lower number: catches
    // removing the CRL-number history check in the CRL worker.
    let backwards = &cas[3];
    files.put(
        "backwards.crl",
        backwards.factory.crl(3, now - 1800, now + DAY, &[backwards.key_compromise(now)]).unwrap(),
    );
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");
    let mut second = vec![("backwards", "crl_number", "went backwards from 5 to 3")];
    second.extend_from_slice(&first);
    check(&second);
    server.shutdown().await;
}
