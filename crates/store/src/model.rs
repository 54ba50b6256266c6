//! Data the store takes and returns.

use serde::{Deserialize, Serialize};

/// 32-byte SHA-256 values (log IDs, SPKI hashes, certificate identities).
pub type Hash = [u8; 32];

/// How a log is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogIdentity {
    pub log_id: Hash,
    pub name: String,
    /// RFC 6962 URL or static-ct-api monitoring URL.
    pub url: String,
}

/// A verified tree head, as persisted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedHead {
    pub tree_size: u64,
    pub timestamp_ms: u64,
    pub root_hash: Hash,
    /// DigitallySigned bytes (kept as evidence).
    pub signature: Vec<u8>,
}

/// A log's resumable verification state: entries `[0, cursor)` are stored and verified; `peaks`
/// is the compact Merkle range of those entries (see `ctwatch_ct::merkle::CompactRange`);
/// `verified_head` is the newest tree head whose signature and consistency were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCheckpoint {
    pub log_id: Hash,
    pub cursor: u64,
    pub peaks: Vec<Hash>,
    pub verified_head: Option<VerifiedHead>,
    /// How far the log is known to be read, in ms since the Unix epoch: the newest entry
    /// timestamp committed, or the verified head's timestamp once the cursor reached its size
    /// (0 when unknown). Never goes back. Surge detection closes an hour once every log is past it.
    pub position_ms: u64,
}

/// A certificate to store (only for watched issuers).
#[derive(Debug, Clone, PartialEq)]
pub struct CertificateRecord {
    /// Precert/final shared identity (SHA-256 of the TBS without poison and SCT list).
    pub identity: Hash,
    /// SHA-256 of the issuer's SPKI, when known.
    pub issuer_spki_sha256: Option<Hash>,
    /// Whether `der` is a precertificate.
    pub is_precert: bool,
    /// The certificate or precertificate DER.
    pub der: Vec<u8>,
    /// Decoded facts (serialized as JSON in the store).
    pub facts: ctwatch_cert::facts::CertFacts,
}

/// One log entry to record.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryRecord {
    pub index: u64,
    pub leaf_hash: Hash,
    pub timestamp_ms: u64,
    pub is_precert: bool,
    pub certificate: CertificateRecord,
}

/// An entry that could not be decoded: stored with the error, never dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedEntry {
    pub log_id: Hash,
    pub index: u64,
    pub leaf_hash: Hash,
    pub error: String,
    pub leaf_input: Vec<u8>,
    pub extra_data: Vec<u8>,
}

/// Issuance count increment for (issuer, hour, validation type) from entries that are not stored
/// as records (all-issuers mode). Counts for stored records are derived by the store itself from
/// newly inserted distinct certificates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuanceIncrement {
    pub issuer_spki_sha256: Hash,
    /// Hours since the Unix epoch (from the SCT/entry timestamp).
    pub hour: i64,
    pub validation_type: String,
    pub count: u64,
}

/// A finding to insert or merge by `key`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewFinding {
    /// Stable key: the same fact raised twice merges into one finding.
    pub key: String,
    pub kind: String,
    pub severity: Severity,
    pub ca: Option<String>,
    pub issuer: Option<String>,
    pub evidence: serde_json::Value,
    /// Identities of certificates the finding is about (must be stored in this batch or before).
    pub certificates: Vec<Hash>,
    /// Unix seconds.
    pub seen_at: i64,
}

/// Severity of a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
    Critical,
}

/// Finding status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FindingStatus {
    Open,
    Acknowledged,
    Resolved,
}

/// One atomic write.
#[derive(Debug, Clone, PartialEq)]
pub struct CommitBatch {
    pub log_id: Hash,
    /// The cursor this batch starts at: must equal the stored cursor.
    pub previous_cursor: u64,
    /// The state after this batch (cursor = previous_cursor + entries covered).
    pub checkpoint: LogCheckpoint,
    pub entries: Vec<EntryRecord>,
    pub malformed: Vec<MalformedEntry>,
    pub issuance: Vec<IssuanceIncrement>,
    pub findings: Vec<NewFinding>,
    /// Entries in this batch that were skipped as not watched (for status counters).
    pub skipped_entries: u64,
}

/// What a commit changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitOutcome {
    pub new_certificates: u64,
    pub new_entries: u64,
    pub new_findings: u64,
}

