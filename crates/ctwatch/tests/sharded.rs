//! Sharding survives a crash: three `ctwatch run` processes share six logs of the detector
//! scenario on one PostgreSQL schema, the one holding the singleton lease is killed with
//! SIGKILL mid-run, and the two survivors must end with exactly what a single instance finds:
//! the same finding keys, kinds and certificate counts, issuance surges included (surge hours
//! close once every log's stored position is past them, so which instance read what does not
//! matter), the same cursors, certificates and hourly issuance. A graceful stop (SIGTERM) of the
//! survivors then hands every lease back.
//!
//! Skipped (with a message) unless `CTWATCH_TEST_POSTGRES_URL` names a server; failed instead
//! when `CTWATCH_REQUIRE_POSTGRES=1` (CI).

use ctwatch_integration::{
    check_findings, finding_set, postgres_config, run_until_caught_up, scenario_in_logs, tempdir,
};
use ctwatch_monitor::LogOutcome;
use ctwatch_store::Store;
use ctwatch_store::testing::postgres_test_schema;
use ctwatch_testlog::TestLog;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// One `ctwatch run` child process. Dropping it SIGKILLs the process if it is still running, so
/// a failing test leaves nothing behind.
struct Node {
    name: String,
    child: Child,
    /// The child's stderr (its log), shown when the run does not settle.
    stderr: PathBuf,
}

impl Node {
    fn start(name: &str, config: &Path, dir: &Path) -> Node {
        let stderr = dir.join(format!("{name}.stderr"));
        let child = Command::new(env!("CARGO_BIN_EXE_ctwatch"))
            .args(["run", "--config"])
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .unwrap();
        Node { name: name.to_string(), child, stderr }
    }

    /// SIGKILL: no chance to drain, commit or release a lease. Returns how the process ended.
    fn kill(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    /// SIGTERM, then wait up to `timeout` for the process to drain and exit.
    async fn stop(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.child.id().to_string();
        let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(status.success(), "kill -TERM {pid} ({}) failed", self.name);
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "{} did not stop within {timeout:?}\n{}", self.name, self.log_tail());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Panic with the log if the process ended on its own: it was meant to run until stopped.
    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!("{} exited on its own: {status}\n{}", self.name, self.log_tail());
        }
    }

    /// The last lines of the child's stderr.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        format!("--- last lines of {} ({}):\n{tail}", self.name, self.stderr.display())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The tails of every node's log, for a panic message.
fn log_tails(nodes: &[Node]) -> String {
    nodes.iter().map(Node::log_tail).collect::<Vec<_>>().join("\n")
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

    // Three processes on their own schema; small commits so a kill lands mid-run. The config
    // is built once: building it rewrites the CA files the running processes read.
    let config =
        postgres_config(&scenario, dir.path(), &schema, "").replace("commit_entries = 100", "commit_entries = 20");
    let mut configs = Vec::new();
    for i in 0..3 {
        let name = format!("node-{i}");
        let path = dir.path().join(format!("{name}.toml"));
        // Port 0: the processes run side by side, each with its own metrics listener.
        let node = format!("[shard]\ninstance = \"{name}\"\nlease_secs = 2\n[metrics]\nlisten = \"127.0.0.1:0\"\n");
        std::fs::write(&path, format!("{node}{config}")).unwrap();
        configs.push((name, path));
    }
    let mut nodes: Vec<Node> = configs.iter().map(|(name, path)| Node::start(name, path, dir.path())).collect();
    // Read-write: the instances may not have created the schema yet.
    let store = ctwatch_store::open(schema.url()).unwrap();
    let total: u64 = sizes.iter().sum();
    let cursors = |store: &dyn Store| -> Vec<u64> {
        let mut status = store.log_status().unwrap();
        status.sort_by(|a, b| a.name.cmp(&b.name));
        status.iter().map(|s| s.cursor).collect()
    };

    // SIGKILL the process holding the singleton lease once some, not all, entries are in.
    let deadline = Instant::now() + Duration::from_secs(120);
    let killed = loop {
        nodes.iter_mut().for_each(Node::assert_running);
        assert!(
            Instant::now() < deadline,
            "no progress: cursors {:?} of {sizes:?}\n{}",
            cursors(&*store),
            log_tails(&nodes)
        );
        // A quarter in: every instance has committed work, and surge hours are open.
        let done: u64 = cursors(&*store).iter().sum();
        if done >= total / 4 {
            assert!(done < total, "everything was read before the kill: commit smaller batches");
            let now = ctwatch_monitor::follow::unix_now();
            let holder = store
                .log_leases()
                .unwrap()
                .into_iter()
                .find(|l| l.log_id == ctwatch_monitor::shard::SINGLETON_LEASE && l.expires_at > now)
                .map(|l| l.instance);
            if let Some(holder) = holder {
                let index = nodes.iter().position(|n| n.name == holder).expect("the singleton holder is a node");
                let status = nodes[index].kill();
                assert_eq!(status.signal(), Some(9), "{holder} did not die of SIGKILL: {status}");
                eprintln!("killed {holder}, the singleton holder, at {done} of {total} entries");
                break index;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let killed_name = nodes[killed].name.clone();

    // The survivors take the killed instance's logs and singleton work over and finish.
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        for (i, node) in nodes.iter_mut().enumerate() {
            if i != killed {
                node.assert_running();
            }
        }
        let caught_up = cursors(&*store) == sizes;
        if caught_up && finding_set(&*store) == expected {
            break;
        }
        if Instant::now() > deadline {
            let got = finding_set(&*store);
            panic!(
                "not settled 240 s after killing {killed_name}: cursors {:?} of {sizes:?}\nmissing: {:#?}\nunexpected: {:#?}\n{}",
                cursors(&*store),
                expected.difference(&got).collect::<Vec<_>>(),
                got.difference(&expected).collect::<Vec<_>>(),
                log_tails(&nodes),
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leases = store.log_leases().unwrap();
    let now = ctwatch_monitor::follow::unix_now();
    assert!(
        leases.iter().filter(|l| l.expires_at > now).all(|l| l.instance != killed_name),
        "the killed instance still holds a live lease: {leases:?}"
    );
    check_findings(&*store);
    assert_eq!(store.certificate_count().unwrap(), reference_store.certificate_count().unwrap());
    let issuance = |s: &dyn Store| s.issuance_counts(None, i64::MIN, i64::MAX).unwrap();
    assert_eq!(issuance(&*store), issuance(&*reference_store), "hourly issuance counted once per certificate");

    // A graceful stop (SIGTERM) exits 0 and hands every lease back.
    for (i, node) in nodes.iter_mut().enumerate() {
        if i != killed {
            let status = node.stop(Duration::from_secs(60)).await;
            assert_eq!(status.code(), Some(0), "{} exited with {status}\n{}", node.name, node.log_tail());
        }
    }
    let now = ctwatch_monitor::follow::unix_now();
    let held: Vec<_> = store.log_leases().unwrap().into_iter().filter(|l| l.expires_at > now).collect();
    assert!(held.iter().all(|l| l.instance == killed_name), "{held:?}");
}
