//! The versioned schema and its forward migrations.
//!
//! The schema version is SQLite's `PRAGMA user_version` (0 for a new, empty database). Migration
//! `n` (1-based) takes the schema from version `n - 1` to `n`; each runs in its own `IMMEDIATE`
//! transaction together with the version bump, so a crash mid-migration leaves the previous
//! version intact. Migrations are append-only: a released step is never edited, a change is a new
//! step.

use crate::StoreError;
use rusqlite::{Connection, TransactionBehavior};

/// The ordered migrations: `MIGRATIONS[i]` upgrades version `i` to `i + 1`.
pub(crate) const MIGRATIONS: &[&str] = &[V1, V2, V3];

/// The schema version this build reads and writes.
pub(crate) fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Version 1: logs, certificates, log entries, hourly issuance, malformed entries, findings,
/// compromised keys, CRL state, revocations and alert sinks' delivery state.
///
/// Integers that are `u64` in the model (cursors, tree sizes, millisecond timestamps) are stored
/// as SQLite INTEGER (i64); the store refuses to write values above `i64::MAX` and reports stored
/// negative values as corruption. Hashes are 32-byte BLOBs.
const V1: &str = r#"
CREATE TABLE logs (
    id                 INTEGER PRIMARY KEY,
    log_id             BLOB NOT NULL UNIQUE,
    name               TEXT NOT NULL,
    url                TEXT NOT NULL,
    -- Entries [0, cursor) are stored and verified.
    cursor             INTEGER NOT NULL DEFAULT 0,
    -- Compact Merkle range of [0, cursor): concatenated 32-byte subtree roots, largest first.
    peaks              BLOB NOT NULL DEFAULT x'',
    -- Newest verified tree head (all four NULL until one is verified).
    verified_size      INTEGER,
    verified_timestamp INTEGER,
    verified_root      BLOB,
    verified_signature BLOB,
    -- Latest tree head seen, verified or not (for lag reporting).
    seen_size          INTEGER,
    seen_timestamp     INTEGER,
    entries_stored     INTEGER NOT NULL DEFAULT 0,
    entries_skipped    INTEGER NOT NULL DEFAULT 0,
    -- Unix seconds of the last write to this row.
    updated_at         INTEGER NOT NULL
);

-- Distinct certificates: a precertificate and its final certificate share one row (same identity).
CREATE TABLE certificates (
    id            INTEGER PRIMARY KEY,
    identity      BLOB NOT NULL UNIQUE,
    issuer_spki   BLOB,
    serial        BLOB NOT NULL,
    not_before    INTEGER NOT NULL,
    not_after     INTEGER NOT NULL,
    subject       TEXT NOT NULL,
    has_precert   INTEGER NOT NULL,
    has_final     INTEGER NOT NULL,
    -- The final certificate once one was seen, else the precertificate.
    der           BLOB NOT NULL,
    -- NULL: ctwatch_cert::facts::cert_facts(der), recomputed on read. Otherwise serde_json of
    -- CertFacts supplied by the writer that differ from what the DER gives.
    facts         TEXT,
    -- Earliest log entry timestamp (ms) that carried this certificate.
    first_seen_ms INTEGER NOT NULL,
    -- SHA-256 of the DER SubjectPublicKeyInfo (facts.spki_sha256), for compromised-key lookups.
    spki_sha256   BLOB NOT NULL,
    -- SHA-256 of the RSA modulus / EC point / raw key (facts.key_material_sha256): matches a key
    -- whose SPKI was re-encoded.
    key_material  BLOB,
    -- Unix seconds of the CAA check of the names; NULL while the check is pending.
    caa_checked_at INTEGER
);
CREATE INDEX certificates_issuer_serial ON certificates (issuer_spki, serial);
CREATE INDEX certificates_spki ON certificates (spki_sha256);
CREATE INDEX certificates_key_material ON certificates (key_material) WHERE key_material IS NOT NULL;
-- Only pending rows are indexed, in id (= arrival) order: the CAA worker's queue. Checked rows
-- leave the index, so it stays as small as the backlog.
CREATE INDEX certificates_caa_pending ON certificates (id) WHERE caa_checked_at IS NULL;

