//! Turning one log entry into what the store keeps: a certificate record, an issuance count,
//! nothing (an issuer nobody watches), or a malformed-entry record. Pure: no IO.

use crate::watch::{KnownLogs, Watchlist};
use ctwatch_cert::sct::SctVerdict;
use ctwatch_ct::Hash;
use ctwatch_ct::wire::{self, EntryType, SignedEntry, TimestampedEntry};
use ctwatch_store::{CertificateRecord, EntryRecord, MalformedEntry, NewFinding, Severity};
use std::collections::HashMap;

/// What an entry became.
#[derive(Debug, Clone)]
pub enum Classified {
    /// A watched issuer's certificate, stored in full, with findings found on the way.
    Record(Box<EntryRecord>, Vec<NewFinding>),
    /// An unwatched issuer in all-issuers mode: counted, not stored.
    Counted { issuer: Hash, hour: i64, validation_type: &'static str },
    /// An unwatched issuer: only the Merkle hash matters.
    Skipped,
    /// Could not be decoded: stored with the error.
    Malformed(Box<MalformedEntry>),
}

/// An entry after processing, with its Merkle leaf hash.
#[derive(Debug, Clone)]
pub struct ProcessedEntry {
    pub index: u64,
    pub leaf_hash: Hash,
    pub class: Classified,
    /// For stored certificates: the issuer certificate from the chain, when it is the issuer
    /// (its SPKI hash matches), so the monitor can verify that issuer's CRLs.
    pub issuer_der: Option<Vec<u8>>,
    /// The entry's timestamp (ms since the Unix epoch); 0 when the entry could not be decoded.
    pub timestamp_ms: u64,
}

/// Read-only context for processing entries of one log.
#[derive(Debug)]
pub struct EntryContext<'a> {
    pub log_id: Hash,
    pub log_name: &'a str,
    pub watch: &'a Watchlist,
    pub known_logs: &'a KnownLogs,
    pub detectors: &'a crate::detect::DetectorSet,
}

/// Cache of issuer certificate DER → SPKI SHA-256 (chains repeat the same few issuers).
#[derive(Debug, Default)]
pub struct IssuerCache {
    by_der: HashMap<Vec<u8>, Option<Hash>>,
}

impl IssuerCache {
    /// SPKI SHA-256 of an issuer certificate, or None when it does not parse.
    pub fn spki_of(&mut self, der: &[u8]) -> Option<Hash> {
        if let Some(v) = self.by_der.get(der) {
            return *v;
        }
        let v = ctwatch_cert::facts::spki_sha256_of_cert(der).ok();
        if self.by_der.len() > 100_000 {
            self.by_der.clear();
        }
        self.by_der.insert(der.to_vec(), v);
        v
    }
}

