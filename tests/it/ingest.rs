//! Ingestion end to end: both protocols, dedup, resume.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::Store as _;
use ctwatch_testlog::{CertFactory, TestLog, now_ms, serve_local};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rfc6962_and_static_ct_views_give_identical_certificates() {
    let ca = CertFactory::new("Integration CA").unwrap();
    let log = TestLog::new("both", LogSigner::generate());
    // 700 certificates → ~1,190 entries: several full tiles, a partial tile, many commits.
    let planted = populate(&[&log], &ca, 700, now_ms() - 3_600_000);
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions::default();

    let mut sets = Vec::new();
    for view in [View::Rfc6962, View::Tiled] {
        let store = store_path(dir.path(), &format!("{view:?}"));
        let toml = config_toml(&store, &[log_toml(&server, &log, view, &opts)], &opts);
        let summaries = run_until_caught_up(dir.path(), &toml).await;
        assert_eq!(summaries.len(), 1);
        assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{view:?}: {summaries:?}");
        assert_eq!(summaries[0].cursor, planted.entries, "{view:?}");
        let s = open_store(&store);
        assert_eq!(s.certificate_count().unwrap(), planted.distinct_certificates as u64, "{view:?}");
        let status = s.log_status().unwrap();
        assert_eq!(status[0].cursor, planted.entries);
        assert_eq!(status[0].verified_tree_size, Some(planted.entries));
        assert_eq!(status[0].malformed_entries, 0);
        sets.push(certificate_set(&s));
    }
    assert_eq!(sets[0].len(), planted.distinct_certificates);
    assert!(sets[0] == sets[1], "the two views stored different certificates");
    // Precert+final pairs are one certificate with both flags; x509-only ones are final only.
    let both = sets[0].iter().filter(|c| c.2 && c.3).count();
    let precert_only = sets[0].iter().filter(|c| c.2 && !c.3).count();
    let final_only = sets[0].iter().filter(|c| !c.2 && c.3).count();
    assert_eq!((both, precert_only, final_only), (490, 140, 70));
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_resumes_where_it_stopped_and_duplicates_nothing() {
    let ca = CertFactory::new("Resume CA").unwrap();
    let log = TestLog::new("resume", LogSigner::generate());
    let first = populate(&[&log], &ca, 150, now_ms() - 7_200_000);
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions { commit_entries: 37, batch_size: 10, ..Default::default() };
    let store = store_path(dir.path(), "resume");
    let toml = config_toml(&store, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts);
    let s1 = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(s1[0].cursor, first.entries);

    // The log grows; a second run continues from the stored cursor and compact range, and the
    // consistency proof between the two heads is checked.
    let second = populate(&[&log], &ca, 90, now_ms() - 3_600_000);
    log.publish();
    let s2 = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(s2[0].outcome, LogOutcome::CaughtUp);
    assert_eq!(s2[0].cursor, first.entries + second.entries);
    let s = open_store(&store);
    assert_eq!(s.certificate_count().unwrap(), (first.distinct_certificates + second.distinct_certificates) as u64);
    let stats = log.stats();
    assert!(stats.endpoint(ctwatch_testlog::Endpoint::GetSthConsistency) > 0, "consistency proofs were requested");
    // A third run with nothing new changes nothing.
    let s3 = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(s3[0].cursor, s2[0].cursor);
    assert_eq!(open_store(&store).certificate_count().unwrap(), s.certificate_count().unwrap());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_certificates_in_two_logs_are_stored_once_with_both_entries() {
    let ca = CertFactory::new("Two Logs CA").unwrap();
    let a = TestLog::new("a", LogSigner::generate());
    let b = TestLog::new("b", LogSigner::generate());
    // Both logs carry the same certificates, as when a CA submits to two logs.
    let planted = populate(&[&a, &b], &ca, 60, now_ms() - 3_600_000);
    a.publish();
    b.publish();
    let server = serve_local(vec![a.clone(), b.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions::default();
    let store = store_path(dir.path(), "two");
    let logs = [log_toml(&server, &a, View::Rfc6962, &opts), log_toml(&server, &b, View::Tiled, &opts)];
    let summaries = run_until_caught_up(dir.path(), &config_toml(&store, &logs, &opts)).await;
    assert!(summaries.iter().all(|s| s.outcome == LogOutcome::CaughtUp), "{summaries:?}");
    let s = open_store(&store);
    assert_eq!(s.certificate_count().unwrap(), planted.distinct_certificates as u64);
    let first = s.certificates(0, 1).unwrap();
    let entries = s.entries_for_certificate(first[0].id).unwrap();
    let logs_seen: std::collections::HashSet<_> = entries.iter().map(|e| e.log_id).collect();
    assert_eq!(logs_seen.len(), 2, "{entries:?}");
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_issuers_mode_counts_every_issuer_but_stores_only_watched_ones() {
    let watched = CertFactory::new("Watched CA").unwrap();
    let other = CertFactory::new("Other CA").unwrap();
    let log = TestLog::new("all", LogSigner::generate());
    let start = now_ms() - 3_600_000;
    let w = populate(&[&log], &watched, 30, start);
    let o = populate(&[&log], &other, 50, start);
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempdir();
    let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(watched.issuer_der()).unwrap());
    let opts = RunOptions {
        extra_toml: format!("[watch]\nall_issuers = true\n[[ca]]\nname = \"Watched\"\nissuers = [\"{issuer}\"]\n"),
        ..Default::default()
    };
    let store = store_path(dir.path(), "all");
    let summaries =
        run_until_caught_up(dir.path(), &config_toml(&store, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts))
            .await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp);
    let s = open_store(&store);
    assert_eq!(s.certificate_count().unwrap(), w.distinct_certificates as u64);
    let other_spki = ctwatch_cert::facts::spki_sha256_of_cert(other.issuer_der()).unwrap();
    let counts = s.issuance_counts(Some(&other_spki), 0, i64::MAX / 2).unwrap();
    // Precertificates and x509 entries without SCTs are counted; final certificates with
    // embedded SCTs are not counted again.
    assert_eq!(counts.iter().map(|c| c.count).sum::<u64>(), o.distinct_certificates as u64);
    let watched_counts = s
        .issuance_counts(
            Some(&ctwatch_cert::facts::spki_sha256_of_cert(watched.issuer_der()).unwrap()),
            0,
            i64::MAX / 2,
        )
        .unwrap();
    assert_eq!(watched_counts.iter().map(|c| c.count).sum::<u64>(), w.distinct_certificates as u64);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_final_certificate_that_does_not_match_its_precertificate_is_recorded() {
    use ctwatch_store::FindingFilter;
    let ca = CertFactory::new("Mismatch CA").unwrap();
    let log = TestLog::new("mismatch", LogSigner::generate());
    let ts = now_ms() - 3_600_000;
    let mut spec = ctwatch_testlog::LeafSpec::new(["good.example.com"]);
    spec.serial = ctwatch_testlog::Serial::Bytes(vec![0x42; 16]);
    let (_precert, index) = log.issue_precert(&ca, &spec, ts).unwrap();
    let sct = log.sct_for_entry(index).unwrap();
    // The CA's final certificate has the same serial but a different name than the precert
    // the log signed (as in boulder's bad precert/final pair).
    let mut altered = spec.clone();
    altered.dns_names = vec!["evil.example.com".into()];
    let other = ca.precert(&altered).unwrap();
    let final_der = ca.final_cert(&other, &ctwatch_testlog::encode_sct_list(&[sct])).unwrap();
    log.add_x509_entry(&final_der, ca.chain(), ts).unwrap();
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions::default();
    let store = store_path(dir.path(), "mismatch");
    let summaries =
        run_until_caught_up(dir.path(), &config_toml(&store, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts))
            .await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp);
    let s = open_store(&store);
    assert_eq!(s.certificate_count().unwrap(), 2);
    let mismatch = s.findings(&FindingFilter { kind: Some("precert_mismatch".into()), ..Default::default() }).unwrap();
    assert_eq!(mismatch.len(), 1);
    assert_eq!(mismatch[0].certificate_count, 2);
    // Its embedded SCT was signed over the precertificate, so it does not verify either.
    let invalid = s.findings(&FindingFilter { kind: Some("invalid_sct".into()), ..Default::default() }).unwrap();
    assert_eq!(invalid.len(), 1, "{invalid:?}");
    server.shutdown().await;
}
