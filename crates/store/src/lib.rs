//! The ctwatch store: per-log verified cursors, distinct certificates with every log entry that
//! carried them, per-issuer hourly issuance counts, malformed entries, findings, what each
//! alert sink has acknowledged of them, and the leases of logs to the instances of a sharded
//! deployment.
//!
//! The [`Store`] trait is the whole interface the monitor, CLI and API use. Two backends
//! implement it with the same schema and semantics:
//! - [`sqlite::SqliteStore`]: bundled SQLite in WAL mode, one file on one machine;
//! - [`postgres::PgStore`]: a PostgreSQL database that several ctwatch instances can share,
//!   each log leased to one instance at a time.
//!
//! [`open`] and [`open_read_only`] pick the backend from the configured location:
//! `postgres://…` or `postgresql://…` URLs open PostgreSQL (see [`postgres`] for the URL's
//! `schema` parameter), anything else is a SQLite file path.
//!
//! The one rule every backend keeps: [`Store::commit`] writes a [`CommitBatch`] — entries,
//! counts, findings and the cursor that covers them — in one transaction, so a crash loses or
//! duplicates nothing; a batch that does not start at the stored cursor is refused.
//!
//! ```no_run
//! let mut store = ctwatch_store::open("postgres://ctwatch:secret@db.example/ctwatch?schema=prod")?;
//! println!("{} certificates", store.certificate_count()?);
//! # Ok::<(), ctwatch_store::StoreError>(())
//! ```
//!
//! The store knows nothing about HTTP, logs' wire formats or how verification is done; it
//! stores what the monitor has already verified.

mod columns;
pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod testing;

#[cfg(test)]
mod conformance;

pub use model::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use std::path::Path;
use std::time::Duration;

/// Open the store at `location` for reading and writing, migrating its schema to the newest
/// version: a `postgres://` or `postgresql://` URL opens a [`PgStore`], anything else is the
/// path of a SQLite database file (created when missing).
pub fn open(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if postgres::is_postgres_url(location) {
        Ok(Box::new(PgStore::open(location)?))
    } else {
        Ok(Box::new(SqliteStore::open(Path::new(location))?))
    }
}

/// Open the store at `location` for reading only (`ctwatch status`, reports): never migrates,
/// and writing methods fail. Backend selection as in [`open`].
pub fn open_read_only(location: &str) -> Result<Box<dyn Store>, StoreError> {
    if postgres::is_postgres_url(location) {
        Ok(Box::new(PgStore::open_read_only(location)?))
    } else {
        Ok(Box::new(SqliteStore::open_read_only(Path::new(location))?))
    }
}

/// `location` fit for messages and logs: a PostgreSQL URL with its password replaced by `***`,
/// a SQLite path as it is.
pub fn redact_location(location: &str) -> String {
    if postgres::is_postgres_url(location) { postgres::redact_url(location) } else { location.to_string() }
}

/// Check a store location without opening it: a PostgreSQL URL must parse (including the
/// `schema` parameter); any other string is taken as a SQLite path. Errors name the location
/// without its password.
pub fn check_location(location: &str) -> Result<(), StoreError> {
    if postgres::is_postgres_url(location) {
        postgres::Location::parse(location)?;
    }
    Ok(())
}

/// Store errors. Every one of them means "nothing of this call was written".
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// An error reported by PostgreSQL or its client library. `sqlstate` is the server's
    /// SQLSTATE code when the server reported the error.
    #[error("PostgreSQL error: {message}")]
    Postgres { message: String, sqlstate: Option<String> },
    /// No connection to the PostgreSQL server could be made. `target` names the hosts and
    /// ports, database and user; never the password.
    #[error("cannot connect to PostgreSQL at {target}: {message}")]
    PostgresConnect { target: String, message: String },
    /// The store location (a PostgreSQL URL) is not valid. `location` has its password removed.
    #[error("invalid store location {location}: {reason}")]
    InvalidLocation { location: String, reason: String },
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
    /// A commit was refused because its instance does not hold the log's lease (it lapsed and
    /// another instance took the log over), or because a batch without a lease was committed
    /// for a log that an instance holds. Nothing was written; the instance must stop working
    /// on the log.
    #[error("commit for log {log} refused: {}", lease_lost_reason(instance.as_deref(), holder.as_deref()))]
    LeaseLost { log: String, instance: Option<String>, holder: Option<String> },
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

