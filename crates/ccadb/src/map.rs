//! The CA-owner map: issuer SPKI SHA-256 → CA owner(s), names, CAA identifiers, CRL URLs and
//! TLS capability, built by joining CCADB reports.

use crate::reports::{CaaIdentifiers, CertificateRecord, PemRecord, Report};
use crate::{CcadbError, Fingerprint};
use base64::Engine as _;
use ctwatch_ct::Hash;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;

/// The `format` value of a serialised map; a reader refuses any other.
pub const MAP_FORMAT: &str = "ctwatch-ccadb-map/1";

/// How an issuer's owner was learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OwnerSource {
    /// A CCADB certificate record of this key names the owner.
    Record,
    /// Only the certificate was known: the owner is that of the nearest ancestor with a record.
    /// Externally operated subordinate CAs can be misattributed this way.
    Chain,
}

/// One issuing key, as CT identifies an issuer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuerInfo {
    /// SHA-256 of the issuer's DER SubjectPublicKeyInfo (the RFC 6962 `issuer_key_hash`).
    #[serde(with = "hex_hash")]
    pub spki_sha256: Hash,
    /// CA owners operating this key; more than one when cross-certificates disagree.
    pub owners: Vec<String>,
    pub owner_source: OwnerSource,
    /// Certificate names (CCADB `Certificate Name`, or the subject CN).
    pub names: Vec<String>,
    /// SHA-256 fingerprints of the CA certificates carrying this key.
    #[serde(with = "hex_hashes")]
    pub certificates: Vec<Fingerprint>,
    /// Subject key identifiers, base64 as CCADB writes them.
    pub subject_key_identifiers: Vec<String>,
    /// CAA identifiers recognised for this key's certificates (owner-wide ones are on
    /// [`OwnerInfo`]; [`OwnerMap::caa_identifiers_for`] merges both).
    pub caa_identifiers: Vec<String>,
    /// Full and partitioned CRL URLs the CA disclosed for this key.
    pub crl_urls: Vec<String>,
    /// Whether any certificate of this key may issue TLS server certificates.
    pub tls_capable: bool,
    /// Whether every certificate record of this key is revoked (or has a revoked parent).
    pub revoked: bool,
}

/// One CA owner.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OwnerInfo {
    pub name: String,
    /// CAA identifiers recognised for every issuer of this owner.
    pub caa_identifiers: Vec<String>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct MapFile {
    format: String,
    owners: Vec<OwnerInfo>,
    issuers: Vec<IssuerInfo>,
}

/// Issuer SPKI SHA-256 → CA owner and what CCADB says about the issuer.
#[derive(Debug, Clone, Default)]
pub struct OwnerMap {
    owners: Vec<OwnerInfo>,
    issuers: Vec<IssuerInfo>,
    by_spki: HashMap<Hash, usize>,
    /// Lowercased owner name → index into `owners`.
    owner_index: HashMap<String, usize>,
    /// Lowercased owner name → issuers operated by that owner.
    issuers_by_owner: HashMap<String, Vec<usize>>,
}

