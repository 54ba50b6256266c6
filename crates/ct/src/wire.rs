//! RFC 6962 §3 and static-ct-api wire structures (TLS presentation language encoding).

use crate::Hash;

/// A decoding error: what was expected, what was found, at which byte offset.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{what} at offset {offset}: {detail}")]
pub struct DecodeError {
    pub what: &'static str,
    pub offset: usize,
    pub detail: String,
}

/// `LogEntryType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    X509 = 0,
    Precert = 1,
}

/// The signed part of a `TimestampedEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedEntry {
    /// `ASN.1Cert`: a DER certificate.
    X509(Vec<u8>),
    /// `PreCert`: SHA-256 of the issuer's SPKI and the TBSCertificate with the poison removed.
    Precert { issuer_key_hash: Hash, tbs_certificate: Vec<u8> },
}

impl SignedEntry {
    pub fn entry_type(&self) -> EntryType {
        match self {
            SignedEntry::X509(_) => EntryType::X509,
            SignedEntry::Precert { .. } => EntryType::Precert,
        }
    }
}

/// RFC 6962 `TimestampedEntry` (the body of a `MerkleTreeLeaf` of type `timestamped_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampedEntry {
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub signed_entry: SignedEntry,
    /// `CtExtensions`, raw (static-ct-api puts the `leaf_index` extension here).
    pub extensions: Vec<u8>,
}

impl TimestampedEntry {
    /// TLS encoding of the `TimestampedEntry`.
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }

    /// Encoding of the whole `MerkleTreeLeaf` (version 0, leaf type 0, this entry): the
    /// RFC 6962 `leaf_input`, the input of [`crate::merkle::leaf_hash`].
    pub fn encode_leaf_input(&self) -> Vec<u8> {
        todo!()
    }

    /// The static-ct-api `leaf_index` extension value (extension type 0, 5-byte big-endian
    /// index), if present and well formed.
    pub fn leaf_index_extension(&self) -> Option<u64> {
        todo!()
    }
}

/// Decode an RFC 6962 `leaf_input` (`MerkleTreeLeaf`). Rejects versions/leaf types other than
/// 0, unknown entry types, truncated fields and trailing bytes.
pub fn decode_leaf_input(bytes: &[u8]) -> Result<TimestampedEntry, DecodeError> {
    todo!()
}

/// Decoded RFC 6962 `extra_data`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtraData {
    /// For precert entries: the `PrecertChainEntry.pre_certificate` (the full precertificate
    /// with poison, or the precert-signing-CA issued one).
    pub pre_certificate: Option<Vec<u8>>,
    /// `certificate_chain`: issuer first, root last.
    pub chain: Vec<Vec<u8>>,
}

/// Decode `extra_data` for an entry of the given type.
pub fn decode_extra_data(entry_type: EntryType, bytes: &[u8]) -> Result<ExtraData, DecodeError> {
    todo!()
}

/// Encode `extra_data` (used by the test log).
pub fn encode_extra_data(entry_type: EntryType, extra: &ExtraData) -> Vec<u8> {
    todo!()
}

/// A static-ct-api `TileLeaf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLeaf {
    pub entry: TimestampedEntry,
    /// `pre_certificate`, present for precert entries.
    pub pre_certificate: Option<Vec<u8>>,
    /// `certificate_chain`: SHA-256 fingerprints of the chain certificates, issuer first.
    pub chain_fingerprints: Vec<Hash>,
}

impl TileLeaf {
    /// TLS encoding of the `TileLeaf`.
    pub fn encode(&self) -> Vec<u8> {
        todo!()
    }
}

/// Decode a data tile (concatenated `TileLeaf`s, already decompressed). Fails on trailing
/// garbage or a truncated leaf; the caller checks the count against the expected width.
pub fn decode_data_tile(bytes: &[u8]) -> Result<Vec<TileLeaf>, DecodeError> {
    todo!()
}
