//! Hostile certificates through the whole pipeline: hand-built DER logged verbatim as x509
//! entries of a watched issuer (through the test log's raw-entry hook), then fetched, verified,
//! decoded, linted and stored by the monitor. Each one must end, in bounded time, either stored
//! (with what is wrong with it visible as lint findings or field errors) or as a malformed-entry
//! record — and the run must neither panic nor stop.

use ctwatch_ct::sth::LogSigner;
use ctwatch_integration::*;
use ctwatch_monitor::LogOutcome;
use ctwatch_store::{FindingFilter, Store as _};
use ctwatch_testlog::{CertFactory, SubscriberKey, TestLog, now_ms, serve_local};
use std::collections::BTreeMap;

/// A DER TLV with a definite length (short or long form).
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = (len as u32).to_be_bytes().into_iter().skip_while(|b| *b == 0).collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

const OID_CN: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
const OID_POLICIES: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x20];
/// 1.3.6.1.4.1.55555.1, a private extension.
const OID_PRIVATE: &[u8] = &[0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x83, 0xb2, 0x03, 0x01];
/// ecdsa-with-SHA256.
const OID_ECDSA_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];

/// A Name with one CN of string type `tag` and raw `value` bytes.
fn name(tag: u8, value: &[u8]) -> Vec<u8> {
    seq(&[tlv(0x31, &seq(&[OID_CN.to_vec(), tlv(tag, value)]))])
}

fn extension(oid: &[u8], value: &[u8]) -> Vec<u8> {
    seq(&[oid.to_vec(), tlv(0x04, value)])
}

/// A SAN extension with these dNSName byte strings.
fn san(names: &[Vec<u8>]) -> Vec<u8> {
    let general_names: Vec<Vec<u8>> = names.iter().map(|n| tlv(0x82, n)).collect();
    extension(OID_SAN, &seq(&general_names))
}

/// `depth` SEQUENCEs, each holding the next, around a NULL.
fn nested(depth: usize) -> Vec<u8> {
    let mut inner = vec![0x05, 0x00];
    for _ in 0..depth {
        inner = tlv(0x30, &inner);
    }
    inner
}

/// What a hostile certificate is built from.
struct Parts {
    serial: Vec<u8>,
    subject: Vec<u8>,
    extensions: Vec<Vec<u8>>,
}

impl Parts {
    fn new(dns_names: &[&str]) -> Parts {
        let names: Vec<Vec<u8>> = dns_names.iter().map(|n| n.as_bytes().to_vec()).collect();
        Parts {
            serial: vec![0x42, 0x13, 0x37, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08],
            subject: name(0x0c, dns_names.first().map_or(&b"hostile"[..], |n| n.as_bytes())),
            extensions: vec![san(&names)],
        }
    }

    /// A certificate of `spki` with an issuer name and validity that look right and a
    /// signature that is only the right shape: nothing in the pipeline verifies it.
    fn build(&self, spki: &[u8]) -> Vec<u8> {
        let algorithm = seq(&[OID_ECDSA_SHA256.to_vec()]);
        let validity = seq(&[tlv(0x17, b"250101000000Z"), tlv(0x17, b"250401000000Z")]);
        let tbs = seq(&[
            tlv(0xa0, &tlv(0x02, &[2])),
            tlv(0x02, &self.serial),
            algorithm.clone(),
            name(0x0c, b"Hostile Issuing CA"),
            validity,
            self.subject.clone(),
            spki.to_vec(),
            tlv(0xa3, &seq(&self.extensions)),
        ]);
        let signature = tlv(0x03, &[&[0u8][..], &seq(&[tlv(0x02, &[0x11; 32]), tlv(0x02, &[0x22; 32])])].concat());
        seq(&[tbs, algorithm, signature])
    }
}

