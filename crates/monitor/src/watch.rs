//! Which issuers are watched, and what we know about every log's key.
//!
//! Watched CAs come from `[[ca]]` entries, which name their issuers directly or by CCADB owner,
//! and from `[ccadb] watch_all_tls`, which watches every TLS-capable issuer of a CA-owner map
//! ([`ctwatch_ccadb::OwnerMap`]). Both are expanded here into plain [`CaSettings`], so that
//! everything downstream sees one kind of watched CA.

use crate::config::CaSettings;
use ctwatch_ccadb::OwnerMap;
use ctwatch_ct::Hash;
use ctwatch_ct::sth::LogKey;
use std::collections::{BTreeMap, HashMap, HashSet};

/// The issuers of one CCADB owner, as a `[[ca]] owner = "..."` entry selects them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerSelection {
    /// The owner's name as the map spells it.
    pub owner: String,
    /// SPKI SHA-256 of every issuer the owner operates.
    pub issuer_spki_sha256: Vec<Hash>,
    /// CAA identifiers of those issuers and of the owner, without duplicates.
    pub caa_identifiers: Vec<String>,
    /// CRL URLs the owner disclosed for those issuers.
    pub crl_urls: Vec<String>,
}

/// Why an owner could not be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OwnerSelectError {
    #[error("unknown CA owner {name:?} in the CCADB map{}", suggestion.as_ref().map(|s| format!("; did you mean {s:?}?")).unwrap_or_default())]
    Unknown { name: String, suggestion: Option<String> },
    #[error("CA owner {name:?} has no issuer with a known SPKI in the CCADB map")]
    NoIssuers { name: String },
}

fn push_unique(list: &mut Vec<String>, items: impl IntoIterator<Item = String>) {
    for item in items {
        if !list.contains(&item) {
            list.push(item);
        }
    }
}

/// Every issuer of one owner (case-insensitive exact name).
pub fn select_owner(map: &OwnerMap, name: &str) -> Result<OwnerSelection, OwnerSelectError> {
    let Some(owner) = map.owner(name) else {
        return Err(OwnerSelectError::Unknown {
            name: name.to_string(),
            suggestion: map.suggest_owner(name).map(str::to_string),
        });
    };
    let issuers = map.issuers_of_owner(&owner.name);
    if issuers.is_empty() {
        return Err(OwnerSelectError::NoIssuers { name: owner.name.clone() });
    }
    let mut selection = OwnerSelection {
        owner: owner.name.clone(),
        issuer_spki_sha256: Vec::new(),
        caa_identifiers: owner.caa_identifiers.clone(),
        crl_urls: Vec::new(),
    };
    for issuer in issuers {
        selection.issuer_spki_sha256.push(issuer.spki_sha256);
        push_unique(&mut selection.caa_identifiers, map.caa_identifiers_for(issuer));
        push_unique(&mut selection.crl_urls, issuer.crl_urls.iter().cloned());
    }
    Ok(selection)
}

/// One watched CA per owner for every TLS-capable issuer of the map not in `already` (issuers
/// that explicit `[[ca]]` entries claim keep their explicit settings). An issuer with several
/// owners goes to the first. Returns the CAs and the CRL URLs of their issuers.
pub fn tls_capable_cas(map: &OwnerMap, already: &HashSet<Hash>) -> (Vec<CaSettings>, Vec<String>) {
    let mut by_owner: BTreeMap<String, CaSettings> = BTreeMap::new();
    let mut crl_urls = Vec::new();
    for issuer in map.tls_capable_issuers() {
        let Some(owner) = issuer.owners.first() else { continue };
        if already.contains(&issuer.spki_sha256) {
            continue;
        }
        let ca = by_owner.entry(owner.to_lowercase()).or_insert_with(|| CaSettings {
            name: owner.clone(),
            issuer_spki_sha256: Vec::new(),
            issuer_certs: Vec::new(),
            caa_identifiers: Vec::new(),
        });
        ca.issuer_spki_sha256.push(issuer.spki_sha256);
        push_unique(&mut ca.caa_identifiers, map.caa_identifiers_for(issuer));
        push_unique(&mut crl_urls, issuer.crl_urls.iter().cloned());
    }
    (by_owner.into_values().collect(), crl_urls)
}

/// Issuer SPKI SHA-256 → watched CA.
#[derive(Debug, Clone, Default)]
pub struct Watchlist {
    by_issuer: HashMap<Hash, usize>,
    cas: Vec<CaSettings>,
    /// Count issuance of every issuer (root-program view).
    pub all_issuers: bool,
}

impl Watchlist {
    pub fn new(cas: &[CaSettings], all_issuers: bool) -> Self {
        let mut by_issuer = HashMap::new();
        for (i, ca) in cas.iter().enumerate() {
            for spki in &ca.issuer_spki_sha256 {
                by_issuer.insert(*spki, i);
            }
        }
        Watchlist { by_issuer, cas: cas.to_vec(), all_issuers }
    }

    /// With no `[[ca]]` configured every issuer is watched: the natural mode for a private log
    /// or a demo, where storing everything is what the user wants.
    pub fn watches_everything(&self) -> bool {
        self.cas.is_empty()
    }