impl OwnerMap {
    fn from_parts(mut owners: Vec<OwnerInfo>, mut issuers: Vec<IssuerInfo>) -> Self {
        owners.sort_by(|a, b| a.name.cmp(&b.name));
        issuers.sort_by_key(|a| a.spki_sha256);
        let by_spki = issuers.iter().enumerate().map(|(i, x)| (x.spki_sha256, i)).collect();
        let owner_index = owners.iter().enumerate().map(|(i, o)| (o.name.to_lowercase(), i)).collect();
        let mut issuers_by_owner: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, issuer) in issuers.iter().enumerate() {
            for owner in &issuer.owners {
                issuers_by_owner.entry(owner.to_lowercase()).or_default().push(i);
            }
        }
        OwnerMap { owners, issuers, by_spki, owner_index, issuers_by_owner }
    }

    /// Read a map written by [`OwnerMap::to_json`].
    pub fn from_json<R: Read>(input: R) -> Result<Self, CcadbError> {
        let file: MapFile = serde_json::from_reader(input).map_err(|e| CcadbError::Map { detail: e.to_string() })?;
        if file.format != MAP_FORMAT {
            return Err(CcadbError::Map { detail: format!("format is {:?}, expected {MAP_FORMAT:?}", file.format) });
        }
        Ok(Self::from_parts(file.owners, file.issuers))
    }

    /// The map as pretty-printed JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let file =
            MapFile { format: MAP_FORMAT.to_string(), owners: self.owners.clone(), issuers: self.issuers.clone() };
        // Serialising plain strings, numbers and booleans cannot fail.
        serde_json::to_vec_pretty(&file).unwrap_or_default()
    }

    /// Every issuer, sorted by SPKI hash.
    pub fn issuers(&self) -> &[IssuerInfo] {
        &self.issuers
    }

    /// Every owner, sorted by name.
    pub fn owners(&self) -> &[OwnerInfo] {
        &self.owners
    }

    /// The issuer with this SPKI SHA-256.
    pub fn issuer(&self, spki_sha256: &Hash) -> Option<&IssuerInfo> {
        self.by_spki.get(spki_sha256).and_then(|&i| self.issuers.get(i))
    }

    /// The owner of this name, compared case-insensitively.
    pub fn owner(&self, name: &str) -> Option<&OwnerInfo> {
        self.owner_index.get(&name.trim().to_lowercase()).and_then(|&i| self.owners.get(i))
    }

    /// The issuers operated by an owner (case-insensitive exact name).
    pub fn issuers_of_owner(&self, name: &str) -> Vec<&IssuerInfo> {
        self.issuers_by_owner
            .get(&name.trim().to_lowercase())
            .map(|v| v.iter().filter_map(|&i| self.issuers.get(i)).collect())
            .unwrap_or_default()
    }

    /// Issuers that may issue TLS server certificates.
    pub fn tls_capable_issuers(&self) -> impl Iterator<Item = &IssuerInfo> {
        self.issuers.iter().filter(|i| i.tls_capable)
    }

    /// The CAA identifiers of an issuer: its own and those of its owners, without duplicates.
    pub fn caa_identifiers_for(&self, issuer: &IssuerInfo) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let owner_ids = issuer.owners.iter().filter_map(|o| self.owner(o)).flat_map(|o| o.caa_identifiers.iter());
        for id in issuer.caa_identifiers.iter().chain(owner_ids) {
            if !out.contains(id) {
                out.push(id.clone());
            }
        }
        out
    }

    /// The owner name closest to `name`, for "did you mean" messages: one containing it (or
    /// contained in it), else the one with the smallest edit distance if that is small.
    pub fn suggest_owner(&self, name: &str) -> Option<&str> {
        let want = name.trim().to_lowercase();
        if want.is_empty() {
            return None;
        }
        let lower = |o: &OwnerInfo| o.name.to_lowercase();
        if let Some(o) = self.owners.iter().find(|o| lower(o).contains(&want) || want.contains(&lower(o))) {
            return Some(&o.name);
        }
        let limit = (want.chars().count() / 3).max(2);
        self.owners
            .iter()
            .map(|o| (edit_distance(&want, &lower(o)), o))
            .filter(|(d, _)| *d <= limit)
            .min_by_key(|(d, _)| *d)
            .map(|(_, o)| o.name.as_str())
    }
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = substitute.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// What an import produced and what it left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ImportSummary {
    /// Distinct certificate records read (V5 and included-roots reports).
    pub certificate_records: usize,
    /// Distinct CA certificates read from PEM reports.
    pub pem_certificates: usize,
    pub owners: usize,
    pub issuers: usize,
    pub tls_capable_issuers: usize,
    /// Issuers whose owner came from an ancestor ([`OwnerSource::Chain`]).
    pub chain_derived_issuers: usize,
    /// Items left out of the map, by reason.
    pub skipped: BTreeMap<String, u64>,
}

const SKIP_NO_SPKI: &str =
    "certificate record without SPKI (no PEM for its fingerprint, SKI not in the SKI→SPKI table)";
const SKIP_BAD_CERT: &str = "CA certificate in a PEM report does not parse";
const SKIP_NO_OWNER: &str = "CA certificate without a record and without an ancestor whose owner is known";
const SKIP_CAA: &str = "CAA identifiers row names no known CA owner, certificate or fingerprint";

/// Joins parsed reports into an [`OwnerMap`]. Add reports in any order, then [`build`](Self::build).
#[derive(Debug, Default)]
pub struct MapBuilder {
    records: Vec<CertificateRecord>,
    included_roots: Vec<CertificateRecord>,
    pems: Vec<PemRecord>,
    ski_spki: HashMap<Vec<u8>, Hash>,
    caa: Vec<CaaIdentifiers>,
}

/// What the builder learned from one CA certificate's DER.
struct CaCert {
    spki: Hash,
    subject: String,
    issuer: String,
    name: String,
    ski: Option<Vec<u8>>,
    aki: Option<Vec<u8>>,
    /// No EKU extension, or one allowing serverAuth or any purpose.
    eku_allows_tls: bool,
}

