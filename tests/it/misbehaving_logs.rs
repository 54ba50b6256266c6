//! A log that lies stops at the last verified position, with a finding, and no crash.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::{FindingFilter, SqliteStore, Store as _};
use ctwatch_testlog::{CertFactory, Misbehaviour, TestLog, now_ms, serve_local};

/// Misbehaviour findings of a store, as their evidence `type`s.
fn misbehaviour_types(store: &SqliteStore) -> Vec<String> {
    let filter = FindingFilter { kind: Some("log_misbehaviour".into()), ..Default::default() };
    let mut types: Vec<String> = store
        .findings(&filter)
        .unwrap()
        .iter()
        .map(|f| f.evidence["type"].as_str().unwrap_or("?").to_string())
        .collect();
    types.sort();
    types
}

struct Case {
    log: TestLog,
    ca: CertFactory,
    server: ctwatch_testlog::TestLogServer,
    dir: tempfile::TempDir,
    toml: String,
    store: std::path::PathBuf,
}

/// A served log with `n` certificates published, and a config for one view of it.
async fn case(name: &str, n: usize, view: View) -> Case {
    let ca = CertFactory::new("Misbehaviour CA").unwrap();
    let log = TestLog::new(name, LogSigner::generate());
    populate(&[&log], &ca, n, now_ms() - 3_600_000);
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions::default();
    let store = store_path(dir.path(), name);
    let toml = config_toml(&store, &[log_toml(&server, &log, view, &opts)], &opts);
    Case { log, ca, server, dir, toml, store }
}

impl Case {
    async fn run(&self) -> ctwatch_monitor::LogSummary {
        run_until_caught_up(self.dir.path(), &self.toml).await.remove(0)
    }

