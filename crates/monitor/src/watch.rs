//! Which issuers are watched, and what we know about every log's key.

use crate::config::CaSettings;
use ctwatch_ct::Hash;
use ctwatch_ct::sth::LogKey;
use std::collections::HashMap;

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