/// Why a lease was lost, for [`StoreError::LeaseLost`]'s message.
fn lease_lost_reason(instance: Option<&str>, holder: Option<&str>) -> String {
    match (instance, holder) {
        (Some(instance), Some(holder)) => {
            format!("instance {instance} no longer holds its lease (it is held by {holder}, or was taken over since)")
        }
        (Some(instance), None) => format!("instance {instance} no longer holds its lease (it was released)"),
        (None, Some(holder)) => format!("the log is leased to instance {holder} and the batch carries no lease"),
        (None, None) => "the log's lease is not held".to_string(),
    }
}

/// The storage interface. Synchronous: the monitor calls it from one writer thread.
pub trait Store: Send {
    /// Register a log (idempotent) and return its saved state.
    fn open_log(&mut self, log: &LogIdentity) -> Result<LogCheckpoint, StoreError>;

    /// Atomically write a batch and move the log's cursor. Fails with `CursorMismatch` when
    /// `batch.previous_cursor` is not the stored cursor (a second writer, or a replay), and
    /// with `LeaseLost` when an instance holds the log's lease (sharded instances commit with
    /// [`Store::commit_leased`]).
    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitOutcome, StoreError>;

    /// [`Store::commit`] for an instance of a sharded deployment: the batch is written only if
    /// `lease` (from [`Store::acquire_log_lease`]) is still the log's lease, checked in the same
    /// transaction: same holder and same epoch. Fails with `LeaseLost`, writing nothing,
    /// when the lease was released or passed to another instance since; a lease that lapsed
    /// without being taken over still commits (no other instance can have written the log).
    fn commit_leased(&mut self, batch: &CommitBatch, lease: &LogLease) -> Result<CommitOutcome, StoreError>;

    /// Write a verified batch of entries `[batch.previous_cursor, batch.checkpoint.cursor)`
    /// that lies entirely below the log's cursor — a backfill re-reading a range, e.g. after
    /// a CA was added to the watch list — without moving the cursor or the stored compact
    /// range. Entries already stored are left alone (not counted as new), certificates and
    /// findings merge as in [`Store::commit`]. `count_issuance` adds one to the hourly
    /// issuance of each certificate stored for the first time (pass false when the range was
    /// already counted, e.g. in all-issuers mode); the batch's own increments are ignored.
    /// Fails with `Other` (writing nothing) when the range reaches past the cursor.
    fn commit_backfill(&mut self, batch: &CommitBatch, count_issuance: bool) -> Result<CommitOutcome, StoreError>;

    // ------------------------------------------------------------------ sharded instances

