//! The detector scenario on PostgreSQL: one instance, and three sharded instances over six
//! logs with one of them killed mid-run. Both must pass the scenario's assertions, and the
//! sharded run must find exactly what a single-instance run finds: the same finding keys, kinds
//! and certificate counts, issuance surges included (surge hours close once every log's stored
//! position is past them, so which instance read what does not matter).
//!
//! Skipped (with a message) unless `CTWATCH_TEST_POSTGRES_URL` names a server; failed instead
//! when `CTWATCH_REQUIRE_POSTGRES=1` (CI).

use crate::scenario::check_findings;
use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::config::Settings;
use ctwatch_monitor::{LogOutcome, Monitor, RunMode};
use ctwatch_scenario::ServedScenario;
use ctwatch_store::testing::{TestSchema, postgres_test_schema};
use ctwatch_store::{FindingFilter, Store};
use ctwatch_testlog::TestLog;
use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// A config for `logs` of the served scenario on the PostgreSQL schema, plus `extra` TOML.
fn postgres_config(scenario: &ServedScenario, dir: &Path, schema: &TestSchema, extra: &str) -> String {
    let opts = RunOptions { extra_toml: scenario.detectors_toml(dir).unwrap(), ..Default::default() };
    let logs: Vec<String> =
        scenario.logs.iter().map(|log| log_toml(&scenario.server, log, View::Rfc6962, &opts)).collect();
    let sqlite = store_path(dir, "unused");
    let toml = config_toml(&sqlite, &logs, &opts);
    let path_line = format!("[store]\npath = \"{}\"\n", sqlite.display());
    assert!(toml.contains(&path_line), "config_toml changed its [store] section: {toml}");
    format!("{extra}\n{}", toml.replace(&path_line, &format!("[store]\nurl = \"{}\"\n", schema.url())))
}

/// The findings as (kind, key, certificate count), sorted; fails on a key seen twice.
fn finding_set(store: &dyn Store) -> BTreeSet<(String, String, u64)> {
    let findings = store.findings(&FindingFilter { limit: Some(100_000), ..Default::default() }).unwrap();
    let set: BTreeSet<_> = findings.iter().map(|f| (f.kind.clone(), f.key.clone(), f.certificate_count)).collect();
    let keys: BTreeSet<&str> = findings.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys.len(), findings.len(), "a finding key is stored twice");
    set
}

