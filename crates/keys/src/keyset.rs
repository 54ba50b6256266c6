//! The compromised-key set: keys known to be compromised, indexed by SPKI SHA-256 and by a
//! hash of the key material, with where and when each became known.
//!
//! Two indexes exist because one key can be encoded in more than one SPKI (an RSA modulus with
//! and without NULL parameters, a different exponent, a compressed EC point is *not* matched):
//! the SPKI hash is what CT tools and blocklists publish, the material hash is what survives
//! re-encoding. A certificate matches a compromised key when either hash is equal.

use std::collections::HashMap;

use ctwatch_cert::facts::CertFacts;
use ctwatch_ct::Hash;

use crate::spki::{self, SpkiError};
use crate::weak::WeakCheck;

/// The two hashes a key is looked up by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct KeyFingerprints {
    /// SHA-256 of the DER SubjectPublicKeyInfo.
    #[serde(with = "crate::hexser::hash")]
    pub spki_sha256: Hash,
    /// SHA-256 of the RSA modulus (leading zeros stripped), the EC point as encoded, or the raw
    /// Ed25519 key; equal to `CertFacts::key_material_sha256`. `None` for other algorithms and
    /// for keys known only by their SPKI hash (imported hex lines).
    #[serde(with = "crate::hexser::opt_hash", default)]
    pub material_sha256: Option<Hash>,
}

impl KeyFingerprints {
    /// Fingerprints of a DER SubjectPublicKeyInfo. The input must be exactly one well-framed
    /// SPKI; the material hash is computed exactly as `ctwatch_cert` computes it.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, SpkiError> {
        // Framing is checked by the full decoder, so a broken SPKI is an error rather than an
        // SPKI hash without material.
        let key = spki::parse_spki(spki_der);
        let material = spki::material_sha256(spki_der);
        match key {
            Ok(_) => Ok(KeyFingerprints { spki_sha256: ctwatch_ct::sha256(spki_der), material_sha256: material }),
            // An RSA key with a bad exponent still has a usable modulus hash; keep it.
            Err(_) if material.is_some() => {
                Ok(KeyFingerprints { spki_sha256: ctwatch_ct::sha256(spki_der), material_sha256: material })
            }
            Err(e) => Err(e),
        }
    }

    /// Fingerprints of a certificate from its decoded facts.
    pub fn from_cert_facts(facts: &CertFacts) -> Self {
        KeyFingerprints { spki_sha256: facts.spki_sha256, material_sha256: facts.key_material_sha256 }
    }

    /// A key known only by its SPKI SHA-256.
    pub fn from_spki_sha256(spki_sha256: Hash) -> Self {
        KeyFingerprints { spki_sha256, material_sha256: None }
    }
}

/// Where knowledge of a compromised key came from.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum KeySource {
    /// A keyCompromise entry on a watched issuer's CRL, mapped to the key through a stored
    /// certificate with that issuer and serial.
    Crl {
        /// SPKI SHA-256 of the issuer whose CRL listed the certificate.
        #[serde(with = "crate::hexser::hash")]
        issuer_spki_sha256: Hash,
        /// The CRL's URL.
        crl_url: String,
        /// The revoked certificate's serial, as the DER INTEGER content bytes.
        #[serde(with = "crate::hexser::bytes")]
        serial: Vec<u8>,
        /// The entry's revocationDate (Unix seconds). BR 7.2.2 lets a CA backdate it to when the
        /// key was first considered compromised.
        revocation_time: i64,
    },
    /// An imported file (`ctwatch keys import FILE`).
    Import {
        /// The file name as given.
        file: String,
    },
    /// A weak-key check found the private key computable from the public key.
    WeakKey {
        /// Which check.
        check: WeakCheck,
    },
    /// Entered by hand; the evidence says why.
    Manual,
}

/// One compromised key from one source.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CompromisedKey {
    /// The hashes the key is found by.
    pub fingerprints: KeyFingerprints,
    /// Where the knowledge came from.
    pub source: KeySource,
    /// When ctwatch learned it (Unix seconds): the earliest time seen from this source.
    pub learned_at: i64,
    /// Free-form evidence (CRL entry, import line, factor found, ...).
    pub evidence: serde_json::Value,
}

impl CompromisedKey {
    /// The entry for a keyCompromise CRL entry, once the monitor has mapped (issuer, serial) to
    /// the key of a stored certificate. `learned_at` is when the CRL listing it was fetched.
    pub fn from_crl_entry(
        crl: &crate::crl::ParsedCrl,
        crl_url: &str,
        entry: &crate::crl::RevokedEntry,
        fingerprints: KeyFingerprints,
        learned_at: i64,
    ) -> Self {
        CompromisedKey {
            fingerprints,
            source: KeySource::Crl {
                issuer_spki_sha256: crl.issuer_spki_sha256,
                crl_url: crl_url.to_owned(),
                serial: entry.serial.clone(),
                revocation_time: entry.revoked_at,
            },
            learned_at,
            evidence: serde_json::json!({
                "crl_url": crl_url,
                "crl_number": crl.number_string(),
                "crl_this_update": crl.this_update,
                "issuer": crl.issuer,
                "serial": hex::encode(&entry.serial),
                "revocation_date": entry.revoked_at,
                "reason_code": entry.reason,
                "invalidity_date": entry.invalidity_date,
            }),
        }
    }