fn ca_cert(der: &[u8]) -> Option<CaCert> {
    let facts = ctwatch_cert::facts::cert_facts(der).ok()?;
    let spki = ctwatch_cert::facts::spki_sha256_of_cert(der).ok()?;
    use x509_parser::prelude::FromDer as _;
    let eku_allows_tls = match x509_parser::certificate::X509Certificate::from_der(der) {
        Ok((_, cert)) => match cert.extended_key_usage() {
            Ok(Some(eku)) => eku.value.server_auth || eku.value.any,
            Ok(None) => true,
            Err(_) => false,
        },
        Err(_) => false,
    };
    Some(CaCert {
        spki,
        name: facts.common_names.first().cloned().unwrap_or_else(|| facts.subject.clone()),
        subject: facts.subject,
        issuer: facts.issuer,
        ski: facts.subject_key_id,
        aki: facts.authority_key_id,
        eku_allows_tls,
    })
}

/// An issuer being assembled.
#[derive(Default)]
struct Draft {
    owners: BTreeSet<String>,
    chain_owner: Option<String>,
    names: BTreeSet<String>,
    certificates: BTreeSet<Fingerprint>,
    skis: BTreeSet<Vec<u8>>,
    caa: BTreeSet<String>,
    crl_urls: Vec<String>,
    tls_capable: bool,
    records: usize,
    revoked_records: usize,
}

impl MapBuilder {
    /// Add one parsed report (its rejected rows are the caller's to report).
    pub fn add(&mut self, report: Report) {
        match report {
            Report::CertificateRecords(p) => self.records.extend(p.rows),
            Report::IncludedRoots(p) => self.included_roots.extend(p.rows),
            Report::Pems(p) => self.pems.extend(p.rows),
            Report::SkiSpki(p) => {
                for row in p.rows {
                    self.ski_spki.insert(row.subject_key_identifier, row.spki_sha256);
                }
            }
            Report::CaaIdentifiers(p) => self.caa.extend(p.rows),
        }
    }