-- Every log entry that carried a stored certificate.
CREATE TABLE log_entries (
    log_ref      INTEGER NOT NULL REFERENCES logs (id),
    idx          INTEGER NOT NULL,
    cert_id      INTEGER NOT NULL REFERENCES certificates (id),
    timestamp_ms INTEGER NOT NULL,
    is_precert   INTEGER NOT NULL,
    leaf_hash    BLOB NOT NULL,
    PRIMARY KEY (log_ref, idx)
) WITHOUT ROWID;
CREATE INDEX log_entries_cert ON log_entries (cert_id);

-- Distinct certificates per (issuer SPKI SHA-256, hour since epoch, validation type).
CREATE TABLE issuance_hourly (
    issuer_spki     BLOB NOT NULL,
    hour            INTEGER NOT NULL,
    validation_type TEXT NOT NULL,
    count           INTEGER NOT NULL,
    PRIMARY KEY (issuer_spki, hour, validation_type)
) WITHOUT ROWID;
CREATE INDEX issuance_hourly_hour ON issuance_hourly (hour);

-- Entries that could not be decoded, kept verbatim with the error.
CREATE TABLE malformed_entries (
    log_ref    INTEGER NOT NULL REFERENCES logs (id),
    idx        INTEGER NOT NULL,
    leaf_hash  BLOB NOT NULL,
    error      TEXT NOT NULL,
    leaf_input BLOB NOT NULL,
    extra_data BLOB NOT NULL,
    PRIMARY KEY (log_ref, idx)
);

