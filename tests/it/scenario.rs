//! The end-to-end detector scenario (crates/scenario: each incident of ../shared/seeds in
//! miniature, with a real DNS server and a CRL server on 127.0.0.1). `ctwatch run
//! --until-caught-up` must find every planted problem and nothing else, push each finding to a
//! sink once, and raise or send nothing again after a restart.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_scenario::ServedScenario;
use ctwatch_store::{FindingFilter, SqliteStore, Store as _};
use ctwatch_testlog::TestLog;

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