    /// The entry for a weak-key finding that compromises the key (see
    /// [`WeakCheck::compromises_key`]); `None` for warnings.
    pub fn from_weak_finding(
        finding: &crate::weak::WeakFinding,
        fingerprints: KeyFingerprints,
        learned_at: i64,
    ) -> Option<Self> {
        finding.check.compromises_key().then(|| CompromisedKey {
            fingerprints,
            source: KeySource::WeakKey { check: finding.check },
            learned_at,
            evidence: serde_json::json!({
                "check": finding.check.as_str(),
                "detail": finding.detail,
                "factor": finding.factor.as_deref().map(hex::encode),
            }),
        })
    }
}

/// What [`CompromisedKeySet::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    /// The set now matches keys it did not match before (a new SPKI hash or a new material
    /// hash): certificates already stored must be re-checked.
    NewKey,
    /// The key was already matched; this source is new for it.
    NewSource,
    /// The same key and source were known; `learned_at` moved earlier (evidence replaced).
    Earlier,
    /// The same key and source were known at the same or an earlier time; nothing changed.
    Known,
}

/// Compromised keys, indexed by SPKI SHA-256 and by material hash.
///
/// One entry exists per (key, source); a key is the same when its SPKI hash is the same.
/// Serialized as the list of entries; the indexes are rebuilt on load.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
#[serde(from = "Vec<CompromisedKey>", into = "Vec<CompromisedKey>")]
pub struct CompromisedKeySet {
    keys: Vec<CompromisedKey>,
    by_spki: HashMap<Hash, Vec<usize>>,
    by_material: HashMap<Hash, Vec<usize>>,
}

impl From<Vec<CompromisedKey>> for CompromisedKeySet {
    fn from(keys: Vec<CompromisedKey>) -> Self {
        let mut set = CompromisedKeySet::default();
        for key in keys {
            set.insert(key);
        }
        set
    }
}

impl From<CompromisedKeySet> for Vec<CompromisedKey> {
    fn from(set: CompromisedKeySet) -> Self {
        set.keys
    }
}

impl CompromisedKeySet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of (key, source) entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every entry, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = &CompromisedKey> {
        self.keys.iter()
    }

    /// Add a key from a source, keeping the earliest `learned_at` (and its evidence) when the
    /// same key is already known from the same source. A material hash learned later for a key
    /// first known only by its SPKI hash is added to the existing entry.
    pub fn insert(&mut self, key: CompromisedKey) -> InsertOutcome {
        let spki_known = self.by_spki.contains_key(&key.fingerprints.spki_sha256);
        let material = key.fingerprints.material_sha256;
        let material_known = material.is_some_and(|m| self.by_material.contains_key(&m));
        // New matches are possible when a hash is added that nothing matched before: a new
        // material hash, or a new SPKI hash for a key that had no known material hash.
        let newly_matchable = !material_known && (material.is_some() || !spki_known);
        let existing = self
            .by_spki
            .get(&key.fingerprints.spki_sha256)
            .and_then(|ids| ids.iter().copied().find(|&i| self.keys.get(i).is_some_and(|k| k.source == key.source)));
        let outcome = match existing.and_then(|i| self.keys.get_mut(i).map(|k| (i, k))) {
            Some((i, entry)) => {
                let mut outcome = InsertOutcome::Known;
                if key.learned_at < entry.learned_at {
                    entry.learned_at = key.learned_at;
                    entry.evidence = key.evidence;
                    outcome = InsertOutcome::Earlier;
                }
                if entry.fingerprints.material_sha256.is_none()
                    && let Some(m) = material
                {
                    entry.fingerprints.material_sha256 = Some(m);
                    self.by_material.entry(m).or_default().push(i);
                }
                outcome
            }
            None => {
                let i = self.keys.len();
                self.by_spki.entry(key.fingerprints.spki_sha256).or_default().push(i);
                if let Some(m) = material {
                    self.by_material.entry(m).or_default().push(i);
                }
                self.keys.push(key);
                InsertOutcome::NewSource
            }
        };
        if newly_matchable { InsertOutcome::NewKey } else { outcome }
    }

    /// Entries matching `fingerprints` by SPKI hash or by material hash, earliest learned
    /// first.
    pub fn lookup(&self, fingerprints: &KeyFingerprints) -> Vec<&CompromisedKey> {
        let mut ids: Vec<usize> = self.by_spki.get(&fingerprints.spki_sha256).cloned().unwrap_or_default();
        if let Some(m) = fingerprints.material_sha256.and_then(|m| self.by_material.get(&m)) {
            ids.extend_from_slice(m);
        }
        ids.sort_unstable();
        ids.dedup();
        let mut found: Vec<&CompromisedKey> = ids.into_iter().filter_map(|i| self.keys.get(i)).collect();
        found.sort_by_key(|k| k.learned_at);
        found
    }

    /// Entries matching a certificate's key.
    pub fn lookup_facts(&self, facts: &CertFacts) -> Vec<&CompromisedKey> {
        self.lookup(&KeyFingerprints::from_cert_facts(facts))
    }
}