/// Process an RFC 6962 get-entries element.
pub fn process_rfc6962(
    ctx: &EntryContext<'_>,
    cache: &mut IssuerCache,
    index: u64,
    leaf_input: &[u8],
    extra_data: &[u8],
) -> ProcessedEntry {
    let leaf_hash = ctwatch_ct::merkle::leaf_hash(leaf_input);
    let malformed = |error: String| ProcessedEntry {
        index,
        leaf_hash,
        issuer_der: None,
        timestamp_ms: 0,
        class: Classified::Malformed(Box::new(MalformedEntry {
            log_id: ctx.log_id,
            index,
            leaf_hash,
            error,
            leaf_input: leaf_input.to_vec(),
            extra_data: extra_data.to_vec(),
        })),
    };
    let skipped =
        |timestamp_ms| ProcessedEntry { index, leaf_hash, class: Classified::Skipped, issuer_der: None, timestamp_ms };
    let entry = match wire::decode_leaf_input(leaf_input) {
        Ok(e) => e,
        Err(e) => return malformed(format!("leaf_input: {e}")),
    };
    // Cheap issuer identification first: for precerts it is in the leaf; unwatched entries
    // never pay for extra_data or X.509 parsing unless issuance is counted for everyone.
    let leaf_issuer = match &entry.signed_entry {
        SignedEntry::Precert { issuer_key_hash, .. } => Some(*issuer_key_hash),
        SignedEntry::X509(_) => None,
    };
    if let Some(issuer) = &leaf_issuer
        && !ctx.watch.is_watched(Some(issuer))
        && !ctx.watch.all_issuers
    {
        return skipped(entry.timestamp);
    }
    let extra = match wire::decode_extra_data(entry.signed_entry.entry_type(), extra_data) {
        Ok(x) => x,
        Err(e) => return malformed(format!("extra_data: {e}")),
    };
    let issuer = match leaf_issuer {
        Some(i) => Some(i),
        None => extra.chain.first().and_then(|c| cache.spki_of(c)),
    };
    // A final certificate's issuer is known only now, from its chain: an unwatched one is not
    // parsed (the same rule as precertificates above, and as tile leaves).
    if leaf_issuer.is_none() && !ctx.watch.is_watched(issuer.as_ref()) && !ctx.watch.all_issuers {
        return skipped(entry.timestamp);
    }
    let chain_issuer = extra.chain.into_iter().next();
    let timestamp_ms = entry.timestamp;
    match classify(ctx, index, leaf_hash, entry, extra.pre_certificate, issuer) {
        Ok(class) => {
            let issuer_der = match (&class, chain_issuer, issuer) {
                (Classified::Record(..), Some(der), Some(i)) if cache.spki_of(&der) == Some(i) => Some(der),
                _ => None,
            };
            ProcessedEntry { index, leaf_hash, class, issuer_der, timestamp_ms }
        }
        Err(e) => malformed(e),
    }
}

/// Process a static-ct-api `TileLeaf`. `issuer_spki` is the SPKI SHA-256 of the first chain
/// certificate (the caller fetched it by fingerprint), used for x509 entries.
pub fn process_tile_leaf(
    ctx: &EntryContext<'_>,
    index: u64,
    leaf: wire::TileLeaf,
    issuer_spki: Option<Hash>,
) -> ProcessedEntry {
    let leaf_input = leaf.entry.encode_leaf_input();
    let leaf_hash = ctwatch_ct::merkle::leaf_hash(&leaf_input);
    let issuer = match &leaf.entry.signed_entry {
        SignedEntry::Precert { issuer_key_hash, .. } => Some(*issuer_key_hash),
        SignedEntry::X509(_) => issuer_spki,
    };
    let timestamp_ms = leaf.entry.timestamp;
    if !ctx.watch.is_watched(issuer.as_ref()) && !ctx.watch.all_issuers {
        return ProcessedEntry { index, leaf_hash, class: Classified::Skipped, issuer_der: None, timestamp_ms };
    }
    let extra_for_record = leaf.encode();
    match classify(ctx, index, leaf_hash, leaf.entry, leaf.pre_certificate, issuer) {
        Ok(class) => ProcessedEntry { index, leaf_hash, class, issuer_der: None, timestamp_ms },
        Err(error) => ProcessedEntry {
            index,
            leaf_hash,
            issuer_der: None,
            timestamp_ms,
            class: Classified::Malformed(Box::new(MalformedEntry {
                log_id: ctx.log_id,
                index,
                leaf_hash,
                error,
                leaf_input,
                extra_data: extra_for_record,
            })),
        },
    }
}

