//! The ctwatch store: per-log verified cursors, distinct certificates with every log entry that
//! carried them, per-issuer hourly issuance counts, malformed entries and findings.
//!
//! The [`Store`] trait is the whole interface the monitor, CLI and API use; [`sqlite::SqliteStore`]
//! implements it on bundled SQLite in WAL mode (a PostgreSQL backend will implement the same
//! trait). The one rule every backend keeps: [`Store::commit`] writes a [`CommitBatch`] — entries,
//! counts, findings and the cursor that covers them — in one transaction, so a crash loses or
//! duplicates nothing.
//!
//! The store knows nothing about HTTP, logs' wire formats or how verification is done; it
//! stores what the monitor has already verified.

pub mod model;
pub mod sqlite;

pub use model::*;
pub use sqlite::SqliteStore;

/// Store errors. Every one of them means "nothing of this call was written".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file could not be opened or is not a SQLite database.
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("database {path} has schema version {found}, newer than this ctwatch supports ({supported})")]
    SchemaTooNew { path: String, found: i64, supported: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error(
        "commit for log {log} would move the cursor from {stored} to {proposed} but the batch starts at {batch_start}"
    )]
    CursorMismatch { log: String, stored: u64, proposed: u64, batch_start: u64 },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// The storage interface. Synchronous: the monitor calls it from one writer thread.
pub trait Store: Send {
    /// Register a log (idempotent) and return its saved state.
    fn open_log(&mut self, log: &LogIdentity) -> Result<LogCheckpoint, StoreError>;

    /// Atomically write a batch and move the log's cursor. Fails with `CursorMismatch` when
    /// `batch.previous_cursor` is not the stored cursor (a second writer, or a replay).
    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitOutcome, StoreError>;

    /// Record the latest tree head seen (verified or not) for lag reporting, and findings that
    /// came without entries (log misbehaviour). One transaction.
    fn record_observation(&mut self, obs: &LogObservation) -> Result<(), StoreError>;

    /// Per-log status rows.
    fn log_status(&self) -> Result<Vec<LogStatus>, StoreError>;

    /// Distinct certificates stored.
    fn certificate_count(&self) -> Result<u64, StoreError>;

    /// Certificates, ordered by id, for listing and comparison in tests.
    fn certificates(&self, after_id: i64, limit: usize) -> Result<Vec<StoredCertificate>, StoreError>;

    /// Log entries that carried a certificate.
    fn entries_for_certificate(&self, cert_id: i64) -> Result<Vec<EntryRef>, StoreError>;

    /// Malformed entries of a log (or all logs).
    fn malformed_entries(&self, log_id: Option<&[u8; 32]>) -> Result<Vec<MalformedEntry>, StoreError>;

    /// Hourly issuance counts for an issuer (or all) in `[from_hour, to_hour)` (hours since epoch).
    fn issuance_counts(
        &self,
        issuer: Option<&[u8; 32]>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<IssuanceCount>, StoreError>;

    /// Findings matching a filter, newest first.
    fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError>;

    /// One finding by id, with the ids of its certificates.
    fn finding(&self, id: i64) -> Result<Option<(Finding, Vec<i64>)>, StoreError>;

    /// Change a finding's status.
    fn set_finding_status(&mut self, id: i64, status: FindingStatus) -> Result<(), StoreError>;
}