/// The hostile certificates, by name.
fn hostile(spki: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let mut cases = Vec::new();

    let names: Vec<String> = (0..10_000).map(|i| format!("n{i}.many-sans.example")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    cases.push(("sans_10000", Parts::new(&refs).build(spki)));

    let mut p = Parts::new(&["big-extension.example"]);
    p.extensions.push(extension(OID_PRIVATE, &vec![0x41; 100 * 1024]));
    cases.push(("extension_100kb", p.build(spki)));

    // certificatePolicies whose value is 20,000 nested SEQUENCEs (a parser that recurses
    // per level would overflow its stack).
    let mut p = Parts::new(&["deep-policies.example"]);
    p.extensions.push(extension(OID_POLICIES, &nested(20_000)));
    cases.push(("deep_extension", p.build(spki)));

    // Not a certificate at all: 100,000 nested SEQUENCEs.
    cases.push(("deep_certificate", nested(100_000)));

    let mut p = Parts::new(&[]);
    p.subject = name(0x0c, &[b'b', b'a', b'd', 0xff, 0xfe, 0xc3]);
    p.extensions = vec![san(&[b"ok.bad-utf8.example".to_vec(), vec![b'x', 0xff, 0x80, b'.', b'e', b'x']])];
    cases.push(("invalid_utf8", p.build(spki)));

    let mut p = Parts::new(&[]);
    p.extensions = vec![san(&[b"evil.example\0.good.example".to_vec()])];
    p.subject = name(0x0c, b"evil.example\0.good.example");
    cases.push(("nul_in_dnsname", p.build(spki)));

    let mut p = Parts::new(&["negative-serial.example"]);
    p.serial = vec![0x80, 0x01];
    cases.push(("negative_serial", p.build(spki)));

    let mut p = Parts::new(&["huge-serial.example"]);
    p.serial = vec![0x7f; 30];
    cases.push(("huge_serial", p.build(spki)));
    cases
}

/// An RFC 6962 x509 leaf_input for `cert`.
fn x509_leaf_input(cert: &[u8], timestamp_ms: u64) -> Vec<u8> {
    let mut leaf = vec![0u8, 0];
    leaf.extend_from_slice(&timestamp_ms.to_be_bytes());
    leaf.extend_from_slice(&[0, 0]);
    leaf.extend_from_slice(&(cert.len() as u32).to_be_bytes()[1..]);
    leaf.extend_from_slice(cert);
    leaf.extend_from_slice(&[0, 0]);
    leaf
}

/// RFC 6962 x509 extra_data: the chain as a u24 list of u24-length certificates.
fn chain_extra_data(chain: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> =
        chain.iter().flat_map(|c| [&(c.len() as u32).to_be_bytes()[1..], c.as_slice()].concat()).collect();
    [&(body.len() as u32).to_be_bytes()[1..], body.as_slice()].concat()
}

// Catches: a panic or stack overflow in any decoder on the way (the test process dies); an
// unbounded or quadratic parse (the time bound); NUL bytes dropped or names truncated at them
// (certspotter's defence: `evil.example\0.good.example` must not become `evil.example`); SANs
// silently capped; the serial lints removed; a hostile entry dropped without a record (the
// stored + malformed count).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_certificates_are_stored_or_recorded_as_malformed_in_bounded_time() {
    let ca = CertFactory::new("Hostile CA").unwrap();
    let key = SubscriberKey::generate().unwrap();
    let cases = hostile(&key.spki_der());
    let log = TestLog::new("hostile", LogSigner::generate());
    // A normal certificate first and last: ingestion goes on around the hostile ones.
    populate(&[&log], &ca, 3, now_ms() - 3_600_000);
    let mut index_of = BTreeMap::new();
    for (name, der) in &cases {
        let index = log.add_raw_entry(x509_leaf_input(der, now_ms()), chain_extra_data(&ca.chain())).unwrap();
        index_of.insert(index, *name);
    }
    populate(&[&log], &ca, 3, now_ms() - 1_800_000);
    log.publish();
    let server = serve_local(vec![log.clone()]).await.unwrap();

    let dir = tempdir();
    let pem = dir.path().join("ca.pem");
    std::fs::write(&pem, pem_cert(ca.issuer_der())).unwrap();
    let opts = RunOptions {
        extra_toml: format!("[[ca]]\nname = \"Hostile CA\"\nissuers = [\"{}\"]\n", pem.display()),
        ..Default::default()
    };
    let store_file = store_path(dir.path(), "hostile");
    let toml = config_toml(&store_file, &[log_toml(&server, &log, View::Rfc6962, &opts)], &opts);
    let started = std::time::Instant::now();
    let summaries = run_until_caught_up(dir.path(), &toml).await;
    let elapsed = started.elapsed();
    assert_eq!(summaries[0].outcome, LogOutcome::CaughtUp, "{summaries:?}");
    assert_eq!(summaries[0].cursor, log.published_size());
    assert!(elapsed < std::time::Duration::from_secs(60), "{elapsed:?}");

    let store = open_store(&store_file);
    let by_der: BTreeMap<Vec<u8>, &str> = cases.iter().map(|(n, d)| (d.clone(), *n)).collect();
    let mut stored = BTreeMap::new();
    for cert in store.certificates(0, 1000).unwrap() {
        if let Some(name) = by_der.get(&cert.der) {
            stored.insert(*name, cert);
        }
    }
    let malformed: BTreeMap<&str, String> =
        store.malformed_entries(None).unwrap().into_iter().map(|m| (index_of[&m.index], m.error)).collect();
    let outcome: Vec<String> = cases
        .iter()
        .map(|(name, _)| match (stored.get(name), malformed.get(name)) {
            (Some(c), None) => format!("{name}: stored, field errors {:?}", c.facts.field_errors),
            (None, Some(e)) => format!("{name}: malformed: {e}"),
            other => format!("{name}: NEITHER OR BOTH {:?}", other.1),
        })
        .collect();
    let context = outcome.join("\n");
    eprintln!("hostile certificates ({elapsed:?}):\n{context}");
    for (name, _) in &cases {
        assert!(stored.contains_key(name) != malformed.contains_key(name), "{context}");
    }
    // 6 normal certificates besides the hostile ones that were stored.
    assert_eq!(store.certificate_count().unwrap(), 6 + stored.len() as u64, "{context}");

    // The ones that must be stored, and what must be seen in them.
    assert_eq!(stored.get("sans_10000").map(|c| c.facts.dns_names.len()), Some(10_000), "{context}");
    assert!(stored.contains_key("extension_100kb"), "{context}");
    assert!(malformed.contains_key("deep_certificate"), "{context}");
    let nul = &stored.get("nul_in_dnsname").expect("NUL certificate stored").facts;
    assert_eq!(nul.dns_names, vec!["evil.example\\0.good.example".to_string()], "{context}");
    assert!(!nul.field_errors.is_empty(), "{context}");
    let utf8 = &stored.get("invalid_utf8").expect("invalid UTF-8 certificate stored").facts;
    assert_eq!(utf8.dns_names.len(), 2, "{context}");
    assert_eq!(stored.get("negative_serial").map(|c| c.facts.serial.clone()), Some(vec![0x80, 0x01]));
    assert_eq!(stored.get("huge_serial").map(|c| c.facts.serial.len()), Some(30));

    let findings = store
        .findings(&FindingFilter { kind: Some("lint_violation".into()), limit: Some(1000), ..Default::default() })
        .unwrap();
    let lints: std::collections::BTreeSet<&str> = findings.iter().filter_map(|f| f.evidence["lint"].as_str()).collect();
    for lint in
        ["e_serial_number_not_positive", "e_serial_number_longer_than_20_octets", "e_dnsname_bad_character_in_label"]
    {
        assert!(lints.contains(lint), "{lint} missing from {lints:?}\n{context}");
    }
    server.shutdown().await;
}
