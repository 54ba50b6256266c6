//! The SQLite backend: one database file in WAL mode, written by one daemon and read by any
//! number of CLI processes at the same time.
//!
//! Connection settings, and why:
//! - `journal_mode=WAL`: readers (`ctwatch status`, the API) never block the writer and never see
//!   a half-written commit.
//! - `synchronous=NORMAL`: in WAL mode every commit is durable across a *process* crash (the WAL
//!   is written before `COMMIT` returns; only its fsync is deferred to checkpoints). A power loss
//!   can drop the last commits but never corrupts the database, and a lost commit only means the
//!   monitor re-downloads entries from an older cursor. Process crashes are what we test and what
//!   happens in practice; `FULL` would cost an fsync per batch.
//! - `page_size=16384` for new files (see `PAGE_SIZE`).
//! - `foreign_keys=ON`: entries, malformed entries and finding links must point at real rows.
//! - `busy_timeout` of 5 s: a second process (a CLI writer such as `findings ack`) waits for the
//!   daemon's short write transactions instead of failing at once.
//!
//! Layout: `schema` holds the versioned schema and migrations, `write` the transactional
//! writes (`commit`, `record_observation`, the detectors' writes), `read` the queries.

mod read;
pub(crate) mod schema;
mod write;

#[cfg(test)]
mod tests;

pub(crate) use crate::columns::{
    from_sql_int, hash_from_blob, log_label, parse_severity, parse_status, severity_str, status_str, to_sql_int,
};
use crate::model::*;
use crate::{Store, StoreError};
use rusqlite::{Connection, OpenFlags};
use std::path::Path;
use std::time::Duration;

/// How long a connection waits for another connection's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Page size of new databases. A certificate row (DER plus facts JSON) is 2 to 4 KB, so with
/// SQLite's default 4 KiB pages each row takes a page of its own and ~40% of the file is slack;
/// 16 KiB pages hold 4 to 7 rows. On the commit benchmark the file came out a third smaller and
/// commits ran about 1.6x faster than with 4 KiB pages. Existing databases keep their page size.
const PAGE_SIZE: i64 = 16 * 1024;

/// Page cache of the writer connection, in KiB (negative `cache_size` means KiB in SQLite).
/// Certificate identities are random hashes, so their index is written all over; a larger cache
/// keeps those pages in memory during long catch-ups.
const WRITER_CACHE_KIB: i64 = 64 * 1024;

/// A [`Store`] on one SQLite database.
#[derive(Debug)]
pub struct SqliteStore {
    pub(crate) conn: Connection,
    /// Where the database lives, for error messages.
    path: String,
}

impl SqliteStore {
    /// Open (creating if needed) a database file for reading and writing, and migrate it to the
    /// newest schema.
    ///
    /// Fails with [`StoreError::Open`] when the file cannot be opened or is not a SQLite database,
    /// and with [`StoreError::SchemaTooNew`] when a newer ctwatch wrote it.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let display = path.display().to_string();
        let conn = Connection::open(path).map_err(|e| open_error(&display, e))?;
        Self::init_writer(conn, display)
    }

    /// Open a private in-memory database (tests, dry runs).
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let conn = Connection::open_in_memory().map_err(|e| open_error(":memory:", e))?;
        Self::init_writer(conn, ":memory:".to_string())
    }

    /// Open an existing database for reading only, e.g. for `ctwatch status` while the daemon
    /// runs. Never migrates: a database with an older schema must first be opened by
    /// [`SqliteStore::open`] (the daemon does this at start). Writing methods fail.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let display = path.display().to_string();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| open_error(&display, e))?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| open_error(&display, e))?;
        let version = schema::read_version(&conn).map_err(|e| open_error(&display, e))?;
        let supported = schema::current_version();
        if version > supported {
            return Err(StoreError::SchemaTooNew { path: display, found: version, supported });
        }
        if version < supported {
            return Err(StoreError::Other(format!(
                "database {display} has schema version {version}, older than this ctwatch \
                 ({supported}); open it once read-write (start the daemon) to migrate it"
            )));
        }
        Ok(Self { conn, path: display })
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(schema::read_version(&self.conn)?)
    }

    /// The path the store was opened with (`:memory:` for in-memory stores).
    pub fn path(&self) -> &str {
        &self.path
    }

    fn init_writer(mut conn: Connection, path: String) -> Result<Self, StoreError> {
        configure_writer(&conn).map_err(|e| open_error(&path, e))?;
        schema::migrate(&mut conn, &path, schema::MIGRATIONS)?;
        Ok(Self { conn, path })
    }
}

/// Apply the connection settings described in the module documentation. The first statement
/// that reads the file (`journal_mode`) is where a non-database file is detected.
fn configure_writer(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Only takes effect while the database is still empty (before the first migration).
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    // Returns the resulting mode ("wal", or "memory" for in-memory databases).
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    Ok(())
}

fn open_error(path: &str, source: rusqlite::Error) -> StoreError {
    StoreError::Open { path: path.to_string(), source }
}

impl Store for SqliteStore {
    fn open_log(&mut self, log: &LogIdentity) -> Result<LogCheckpoint, StoreError> {
        write::open_log(&mut self.conn, log)
    }

    fn commit(&mut self, batch: &CommitBatch) -> Result<CommitOutcome, StoreError> {
        write::commit(&mut self.conn, batch, None)
    }

    fn commit_leased(&mut self, batch: &CommitBatch, lease: &LogLease) -> Result<CommitOutcome, StoreError> {
        write::commit(&mut self.conn, batch, Some(lease))
    }

    fn commit_backfill(&mut self, batch: &CommitBatch, count_issuance: bool) -> Result<CommitOutcome, StoreError> {
        write::commit_backfill(&mut self.conn, batch, count_issuance)
    }

