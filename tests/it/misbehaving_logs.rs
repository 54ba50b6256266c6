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
