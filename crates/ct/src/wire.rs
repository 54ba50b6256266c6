//! RFC 6962 §3 and static-ct-api wire structures (TLS presentation language encoding).
//!
//! All integers are big-endian. Variable-length vectors carry a length prefix of 1, 2 or 3
//! bytes (`u8`, `u16`, `u24`) counting *bytes*, not elements. Decoders are strict: unknown
//! versions or entry types, truncated fields and trailing bytes are errors, and every error
//! names the field and the byte offset where decoding stopped. No decoder panics on any input.

use crate::Hash;

/// A decoding error: what was expected, what was found, at which byte offset.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone)]
#[error("{what} at offset {offset}: {detail}")]
pub struct DecodeError {
    /// The field or structure being decoded.
    pub what: &'static str,
    /// Byte offset in the input where the problem was found.
    pub offset: usize,
    /// What was expected and what was found.
    pub detail: String,
}

/// `LogEntryType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryType {
    /// `x509_entry`: a final certificate.
    X509 = 0,
    /// `precert_entry`: a precertificate's TBSCertificate.
    Precert = 1,
}

impl EntryType {
    /// The `LogEntryType` code for `value`, if known.
    pub fn from_u16(value: u16) -> Option<Self> {
        match value {
            0 => Some(EntryType::X509),
            1 => Some(EntryType::Precert),
            _ => None,
        }
    }
}

/// The signed part of a `TimestampedEntry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedEntry {
    /// `ASN.1Cert`: a DER certificate.
    X509(Vec<u8>),
    /// `PreCert`: SHA-256 of the issuer's SPKI and the TBSCertificate with the poison removed.
    Precert {
        /// SHA-256 of the DER SubjectPublicKeyInfo of the (final) issuer.
        issuer_key_hash: Hash,
        /// DER TBSCertificate without the poison extension.
        tbs_certificate: Vec<u8>,
    },
}

impl SignedEntry {
    /// The entry type this signed entry belongs to.
    pub fn entry_type(&self) -> EntryType {
        match self {
            SignedEntry::X509(_) => EntryType::X509,
            SignedEntry::Precert { .. } => EntryType::Precert,
        }
    }
}

/// The static-ct-api `leaf_index` extension type.
pub const LEAF_INDEX_EXTENSION_TYPE: u8 = 0;

/// RFC 6962 `TimestampedEntry` (the body of a `MerkleTreeLeaf` of type `timestamped_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampedEntry {
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    /// The certificate or precertificate part.
    pub signed_entry: SignedEntry,
    /// `CtExtensions`, raw (static-ct-api puts the `leaf_index` extension here).
    pub extensions: Vec<u8>,
}

impl TimestampedEntry {
    /// TLS encoding of the `TimestampedEntry`.
    ///
    /// # Panics
    ///
    /// Panics if a field is too long for its length prefix (a certificate of 16 MiB or more,
    /// extensions of 64 KiB or more): such an entry cannot exist on the wire, so building one
    /// is a caller bug.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.timestamp.to_be_bytes());
        out.extend_from_slice(&(self.signed_entry.entry_type() as u16).to_be_bytes());
        match &self.signed_entry {
            SignedEntry::X509(cert) => put_u24_bytes(out, cert),
            SignedEntry::Precert { issuer_key_hash, tbs_certificate } => {
                out.extend_from_slice(issuer_key_hash);
                put_u24_bytes(out, tbs_certificate);
            }
        }
        put_u16_bytes(out, &self.extensions);
    }

    /// Encoding of the whole `MerkleTreeLeaf` (version 0, leaf type 0, this entry): the
    /// RFC 6962 `leaf_input`, the input of [`crate::merkle::leaf_hash`].
    pub fn encode_leaf_input(&self) -> Vec<u8> {
        let mut out = vec![0u8, 0u8];
        self.encode_into(&mut out);
        out
    }

    /// The RFC 6962 leaf hash of this entry: `leaf_hash(encode_leaf_input())`.
    pub fn leaf_hash(&self) -> Hash {
        crate::merkle::leaf_hash(&self.encode_leaf_input())
    }

    /// The static-ct-api `leaf_index` extension value (extension type 0, 5-byte big-endian
    /// index), if present and well formed. `None` when the extensions do not parse as a list
    /// of `extension_type u8 | extension_data<0..2^16-1>` or the first `leaf_index` extension
    /// is not exactly 5 bytes.
    pub fn leaf_index_extension(&self) -> Option<u64> {
        let mut r = Reader::new(&self.extensions);
        while !r.is_empty() {
            let ext_type = r.u8("extension_type").ok()?;
            let data = r.u16_bytes("extension_data").ok()?;
            if ext_type == LEAF_INDEX_EXTENSION_TYPE {
                let bytes: [u8; 5] = data.try_into().ok()?;
                let mut value = 0u64;
                for b in bytes {
                    value = (value << 8) | u64::from(b);
                }
                return Some(value);
            }
        }
        None
    }
}

