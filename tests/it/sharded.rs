//! The detector scenario on PostgreSQL, one instance: it must pass the same assertions as on
//! SQLite, and a restart raises nothing twice. The sharded variant (three `ctwatch run` processes,
//! one killed with SIGKILL) is in crates/ctwatch/tests/sharded.rs, where the binary is built.
//!
//! Skipped (with a message) unless `CTWATCH_TEST_POSTGRES_URL` names a server; failed instead
//! when `CTWATCH_REQUIRE_POSTGRES=1` (CI).

use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::testing::postgres_test_schema;

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
