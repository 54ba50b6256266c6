//! Shared test helpers: a store the worker can reach, findings, and worker construction.

use ctwatch_sinks::StoreAccess;
use ctwatch_sinks::config::SinksConfig;
use ctwatch_sinks::worker::{SinkWorker, WorkerOptions};
use ctwatch_store::{Finding, FindingFilter, NewFinding, Severity, SqliteStore, Store, StoreError};
use std::sync::{Arc, Mutex};

/// An in-memory store behind a mutex, reached on the blocking pool like the daemon's handle.
#[derive(Clone)]
pub struct SharedStore(Arc<Mutex<SqliteStore>>);

impl SharedStore {
    pub fn new() -> Self {
        SharedStore(Arc::new(Mutex::new(SqliteStore::open_in_memory().unwrap())))
    }

    /// Run `f` on the store right here (test setup and checks).
    pub fn sync<R>(&self, f: impl FnOnce(&mut SqliteStore) -> R) -> R {
        f(&mut self.0.lock().unwrap())
    }

    /// Record findings and return them as stored, by key order of `findings`.
    pub fn record(&self, findings: &[NewFinding]) -> Vec<Finding> {
        self.sync(|store| {
            store.record_findings(findings).unwrap();
            let all = store.findings(&FindingFilter::default()).unwrap();
            findings.iter().map(|n| all.iter().find(|f| f.key == n.key).unwrap().clone()).collect()
        })
    }

    /// Ids of the findings still pending for `sink`.
    pub fn pending(&self, sink: &str) -> Vec<i64> {
        self.sync(|store| store.pending_deliveries(sink, 0, 1000).unwrap().iter().map(|f| f.id).collect())
    }
}

impl StoreAccess for SharedStore {
    fn with_store<R, F>(&self, f: F) -> ctwatch_sinks::BoxFuture<'_, Result<R, StoreError>>
    where
        R: Send + 'static,
        F: FnOnce(&mut dyn Store) -> Result<R, StoreError> + Send + 'static,
    {
        let inner = self.0.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let mut guard = inner.lock().map_err(|_| StoreError::Other("poisoned".into()))?;
                f(&mut *guard)
            })
            .await
            .map_err(|e| StoreError::Other(e.to_string()))?
        })
    }
}

/// A finding to record.
pub fn new_finding(key: &str, kind: &str, severity: Severity, ca: Option<&str>, seen_at: i64) -> NewFinding {
    NewFinding {
        key: key.to_string(),
        kind: kind.to_string(),
        severity,
        ca: ca.map(str::to_string),
        issuer: Some("aa".repeat(32)),
        evidence: serde_json::json!({ "names": ["a.gov.tw", "b.gov.tw"], "seen_at": seen_at }),
        certificates: vec![],
        seen_at,
    }
}

/// A worker for a TOML `[[sink]]` configuration.
pub fn worker(toml_text: &str, store: &SharedStore) -> SinkWorker<SharedStore> {
    let config: SinksConfig = toml::from_str(toml_text).unwrap();
    let options = WorkerOptions { api_base: Some("http://ctwatch.test:9800".into()), ..WorkerOptions::default() };
    SinkWorker::from_config(&config, &options, store.clone()).unwrap()
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