/// `CtExtensions` holding only a static-ct-api `leaf_index` extension for `index` (the low
/// 40 bits of `index` are encoded; larger values cannot occur in a log).
pub fn leaf_index_extensions(index: u64) -> Vec<u8> {
    let mut out = vec![LEAF_INDEX_EXTENSION_TYPE, 0, 5];
    out.extend_from_slice(&index.to_be_bytes()[3..]);
    out
}

/// Decode an RFC 6962 `leaf_input` (`MerkleTreeLeaf`). Rejects versions/leaf types other than
/// 0, unknown entry types, truncated fields and trailing bytes.
pub fn decode_leaf_input(bytes: &[u8]) -> Result<TimestampedEntry, DecodeError> {
    let mut r = Reader::new(bytes);
    let version = r.u8("MerkleTreeLeaf.version")?;
    if version != 0 {
        return Err(r.error_at(0, "MerkleTreeLeaf.version", format!("expected 0 (v1), found {version}")));
    }
    let leaf_type = r.u8("MerkleTreeLeaf.leaf_type")?;
    if leaf_type != 0 {
        return Err(r.error_at(
            1,
            "MerkleTreeLeaf.leaf_type",
            format!("expected 0 (timestamped_entry), found {leaf_type}"),
        ));
    }
    let entry = read_timestamped_entry(&mut r)?;
    r.finish("MerkleTreeLeaf")?;
    Ok(entry)
}

/// Decode a bare `TimestampedEntry` (no trailing bytes allowed).
pub fn decode_timestamped_entry(bytes: &[u8]) -> Result<TimestampedEntry, DecodeError> {
    let mut r = Reader::new(bytes);
    let entry = read_timestamped_entry(&mut r)?;
    r.finish("TimestampedEntry")?;
    Ok(entry)
}

fn read_timestamped_entry(r: &mut Reader<'_>) -> Result<TimestampedEntry, DecodeError> {
    let timestamp = r.u64("TimestampedEntry.timestamp")?;
    let type_offset = r.offset();
    let code = r.u16("TimestampedEntry.entry_type")?;
    let entry_type = EntryType::from_u16(code).ok_or_else(|| {
        r.error_at(
            type_offset,
            "TimestampedEntry.entry_type",
            format!("expected 0 (x509_entry) or 1 (precert_entry), found {code}"),
        )
    })?;
    let signed_entry = match entry_type {
        EntryType::X509 => SignedEntry::X509(r.u24_bytes("ASN.1Cert")?.to_vec()),
        EntryType::Precert => {
            let issuer_key_hash = r.array::<32>("PreCert.issuer_key_hash")?;
            let tbs_certificate = r.u24_bytes("PreCert.tbs_certificate")?.to_vec();
            SignedEntry::Precert { issuer_key_hash, tbs_certificate }
        }
    };
    let extensions = r.u16_bytes("CtExtensions")?.to_vec();
    Ok(TimestampedEntry { timestamp, signed_entry, extensions })
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
    let mut r = Reader::new(bytes);
    let pre_certificate = match entry_type {
        EntryType::X509 => None,
        EntryType::Precert => Some(r.u24_bytes("PrecertChainEntry.pre_certificate")?.to_vec()),
    };
    let list_start = r.offset();
    let list = r.u24_bytes("certificate_chain")?;
    let mut items = Reader::with_base(list, list_start + 3);
    let mut chain = Vec::new();
    while !items.is_empty() {
        chain.push(items.u24_bytes("certificate_chain entry")?.to_vec());
    }
    r.finish("extra_data")?;
    Ok(ExtraData { pre_certificate, chain })
}