/// The scenario served into `n` logs (every entry in every log).
async fn scenario_in_logs(n: usize) -> ServedScenario {
    let logs = (0..n).map(|i| TestLog::new(&format!("shard{i}"), LogSigner::generate())).collect();
    ServedScenario::start(logs, ctwatch_monitor::follow::unix_now()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scenario_on_postgres_finds_what_sqlite_finds() {
    let Some(schema) = postgres_test_schema() else { return };
    let scenario = scenario_in_logs(1).await;
    let dir = tempdir();
    let toml = postgres_config(&scenario, dir.path(), &schema, "");
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");
    let store = ctwatch_store::open_read_only(schema.url()).unwrap();
    check_findings(&*store);
    let first = finding_set(&*store);

    // A restart raises nothing twice.
    let again = run_until_caught_up(dir.path(), &toml).await;
    assert_eq!(again[0].outcome, LogOutcome::CaughtUp);
    assert_eq!(finding_set(&*store), first);
    assert!(!dir.path().join("unused.sqlite").exists(), "the SQLite default was opened instead of PostgreSQL");
}

/// One sharded `Monitor` on a runtime of its own, so that killing it drops every task it runs
/// at once, mid-transaction or not, without releasing its leases.
struct Instance {
    runtime: Option<tokio::runtime::Runtime>,
    cancel: CancellationToken,
    done: tokio::sync::oneshot::Receiver<Result<(), String>>,
}

impl Instance {
    fn start(config: &Path) -> Instance {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let settings = Settings::load(config).unwrap();
        let cancel = CancellationToken::new();
        let (tx, done) = tokio::sync::oneshot::channel();
        let token = cancel.clone();
        runtime.spawn(async move {
            let result = async {
                let store = settings.store.open().map_err(|e| e.to_string())?;
                let monitor = Monitor::new(settings, store).await.map_err(|e| e.to_string())?;
                monitor.run(RunMode::Daemon, token).await.map(|_| ()).map_err(|e| e.to_string())
            }
            .await;
            let _ = tx.send(result);
        });
        Instance { runtime: Some(runtime), cancel, done }
    }

    /// Kill: every task stops where it is; nothing is drained or released.
    fn kill(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    /// Stop gracefully and return how the run ended.
    async fn stop(mut self) -> Result<(), String> {
        self.cancel.cancel();
        let result = tokio::time::timeout(Duration::from_secs(60), &mut self.done)
            .await
            .map_err(|_| "instance did not stop within 60 s".to_string())?
            .map_err(|_| "instance task vanished".to_string())?;
        self.kill();
        result
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_sharded_instances_with_one_killed_find_what_one_instance_finds() {
    let Some(reference_schema) = postgres_test_schema() else { return };
    let Some(schema) = postgres_test_schema() else { return };
    let scenario = scenario_in_logs(6).await;
    let sizes: Vec<u64> = scenario.logs.iter().map(TestLog::tree_size).collect();

    // The reference: one instance, caught up.
    let dir = tempdir();
    let reference_toml = postgres_config(&scenario, dir.path(), &reference_schema, "");
    let summaries = run_until_caught_up(dir.path(), &reference_toml).await;
    assert!(summaries.iter().all(|s| s.outcome == LogOutcome::CaughtUp), "{summaries:?}");
    let reference_store = ctwatch_store::open_read_only(reference_schema.url()).unwrap();
    check_findings(&*reference_store);
    let expected = finding_set(&*reference_store);
    assert!(expected.iter().any(|f| f.0 == "issuance_surge"), "{expected:#?}");

    // Three instances on their own schema; small commits so a kill lands mid-run.
    let mut configs = Vec::new();
    for i in 0..3 {
        let shard = format!("[shard]\ninstance = \"node-{i}\"\nlease_secs = 2\n");
        let toml = postgres_config(&scenario, dir.path(), &schema, &shard)
            .replace("commit_entries = 100", "commit_entries = 20");
        let path = dir.path().join(format!("node-{i}.toml"));
        std::fs::write(&path, toml).unwrap();
        configs.push(path);
    }
    let mut instances: Vec<Instance> = configs.iter().map(|c| Instance::start(c)).collect();
    // Read-write: the instances may not have created the schema yet.
    let store = ctwatch_store::open(schema.url()).unwrap();
    let total: u64 = sizes.iter().sum();
    let cursors = |store: &dyn Store| -> Vec<u64> {
        let mut status = store.log_status().unwrap();
        status.sort_by(|a, b| a.name.cmp(&b.name));
        status.iter().map(|s| s.cursor).collect()
    };

    // Kill the instance holding the singleton lease once some, not all, entries are in.
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed = loop {
        assert!(Instant::now() < deadline, "no progress: cursors {:?} of {sizes:?}", cursors(&*store));
        let done: u64 = cursors(&*store).iter().sum();
        if done > 0 {
            assert!(done < total, "everything was read before the kill: commit smaller batches");
            let leases = store.log_leases().unwrap();
            let holder =
                leases.iter().find(|l| l.log_id == ctwatch_monitor::shard::SINGLETON_LEASE).map(|l| l.instance.clone());
            if let Some(holder) = holder {
                let index: usize = holder.trim_start_matches("node-").parse().unwrap();
                instances[index].kill();
                break index;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    // The survivors take the killed instance's logs and singleton work over and finish.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let caught_up = cursors(&*store) == sizes;
        if caught_up && finding_set(&*store) == expected {
            break;
        }
        if Instant::now() > deadline {
            let got = finding_set(&*store);
            panic!(
                "not settled after 240 s: cursors {:?} of {sizes:?}\nmissing: {:#?}\nunexpected: {:#?}",
                cursors(&*store),
                expected.difference(&got).collect::<Vec<_>>(),
                got.difference(&expected).collect::<Vec<_>>(),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leases = store.log_leases().unwrap();
    let now = ctwatch_monitor::follow::unix_now();
    assert!(
        leases.iter().filter(|l| l.expires_at > now).all(|l| l.instance != format!("node-{killed}")),
        "the killed instance still holds a live lease: {leases:?}"
    );
    check_findings(&*store);
    assert_eq!(store.certificate_count().unwrap(), reference_store.certificate_count().unwrap());
    let issuance = |s: &dyn Store| s.issuance_counts(None, i64::MIN, i64::MAX).unwrap();
    assert_eq!(issuance(&*store), issuance(&*reference_store), "hourly issuance counted once per certificate");

    for (i, instance) in instances.into_iter().enumerate() {
        if i != killed {
            instance.stop().await.unwrap();
        }
    }
    // A graceful stop hands every lease back.
    let now = ctwatch_monitor::follow::unix_now();
    let held: Vec<_> = store.log_leases().unwrap().into_iter().filter(|l| l.expires_at > now).collect();
    assert!(held.iter().all(|l| l.instance == format!("node-{killed}")), "{held:?}");
}
