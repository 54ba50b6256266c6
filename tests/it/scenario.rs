//! The end-to-end detector scenario (crates/scenario: each incident of ../shared/seeds in
//! miniature, with a real DNS server and a CRL server on 127.0.0.1). `ctwatch run
//! --until-caught-up` must find every planted problem and nothing else, push each finding to a
//! sink once, and raise or send nothing again after a restart.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_scenario::{EXPECTED, ServedScenario};
use ctwatch_store::{Finding, FindingFilter, SqliteStore, Store as _};
use ctwatch_testlog::TestLog;
use std::collections::BTreeMap;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planted_problem_is_found_and_nothing_else() {
    let now = ctwatch_monitor::follow::unix_now();
    let log = TestLog::new("scenario", LogSigner::generate());
    let scenario = ServedScenario::start(vec![log.clone()], now).await.unwrap();
    let server = &scenario.server;

    let dir = tempdir();
    let opts = RunOptions {
        extra_toml: format!(
            "{}\n[[sink]]\ntype = \"command\"\ncommand = \"/bin/sh\"\nargs = [\"-c\", \"echo \\\"$CTWATCH_FINDING_KEY\\\" >> {}\"]\n",
            scenario.detectors_toml(dir.path()).unwrap(),
            dir.path().join("delivered.txt").display()
        ),
        ..Default::default()
    };
    let store_file = store_path(dir.path(), "scenario");
    let toml = config_toml(&store_file, &[log_toml(server, &log, View::Rfc6962, &opts)], &opts);
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");

    let store = open_store(&store_file);
    let findings = check_findings(&store);
    // Every finding was pushed to the command sink once.
    let delivered = || std::fs::read_to_string(dir.path().join("delivered.txt")).unwrap_or_default();
    let first_delivery = delivered();
    assert_eq!(first_delivery.lines().count(), findings.len(), "{first_delivery}");

    // A second run (a restart) raises nothing twice and sends nothing twice.
    let again = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(again[0].outcome, LogOutcome::CaughtUp);
    let after = open_store(&store_file).findings(&FindingFilter { limit: Some(10_000), ..Default::default() }).unwrap();
    assert_eq!(after.len(), findings.len());
    assert_eq!(delivered(), first_delivery);
    let _ = SqliteStore::open_read_only(&store_file).unwrap();
}

/// Assert the scenario's exact outcome; return the findings.
pub fn check_findings(store: &dyn ctwatch_store::Store) -> Vec<Finding> {
    // Distinct certificates: precert and final counted once.
    assert_eq!(store.certificate_count().unwrap(), EXPECTED.certificates);
    let findings = store.findings(&FindingFilter { limit: Some(10_000), ..Default::default() }).unwrap();
    let by_kind = |kind: &str| -> Vec<&Finding> { findings.iter().filter(|f| f.kind == kind).collect() };
    let summary: Vec<String> =
        findings.iter().map(|f| format!("{} {} {:?} {}", f.kind, f.key, f.ca, f.certificate_count)).collect();
    let context = summary.join("\n");

    // Nothing unexpected.
    let kinds: std::collections::BTreeSet<&str> = findings.iter().map(|f| f.kind.as_str()).collect();
    let expected_kinds: std::collections::BTreeSet<&str> =
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
