//! Helpers shared by ctwatch's fuzz targets and by the `seed` binary that writes their seed
//! corpora.
//!
//! The targets themselves live in `fuzz_targets/`; each feeds libFuzzer's bytes to one parser
//! of untrusted input and checks that it returns (an error is fine, a panic, an overflow, an
//! out-of-memory or a timeout is a bug). Some inputs need structure the fuzzer cannot forge:
//! signatures. This crate therefore carries two fixed test keys, so that the `checkpoint` seeds
//! carry valid signatures and the `crl` target can re-sign whatever TBS the fuzzer produced and
//! reach the code behind the signature check.

use std::sync::OnceLock;

use ctwatch_cert::der;
use ctwatch_ct::sth::{LogKey, LogSigner};
use ctwatch_keys::crl::IssuerKey;
use ring::signature::{Ed25519KeyPair, KeyPair};

/// A P-256 PKCS#8 private key generated for these fuzzers only (with `openssl genpkey`). It
/// signs nothing outside this directory; the `seed` binary uses it to sign checkpoint seeds and
/// the `checkpoint` target verifies with its public half.
const CHECKPOINT_KEY_PKCS8: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420c647c871\
4739fd92017730482701013e35429abfd50e5a23693e1ac7400a9e7aa14403420004ae92fa4205d064f94a669ebd72d359469a20e69ae5854d\
96f8a7b5dbcf9b559667769280db8fdc6c2e2a25e8b9f83ddb2618e8059fce189e378d7b1cec1824ed";

/// The seed of the Ed25519 key of the fixed CRL issuer (any 32 bytes make a key).
const CRL_ISSUER_SEED: [u8; 32] = *b"ctwatch fuzz CRL issuer key seed";

/// The checkpoint origin the `checkpoint` target expects (the Sycamore 2024h2 origin of the
/// real checkpoints in the seed corpus).
pub const CHECKPOINT_ORIGIN: &str = "sycamore.ct.letsencrypt.org/2024h2";

/// DER of the `Name` `CN=ctwatch fuzz issuer`, the subject of the fixed CRL issuer.
pub fn fixed_issuer_name() -> Vec<u8> {
    let mut atv = Vec::new();
    der::write_tlv(&mut atv, der::TAG_OID, &[0x55, 0x04, 0x03]);
    der::write_tlv(&mut atv, 0x0c, b"ctwatch fuzz issuer");
    let mut seq = Vec::new();
    der::write_tlv(&mut seq, der::TAG_SEQUENCE, &atv);
    let mut set = Vec::new();
    der::write_tlv(&mut set, der::TAG_SET, &seq);
    let mut name = Vec::new();
    der::write_tlv(&mut name, der::TAG_SEQUENCE, &set);
    name
}

/// The checkpoint signing key (the fixed P-256 test key).
///
/// # Panics
///
/// Panics if the embedded key does not load, which would be a bug in this file.
pub fn checkpoint_signer() -> LogSigner {
    let pkcs8: Vec<u8> = hex_decode(CHECKPOINT_KEY_PKCS8);
    LogSigner::from_pkcs8(&pkcs8).expect("the embedded fuzz checkpoint key loads")
}

/// The public half of [`checkpoint_signer`], loaded once.
pub fn checkpoint_key() -> &'static LogKey {
    static KEY: OnceLock<LogKey> = OnceLock::new();
    KEY.get_or_init(|| checkpoint_signer().log_key())
}

/// The fixed CRL issuer's Ed25519 key pair.
///
/// # Panics
///
/// Panics if ring rejects a 32-byte seed, which it never does.
pub fn crl_issuer_key_pair() -> &'static Ed25519KeyPair {
    static KEY: OnceLock<Ed25519KeyPair> = OnceLock::new();
    KEY.get_or_init(|| Ed25519KeyPair::from_seed_unchecked(&CRL_ISSUER_SEED).expect("a 32-byte Ed25519 seed"))
}

/// DER `AlgorithmIdentifier` of Ed25519 (RFC 8410: OID 1.3.101.112, no parameters).
pub fn ed25519_algorithm() -> Vec<u8> {
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_SEQUENCE, &[0x06, 0x03, 0x2b, 0x65, 0x70]);
    alg
}

/// DER SubjectPublicKeyInfo of the fixed CRL issuer.
pub fn crl_issuer_spki() -> Vec<u8> {
    let mut bits = vec![0u8];
    bits.extend_from_slice(crl_issuer_key_pair().public_key().as_ref());
    let mut content = ed25519_algorithm();
    der::write_tlv(&mut content, der::TAG_BIT_STRING, &bits);
    let mut spki = Vec::new();
    der::write_tlv(&mut spki, der::TAG_SEQUENCE, &content);
    spki
}