/// An observation of a log outside a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct LogObservation {
    pub log_id: Hash,
    /// Latest tree size and timestamp seen, verified or not.
    pub seen_tree_size: Option<u64>,
    pub seen_timestamp_ms: Option<u64>,
    /// A newly verified tree head that did not come with entries (e.g. consistency checked but
    /// nothing new to download).
    pub verified_head: Option<VerifiedHead>,
    pub findings: Vec<NewFinding>,
    /// A newer position (see [`LogCheckpoint::position_ms`]), e.g. caught up to a newer head.
    pub position_ms: Option<u64>,
    /// Unix seconds.
    pub at: i64,
}

/// `ctwatch status` row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogStatus {
    pub log_id: String,
    pub name: String,
    pub url: String,
    pub cursor: u64,
    pub verified_tree_size: Option<u64>,
    pub seen_tree_size: Option<u64>,
    pub seen_timestamp_ms: Option<u64>,
    pub entries_stored: u64,
    pub entries_skipped: u64,
    /// See [`LogCheckpoint::position_ms`].
    pub position_ms: u64,
    pub malformed_entries: u64,
}

/// A stored certificate.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCertificate {
    pub id: i64,
    pub identity: Hash,
    pub issuer_spki_sha256: Option<Hash>,
    pub has_precert: bool,
    pub has_final: bool,
    pub der: Vec<u8>,
    pub facts: ctwatch_cert::facts::CertFacts,
    /// Earliest timestamp (ms since the Unix epoch) of a log entry that carried it.
    pub first_seen_ms: u64,
}

/// A log entry that carried a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryRef {
    pub log_id: Hash,
    pub index: u64,
    pub timestamp_ms: u64,
    pub is_precert: bool,
}

/// Hourly count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuanceCount {
    pub issuer_spki_sha256: Hash,
    pub hour: i64,
    pub validation_type: String,
    pub count: u64,
}

/// Finding filter for listing.
#[derive(Debug, Clone, Default)]
pub struct FindingFilter {
    pub kind: Option<String>,
    pub ca: Option<String>,
    /// Unix seconds.
    pub since: Option<i64>,
    pub limit: Option<usize>,
    pub offset: Option<usize>,
}

/// A stored finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: i64,
    pub key: String,
    pub kind: String,
    pub severity: Severity,
    pub ca: Option<String>,
    pub issuer: Option<String>,
    pub certificate_count: u64,
    pub first_seen: i64,
    pub last_seen: i64,
    pub status: FindingStatus,
    pub evidence: serde_json::Value,
}

/// A key known to be compromised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompromisedKeyRecord {
    pub spki_sha256: Hash,
    /// SHA-256 of the RSA modulus / EC point (matches re-encoded SPKIs).
    pub material_sha256: Option<Hash>,
    /// "crl", "import", "weak_key" or "manual".
    pub source: String,
    /// Unix seconds when the key became known (for CRLs: the revocation date).
    pub learned_at: i64,
    pub evidence: serde_json::Value,
}

/// The last accepted CRL of a URL (monotonicity of CRL numbers is checked against it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CrlState {
    pub url: String,
    pub issuer_spki_sha256: Hash,
    /// CRL number, big-endian unsigned bytes.
    pub crl_number: Option<Vec<u8>>,
    pub this_update: i64,
    pub next_update: Option<i64>,
    pub fetched_at: i64,
}

/// One revoked certificate as a CRL listed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevocationRecord {
    pub issuer_spki_sha256: Hash,
    pub serial: Vec<u8>,
    /// revocationDate, Unix seconds.
    pub revoked_at: i64,
    /// CRLReason code, if present.
    pub reason: Option<u8>,
    /// When ctwatch first fetched a CRL listing it.
    pub first_seen_at: i64,
    pub crl_url: String,
}

/// A fetched, verified CRL to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlRecord {
    pub state: CrlState,
    pub entries: Vec<RevocationRecord>,
}

/// A lease on one log, held by one instance of a sharded deployment (several ctwatch processes
/// sharing one PostgreSQL database).
///
/// `epoch` is the fencing token: it grows by one every time the lease passes to another
/// instance (and never when the holder renews it), so a batch committed with
/// [`crate::Store::commit_leased`] by an instance that was paused while its lease expired and
/// was taken over carries an old epoch and is refused with `LeaseLost`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLease {
    pub log_id: Hash,
    /// The holding instance's name (unique per instance, e.g. host name plus process ID).
    pub instance: String,
    pub epoch: u64,
    /// Unix seconds at which the lease lapses unless renewed.
    pub expires_at: i64,
}

/// What [`crate::Store::prune_certificates`] removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PruneStats {
    /// Certificate records deleted.
    pub certificates: u64,
    /// Log entries of those certificates deleted.
    pub entries: u64,
    /// Links between findings and those certificates removed (the findings keep counting them).
    pub finding_links: u64,
}
