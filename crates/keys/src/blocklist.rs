//! Blocklists of keys whose private keys are public (Debian weak keys, published example
//! keys, leaked keys), for keys that no arithmetic check can recognise.
//!
//! ctwatch ships no list: Debian's `openssl-blacklist` package is not in the current Debian
//! release, and the badkeys list is downloaded separately. [`KeyBlocklist`] loads what the
//! operator provides:
//!
//! - fingerprint lines ([`KeyBlocklist::add_fingerprint_lines`]), told apart by length:
//!   64 hex digits = SPKI SHA-256, 40 = SPKI SHA-1, 20 = a Debian `openssl-blacklist` entry
//!   (the last 20 hex digits of SHA-1 over `Modulus=<upper-case hex modulus>\n`, as
//!   `openssl rsa -noout -modulus` prints it); `#` comments and blank lines are skipped;
//! - the badkeys `blocklist.dat` ([`KeyBlocklist::add_badkeys_blocklist`]): sorted 16-byte
//!   records of a 120-bit truncated SHA-256 ("BKHASH120") and a one-byte list id. The hash is
//!   over the RSA modulus without leading zeros (so it is a prefix of the RSA material hash)
//!   or over an ECDSA key's x coordinate without leading zeros. badkeys' Ed25519 and other
//!   key encodings are not matched.

use std::collections::HashSet;

use ctwatch_ct::Hash;

use crate::import::ImportProblem;
use crate::spki::{self, PublicKey};

/// Which list a key was found on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "list", rename_all = "snake_case")]
pub enum BlocklistHit {
    /// An SPKI SHA-256 fingerprint line.
    SpkiSha256,
    /// An SPKI SHA-1 fingerprint line.
    SpkiSha1,
    /// A Debian openssl-blacklist entry (CVE-2008-0166).
    DebianWeakKey,
    /// The badkeys blocklist, with its list id (see badkeys' `badkeysdata.json`).
    Badkeys {
        /// The list id byte.
        id: u8,
    },
}

/// Why a badkeys blocklist was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
pub enum BlocklistError {
    /// The size is not a multiple of 16.
    #[error("badkeys blocklist is {0} bytes, not a multiple of 16")]
    BadLength(usize),
    /// The records are not sorted.
    #[error("badkeys blocklist record {0} is out of order")]
    Unsorted(usize),
}

/// Loaded blocklists.
#[derive(Debug, Clone, Default)]
pub struct KeyBlocklist {
    spki_sha256: HashSet<Hash>,
    spki_sha1: HashSet<[u8; 20]>,
    debian: HashSet<[u8; 10]>,
    badkeys: Vec<[u8; 16]>,
}

/// SHA-256 truncated to 120 bits of a number given as big-endian bytes.
fn bkhash120(number: &[u8]) -> [u8; 15] {
    let digest = ctwatch_ct::sha256(spki::magnitude(number));
    let mut out = [0u8; 15];
    out.copy_from_slice(digest.get(..15).unwrap_or(&[0; 15]));
    out
}

/// The Debian openssl-blacklist entry of an RSA modulus.
fn debian_entry(modulus: &[u8]) -> [u8; 10] {
    let line = format!("Modulus={}\n", hex::encode_upper(spki::magnitude(modulus)));
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, line.as_bytes());
    let mut out = [0u8; 10];
    out.copy_from_slice(digest.as_ref().get(10..20).unwrap_or(&[0; 10]));
    out
}

/// The x coordinate of an EC point (uncompressed or compressed encoding).
fn ec_x(point: &[u8]) -> Option<&[u8]> {
    match point.split_first()? {
        (4, coords) if coords.len() % 2 == 0 => coords.get(..coords.len() / 2),
        (2 | 3, x) => Some(x),
        _ => None,
    }
}

impl KeyBlocklist {
    /// An empty blocklist.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries loaded, over all lists.
    pub fn len(&self) -> usize {
        self.spki_sha256.len() + self.spki_sha1.len() + self.debian.len() + self.badkeys.len()
    }

