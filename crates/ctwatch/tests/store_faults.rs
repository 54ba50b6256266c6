//! Store faults: `ctwatch run --until-caught-up` against a store that runs out of space, is
//! locked by another process's write transaction, or is not (or no longer) a valid database.
//! Each time the run must exit non-zero with an error that names the problem, leave the store
//! consistent (every entry below the cursor stored exactly once, nothing beyond it), and a
//! later run on a healthy store must finish the job. Nothing is skipped silently.

use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_store::{SqliteStore, Store as _};
use ctwatch_testlog::{CertFactory, LeafSpec, TestLog, TestLogServer, now_ms, serve_local};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A served log of one watched CA, a config for it and its store path.
struct Fixture {
    log: TestLog,
    ca: CertFactory,
    server: TestLogServer,
    /// Holds the config and the store.
    _dir: tempfile::TempDir,
    config: PathBuf,
    store: PathBuf,
}

async fn fixture(certificates: u64) -> Fixture {
    let ca = CertFactory::new("Store Faults CA").unwrap();
    let log = TestLog::new("faults", LogSigner::generate());
    let server = serve_local(vec![log.clone()]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = base64::engine::general_purpose::STANDARD.encode(log.log_key_spki_der());
    let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(ca.issuer_der()).unwrap());
    let config = dir.path().join("ctwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\npath = \"faults.sqlite\"\n[fetch]\npoll_interval_secs = 0.05\ncommit_entries = 50\n\
             [[log]]\nname = \"faults\"\nurl = \"{}\"\nkey = \"{key}\"\nbatch_size = 32\n\
             [[ca]]\nname = \"Faults CA\"\nissuers = [\"{issuer}\"]\n",
            server.url_rfc6962("faults")
        ),
    )
    .unwrap();
    let store = dir.path().join("faults.sqlite");
    let f = Fixture { log, ca, server, _dir: dir, config, store };
    f.grow(certificates);
    f
}

impl Fixture {
    /// Log `n` more certificates (precertificate and final certificate) and publish.
    fn grow(&self, n: u64) {
        let first = self.log.tree_size();
        for i in 0..n {
            let spec = LeafSpec::new([format!("host{}.store-faults.example", first + i)]);
            self.log.issue(&self.ca, &spec, now_ms() - 3_600_000 + i, true).unwrap();
        }
        self.log.publish();
    }

    /// `ctwatch run --until-caught-up`, through `sh -c <prefix>` when given.
    async fn run(&self, shell_prefix: Option<&str>) -> Output {
        let ctwatch = env!("CARGO_BIN_EXE_ctwatch");
        let args = ["--log-level", "warn", "run", "--until-caught-up", "--config"];
        let mut command = match shell_prefix {
            Some(prefix) => {
                let mut c = Command::new("sh");
                c.arg("-c").arg(format!("{prefix}; exec \"$0\" \"$@\"")).arg(ctwatch);
                c
            }
            None => Command::new(ctwatch),
        };
        command.args(args).arg(&self.config).stdin(Stdio::null());
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    }