    /// Join everything added into a map.
    pub fn build(self) -> (OwnerMap, ImportSummary) {
        let mut summary = ImportSummary::default();
        let skip = |summary: &mut ImportSummary, reason: &str| {
            *summary.skipped.entry(reason.to_string()).or_default() += 1;
        };

        // Certificates by fingerprint.
        let mut certs: BTreeMap<Fingerprint, CaCert> = BTreeMap::new();
        for pem in &self.pems {
            if certs.contains_key(&pem.sha256_fingerprint) {
                continue;
            }
            match ca_cert(&pem.der) {
                Some(c) => {
                    certs.insert(pem.sha256_fingerprint, c);
                }
                None => skip(&mut summary, SKIP_BAD_CERT),
            }
        }
        summary.pem_certificates = certs.len();

        // Records by fingerprint; the V5 report wins over Mozilla's included-roots report.
        let mut records: BTreeMap<Fingerprint, CertificateRecord> = BTreeMap::new();
        for r in self.records.into_iter().chain(self.included_roots) {
            records.entry(r.sha256_fingerprint).or_insert(r);
        }
        summary.certificate_records = records.len();

        let mut drafts: BTreeMap<Hash, Draft> = BTreeMap::new();
        let mut spki_of_fp: HashMap<Fingerprint, Hash> = certs.iter().map(|(fp, c)| (*fp, c.spki)).collect();
        let mut owner_names: BTreeMap<String, String> = BTreeMap::new();
        for r in records.values() {
            let cert = certs.get(&r.sha256_fingerprint);
            let ski = r.subject_key_identifier.clone().or_else(|| cert.and_then(|c| c.ski.clone()));
            let spki = cert.map(|c| c.spki).or_else(|| ski.as_ref().and_then(|s| self.ski_spki.get(s).copied()));
            owner_names.entry(r.operator().to_lowercase()).or_insert_with(|| r.operator().to_string());
            let Some(spki) = spki else {
                skip(&mut summary, SKIP_NO_SPKI);
                continue;
            };
            spki_of_fp.insert(r.sha256_fingerprint, spki);
            let d = drafts.entry(spki).or_default();
            d.owners.insert(r.operator().to_string());
            let name =
                if r.name.is_empty() { cert.map(|c| c.name.clone()).unwrap_or_default() } else { r.name.clone() };
            if !name.is_empty() {
                d.names.insert(name);
            }
            d.certificates.insert(r.sha256_fingerprint);
            d.skis.extend(ski);
            for url in &r.crl_urls {
                if !d.crl_urls.contains(url) {
                    d.crl_urls.push(url.clone());
                }
            }
            d.tls_capable |= r.tls.is_capable();
            d.records += 1;
            if r.revocation_status.as_deref().is_some_and(|s| s.to_ascii_lowercase().contains("revoked")) {
                d.revoked_records += 1;
            }
        }

        // Keys known from records, by SKI: lets a PEM-only certificate find a parent that is
        // known only from a V5 record.
        let mut record_spki_by_ski: HashMap<Vec<u8>, Hash> = HashMap::new();
        for (spki, d) in &drafts {
            for ski in &d.skis {
                record_spki_by_ski.entry(ski.clone()).or_insert(*spki);
            }
        }
        let mut certs_by_ski: HashMap<&[u8], Vec<&Fingerprint>> = HashMap::new();
        let mut certs_by_subject: HashMap<&str, Vec<&Fingerprint>> = HashMap::new();
        for (fp, c) in &certs {
            if let Some(ski) = &c.ski {
                certs_by_ski.entry(ski).or_default().push(fp);
            }
            certs_by_subject.entry(c.subject.as_str()).or_default().push(fp);
        }
        let parents_of = |c: &CaCert, fp: &Fingerprint| -> Vec<Hash> {
            let mut out = Vec::new();
            match &c.aki {
                Some(aki) => {
                    out.extend(record_spki_by_ski.get(aki).copied());
                    for p in certs_by_ski.get(aki.as_slice()).into_iter().flatten() {
                        out.extend(certs.get(*p).map(|pc| pc.spki));
                    }
                }
                None => {
                    for p in certs_by_subject.get(c.issuer.as_str()).into_iter().flatten() {
                        if *p != fp {
                            out.extend(certs.get(*p).map(|pc| pc.spki));
                        }
                    }
                }
            }
            out.retain(|p| *p != c.spki);
            out.sort();
            out.dedup();
            out
        };

        // Parent → child key links, for spreading certificate-level CAA identifiers down.
        let mut children: HashMap<Hash, BTreeSet<Hash>> = HashMap::new();
        for r in records.values() {
            if let (Some(parent), Some(child)) =
                (r.parent_sha256_fingerprint.and_then(|p| spki_of_fp.get(&p)), spki_of_fp.get(&r.sha256_fingerprint))
                && parent != child
            {
                children.entry(*parent).or_default().insert(*child);
            }
        }
        for (fp, c) in &certs {
            for parent in parents_of(c, fp) {
                children.entry(parent).or_default().insert(c.spki);
            }
        }

        // Owners of PEM-only keys, from the nearest ancestor with a record. Resolving in rounds
        // (a key resolves once one of its parents has) reaches deep chains without recursion.
        let mut pending: Vec<(&Fingerprint, &CaCert)> =
            certs.iter().filter(|(fp, c)| !records.contains_key(*fp) && !drafts.contains_key(&c.spki)).collect();
        let mut resolved: HashMap<Hash, (String, bool)> = HashMap::new();
        loop {
            let mut progress = false;
            let mut still = Vec::new();
            for (fp, c) in pending {
                let found = parents_of(c, fp).into_iter().find_map(|p| {
                    if let Some(d) = drafts.get(&p).filter(|d| d.chain_owner.is_none()) {
                        d.owners.iter().next().map(|o| (o.clone(), d.tls_capable))
                    } else {
                        resolved.get(&p).cloned()
                    }
                });
                match found {
                    Some((owner, parent_tls)) => {
                        let d = drafts.entry(c.spki).or_default();
                        d.chain_owner = Some(owner.clone());
                        d.names.insert(c.name.clone());
                        d.certificates.insert(*fp);
                        d.skis.extend(c.ski.clone());
                        d.tls_capable |= parent_tls && c.eku_allows_tls;
                        resolved.insert(c.spki, (owner, d.tls_capable));
                        progress = true;
                    }
                    None => still.push((fp, c)),
                }
            }
            pending = still;
            if !progress || pending.is_empty() {
                break;
            }
        }
        for (_, c) in &pending {
            // Another certificate of the same key may have resolved in a later round.
            if !drafts.contains_key(&c.spki) {
                skip(&mut summary, SKIP_NO_OWNER);
            }
        }

        // CAA identifiers.
        let mut owner_caa: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut spki_by_name: HashMap<String, Vec<Hash>> = HashMap::new();
        for (spki, d) in &drafts {
            for n in &d.names {
                spki_by_name.entry(n.to_lowercase()).or_default().push(*spki);
            }
        }
        for (fp, c) in &certs {
            if let Some(spki) = spki_of_fp.get(fp) {
                spki_by_name.entry(c.subject.to_lowercase()).or_default().push(*spki);
            }
        }
        for row in &self.caa {
            let targets: Vec<Hash> = if let Some(fp) = row.sha256_fingerprint {
                spki_of_fp.get(&fp).copied().into_iter().collect()
            } else {
                Vec::new()
            };
            let owner_key = row.ca_owner.as_deref().unwrap_or(&row.subject).to_lowercase();
            if !targets.is_empty() {
                spread_caa(&mut drafts, &children, &targets, &row.domains);
            } else if owner_names.contains_key(&owner_key) && row.sha256_fingerprint.is_none() {
                owner_caa.entry(owner_key).or_default().extend(row.domains.iter().cloned());
            } else if let Some(spkis) = spki_by_name.get(&row.subject.to_lowercase()) {
                let spkis = spkis.clone();
                spread_caa(&mut drafts, &children, &spkis, &row.domains);
            } else {
                skip(&mut summary, SKIP_CAA);
            }
        }

        let mut issuers = Vec::new();
        let mut used_owners = BTreeSet::new();
        for (spki, d) in drafts {
            let (owners, source) = match d.chain_owner {
                Some(o) if d.owners.is_empty() => (vec![o], OwnerSource::Chain),
                _ => (d.owners.into_iter().collect::<Vec<_>>(), OwnerSource::Record),
            };
            for o in &owners {
                used_owners.insert(o.to_lowercase());
            }
            issuers.push(IssuerInfo {
                spki_sha256: spki,
                owners,
                owner_source: source,
                names: d.names.into_iter().collect(),
                certificates: d.certificates.into_iter().collect(),
                subject_key_identifiers: d
                    .skis
                    .iter()
                    .map(|s| base64::engine::general_purpose::STANDARD.encode(s))
                    .collect(),
                caa_identifiers: d.caa.into_iter().collect(),
                crl_urls: d.crl_urls,
                tls_capable: d.tls_capable,
                revoked: d.records > 0 && d.revoked_records == d.records,
            });
        }
        let owners: Vec<OwnerInfo> = owner_names
            .iter()
            .filter(|(k, _)| used_owners.contains(*k) || owner_caa.contains_key(*k))
            .map(|(k, name)| OwnerInfo {
                name: name.clone(),
                caa_identifiers: owner_caa.get(k).map(|s| s.iter().cloned().collect()).unwrap_or_default(),
            })
            .collect();
        summary.owners = owners.len();
        summary.issuers = issuers.len();
        summary.tls_capable_issuers = issuers.iter().filter(|i| i.tls_capable).count();
        summary.chain_derived_issuers = issuers.iter().filter(|i| i.owner_source == OwnerSource::Chain).count();
        (OwnerMap::from_parts(owners, issuers), summary)
    }
}