    fn grow(&self, n: usize) -> u64 {
        populate(&[&self.log], &self.ca, n, now_ms() - 1_800_000);
        self.log.publish().head.tree_size
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sth_signature_stops_the_cursor_and_is_recorded() {
    for view in [View::Rfc6962, View::Tiled] {
        let c = case("badsig", 40, view).await;
        let s1 = c.run().await;
        assert_eq!(s1.outcome, LogOutcome::CaughtUp, "{view:?}");
        let verified = s1.cursor;
        c.grow(20);
        c.log.set_misbehaviour(Misbehaviour::BadSthSignature);
        let s2 = c.run().await;
        assert!(matches!(s2.outcome, LogOutcome::Misbehaved(_)), "{view:?}: {s2:?}");
        assert_eq!(s2.cursor, verified, "{view:?}: cursor moved past the last verified head");
        let store = open_store(&c.store);
        assert_eq!(misbehaviour_types(&store), vec!["bad_signature"], "{view:?}");
        assert_eq!(store.log_status().unwrap()[0].cursor, verified);
        // The log recovers: ingestion continues from the verified position.
        c.log.clear_misbehaviour();
        let s3 = c.run().await;
        assert_eq!(s3.outcome, LogOutcome::CaughtUp, "{view:?}");
        assert_eq!(s3.cursor, c.log.published_size());
        c.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_do_not_hash_to_the_signed_root_are_never_committed() {
    for view in [View::Rfc6962, View::Tiled] {
        let c = case("wrongroot", 60, view).await;
        c.log.set_misbehaviour(Misbehaviour::WrongRootHash);
        let s = c.run().await;
        assert!(matches!(s.outcome, LogOutcome::Misbehaved(_)), "{view:?}: {s:?}");
        assert_eq!(s.cursor, 0, "{view:?}");
        let store = open_store(&c.store);
        assert_eq!(store.certificate_count().unwrap(), 0, "{view:?}");
        assert_eq!(misbehaviour_types(&store), vec!["entries_do_not_match_root"], "{view:?}");
        c.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupted_leaf_bytes_stop_before_the_batch_that_holds_them() {
    let c = case("corrupt", 200, View::Rfc6962).await;
    let size = c.log.published_size();
    // Commits are every 100 entries: corrupting entry 250 lets the first two batches in.
    assert!(size > 300, "{size}");
    c.log.set_misbehaviour(Misbehaviour::CorruptLeafBytes { index: 250 });
    let s = c.run().await;
    assert!(matches!(s.outcome, LogOutcome::Misbehaved(_)), "{s:?}");
    assert_eq!(s.cursor, 200);
    assert_eq!(misbehaviour_types(&open_store(&c.store)), vec!["entries_do_not_match_root"]);
    c.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inconsistent_tree_heads_split_view_are_detected() {
    let c = case("split", 30, View::Rfc6962).await;
    let s1 = c.run().await;
    let verified = s1.cursor;
    c.log.set_misbehaviour(Misbehaviour::SplitView { from_index: verified - 5 });
    c.grow(10);
    let s2 = c.run().await;
    assert!(matches!(s2.outcome, LogOutcome::Misbehaved(_)), "{s2:?}");
    assert_eq!(s2.cursor, verified);
    assert_eq!(misbehaviour_types(&open_store(&c.store)), vec!["inconsistent_tree_heads"]);
    c.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_tree_head_is_detected() {
    let c = case("rollback", 30, View::Rfc6962).await;
    let s1 = c.run().await;
    c.log.set_misbehaviour(Misbehaviour::Rollback { to_size: 10 });
    let s2 = c.run().await;
    assert!(matches!(s2.outcome, LogOutcome::Misbehaved(_)), "{s2:?}");
    assert_eq!(s2.cursor, s1.cursor);
    assert_eq!(misbehaviour_types(&open_store(&c.store)), vec!["rollback"]);
    c.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_leaf_is_stored_as_a_malformed_entry_and_ingestion_goes_on() {
    for view in [View::Rfc6962, View::Tiled] {
        let c = case("malformed", 20, view).await;
        // A leaf the tree hashes as given (so the root verifies) whose certificate is garbage:
        // version 0, leaf type 0, timestamp, x509 entry of 5 junk bytes, no extensions.
        let mut leaf = vec![0u8, 0];
        leaf.extend_from_slice(&now_ms().to_be_bytes());
        leaf.extend_from_slice(&[0, 0, 0, 0, 5, 0xde, 0xad, 0xbe, 0xef, 0x00, 0, 0]);
        // The rest of the entry is well formed for its protocol: an empty u24 chain for
        // RFC 6962 extra_data, an empty u16 fingerprint list in a static-ct-api TileLeaf.
        let rest = if view == View::Rfc6962 { vec![0, 0, 0] } else { vec![0, 0] };
        let bad_index = c.log.add_raw_entry(leaf, rest).unwrap();
        let after = c.grow(5);
        let s = c.run().await;
        assert_eq!(s.outcome, LogOutcome::CaughtUp, "{view:?}: {s:?}");
        assert_eq!(s.cursor, after);
        let store = open_store(&c.store);
        let malformed = store.malformed_entries(None).unwrap();
        assert_eq!(malformed.len(), 1, "{view:?}");
        assert_eq!(malformed[0].index, bad_index);
        assert!(!malformed[0].error.is_empty());
        assert_eq!(store.certificate_count().unwrap(), 25, "{view:?}");
        c.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_batches_and_transient_errors_are_absorbed() {
    let c = case("flaky", 80, View::Rfc6962).await;
    c.log.add_misbehaviour(Misbehaviour::ShortBatches { max: 7 });
    c.log.add_misbehaviour(Misbehaviour::ServerError { every_n: 5 });
    c.log.add_misbehaviour(Misbehaviour::TooManyRequests { every_n: 7, retry_after_secs: 0 });
    let s = c.run().await;
    assert_eq!(s.outcome, LogOutcome::CaughtUp, "{s:?}");
    assert_eq!(s.cursor, c.log.published_size());
    let store = open_store(&c.store);
    assert_eq!(store.certificate_count().unwrap(), 80);
    assert!(misbehaviour_types(&store).is_empty());
    let stats = c.log.stats();
    assert!(stats.status(500) > 0 && stats.status(429) > 0, "{stats:?}");
    c.server.shutdown().await;
}

// ------------------------------------------------------------------------------------------
// Two logs in one monitor: one misbehaves, the other must keep progressing.

/// A misbehaving log and an honest one, served together and followed by one monitor.
struct Pair {
    bad: TestLog,
    good: TestLog,
    ca: CertFactory,
    server: ctwatch_testlog::TestLogServer,
    dir: tempfile::TempDir,
    toml: String,
    store: std::path::PathBuf,
}

/// Both logs with `n` certificates published; the bad log is read through `view`, the good one
/// over RFC 6962; requests time out after `timeout_secs`.
async fn pair(name: &str, n: usize, view: View, timeout_secs: f64) -> Pair {
    let ca = CertFactory::new("Pair CA").unwrap();
    let bad = TestLog::new(&format!("{name}-bad"), LogSigner::generate());
    let good = TestLog::new(&format!("{name}-good"), LogSigner::generate());
    populate(&[&bad], &ca, n, now_ms() - 3_600_000);
    populate(&[&good], &ca, n, now_ms() - 3_600_000);
    bad.publish();
    good.publish();
    let server = serve_local(vec![bad.clone(), good.clone()]).await.unwrap();
    let dir = tempdir();
    let opts = RunOptions::default();
    let store = store_path(dir.path(), name);
    let logs = [log_toml(&server, &bad, view, &opts), log_toml(&server, &good, View::Rfc6962, &opts)];
    let toml =
        config_toml(&store, &logs, &opts).replace("timeout_secs = 10", &format!("timeout_secs = {timeout_secs}"));
    assert!(toml.contains(&format!("timeout_secs = {timeout_secs}")), "{toml}");
    Pair { bad, good, ca, server, dir, toml, store }
}

impl Pair {
    /// Run until caught up; the summaries of (bad, good).
    async fn run(&self) -> (ctwatch_monitor::LogSummary, ctwatch_monitor::LogSummary) {
        let summaries = run_until_caught_up(self.dir.path(), &self.toml).await;
        let find = |log: &TestLog| summaries.iter().find(|s| s.name == log.name()).cloned().unwrap();
        (find(&self.bad), find(&self.good))
    }

    /// Grow both logs by 20 certificates and publish.
    fn grow(&self) {
        for log in [&self.bad, &self.good] {
            populate(&[log], &self.ca, 20, now_ms() - 1_800_000);
            log.publish();
        }
    }

    /// One honest run (so that there is a verified position to keep), then grow both logs,
    /// set `mode` on the bad one and run again. Returns the verified cursor of the first run
    /// and the second run's summaries, after checking that the good log caught up.
    async fn honest_then(&self, mode: Misbehaviour) -> (u64, ctwatch_monitor::LogSummary, ctwatch_monitor::LogSummary) {
        let (bad, good) = self.run().await;
        assert_eq!((&bad.outcome, &good.outcome), (&LogOutcome::CaughtUp, &LogOutcome::CaughtUp));
        self.grow();
        self.bad.set_misbehaviour(mode);
        let (bad2, good2) = self.run().await;
        assert_eq!(good2.outcome, LogOutcome::CaughtUp, "the honest log stopped: {good2:?}");
        assert_eq!(good2.cursor, self.good.published_size(), "the honest log did not progress");
        (bad.cursor, bad2, good2)
    }

    /// The misbehaviour findings, with their evidence, all of which must name the bad log.
    fn findings(&self) -> Vec<serde_json::Value> {
        let store = open_store(&self.store);
        let filter = FindingFilter { kind: Some("log_misbehaviour".into()), ..Default::default() };
        let findings: Vec<serde_json::Value> =
            store.findings(&filter).unwrap().into_iter().map(|f| f.evidence).collect();
        for f in &findings {
            assert_eq!(f["log"], self.bad.name(), "{f}");
        }
        let status = store.log_status().unwrap();
        let good = status.iter().find(|s| s.name == self.good.name()).unwrap();
        assert_eq!(good.cursor, self.good.published_size());
        findings
    }
}

/// Each response-level misbehaviour stops the bad log at its last verified position with a
/// finding of `expected` type whose detail contains `detail`, while the honest log catches up.
async fn stops_with_finding(name: &str, view: View, mode: Misbehaviour, expected: &str, detail: &str) {
    stops_with_finding_n(name, 40, view, mode, expected, detail).await;
}

/// [`stops_with_finding`] with `n` certificates before the misbehaviour.
async fn stops_with_finding_n(name: &str, n: usize, view: View, mode: Misbehaviour, expected: &str, detail: &str) {
    let p = pair(name, n, view, 10.0).await;
    let (verified, bad, _) = p.honest_then(mode.clone()).await;
    assert!(verified > 0);
    assert!(matches!(bad.outcome, LogOutcome::Misbehaved(_)), "{mode:?}: {bad:?}");
    assert_eq!(bad.cursor, verified, "{mode:?}: the cursor left the last verified position");
    let findings = p.findings();
    assert_eq!(findings.len(), 1, "{mode:?}: {findings:?}");
    assert_eq!(findings[0]["type"], expected, "{mode:?}: {findings:?}");
    let text = findings[0].to_string();
    assert!(text.contains(detail), "{mode:?}: {text}");
    // Nothing of the bad log beyond the verified position was stored.
    let store = open_store(&p.store);
    let status = store.log_status().unwrap();
    assert_eq!(status.iter().find(|s| s.name == p.bad.name()).unwrap().cursor, verified);
    p.server.shutdown().await;
}

// Removing the conversion of protocol-breaking responses into `bad_response` findings (the
// `round` wrapper in monitor/follow.rs) fails these four: the log then just "fails" without
// a finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_json_is_a_bad_response_finding() {
    stops_with_finding("garbage", View::Rfc6962, Misbehaviour::GarbageJson, "bad_response", "JSON").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_json_is_a_bad_response_finding() {
    stops_with_finding("truncated", View::Rfc6962, Misbehaviour::TruncatedJson, "bad_response", "JSON").await;
}

// Also catches removing the bounded read (`max_response_bytes` in client/http.rs): the 17 MB
// body would then be accepted and parsed, and no finding raised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_response_is_refused_by_the_bounded_read() {
    let mode = Misbehaviour::Oversized { bytes: 17 << 20 };
    stops_with_finding("oversized", View::Rfc6962, mode, "bad_response", "larger than").await;
}

// Also catches removing get-entries' "at least one entry" check (the follower would loop on
// empty batches until the round gave up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_get_entries_batches_are_a_bad_response_finding() {
    stops_with_finding("empty", View::Rfc6962, Misbehaviour::EmptyBatches, "bad_response", "no entries").await;
}

// Catches removing get-entries' "never more than asked" check: the extra entry would be taken
// for the next index (and only the root check would stop it, as entries_do_not_match_root).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_range_get_entries_batches_are_a_bad_response_finding() {
    stops_with_finding("outofrange", View::Rfc6962, Misbehaviour::OutOfRangeEntries, "bad_response", "asked").await;
}

// Duplicated and reordered batches hash to another root: catches committing before the
// prefix is verified against the signed head (`verify_prefix` in monitor/follow.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_entries_never_commit() {
    let mode = Misbehaviour::DuplicatedEntries;
    stops_with_finding("duplicated", View::Rfc6962, mode, "entries_do_not_match_root", "root").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reordered_entries_never_commit() {
    let mode = Misbehaviour::ReorderedEntries;
    stops_with_finding("reordered", View::Rfc6962, mode, "entries_do_not_match_root", "root").await;
}

// Catches treating a missing full tile as a plain fetch error (the 404 arm in
// `LogFollower::round`): the log would then fail without a finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_tiles_that_stay_partial_are_a_bad_response_finding() {
    // 140 certificates are 238 entries (tile 0 partial); the growth completes tile 0.
    stops_with_finding_n(
        "partial",
        140,
        View::Tiled,
        Misbehaviour::PartialTileForever,
        "bad_response",
        "HTTP 404 for a tile",
    )
    .await;
}

// A stale head is signed and consistent: its entries are verified against it, so the cursor
// reaches its size (the verified position) and the finding is raised once however often it is
// seen. Catches removing the MMD check in `check_head`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tree_head_older_than_the_mmd_is_recorded_and_entries_still_verify() {
    for view in [View::Rfc6962, View::Tiled] {
        let p = pair("stale", 40, view, 10.0).await;
        let (_, bad, _) = p.honest_then(Misbehaviour::StaleSth).await;
        assert_eq!(bad.outcome, LogOutcome::CaughtUp, "{view:?}: {bad:?}");
        assert_eq!(bad.cursor, p.bad.published_size(), "{view:?}");
        let (again, _) = p.run().await;
        assert_eq!(again.cursor, p.bad.published_size());
        let findings = p.findings();
        assert_eq!(findings.len(), 1, "{view:?}: {findings:?}");
        assert_eq!(findings[0]["type"], "stale_tree_head", "{view:?}");
        assert!(findings[0]["age_secs"].as_i64().unwrap() > findings[0]["mmd_secs"].as_i64().unwrap());
        p.server.shutdown().await;
    }
}

/// Request outcomes and commits seen by the monitor, per log.
#[derive(Debug, Default)]
struct Recorder {
    outcomes: std::sync::Mutex<Vec<(String, ctwatch_client::RequestOutcome)>>,
    committed: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

#[derive(Debug)]
struct LogRecorder(String, std::sync::Arc<Recorder>);

impl ctwatch_client::FetchObserver for LogRecorder {
    fn on_attempt(&self, _: &'static str, outcome: ctwatch_client::RequestOutcome, _: std::time::Duration) {
        self.1.outcomes.lock().unwrap().push((self.0.clone(), outcome));
    }
}

#[derive(Debug)]
struct Observer(std::sync::Arc<Recorder>);

impl ctwatch_monitor::MonitorObserver for Observer {
    fn on_commit(&self, log: &str, _from: u64, to: u64, _: &ctwatch_store::CommitOutcome) {
        self.0.committed.lock().unwrap().insert(log.to_string(), to);
    }

    fn fetch_observer(&self, log: &str) -> Option<std::sync::Arc<dyn ctwatch_client::FetchObserver>> {
        Some(std::sync::Arc::new(LogRecorder(log.to_string(), self.0.clone())))
    }
}

/// Run the pair's monitor as a daemon until the honest log has committed everything and the
/// bad log has seen `failures` attempts with outcome `want` (or the deadline passes), then stop
/// it. Returns the summaries of (bad, good) and the bad log's failed attempts.
async fn daemon_until_failures(
    p: &Pair,
    want: ctwatch_client::RequestOutcome,
    failures: usize,
) -> (ctwatch_monitor::LogSummary, ctwatch_monitor::LogSummary, usize) {
    let path = p.dir.path().join("ctwatch.toml");
    std::fs::write(&path, &p.toml).unwrap();
    let settings = ctwatch_monitor::config::Settings::load(&path).unwrap();
    let store = settings.store.open().unwrap();
    let recorder = std::sync::Arc::new(Recorder::default());
    let monitor =
        ctwatch_monitor::Monitor::with_observer(settings, store, std::sync::Arc::new(Observer(recorder.clone())))
            .await
            .unwrap();
    let cancel = tokio_util::sync::CancellationToken::new();
    let run = tokio::spawn(monitor.run(ctwatch_monitor::RunMode::Daemon, cancel.clone()));
    let bad_failures =
        || recorder.outcomes.lock().unwrap().iter().filter(|(log, o)| *log == p.bad.name() && *o == want).count();
    let good_done = || recorder.committed.lock().unwrap().get(&p.good.name()).copied() == Some(p.good.published_size());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !(good_done() && bad_failures() >= failures) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    cancel.cancel();
    let summaries = run.await.unwrap().unwrap();
    let find = |log: &TestLog| summaries.iter().find(|s| s.name == log.name()).cloned().unwrap();
    assert!(good_done(), "the honest log did not catch up: {:?}", find(&p.good));
    (find(&p.bad), find(&p.good), bad_failures())
}

// A reset or a stall may be our network's doing as much as the log's, so it is not a finding:
// it is a fetch error, counted per attempt (the `ctwatch_fetch_requests_total` outcome the
// daemon exports through this same observer), retried with backoff, and — in
// `--until-caught-up` runs — the log's outcome once the retries are spent.
//
// Catches removing the request timeout (the 30 s stall would then hold every attempt past the
// deadline, so no timeout is ever observed) and any cursor movement on failed fetches.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_log_times_out_and_the_other_log_goes_on() {
    let p = pair("stall", 40, View::Rfc6962, 0.3).await;
    let (bad, _) = p.run().await;
    let verified = bad.cursor;
    p.grow();
    p.bad.set_misbehaviour(Misbehaviour::Stall { ms: 30_000 });
    let started = std::time::Instant::now();
    let (bad, good, timeouts) = daemon_until_failures(&p, ctwatch_client::RequestOutcome::Timeout, 3).await;
    assert!(timeouts >= 3, "{timeouts} timeouts in {:?}", started.elapsed());
    assert!(started.elapsed() < std::time::Duration::from_secs(30), "{:?}", started.elapsed());
    assert_eq!(bad.cursor, verified);
    assert_eq!(good.cursor, p.good.published_size());
    assert!(p.findings().is_empty());
    p.server.shutdown().await;
}

// Catches a cut connection being taken as a complete body (it would then fail as malformed
// JSON and become a finding) and any cursor movement.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_resets_are_fetch_errors_and_the_other_log_goes_on() {
    let p = pair("reset", 40, View::Rfc6962, 10.0).await;
    let (bad, _) = p.run().await;
    let verified = bad.cursor;
    p.grow();
    p.bad.set_misbehaviour(Misbehaviour::ResetConnection { every_n: 1 });
    let (bad, good, errors) = daemon_until_failures(&p, ctwatch_client::RequestOutcome::NetworkError, 3).await;
    assert!(errors >= 3, "{errors}");
    assert!(p.bad.stats().resets >= 3);
    assert_eq!(bad.cursor, verified);
    assert_eq!(good.cursor, p.good.published_size());
    assert!(p.findings().is_empty());
    p.server.shutdown().await;
}