    /// The watched CA for an issuer, if any.
    pub fn ca_for(&self, issuer_spki: &Hash) -> Option<&CaSettings> {
        self.by_issuer.get(issuer_spki).map(|&i| &self.cas[i])
    }

    /// Whether full records are stored for this issuer.
    pub fn is_watched(&self, issuer_spki: Option<&Hash>) -> bool {
        self.watches_everything() || issuer_spki.is_some_and(|i| self.by_issuer.contains_key(i))
    }

    pub fn cas(&self) -> &[CaSettings] {
        &self.cas
    }
}

/// Log ID → key, for every log in the list (followed or not): embedded SCTs name any log.
#[derive(Debug, Clone, Default)]
pub struct KnownLogs {
    keys: HashMap<Hash, (String, LogKey)>,
}

impl KnownLogs {
    pub fn insert(&mut self, name: &str, key: LogKey) {
        self.keys.insert(key.log_id, (name.to_string(), key));
    }

    pub fn key(&self, log_id: &Hash) -> Option<LogKey> {
        self.keys.get(log_id).map(|(_, k)| k.clone())
    }

    pub fn name(&self, log_id: &Hash) -> Option<&str> {
        self.keys.get(log_id).map(|(n, _)| n.as_str())
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A map with two owners: "Example Trust" (a TLS root with a CRL and CAA identifier, and an
    /// S/MIME CA) and "Other CA" (one TLS CA).
    fn map() -> OwnerMap {
        let v5 = "CA Owner,Certificate Name,SHA-256 Fingerprint,Subject Key Identifier,TLS Capable,\
JSON Array of All Full CRL URLs\n\
Example Trust,Root,0101010101010101010101010101010101010101010101010101010101010101,AQ==,True,\"[\"\"http://crl.example/r.crl\"\"]\"\n\
Example Trust,Mail,0202020202020202020202020202020202020202020202020202020202020202,Ag==,False,\n\
Other CA,Web,0303030303030303030303030303030303030303030303030303030303030303,Aw==,True,\n";
        let ski = "Subject Key Identifier,SHA-256(Subject Public Key Info)\n\
AQ==,ERERERERERERERERERERERERERERERERERERERERERE=\n\
Ag==,IiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiIiI=\n\
Aw==,MzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzMzM=\n";
        let caa = "Subject,Recognized CAA Domains\nExample Trust,example-trust.test\n";
        let mut b = ctwatch_ccadb::MapBuilder::default();
        for text in [v5, ski, caa] {
            b.add(ctwatch_ccadb::read_report(text.as_bytes()).unwrap());
        }
        b.build().0
    }

    #[test]
    fn an_owner_selects_all_its_issuers_with_their_caa_identifiers_and_crls() {
        let s = select_owner(&map(), "EXAMPLE trust").unwrap();
        assert_eq!(s.owner, "Example Trust");
        assert_eq!(s.issuer_spki_sha256, vec![[0x11; 32], [0x22; 32]]);
        assert_eq!(s.caa_identifiers, vec!["example-trust.test"]);
        assert_eq!(s.crl_urls, vec!["http://crl.example/r.crl"]);
        let err = select_owner(&map(), "Exampel Trust").unwrap_err();
        assert_eq!(
            err,
            OwnerSelectError::Unknown { name: "Exampel Trust".into(), suggestion: Some("Example Trust".into()) }
        );
        assert!(err.to_string().contains("did you mean \"Example Trust\""), "{err}");
        assert!(matches!(
            select_owner(&map(), "Nobody At All"),
            Err(OwnerSelectError::Unknown { suggestion: None, .. })
        ));
    }

    #[test]
    fn watch_all_tls_makes_one_ca_per_owner_and_leaves_explicit_issuers_alone() {
        let (cas, crls) = tls_capable_cas(&map(), &HashSet::new());
        let names: Vec<&str> = cas.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["Example Trust", "Other CA"]);
        // The S/MIME-only issuer is not watched.
        assert_eq!(cas[0].issuer_spki_sha256, vec![[0x11; 32]]);
        assert_eq!(cas[0].caa_identifiers, vec!["example-trust.test"]);
        assert_eq!(crls, vec!["http://crl.example/r.crl"]);
        let (cas, _) = tls_capable_cas(&map(), &HashSet::from([[0x33; 32]]));
        assert_eq!(cas.len(), 1);
        let w = Watchlist::new(&cas, false);
        assert!(w.is_watched(Some(&[0x11; 32])));
        assert!(!w.is_watched(Some(&[0x22; 32])));
    }

    #[test]
    fn empty_watchlist_watches_everything_otherwise_only_listed() {
        let w = Watchlist::new(&[], false);
        assert!(w.is_watched(None));
        let ca = CaSettings {
            name: "X".into(),
            issuer_spki_sha256: vec![[1; 32]],
            issuer_certs: vec![],
            caa_identifiers: vec![],
        };
        let w = Watchlist::new(&[ca], false);
        assert!(w.is_watched(Some(&[1; 32])));
        assert!(!w.is_watched(Some(&[2; 32])));
        assert!(!w.is_watched(None));
        assert_eq!(w.ca_for(&[1; 32]).map(|c| c.name.as_str()), Some("X"));
    }
}