/// Add CAA identifiers to some keys and to every descendant key sharing an owner with them.
fn spread_caa(
    drafts: &mut BTreeMap<Hash, Draft>,
    children: &HashMap<Hash, BTreeSet<Hash>>,
    start: &[Hash],
    domains: &[String],
) {
    let owners_of = |d: &Draft| -> BTreeSet<String> {
        d.owners.iter().chain(d.chain_owner.iter()).map(|o| o.to_lowercase()).collect()
    };
    let mut seen: HashSet<Hash> = HashSet::new();
    let mut stack: Vec<(Hash, Option<BTreeSet<String>>)> = start.iter().map(|s| (*s, None)).collect();
    while let Some((spki, parent_owners)) = stack.pop() {
        if !seen.insert(spki) {
            continue;
        }
        let Some(d) = drafts.get_mut(&spki) else { continue };
        let mine = owners_of(d);
        if parent_owners.is_some_and(|p| p.is_disjoint(&mine)) {
            continue;
        }
        d.caa.extend(domains.iter().cloned());
        for child in children.get(&spki).into_iter().flatten() {
            stack.push((*child, Some(mine.clone())));
        }
    }
}

mod hex_hash {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out).map_err(serde::de::Error::custom)?;
        Ok(out)
    }
}

mod hex_hashes {
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(hex::encode))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|t| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(t, &mut out).map(|_| out).map_err(serde::de::Error::custom)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;