/// Encode `extra_data` (used by the test log). For an x509 entry `pre_certificate` is ignored;
/// for a precert entry a missing `pre_certificate` is encoded as an empty one.
///
/// # Panics
///
/// Panics if a certificate or the chain is 16 MiB or longer (a caller bug).
pub fn encode_extra_data(entry_type: EntryType, extra: &ExtraData) -> Vec<u8> {
    let mut out = Vec::new();
    if entry_type == EntryType::Precert {
        put_u24_bytes(&mut out, extra.pre_certificate.as_deref().unwrap_or_default());
    }
    let mut list = Vec::new();
    for cert in &extra.chain {
        put_u24_bytes(&mut list, cert);
    }
    put_u24_bytes(&mut out, &list);
    out
}

/// A static-ct-api `TileLeaf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TileLeaf {
    /// The `TimestampedEntry` whose `MerkleTreeLeaf` is hashed into the tree.
    pub entry: TimestampedEntry,
    /// `pre_certificate`, present for precert entries.
    pub pre_certificate: Option<Vec<u8>>,
    /// `certificate_chain`: SHA-256 fingerprints of the chain certificates, issuer first.
    pub chain_fingerprints: Vec<Hash>,
}

impl TileLeaf {
    /// TLS encoding of the `TileLeaf`. For precert entries a missing `pre_certificate` is
    /// encoded as an empty one; for x509 entries `pre_certificate` is ignored.
    ///
    /// # Panics
    ///
    /// Panics if a field is too long for its length prefix (a caller bug), including more than
    /// 2047 chain fingerprints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.entry.encode();
        if self.entry.signed_entry.entry_type() == EntryType::Precert {
            put_u24_bytes(&mut out, self.pre_certificate.as_deref().unwrap_or_default());
        }
        let fingerprints: Vec<u8> = self.chain_fingerprints.concat();
        put_u16_bytes(&mut out, &fingerprints);
        out
    }
}

/// Decode one `TileLeaf` occupying all of `bytes`.
pub fn decode_tile_leaf(bytes: &[u8]) -> Result<TileLeaf, DecodeError> {
    let mut r = Reader::new(bytes);
    let leaf = read_tile_leaf(&mut r)?;
    r.finish("TileLeaf")?;
    Ok(leaf)
}

fn read_tile_leaf(r: &mut Reader<'_>) -> Result<TileLeaf, DecodeError> {
    let entry = read_timestamped_entry(r)?;
    let pre_certificate = match entry.signed_entry.entry_type() {
        EntryType::X509 => None,
        EntryType::Precert => Some(r.u24_bytes("TileLeaf.pre_certificate")?.to_vec()),
    };
    let chain_start = r.offset();
    let chain = r.u16_bytes("TileLeaf.certificate_chain")?;
    if chain.len() % 32 != 0 {
        return Err(r.error_at(
            chain_start,
            "TileLeaf.certificate_chain",
            format!("length {} is not a multiple of 32-byte fingerprints", chain.len()),
        ));
    }
    let chain_fingerprints = chain.chunks_exact(32).filter_map(|c| Hash::try_from(c).ok()).collect();
    Ok(TileLeaf { entry, pre_certificate, chain_fingerprints })
}

/// Decode a data tile (concatenated `TileLeaf`s, already decompressed). Fails on trailing
/// garbage or a truncated leaf; the caller checks the count against the expected width.
pub fn decode_data_tile(bytes: &[u8]) -> Result<Vec<TileLeaf>, DecodeError> {
    let mut r = Reader::new(bytes);
    let mut leaves = Vec::new();
    while !r.is_empty() {
        leaves.push(read_tile_leaf(&mut r)?);
    }
    Ok(leaves)
}

/// Write `data` with a 2-byte length prefix.
fn put_u16_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let len = u16::try_from(data.len()).expect("field longer than a u16 length prefix allows");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(data);
}

/// Write `data` with a 3-byte length prefix.
fn put_u24_bytes(out: &mut Vec<u8>, data: &[u8]) {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|len| *len < 1 << 24)
        .expect("field longer than a u24 length prefix allows");
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(data);
}