    /// Whether nothing is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Load fingerprint lines (see the module documentation); bad lines are returned, not fatal.
    pub fn add_fingerprint_lines(&mut self, text: &str) -> Vec<ImportProblem> {
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let content = line.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let ok = match content.len() {
                64 => {
                    let mut h = [0u8; 32];
                    hex::decode_to_slice(content, &mut h).map(|()| self.spki_sha256.insert(h)).is_ok()
                }
                40 => {
                    let mut h = [0u8; 20];
                    hex::decode_to_slice(content, &mut h).map(|()| self.spki_sha1.insert(h)).is_ok()
                }
                20 => {
                    let mut h = [0u8; 10];
                    hex::decode_to_slice(content, &mut h).map(|()| self.debian.insert(h)).is_ok()
                }
                _ => false,
            };
            if !ok {
                problems.push(ImportProblem {
                    line: i + 1,
                    message: "expected 64, 40 or 20 hex digits (SPKI SHA-256, SPKI SHA-1, Debian entry)".to_owned(),
                });
            }
        }
        problems
    }

    /// Load a badkeys `blocklist.dat`; returns the number of records.
    pub fn add_badkeys_blocklist(&mut self, data: &[u8]) -> Result<usize, BlocklistError> {
        if !data.len().is_multiple_of(16) {
            return Err(BlocklistError::BadLength(data.len()));
        }
        let mut records = Vec::with_capacity(data.len() / 16);
        for (i, chunk) in data.chunks_exact(16).enumerate() {
            let mut r = [0u8; 16];
            r.copy_from_slice(chunk);
            if records.last().is_some_and(|prev: &[u8; 16]| prev > &r) {
                return Err(BlocklistError::Unsorted(i));
            }
            records.push(r);
        }
        let n = records.len();
        self.badkeys.extend(records);
        self.badkeys.sort_unstable();
        Ok(n)
    }

    fn badkeys_lookup(&self, hash: &[u8; 15]) -> Option<u8> {
        let i = self.badkeys.partition_point(|r| r.get(..15).is_some_and(|p| p < hash.as_slice()));
        self.badkeys.get(i).filter(|r| r.get(..15) == Some(hash.as_slice())).and_then(|r| r.get(15).copied())
    }

    /// Look up the key of a DER SPKI on every loaded list.
    pub fn check_spki(&self, spki_der: &[u8]) -> Option<BlocklistHit> {
        if self.spki_sha256.contains(&ctwatch_ct::sha256(spki_der)) {
            return Some(BlocklistHit::SpkiSha256);
        }
        if !self.spki_sha1.is_empty() {
            let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, spki_der);
            if let Ok(h) = <[u8; 20]>::try_from(digest.as_ref())
                && self.spki_sha1.contains(&h)
            {
                return Some(BlocklistHit::SpkiSha1);
            }
        }
        match spki::parse_spki(spki_der).ok()? {
            PublicKey::Rsa { modulus, .. } => {
                if !self.debian.is_empty() && self.debian.contains(&debian_entry(&modulus)) {
                    return Some(BlocklistHit::DebianWeakKey);
                }
                self.badkeys_lookup(&bkhash120(&modulus)).map(|id| BlocklistHit::Badkeys { id })
            }
            PublicKey::Ec { point, .. } => {
                ec_x(&point).and_then(|x| self.badkeys_lookup(&bkhash120(x))).map(|id| BlocklistHit::Badkeys { id })
            }
            _ => None,
        }
    }
}

/// The badkeys record (BKHASH120 and `id`) of a key, for building test lists; `None` for keys
/// badkeys hashing is not implemented for.
pub fn badkeys_record(spki_der: &[u8], id: u8) -> Option<[u8; 16]> {
    let hash = match spki::parse_spki(spki_der).ok()? {
        PublicKey::Rsa { modulus, .. } => bkhash120(&modulus),
        PublicKey::Ec { point, .. } => bkhash120(ec_x(&point)?),
        _ => return None,
    };
    let mut r = [0u8; 16];
    r.get_mut(..15)?.copy_from_slice(&hash);
    *r.get_mut(15)? = id;
    Some(r)
}

/// The Debian openssl-blacklist line (20 hex digits) of an RSA SPKI.
pub fn debian_blacklist_line(spki_der: &[u8]) -> Option<String> {
    match spki::parse_spki(spki_der).ok()? {
        PublicKey::Rsa { modulus, .. } => Some(hex::encode(debian_entry(&modulus))),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