CREATE TABLE findings (
    id                INTEGER PRIMARY KEY,
    key               TEXT NOT NULL UNIQUE,
    kind              TEXT NOT NULL,
    severity          TEXT NOT NULL,
    ca                TEXT,
    issuer            TEXT,
    -- JSON evidence of the latest observation.
    evidence          TEXT NOT NULL,
    -- Unix seconds.
    first_seen        INTEGER NOT NULL,
    last_seen         INTEGER NOT NULL,
    status            TEXT NOT NULL,
    -- Distinct certificates linked in finding_certificates.
    certificate_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX findings_kind ON findings (kind);
CREATE INDEX findings_ca ON findings (ca);

CREATE TABLE finding_certificates (
    finding_id INTEGER NOT NULL REFERENCES findings (id),
    cert_id    INTEGER NOT NULL REFERENCES certificates (id),
    PRIMARY KEY (finding_id, cert_id)
) WITHOUT ROWID;
CREATE INDEX finding_certificates_cert ON finding_certificates (cert_id);

-- Keys known to be compromised, one row per (key, source that reported it).
CREATE TABLE compromised_keys (
    id              INTEGER PRIMARY KEY,
    spki_sha256     BLOB NOT NULL,
    material_sha256 BLOB,
    -- "crl", "import", "weak_key" or "manual".
    source          TEXT NOT NULL,
    -- Unix seconds when the key became known (for CRLs: the revocation date).
    learned_at      INTEGER NOT NULL,
    -- JSON evidence (CRL URL and serial, import file, weak-key check).
    evidence        TEXT NOT NULL,
    UNIQUE (spki_sha256, source)
);
CREATE INDEX compromised_keys_material ON compromised_keys (material_sha256) WHERE material_sha256 IS NOT NULL;

-- The last accepted CRL of each URL (CRL numbers must not go backwards).
CREATE TABLE crl_state (
    url         TEXT PRIMARY KEY,
    issuer_spki BLOB NOT NULL,
    -- CRL number, big-endian unsigned bytes.
    crl_number  BLOB,
    -- Unix seconds.
    this_update INTEGER NOT NULL,
    next_update INTEGER,
    fetched_at  INTEGER NOT NULL
);

-- Certificates some fetched CRL listed as revoked, by (issuer SPKI SHA-256, serial).
CREATE TABLE revocations (
    issuer_spki   BLOB NOT NULL,
    serial        BLOB NOT NULL,
    -- revocationDate and CRLReason of the latest CRL that listed it.
    revoked_at    INTEGER NOT NULL,
    reason        INTEGER,
    -- Unix seconds of the first fetched CRL that listed it, and that CRL's URL: the revocation
    -- deadline is judged against when it was first seen, so later CRLs never move it.
    first_seen_at INTEGER NOT NULL,
    crl_url       TEXT NOT NULL,
    PRIMARY KEY (issuer_spki, serial)
) WITHOUT ROWID;

-- What each alert sink acknowledged: the finding as it was delivered (its last_seen and status)
-- and when. A finding is pending for a sink until a row matches its current last_seen and status,
-- so a restart resends only what no sink acknowledged.
CREATE TABLE sink_deliveries (
    sink         TEXT NOT NULL,
    finding_id   INTEGER NOT NULL REFERENCES findings (id),
    last_seen    INTEGER NOT NULL,
    status       TEXT NOT NULL,
    -- Unix seconds of the acknowledgement.
    delivered_at INTEGER NOT NULL,
    PRIMARY KEY (sink, finding_id)
) WITHOUT ROWID;
"#;

/// Version 2: leases of logs to the instances of a sharded deployment, and retention (pruned
/// certificates stay counted in their findings; notAfter is indexed for pruning).
const V2: &str = r#"
-- Which instance holds each log. A released lease keeps its row (holder NULL) so that the epoch
-- never goes back: the epoch is the fencing token commits are checked against.
CREATE TABLE log_leases (
    log_id     BLOB PRIMARY KEY,
    -- The holding instance; NULL once released.
    holder     TEXT,
    -- Incremented each time the lease passes to another instance; kept on renewal.
    epoch      INTEGER NOT NULL,
    -- Unix seconds at which the lease lapses unless renewed.
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Certificates once linked to a finding and since deleted by retention: certificate_count is
-- the number of linked certificates plus this.
ALTER TABLE findings ADD COLUMN pruned_certificates INTEGER NOT NULL DEFAULT 0;

CREATE INDEX certificates_not_after ON certificates (not_after);
"#;

/// Version 3: how far each log is read in time (`LogCheckpoint::position_ms`), which sharded
/// instances need to close surge hours together.
const V3: &str = r#"
-- ms since the Unix epoch; 0 until a commit records one.
ALTER TABLE logs ADD COLUMN position_ms INTEGER NOT NULL DEFAULT 0;
"#;

/// Read the schema version of an open database.
pub(crate) fn read_version(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Bring the database up to the newest version of `migrations`, one transaction per step.
///
/// Fails with [`StoreError::SchemaTooNew`] (writing nothing) when the database is newer than
/// `migrations` knows. The version is re-read inside each transaction, so two processes opening
/// the same new file at once do not apply a step twice.
pub(crate) fn migrate(conn: &mut Connection, path: &str, migrations: &[&str]) -> Result<(), StoreError> {
    let supported = migrations.len() as i64;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version = read_version(&tx)?;
        if version > supported {
            return Err(StoreError::SchemaTooNew { path: path.to_string(), found: version, supported });
        }
        if version < 0 {
            return Err(StoreError::Corrupt(format!("database {path} has negative schema version {version}")));
        }
        if version == supported {
            return Ok(());
        }
        // `version` is in [0, supported), so it indexes `migrations`.
        let Some(step) = usize::try_from(version).ok().and_then(|v| migrations.get(v)) else {
            return Err(StoreError::Other(format!("no migration from schema version {version}")));
        };
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}