/// A cursor over untrusted bytes; every read checks bounds and reports absolute offsets.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// Offset of `data[0]` in the outermost input, for error messages.
    base: usize,
}

impl<'a> Reader<'a> {
    fn new(data: &'a [u8]) -> Self {
        Self::with_base(data, 0)
    }

    fn with_base(data: &'a [u8], base: usize) -> Self {
        Self { data, pos: 0, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn error_at(&self, offset: usize, what: &'static str, detail: String) -> DecodeError {
        DecodeError { what, offset, detail }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let remaining = self.data.len().saturating_sub(self.pos);
        match self.data.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(slice) => {
                self.pos += n;
                Ok(slice)
            }
            None => Err(DecodeError {
                what,
                offset: self.offset(),
                detail: format!("truncated: need {n} bytes, {remaining} left"),
            }),
        }
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let slice = self.take(N, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(slice);
        Ok(out)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }

    fn u24(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let [a, b, c] = self.array::<3>(what)?;
        Ok(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c))
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(what)?))
    }

    fn u16_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u16(what)?;
        self.take(usize::from(len), what)
    }

    fn u24_bytes(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u24(what)?;
        self.take(len, what)
    }

    fn finish(&self, what: &'static str) -> Result<(), DecodeError> {
        let extra = self.data.len().saturating_sub(self.pos);
        if extra == 0 {
            Ok(())
        } else {
            Err(DecodeError {
                what,
                offset: self.offset(),
                detail: format!("{extra} trailing bytes after the end of the structure"),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x509_entry() -> TimestampedEntry {
        TimestampedEntry {
            timestamp: 1_700_000_000_123,
            signed_entry: SignedEntry::X509(b"\x30\x03\x02\x01\x05 not really a cert".to_vec()),
            extensions: Vec::new(),
        }
    }

    fn precert_entry() -> TimestampedEntry {
        TimestampedEntry {
            timestamp: 42,
            signed_entry: SignedEntry::Precert {
                issuer_key_hash: [7u8; 32],
                tbs_certificate: vec![0x30, 0x01, 0xff, 0x10, 0x20],
            },
            extensions: leaf_index_extensions(1234),
        }
    }

    /// Decoding every strict prefix of `bytes` must fail (never panic).
    fn assert_every_prefix_fails<T: std::fmt::Debug>(bytes: &[u8], decode: impl Fn(&[u8]) -> Result<T, DecodeError>) {
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "prefix of {cut} bytes decoded");
        }
    }

    #[test]
    fn leaf_input_roundtrip_and_layout() {
        for entry in [x509_entry(), precert_entry()] {
            let input = entry.encode_leaf_input();
            assert_eq!(&input[..2], &[0, 0]);
            assert_eq!(&input[2..], entry.encode().as_slice());
            assert_eq!(decode_leaf_input(&input).unwrap(), entry);
            assert_eq!(decode_timestamped_entry(&entry.encode()).unwrap(), entry);
            assert_eq!(entry.leaf_hash(), crate::merkle::leaf_hash(&input));
        }
        // Hand-checked layout of a precert entry.
        let input = precert_entry().encode_leaf_input();
        let mut expected = vec![0, 0];
        expected.extend_from_slice(&42u64.to_be_bytes());
        expected.extend_from_slice(&[0, 1]);
        expected.extend_from_slice(&[7u8; 32]);
        expected.extend_from_slice(&[0, 0, 5, 0x30, 0x01, 0xff, 0x10, 0x20]);
        expected.extend_from_slice(&[0, 8, 0, 0, 5, 0, 0, 0, 0x04, 0xd2]);
        assert_eq!(input, expected);
    }

    #[test]
    fn leaf_input_truncation_and_trailing_bytes_fail() {
        for entry in [x509_entry(), precert_entry()] {
            let input = entry.encode_leaf_input();
            assert_every_prefix_fails(&input, decode_leaf_input);
            let mut long = input.clone();
            long.push(0);
            let err = decode_leaf_input(&long).unwrap_err();
            assert_eq!(err.offset, input.len());
            assert!(err.detail.contains("trailing"), "{err}");
        }
    }

    #[test]
    fn leaf_input_rejects_unknown_codes() {
        let input = x509_entry().encode_leaf_input();
        let mut bad = input.clone();
        bad[0] = 1;
        assert_eq!(decode_leaf_input(&bad).unwrap_err().what, "MerkleTreeLeaf.version");
        let mut bad = input.clone();
        bad[1] = 1;
        assert_eq!(decode_leaf_input(&bad).unwrap_err().what, "MerkleTreeLeaf.leaf_type");
        let mut bad = input.clone();
        bad[11] = 2; // entry_type low byte
        let err = decode_leaf_input(&bad).unwrap_err();
        assert_eq!((err.what, err.offset), ("TimestampedEntry.entry_type", 10));
    }

    #[test]
    fn leaf_input_length_overrun_fails() {
        let mut input = x509_entry().encode_leaf_input();
        input[12] = 0xff; // u24 certificate length high byte
        let err = decode_leaf_input(&input).unwrap_err();
        assert_eq!(err.what, "ASN.1Cert");
        assert!(err.detail.contains("truncated"));
    }

    #[test]
    fn leaf_index_extension_parsing() {
        assert_eq!(precert_entry().leaf_index_extension(), Some(1234));
        assert_eq!(x509_entry().leaf_index_extension(), None);
        let max = (1u64 << 40) - 1;
        let mut entry = x509_entry();
        entry.extensions = leaf_index_extensions(max);
        assert_eq!(entry.leaf_index_extension(), Some(max));
        // Another extension first, then leaf_index.
        entry.extensions = vec![9, 0, 2, 0xaa, 0xbb];
        entry.extensions.extend(leaf_index_extensions(77));
        assert_eq!(entry.leaf_index_extension(), Some(77));
        // Wrong length, truncated data, truncated header.
        entry.extensions = vec![0, 0, 4, 1, 2, 3, 4];
        assert_eq!(entry.leaf_index_extension(), None);
        entry.extensions = vec![0, 0, 5, 1, 2];
        assert_eq!(entry.leaf_index_extension(), None);
        entry.extensions = vec![0, 0];
        assert_eq!(entry.leaf_index_extension(), None);
        // Only an unrelated extension.
        entry.extensions = vec![1, 0, 5, 0, 0, 0, 0, 1];
        assert_eq!(entry.leaf_index_extension(), None);
    }

    #[test]
    fn extra_data_roundtrip_and_truncation() {
        let x509 = ExtraData { pre_certificate: None, chain: vec![b"issuer".to_vec(), b"root".to_vec()] };
        let bytes = encode_extra_data(EntryType::X509, &x509);
        assert_eq!(bytes, b"\x00\x00\x10\x00\x00\x06issuer\x00\x00\x04root");
        assert_eq!(decode_extra_data(EntryType::X509, &bytes).unwrap(), x509);
        assert_every_prefix_fails(&bytes, |b| decode_extra_data(EntryType::X509, b));

        let precert = ExtraData { pre_certificate: Some(b"precert".to_vec()), chain: vec![b"issuer".to_vec()] };
        let bytes = encode_extra_data(EntryType::Precert, &precert);
        assert_eq!(decode_extra_data(EntryType::Precert, &bytes).unwrap(), precert);
        assert_every_prefix_fails(&bytes, |b| decode_extra_data(EntryType::Precert, b));
        let mut long = bytes.clone();
        long.extend_from_slice(&[0, 0, 0]);
        assert!(decode_extra_data(EntryType::Precert, &long).is_err());

        // Empty chain.
        let empty = ExtraData::default();
        let bytes = encode_extra_data(EntryType::X509, &empty);
        assert_eq!(bytes, vec![0, 0, 0]);
        assert_eq!(decode_extra_data(EntryType::X509, &bytes).unwrap(), empty);
        // A chain entry overrunning the list is an error even if the outer bytes exist.
        let bad = [0, 0, 4, 0, 0, 9, 0xaa, 0, 0, 0, 0, 0];
        let err = decode_extra_data(EntryType::X509, &bad).unwrap_err();
        assert_eq!(err.what, "certificate_chain entry");
        assert_eq!(err.offset, 6);
    }

    fn tile_leaves() -> Vec<TileLeaf> {
        vec![
            TileLeaf {
                entry: precert_entry(),
                pre_certificate: Some(b"precertificate with poison".to_vec()),
                chain_fingerprints: vec![[1u8; 32], [2u8; 32]],
            },
            TileLeaf {
                entry: TimestampedEntry { extensions: leaf_index_extensions(1235), ..x509_entry() },
                pre_certificate: None,
                chain_fingerprints: vec![[3u8; 32]],
            },
            TileLeaf {
                entry: TimestampedEntry { extensions: leaf_index_extensions(1236), ..x509_entry() },
                pre_certificate: None,
                chain_fingerprints: Vec::new(),
            },
        ]
    }

    #[test]
    fn tile_leaf_roundtrip_and_layout() {
        for leaf in tile_leaves() {
            let bytes = leaf.encode();
            assert_eq!(decode_tile_leaf(&bytes).unwrap(), leaf);
            assert!(bytes.starts_with(&leaf.entry.encode()));
            assert_every_prefix_fails(&bytes, decode_tile_leaf);
            let mut long = bytes.clone();
            long.push(0);
            assert!(decode_tile_leaf(&long).is_err());
        }
        let x509 = &tile_leaves()[1];
        let bytes = x509.encode();
        let tail = &bytes[x509.entry.encode().len()..];
        assert_eq!(&tail[..2], &[0, 32]);
    }

    #[test]
    fn data_tile_decoding() {
        let leaves = tile_leaves();
        let tile: Vec<u8> = leaves.iter().flat_map(TileLeaf::encode).collect();
        assert_eq!(decode_data_tile(&tile).unwrap(), leaves);
        assert_eq!(decode_data_tile(&[]).unwrap(), Vec::new());
        // Cutting anywhere except at a leaf boundary is an error.
        let mut boundaries = vec![0usize];
        for leaf in &leaves {
            boundaries.push(boundaries.last().unwrap() + leaf.encode().len());
        }
        for cut in 0..tile.len() {
            let result = decode_data_tile(&tile[..cut]);
            if let Some(count) = boundaries.iter().position(|b| *b == cut) {
                assert_eq!(result.unwrap().len(), count);
            } else {
                assert!(result.is_err(), "cut at {cut} decoded");
            }
        }
        let mut garbage = tile.clone();
        garbage.extend_from_slice(&[0xde, 0xad]);
        assert!(decode_data_tile(&garbage).is_err());
    }

    #[test]
    fn tile_leaf_fingerprint_list_must_be_whole_hashes() {
        let leaf = &tile_leaves()[2];
        let mut bytes = leaf.entry.encode();
        bytes.extend_from_slice(&[0, 31]);
        bytes.extend_from_slice(&[0u8; 31]);
        let err = decode_tile_leaf(&bytes).unwrap_err();
        assert_eq!(err.what, "TileLeaf.certificate_chain");
        assert!(err.detail.contains("multiple of 32"));
    }

    #[test]
    fn entry_type_codes() {
        assert_eq!(EntryType::from_u16(0), Some(EntryType::X509));
        assert_eq!(EntryType::from_u16(1), Some(EntryType::Precert));
        assert_eq!(EntryType::from_u16(2), None);
        assert_eq!(precert_entry().signed_entry.entry_type(), EntryType::Precert);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // A cheap deterministic fuzz: pseudo-random inputs and single-byte mutations of valid
        // encodings go through every decoder without panicking.
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid: Vec<Vec<u8>> = tile_leaves().iter().map(TileLeaf::encode).collect();
        for round in 0..4000 {
            let mut bytes = valid[round % valid.len()].clone();
            let pos = (next() as usize) % bytes.len();
            bytes[pos] = next() as u8;
            if round % 3 == 0 {
                bytes.truncate((next() as usize) % (bytes.len() + 1));
            }
            let _ = decode_leaf_input(&bytes);
            let _ = decode_timestamped_entry(&bytes);
            let _ = decode_tile_leaf(&bytes);
            let _ = decode_data_tile(&bytes);
            let _ = decode_extra_data(EntryType::X509, &bytes);
            let _ = decode_extra_data(EntryType::Precert, &bytes);
            if let Ok(entry) = decode_timestamped_entry(&bytes) {
                let _ = entry.leaf_index_extension();
            }
        }
    }
}
