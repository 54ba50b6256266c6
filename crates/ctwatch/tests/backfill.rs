//! `ctwatch backfill`: after a CA is added to the watch list, re-reading a range below the
//! cursor stores exactly that CA's certificates of the range, on both protocols, without moving
//! the cursor; a second run writes nothing; a range past the cursor or an unknown log is a usage
//! error (64); a log serving entries that do not match its signed tree fails the backfill
//! (exit 1) and writes nothing of the bad batch.

use base64::Engine as _;
use ctwatch_ct::sth::LogSigner;
use ctwatch_store::Store as _;
use ctwatch_testlog::{CertFactory, LeafSpec, Misbehaviour, TestLog, TestLogServer, now_ms, serve_local};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Entries of the log: CA `a` and `b` alternate; every certificate is logged once, as a plain
/// x509 entry, so entry `i` belongs to `a` when `i` is even.
const ENTRIES: u64 = 700;

fn ctwatch(args: &[&str], config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ctwatch"))
        .args(args)
        .arg("--config")
        .arg(config)
        .env("CTWATCH_LOG", "info")
        .output()
        .unwrap()
}

fn config(dir: &Path, server: &TestLogServer, log: &TestLog, tiled: bool, cas: &[&CertFactory]) -> PathBuf {
    let key = base64::engine::general_purpose::STANDARD.encode(log.log_key_spki_der());
    let name = log.name();
    let endpoint = if tiled {
        format!(
            "monitoring_url = \"{}\"\nsubmission_url = \"{}\"",
            server.url_monitoring(&name),
            server.url_submission(&name)
        )
    } else {
        format!("url = \"{}\"", server.url_rfc6962(&name))
    };
    let mut text = format!(
        "[store]\npath = \"db.sqlite\"\n[fetch]\npoll_interval_secs = 0.05\npartial_tile_delay_secs = 0\n\
         commit_entries = 64\n[caa]\nenabled = false\n[crl]\nfrom_certificates = false\n\
         [[log]]\nname = \"{name}\"\n{endpoint}\nkey = \"{key}\"\nbatch_size = 50\nrequests_per_second = 100000.0\n"
    );
    for (i, ca) in cas.iter().enumerate() {
        let issuer = hex::encode(ctwatch_cert::facts::spki_sha256_of_cert(ca.issuer_der()).unwrap());
        text.push_str(&format!("[[ca]]\nname = \"CA {i}\"\nissuers = [\"{issuer}\"]\n"));
    }
    let path = dir.join("ctwatch.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Stored log entry indexes, sorted.
fn stored_indexes(dir: &Path) -> Vec<u64> {
    let store = ctwatch_store::SqliteStore::open_read_only(&dir.join("db.sqlite")).unwrap();
    let mut out = Vec::new();
    for c in ctwatch_store::testing::all_certificates(&store).unwrap() {
        out.extend(store.entries_for_certificate(c.id).unwrap().iter().map(|e| e.index));
    }
    out.sort();
    out
}

fn cursor(dir: &Path) -> u64 {
    let store = ctwatch_store::SqliteStore::open_read_only(&dir.join("db.sqlite")).unwrap();
    store.log_status().unwrap()[0].cursor
}

fn text(out: &Output) -> String {
    format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn scenario(tiled: bool) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let a = CertFactory::new("Backfill CA A").unwrap();
    let b = CertFactory::new("Backfill CA B").unwrap();
    let log = TestLog::new(if tiled { "backfill-tiled" } else { "backfill" }, LogSigner::generate());
    for i in 0..ENTRIES {
        let ca = if i % 2 == 0 { &a } else { &b };
        log.issue_x509(ca, &LeafSpec::new([format!("host{i}.example.com")]), now_ms() - 3_600_000).unwrap();
    }
    log.publish();
    let server = rt.block_on(serve_local(vec![log.clone()])).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Follow with only CA A watched: the even entries are stored.
    let only_a = config(dir.path(), &server, &log, tiled, &[&a]);
    let out = ctwatch(&["run", "--until-caught-up"], &only_a);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(cursor(dir.path()), ENTRIES);
    let evens: Vec<u64> = (0..ENTRIES).filter(|i| i % 2 == 0).collect();
    assert_eq!(stored_indexes(dir.path()), evens);

    // Watch B too and backfill [301, 650): B's entries of that range appear, nothing else,
    // the cursor stays. 301 is not tile-aligned, 650 is inside a partial tile.
    let both = config(dir.path(), &server, &log, tiled, &[&a, &b]);
    let out = ctwatch(&["backfill", "--log", &log.name(), "--from", "301", "--to", "650"], &both);
    assert!(out.status.success(), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(report.contains("175 new certificates"), "{report}");
    let mut expected: Vec<u64> = evens.clone();
    expected.extend((301..650).filter(|i| i % 2 == 1));
    expected.sort();
    assert_eq!(stored_indexes(dir.path()), expected);
    assert_eq!(cursor(dir.path()), ENTRIES);

    // Again: nothing new.
    let out = ctwatch(&["backfill", "--log", &log.name(), "--from", "301", "--to", "650"], &both);
    assert!(out.status.success(), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 new certificates, 0 new log entries"), "{}", text(&out));

    // Usage errors: past the cursor, empty, unknown log.
    let past = (ENTRIES + 1).to_string();
    for args in [
        vec!["backfill", "--log", &*log.name(), "--from", "10", "--to", &past],
        vec!["backfill", "--log", &*log.name(), "--from", "10", "--to", "10"],
        vec!["backfill", "--log", "no-such-log", "--from", "0", "--to", "10"],
    ] {
        let out = ctwatch(&args, &both);
        assert_eq!(out.status.code(), Some(64), "{args:?}: {}", text(&out));
    }

    // A log serving a corrupted entry 5 inside [0, 40): the batch fails verification, the
    // backfill exits 1 and stores none of B's entries below 40.
    log.set_misbehaviour(Misbehaviour::CorruptLeafBytes { index: 5 });
    let out = ctwatch(&["backfill", "--log", &log.name(), "--from", "0", "--to", "40"], &both);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(stored_indexes(dir.path()).iter().all(|i| *i >= 40 || i % 2 == 0));
    rt.block_on(server.shutdown());
}

#[test]
fn backfill_of_an_rfc6962_log_stores_the_range_of_a_newly_watched_ca() {
    scenario(false);
}

#[test]
fn backfill_of_a_tiled_log_stores_the_range_of_a_newly_watched_ca() {
    scenario(true);
}