    /// The cursor, after checking that the entries stored are exactly `[0, cursor)`, each once.
    fn consistent_cursor(&self) -> u64 {
        let store = SqliteStore::open_read_only(&self.store).unwrap();
        let status = store.log_status().unwrap();
        let cursor = status.first().map_or(0, |s| s.cursor);
        let mut indices = Vec::new();
        for c in ctwatch_store::testing::all_certificates(&store).unwrap() {
            indices.extend(store.entries_for_certificate(c.id).unwrap().into_iter().map(|e| e.index));
        }
        indices.sort_unstable();
        assert_eq!(indices, (0..cursor).collect::<Vec<_>>(), "stored entries are not exactly [0, {cursor})");
        cursor
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_failed(output: &Output, words: &[&str]) {
    let text = stderr(output);
    assert!(!output.status.success(), "the run succeeded: {text}");
    assert!(text.contains("ctwatch: error:"), "{text}");
    assert!(words.iter().any(|w| text.contains(w)), "none of {words:?} in: {text}");
}

// Disk full, without privileges: the run gets a file-size limit (RLIMIT_FSIZE through the
// shell's `ulimit -f`, with SIGXFSZ ignored so that a write past it fails with EFBIG instead of
// killing the process). Unlike a tiny tmpfs or loop mount this needs no root on CI, and unlike
// `PRAGMA max_page_count` (a per-connection setting) it reaches the daemon's own connection.
// SQLite reports the failed write as "disk I/O error" (SQLITE_FULL is only for ENOSPC).
//
// Catches: a store error that does not end the run (exit 0 with entries missing), and a commit
// that is not one transaction (entries without their cursor, or a cursor without its entries).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_stops_the_run_with_an_error_and_no_partial_commit() {
    let f = fixture(400).await;
    // 1,536 KiB (dash counts 512-byte blocks): room for the schema and a few commits, not
    // for 800 entries of certificates.
    let started = Instant::now();
    let out = f.run(Some("trap '' XFSZ; ulimit -f 3072")).await;
    assert_failed(&out, &["disk I/O error", "full"]);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    let cursor = f.consistent_cursor();
    assert!(cursor < f.log.published_size(), "the limit was never reached: {}", stderr(&out));
    // With space again, the run finishes from the committed cursor.
    let out = f.run(None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(f.consistent_cursor(), f.log.published_size());
    f.server.shutdown().await;
}

// Another process holds a write transaction (python3's sqlite3, BEGIN IMMEDIATE) for longer
// than the store's busy timeout. Catches: waiting forever, and a run that skips the commit
// and reports success.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_locked_by_another_writer_stops_the_run_with_an_error() {
    let f = fixture(50).await;
    let out = f.run(None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    let before = f.consistent_cursor();
    assert_eq!(before, f.log.published_size());
    f.grow(50);

    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
                  c.execute('BEGIN IMMEDIATE')\n\
                  print('locked', flush=True)\n\
                  sys.stdin.read()\n\
                  c.execute('ROLLBACK')\n";
    let mut holder = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&f.store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 with its sqlite3 module");
    let mut line = String::new();
    BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "locked");

    let started = Instant::now();
    let out = f.run(None).await;
    let elapsed = started.elapsed();
    drop(holder.stdin.take());
    holder.wait().unwrap();
    assert_failed(&out, &["database is locked"]);
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert_eq!(f.consistent_cursor(), before);

    let out = f.run(None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(f.consistent_cursor(), f.log.published_size());
    f.server.shutdown().await;
}

// A store path holding garbage is refused and left as it was (never "repaired" into a fresh
// empty store that would silently restart from entry 0). Catches opening without checking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_is_refused_and_left_alone() {
    let f = fixture(5).await;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let garbage: Vec<u8> = (0..65_536)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    std::fs::write(&f.store, &garbage).unwrap();
    let out = f.run(None).await;
    assert_failed(&out, &["not a database"]);
    assert!(stderr(&out).contains("faults.sqlite"), "the error does not name the file: {}", stderr(&out));
    assert_eq!(std::fs::read(&f.store).unwrap(), garbage);
    f.server.shutdown().await;
}

// A truncated database (a copy cut short, a disk that lost its tail) is an error, not a
// shorter history. Catches opening it without noticing and carrying on from whatever is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_database_is_refused() {
    let f = fixture(300).await;
    let out = f.run(None).await;
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!wal_of(&f.store).exists(), "the WAL was not checkpointed at exit");
    let len = std::fs::metadata(&f.store).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&f.store).unwrap();
    file.set_len(len / 2).unwrap();
    drop(file);
    f.grow(10);
    let out = f.run(None).await;
    assert_failed(&out, &["malformed", "corrupt"]);
    f.server.shutdown().await;
}

fn wal_of(store: &Path) -> PathBuf {
    let mut name = store.as_os_str().to_owned();
    name.push("-wal");
    PathBuf::from(name)
}