    /// Take or renew the lease of a log for `instance` until `now + ttl` (Unix seconds).
    /// Succeeds when the lease is free (never taken, released or lapsed) or already held by
    /// `instance`; a renewal keeps the epoch, a takeover increments it. Returns `None`, changing
    /// nothing, while another instance holds an unexpired lease. The log need not be registered.
    fn acquire_log_lease(
        &mut self,
        log_id: &Hash,
        instance: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<Option<LogLease>, StoreError>;

    /// Give up `instance`'s lease of a log, so another instance can take it at once. Returns
    /// whether `instance` held it.
    fn release_log_lease(&mut self, log_id: &Hash, instance: &str) -> Result<bool, StoreError>;

    /// Every held lease (including lapsed ones not yet taken over), by log ID.
    fn log_leases(&self) -> Result<Vec<LogLease>, StoreError>;

    // ------------------------------------------------------------------ retention

    /// Delete up to `limit` certificate records whose notAfter is before `not_after_before`
    /// (Unix seconds), earliest notAfter first, with their log entries, in one transaction.
    /// Hourly issuance counts are kept. Findings keep their `certificate_count` (pruned
    /// certificates stay counted) but no longer list the pruned certificates. Call repeatedly
    /// until fewer than `limit` are deleted. A certificate logged again after it was pruned is
    /// stored (and counted) as new.
    fn prune_certificates(&mut self, not_after_before: i64, limit: usize) -> Result<PruneStats, StoreError>;

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

    // ------------------------------------------------------------------ detectors' needs

    /// One certificate by id.
    fn certificate(&self, id: i64) -> Result<Option<StoredCertificate>, StoreError>;

    /// Certificates of an issuer with a serial (CRL entries name (issuer, serial) only).
    fn certificates_by_issuer_serial(&self, issuer: &Hash, serial: &[u8])
    -> Result<Vec<StoredCertificate>, StoreError>;

    /// Certificates whose key has this SPKI SHA-256, or (when given) this key-material hash.
    fn certificates_by_key(
        &self,
        spki_sha256: &Hash,
        material_sha256: Option<&Hash>,
    ) -> Result<Vec<StoredCertificate>, StoreError>;

    /// Certificates linked to a finding, ordered by id (the affected-certificate list).
    fn finding_certificates(&self, finding_id: i64) -> Result<Vec<StoredCertificate>, StoreError>;

    /// Insert or merge findings that did not come with a commit (CAA worker, CRL poller,
    /// imports). One transaction.
    fn record_findings(&mut self, findings: &[NewFinding]) -> Result<u64, StoreError>;

    /// Add compromised keys (idempotent per (spki_sha256, source)) and the findings their
    /// re-check raised, in one transaction. Returns how many keys were new.
    fn add_compromised_keys(
        &mut self,
        keys: &[CompromisedKeyRecord],
        findings: &[NewFinding],
    ) -> Result<u64, StoreError>;

    /// Every known compromised key.
    fn compromised_keys(&self) -> Result<Vec<CompromisedKeyRecord>, StoreError>;

    /// The last accepted CRL from `url`.
    fn crl_state(&self, url: &str) -> Result<Option<CrlState>, StoreError>;

    /// Record a fetched, verified CRL: its state and its entries (a revocation keeps the
    /// `first_seen_at` of the first CRL that listed it), plus findings, in one transaction.
    fn record_crl(&mut self, crl: &CrlRecord, findings: &[NewFinding]) -> Result<(), StoreError>;

    /// How a certificate was revoked, if a CRL listed it.
    fn revocation(&self, issuer: &Hash, serial: &[u8]) -> Result<Option<RevocationRecord>, StoreError>;

    /// Certificates whose names have not been CAA-checked yet (`caa_checked_at` NULL), oldest
    /// first.
    fn certificates_pending_caa(&self, limit: usize) -> Result<Vec<StoredCertificate>, StoreError>;

    /// Mark certificates CAA-checked at `checked_at` (or leave them pending when `None`, e.g.
    /// indeterminate answers to retry) and record findings, in one transaction.
    fn record_caa(
        &mut self,
        cert_ids: &[i64],
        checked_at: Option<i64>,
        findings: &[NewFinding],
    ) -> Result<(), StoreError>;

    // ------------------------------------------------------------------ alert sinks' needs

    /// Findings with an id above `after_id` that the sink named `sink` has not acknowledged as
    /// they are now: never delivered to it, or seen again (`last_seen` moved) or given another
    /// status since. Lowest id first; page with the last id returned, so that findings a sink
    /// keeps refusing do not hide the ones after them.
    fn pending_deliveries(&self, sink: &str, after_id: i64, limit: usize) -> Result<Vec<Finding>, StoreError>;

    /// Unresolved findings with an id above `after_id` that `sink` acknowledged in their current
    /// state before `delivered_before` (Unix seconds), lowest id first: what a sink that expects
    /// periodic re-sends (Alertmanager) must be sent again.
    fn deliveries_to_resend(
        &self,
        sink: &str,
        delivered_before: i64,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<Finding>, StoreError>;

    /// Record that `sink` acknowledged finding `finding_id` as it was at `last_seen` with
    /// `status`, at `at` (Unix seconds). Pass the values that were delivered, not re-read ones,
    /// so a change made during the delivery stays pending. `NotFound` for an unknown finding.
    fn mark_delivered(
        &mut self,
        sink: &str,
        finding_id: i64,
        last_seen: i64,
        status: FindingStatus,
        at: i64,
    ) -> Result<(), StoreError>;
}

#[cfg(test)]
mod location_tests {
    #[test]
    fn locations_are_redacted_and_checked_without_connecting() {
        let url = "postgres://ctwatch:s3cret@db.example:5432/ctwatch?schema=prod&password=other";
        let shown = super::redact_location(url);
        assert!(!shown.contains("s3cret") && !shown.contains("other"), "{shown}");
        assert!(shown.contains("db.example:5432") && shown.contains("schema=prod"), "{shown}");
        assert_eq!(super::redact_location("/var/lib/ctwatch/ctwatch.sqlite"), "/var/lib/ctwatch/ctwatch.sqlite");

        super::check_location(url).unwrap();
        super::check_location("relative/ctwatch.sqlite").unwrap();
        let err = super::check_location("postgres://ctwatch:s3cret@db.example/ctwatch?schema=bad-name").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("schema") && !message.contains("s3cret"), "{message}");
    }
}