/// How a certificate whose key is in the set relates to BR 6.1.1.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReuseClass {
    /// The same CA listed the key as keyCompromise on its own CRL with a revocationDate before
    /// the certificate's notBefore: BR 6.1.1.3 (4) required the CA to reject the request.
    BrViolation,
    /// The key is known compromised, but not (provably) to this CA before issuance: imported,
    /// weak-key, manual or another CA's CRL, or learned after notBefore.
    Suspect,
}

/// The certificate a compromised-key match is judged for.
#[derive(Debug, Clone, Copy)]
pub struct ReuseContext<'a> {
    /// SPKI SHA-256 of the certificate's issuer.
    pub issuer_spki_sha256: Hash,
    /// SPKI SHA-256 of the other issuing CAs operated by the same CA (CA owner); the issuer
    /// itself always counts and need not be listed.
    pub same_ca_issuers: &'a [Hash],
    /// The certificate's serial, as DER INTEGER content bytes (`CertFacts::serial`).
    pub serial: &'a [u8],
    /// The certificate's notBefore (Unix seconds).
    pub not_before: i64,
}

/// The result of [`classify_reuse`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReuseAssessment {
    /// The class.
    pub class: ReuseClass,
    /// The earliest time the key is known to have been compromised: the revocationDate of a
    /// same-CA CRL entry, otherwise the earliest `learned_at`.
    pub known_since: i64,
    /// For `BrViolation`: ctwatch itself saw the CA's CRL listing the key before notBefore, so
    /// the CA cannot have backdated its way into the violation (BR 7.2.2 permits backdating
    /// keyCompromise revocation dates). `false` means the violation rests on the CA's own
    /// revocationDate.
    pub confirmed: bool,
    /// How many entries matched (after dropping the certificate's own CRL entry).
    pub matches: usize,
}

/// Judge a certificate whose key matched `matches` (from [`CompromisedKeySet::lookup`]).
///
/// A CRL entry for this very certificate (same issuer and serial) is its own revocation, not
/// reuse, and is ignored; `None` means nothing else matched. The class is
/// [`ReuseClass::BrViolation`] when a keyCompromise entry on a CRL of the same CA has a
/// revocationDate strictly before notBefore, [`ReuseClass::Suspect`] otherwise.
pub fn classify_reuse(ctx: &ReuseContext<'_>, matches: &[&CompromisedKey]) -> Option<ReuseAssessment> {
    let same_ca = |issuer: &Hash| *issuer == ctx.issuer_spki_sha256 || ctx.same_ca_issuers.contains(issuer);
    let others: Vec<&&CompromisedKey> = matches
        .iter()
        .filter(|k| match &k.source {
            KeySource::Crl { issuer_spki_sha256, serial, .. } => {
                !(*issuer_spki_sha256 == ctx.issuer_spki_sha256 && serial.as_slice() == ctx.serial)
            }
            _ => true,
        })
        .collect();
    let earliest_learned = others.iter().map(|k| k.learned_at).min()?;
    let mut violation: Option<(i64, bool)> = None;
    for k in &others {
        if let KeySource::Crl { issuer_spki_sha256, revocation_time, .. } = &k.source
            && same_ca(issuer_spki_sha256)
            && *revocation_time < ctx.not_before
        {
            let confirmed = k.learned_at < ctx.not_before;
            let since = *revocation_time;
            violation = Some(match violation {
                None => (since, confirmed),
                Some((s, c)) => (s.min(since), c || confirmed),
            });
        }
    }
    Some(match violation {
        Some((known_since, confirmed)) => ReuseAssessment {
            class: ReuseClass::BrViolation,
            known_since: known_since.min(earliest_learned),
            confirmed,
            matches: others.len(),
        },
        None => ReuseAssessment {
            class: ReuseClass::Suspect,
            known_since: earliest_learned,
            confirmed: false,
            matches: others.len(),
        },
    })
}

#[cfg(test)]
mod tests;