    fn acquire_log_lease(
        &mut self,
        log_id: &Hash,
        instance: &str,
        ttl: Duration,
        now: i64,
    ) -> Result<Option<LogLease>, StoreError> {
        write::acquire_log_lease(&mut self.conn, log_id, instance, ttl, now)
    }

    fn release_log_lease(&mut self, log_id: &Hash, instance: &str) -> Result<bool, StoreError> {
        write::release_log_lease(&mut self.conn, log_id, instance)
    }

    fn log_leases(&self) -> Result<Vec<LogLease>, StoreError> {
        read::log_leases(&self.conn)
    }

    fn prune_certificates(&mut self, not_after_before: i64, limit: usize) -> Result<PruneStats, StoreError> {
        write::prune_certificates(&mut self.conn, not_after_before, limit)
    }

    fn record_observation(&mut self, obs: &LogObservation) -> Result<(), StoreError> {
        write::record_observation(&mut self.conn, obs)
    }

    fn log_status(&self) -> Result<Vec<LogStatus>, StoreError> {
        read::log_status(&self.conn)
    }

    fn certificate_count(&self) -> Result<u64, StoreError> {
        read::certificate_count(&self.conn)
    }

    fn certificates(&self, after_id: i64, limit: usize) -> Result<Vec<StoredCertificate>, StoreError> {
        read::certificates(&self.conn, after_id, limit)
    }

    fn entries_for_certificate(&self, cert_id: i64) -> Result<Vec<EntryRef>, StoreError> {
        read::entries_for_certificate(&self.conn, cert_id)
    }

    fn malformed_entries(&self, log_id: Option<&[u8; 32]>) -> Result<Vec<MalformedEntry>, StoreError> {
        read::malformed_entries(&self.conn, log_id)
    }

    fn issuance_counts(
        &self,
        issuer: Option<&[u8; 32]>,
        from_hour: i64,
        to_hour: i64,
    ) -> Result<Vec<IssuanceCount>, StoreError> {
        read::issuance_counts(&self.conn, issuer, from_hour, to_hour)
    }

    fn findings(&self, filter: &FindingFilter) -> Result<Vec<Finding>, StoreError> {
        read::findings(&self.conn, filter)
    }

    fn finding(&self, id: i64) -> Result<Option<(Finding, Vec<i64>)>, StoreError> {
        read::finding(&self.conn, id)
    }

    fn set_finding_status(&mut self, id: i64, status: FindingStatus) -> Result<(), StoreError> {
        write::set_finding_status(&self.conn, id, status)
    }

    fn certificate(&self, id: i64) -> Result<Option<StoredCertificate>, StoreError> {
        read::certificate(&self.conn, id)
    }

    fn certificates_by_issuer_serial(
        &self,
        issuer: &Hash,
        serial: &[u8],
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        read::certificates_by_issuer_serial(&self.conn, issuer, serial)
    }

    fn certificates_by_key(
        &self,
        spki_sha256: &Hash,
        material_sha256: Option<&Hash>,
    ) -> Result<Vec<StoredCertificate>, StoreError> {
        read::certificates_by_key(&self.conn, spki_sha256, material_sha256)
    }

    fn finding_certificates(&self, finding_id: i64) -> Result<Vec<StoredCertificate>, StoreError> {
        read::finding_certificates(&self.conn, finding_id)
    }

    fn record_findings(&mut self, findings: &[NewFinding]) -> Result<u64, StoreError> {
        write::record_findings(&mut self.conn, findings)
    }

    fn add_compromised_keys(
        &mut self,
        keys: &[CompromisedKeyRecord],
        findings: &[NewFinding],
    ) -> Result<u64, StoreError> {
        write::add_compromised_keys(&mut self.conn, keys, findings)
    }

    fn compromised_keys(&self) -> Result<Vec<CompromisedKeyRecord>, StoreError> {
        read::compromised_keys(&self.conn)
    }

    fn crl_state(&self, url: &str) -> Result<Option<CrlState>, StoreError> {
        read::crl_state(&self.conn, url)
    }

    fn record_crl(&mut self, crl: &CrlRecord, findings: &[NewFinding]) -> Result<(), StoreError> {
        write::record_crl(&mut self.conn, crl, findings)
    }

    fn revocation(&self, issuer: &Hash, serial: &[u8]) -> Result<Option<RevocationRecord>, StoreError> {
        read::revocation(&self.conn, issuer, serial)
    }

    fn certificates_pending_caa(&self, limit: usize) -> Result<Vec<StoredCertificate>, StoreError> {
        read::certificates_pending_caa(&self.conn, limit)
    }

    fn record_caa(
        &mut self,
        cert_ids: &[i64],
        checked_at: Option<i64>,
        findings: &[NewFinding],
    ) -> Result<(), StoreError> {
        write::record_caa(&mut self.conn, cert_ids, checked_at, findings)
    }

    fn pending_deliveries(&self, sink: &str, after_id: i64, limit: usize) -> Result<Vec<Finding>, StoreError> {
        read::pending_deliveries(&self.conn, sink, after_id, limit)
    }

    fn deliveries_to_resend(
        &self,
        sink: &str,
        delivered_before: i64,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<Finding>, StoreError> {
        read::deliveries_to_resend(&self.conn, sink, delivered_before, after_id, limit)
    }

    fn mark_delivered(
        &mut self,
        sink: &str,
        finding_id: i64,
        last_seen: i64,
        status: FindingStatus,
        at: i64,
    ) -> Result<(), StoreError> {
        write::mark_delivered(&mut self.conn, sink, finding_id, last_seen, status, at)
    }
}