fn classify(
    ctx: &EntryContext<'_>,
    index: u64,
    leaf_hash: Hash,
    entry: TimestampedEntry,
    pre_certificate: Option<Vec<u8>>,
    issuer: Option<Hash>,
) -> Result<Classified, String> {
    let watched = ctx.watch.is_watched(issuer.as_ref());
    let is_precert = entry.signed_entry.entry_type() == EntryType::Precert;
    let (der, identity) = match entry.signed_entry {
        SignedEntry::Precert { tbs_certificate, .. } => {
            let der = pre_certificate.ok_or_else(|| "precert entry without pre_certificate".to_string())?;
            let identity = ctwatch_cert::identity::certificate_identity(&tbs_certificate)
                .map_err(|e| format!("precert tbs_certificate: {e}"))?;
            (der, identity)
        }
        SignedEntry::X509(cert) => {
            let tbs = ctwatch_cert::identity::tbs_of_cert(&cert).map_err(|e| format!("certificate: {e}"))?;
            let identity =
                ctwatch_cert::identity::certificate_identity(&tbs).map_err(|e| format!("certificate TBS: {e}"))?;
            (cert, identity)
        }
    };
    let facts = ctwatch_cert::facts::cert_facts(&der).map_err(|e| format!("certificate: {e}"))?;
    let hour = i64::try_from(entry.timestamp / 3_600_000).unwrap_or(i64::MAX);
    if !watched {
        // All-issuers mode. A final certificate with embedded SCTs was already counted as its
        // precertificate, so it is not counted again.
        let Some(issuer) = issuer else { return Ok(Classified::Skipped) };
        if !is_precert && !facts.embedded_scts.is_empty() {
            return Ok(Classified::Skipped);
        }
        return Ok(Classified::Counted { issuer, hour, validation_type: facts.validation_type.as_str() });
    }
    let mut findings = Vec::new();
    if !is_precert
        && !facts.embedded_scts.is_empty()
        && let Some(issuer) = &issuer
    {
        findings.extend(check_embedded_scts(ctx, &der, issuer, &identity));
    }
    let record = EntryRecord {
        index,
        leaf_hash,
        timestamp_ms: entry.timestamp,
        is_precert,
        certificate: CertificateRecord { identity, issuer_spki_sha256: issuer, is_precert, der, facts },
    };
    if ctx.detectors.lints {
        findings.extend(crate::detect::lint_findings(&record));
    }
    if let Ok(keys) = ctx.detectors.keys.read()
        && !keys.is_empty()
    {
        findings.extend(crate::detect::key_reuse_findings(&record, &keys, ctx.watch));
    }
    Ok(Classified::Record(Box::new(record), findings))
}

/// An embedded SCT that does not verify against its log's key is recorded as an
/// `invalid_sct` finding (unknown logs are not: a monitor cannot know every test log).
fn check_embedded_scts(ctx: &EntryContext<'_>, der: &[u8], issuer: &Hash, identity: &Hash) -> Vec<NewFinding> {
    let verdicts = match ctwatch_cert::sct::verify_embedded_scts(der, issuer, &|id| ctx.known_logs.key(id)) {
        Ok(v) => v,
        Err(e) => {
            return vec![invalid_sct_finding(ctx, identity, None, serde_json::json!({ "error": e.to_string() }))];
        }
    };
    verdicts
        .into_iter()
        .filter_map(|v| match v {
            SctVerdict::Invalid { log_id, timestamp, reason } => Some(invalid_sct_finding(
                ctx,
                identity,
                Some(&log_id),
                serde_json::json!({
                    "sct_log_id": hex::encode(log_id),
                    "sct_log": ctx.known_logs.name(&log_id),
                    "sct_timestamp_ms": timestamp,
                    "reason": reason,
                }),
            )),
            _ => None,
        })
        .collect()
}

fn invalid_sct_finding(
    ctx: &EntryContext<'_>,
    identity: &Hash,
    sct_log: Option<&Hash>,
    detail: serde_json::Value,
) -> NewFinding {
    NewFinding {
        key: format!("invalid_sct:{}:{}", hex::encode(identity), sct_log.map(hex::encode).unwrap_or_default()),
        kind: "invalid_sct".to_string(),
        severity: Severity::Error,
        ca: None,
        issuer: None,
        evidence: serde_json::json!({ "seen_in_log": ctx.log_name, "detail": detail }),
        certificates: vec![*identity],
        seen_at: 0,
    }
}
