//! Support for tests that run against PostgreSQL, for this crate's tests and for integration
//! tests in other crates that run whole scenarios on both backends.
//!
//! The server comes from the environment variable `CTWATCH_TEST_POSTGRES_URL` (a
//! `postgres://` URL; `.ci/postgres.sh` starts a throwaway server and prints the line that sets
//! it). When it is unset, PostgreSQL tests print `SKIPPED: CTWATCH_TEST_POSTGRES_URL not set`
//! and pass — unless `CTWATCH_REQUIRE_POSTGRES=1`, which makes them fail instead (CI sets it).
//! Each test works in a fresh schema of its own ([`TestSchema`]), dropped at the end, so tests
//! run in parallel without seeing each other.
//!
//! ```no_run
//! # fn scenario(_url: &str) {}
//! let Some(schema) = ctwatch_store::testing::postgres_test_schema() else { return };
//! // `schema.url()` is a store location: `ctwatch_store::open(schema.url())`, or the daemon's
//! // `[store] url`.
//! scenario(schema.url());
//! ```

use crate::StoreError;
use crate::postgres::{Location, connect, describe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The environment variable naming the test server.
pub const POSTGRES_URL_VAR: &str = "CTWATCH_TEST_POSTGRES_URL";

/// The environment variable that turns a missing test server from a skip into a failure.
pub const REQUIRE_POSTGRES_VAR: &str = "CTWATCH_REQUIRE_POSTGRES";

/// The test server's URL, or `None` after printing `SKIPPED: CTWATCH_TEST_POSTGRES_URL not set`
/// when it is not configured.
///
/// # Panics
///
/// When the URL is not set (or empty) and `CTWATCH_REQUIRE_POSTGRES=1`: the test must fail.
pub fn postgres_test_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ => {
            let required = std::env::var(REQUIRE_POSTGRES_VAR).is_ok_and(|v| v.trim() == "1");
            assert!(
                !required,
                "{POSTGRES_URL_VAR} is not set but {REQUIRE_POSTGRES_VAR}=1: start a server with \
                 `eval \"$(bash .ci/postgres.sh)\"`"
            );
            println!("SKIPPED: {POSTGRES_URL_VAR} not set");
            None
        }
    }
}

/// A fresh schema for one test in the test server, with [`postgres_test_url`]'s skip rules.
///
/// # Panics
///
/// When the schema cannot be created (server down, wrong password): a configured server that
/// does not work is a failure, not a skip.
pub fn postgres_test_schema() -> Option<TestSchema> {
    let url = postgres_test_url()?;
    match TestSchema::create(&url) {
        Ok(schema) => Some(schema),
        Err(e) => panic!("cannot create a test schema on {POSTGRES_URL_VAR}: {e}"),
    }
}

/// A schema `ct_test_<unique>` created in a PostgreSQL database and dropped (with everything
/// in it) when this value is dropped. [`TestSchema::url`] is the database URL with
/// `schema=<name>` added, usable wherever a store location is.
#[derive(Debug)]
pub struct TestSchema {
    base_url: String,
    name: String,
    url: String,
}

impl TestSchema {
    /// Create a new, uniquely named schema in the database at `base_url`.
    pub fn create(base_url: &str) -> Result<Self, StoreError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
        let name = format!("ct_test_{}_{}_{nanos:09}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed));
        admin(base_url, format!("CREATE SCHEMA {name}"))?;
        let separator = if base_url.contains('?') { '&' } else { '?' };
        let url = format!("{base_url}{separator}schema={name}");
        Ok(Self { base_url: base_url.to_string(), name, url })
    }

    /// The store location of this schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The schema's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        if let Err(e) = admin(&self.base_url, format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name)) {
            eprintln!("cannot drop test schema {}: {e}", self.name);
        }
    }
}

/// Run `sql` on its own connection, on a thread of its own (the `postgres` client must not run
/// on a thread inside a Tokio runtime, and tests often are on one).
fn admin(url: &str, sql: String) -> Result<(), StoreError> {
    let location = Location::parse(url)?;
    std::thread::spawn(move || -> Result<(), StoreError> {
        let mut client = connect(&location)?;
        client.batch_execute(&sql).map_err(|e| StoreError::Postgres {
            message: describe(&e),
            sqlstate: e.code().map(|c| c.code().to_string()),
        })
    })
    .join()
    .map_err(|_| StoreError::Other("the PostgreSQL administration thread panicked".to_string()))?
}

/// Every stored certificate, lowest id first, read page by page (for assertions on small
/// stores).
pub fn all_certificates(store: &dyn crate::Store) -> Result<Vec<crate::StoredCertificate>, crate::StoreError> {
    let mut out = Vec::new();
    let mut after = 0;
    loop {
        let page = store.certificates(after, 1000)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        out.extend(page);
    }
    Ok(out)
}