/// The fixed CRL issuer with the subject `name` (DER) and no subjectKeyIdentifier.
pub fn crl_issuer(name: Vec<u8>) -> IssuerKey {
    IssuerKey { subject_der: name, spki_der: crl_issuer_spki(), subject_key_id: None }
}

/// Rebuild `crl_der` as a CRL signed by the fixed issuer: keep its tbsCertList fields except
/// the signature algorithm (replaced by Ed25519) and, when `new_issuer` is given, the issuer
/// name; sign, and return the new CRL with the issuer name in it. `None` when the input has
/// no recognisable tbsCertList (`SEQUENCE { SEQUENCE { [INTEGER] SEQUENCE Name ... } ... }`).
pub fn resign_crl(crl_der: &[u8], new_issuer: Option<&[u8]>) -> Option<(Vec<u8>, Vec<u8>)> {
    let (outer, _) = der::read_tlv(crl_der).ok()?;
    let mut r = der::Reader::new(outer.content);
    let tbs = r.read(der::TAG_SEQUENCE).ok()?;
    let mut t = der::Reader::new(tbs.content);
    let version = t.read_optional(der::TAG_INTEGER).ok()?;
    let _old_algorithm = t.read(der::TAG_SEQUENCE).ok()?;
    let old_issuer = t.read(der::TAG_SEQUENCE).ok()?.raw;
    let issuer = new_issuer.unwrap_or(old_issuer);
    let mut tbs_content = Vec::new();
    if let Some(v) = version {
        tbs_content.extend_from_slice(v.raw);
    }
    tbs_content.extend_from_slice(&ed25519_algorithm());
    tbs_content.extend_from_slice(issuer);
    for field in t {
        tbs_content.extend_from_slice(field.ok()?.raw);
    }
    let mut new_tbs = Vec::new();
    der::write_tlv(&mut new_tbs, der::TAG_SEQUENCE, &tbs_content);
    let signature = crl_issuer_key_pair().sign(&new_tbs);
    let mut bits = vec![0u8];
    bits.extend_from_slice(signature.as_ref());
    let mut content = new_tbs;
    content.extend_from_slice(&ed25519_algorithm());
    der::write_tlv(&mut content, der::TAG_BIT_STRING, &bits);
    let mut crl = Vec::new();
    der::write_tlv(&mut crl, der::TAG_SEQUENCE, &content);
    Some((crl, issuer.to_vec()))
}

/// The `caa_rdata` target's view of its input: up to 8 RDATA blobs and the text after them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaaInput<'a> {
    /// Raw CAA RDATA blobs.
    pub records: Vec<&'a [u8]>,
    /// The certificate name to evaluate (first line of the tail).
    pub name: String,
    /// The CA's CAA identifiers (the other lines of the tail).
    pub identifiers: Vec<String>,
}

/// Split a `caa_rdata` input: byte 0 gives the record count (low 3 bits), each record is a
/// length byte and that many RDATA bytes, and the rest is text whose first line is the name
/// and whose other lines are identifiers. A record cut short by the end of the input takes
/// what is left.
pub fn split_caa_input(data: &[u8]) -> CaaInput<'_> {
    let Some((&count, mut rest)) = data.split_first() else {
        return CaaInput { records: Vec::new(), name: String::new(), identifiers: Vec::new() };
    };
    let mut records = Vec::new();
    for _ in 0..(count & 7) {
        let Some((&len, after)) = rest.split_first() else { break };
        let (record, tail) = after.split_at(usize::from(len).min(after.len()));
        records.push(record);
        rest = tail;
    }
    let text = String::from_utf8_lossy(rest);
    let mut lines = text.split('\n').map(str::to_owned);
    let name = lines.next().unwrap_or_default();
    CaaInput { records, name, identifiers: lines.collect() }
}

/// Encode a `caa_rdata` input (the inverse of [`split_caa_input`]; records over 255 bytes
/// are cut, at most 7 are kept).
pub fn join_caa_input(records: &[Vec<u8>], name: &str, identifiers: &[&str]) -> Vec<u8> {
    let records = records.get(..records.len().min(7)).unwrap_or_default();
    let mut out = vec![u8::try_from(records.len()).unwrap_or(0)];
    for record in records {
        let record = record.get(..record.len().min(255)).unwrap_or(record);
        out.push(u8::try_from(record.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(record);
    }
    out.extend_from_slice(name.as_bytes());
    for id in identifiers {
        out.push(b'\n');
        out.extend_from_slice(id.as_bytes());
    }
    out
}

/// Decode lower-case hex; panics on bad input (used only on the constant above).
fn hex_decode(text: &str) -> Vec<u8> {
    text.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).expect("ASCII hex");
            u8::from_str_radix(digits, 16).expect("hex digit pair")
        })
        .collect()
}
