//! Embedded SCT verification against the real SCTs listed in
//! `sct_vectors/embedded_sct_verification.csv` and the boulder precert/final pairs.

mod common;

use common::Issuers;
use ctwatch_cert::facts::cert_facts;
use ctwatch_cert::identity::{strip_ct_extensions, tbs_of_cert};
use ctwatch_cert::sct::{SctVerdict, precert_sct_signed_data, verify_embedded_scts};
use ctwatch_ct::sth::LogKey;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

struct Fixture {
    root: PathBuf,
    keys: HashMap<[u8; 32], (String, Vec<u8>)>,
    issuers: Issuers,
}

/// Log keys and CCADB issuers, loaded once for all tests in this binary.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            let root = ctwatch_testdata::data_dir("")?;
            let log_lists = ctwatch_testdata::data_dir("log_lists")?;
            let ccadb = ctwatch_testdata::data_dir("ccadb/crtsh_ccadb_data_2026-08")?;
            ctwatch_testdata::data_dir("sct_vectors")?;
            Some(Fixture { root, keys: common::log_keys(&log_lists), issuers: Issuers::load_ccadb(&ccadb) })
        })
        .as_ref()
}

/// Issuer key hash candidates for the certificate at `index` in `certs`: the next certificates
/// in the same file first, then the CCADB.
fn issuer_candidates(fx: &Fixture, certs: &[Vec<u8>], index: usize) -> Vec<[u8; 32]> {
    let leaf = cert_facts(&certs[index]).unwrap();
    let mut local = Issuers::default();
    for der in &certs[index + 1..] {
        local.add(der);
    }
    let mut out = local.candidates(&leaf);
    for h in fx.issuers.candidates(&leaf) {
        if !out.contains(&h) {
            out.push(h);
        }
    }
    out
}

#[derive(Debug)]
struct Row {
    file: String,
    cert_index: usize,
    sct_index: usize,
    log_id: [u8; 32],
    timestamp: u64,
    result: String,
}

fn rows(root: &Path) -> Vec<Row> {
    let text = std::fs::read_to_string(root.join("sct_vectors/embedded_sct_verification.csv")).unwrap();
    let rows = common::parse_csv(&text);
    assert_eq!(rows[0][0], "file");
    rows[1..]
        .iter()
        .map(|r| {
            assert_eq!(r.len(), 9, "{r:?}");
            Row {
                file: r[0].clone(),
                cert_index: r[1].parse().unwrap(),
                sct_index: r[4].parse().unwrap(),
                log_id: common::b64(&r[5]).try_into().unwrap(),
                timestamp: r[7].parse().unwrap(),
                result: r[8].clone(),
            }
        })
        .collect()
}

/// Whether SCT `row` verifies with `ring` for some issuer candidate, using this crate's
/// signed-data construction. `None` when the certificate file is not in the data set.
fn verifies_with_ring(fx: &Fixture, row: &Row) -> Option<bool> {
    let path = fx.root.join(&row.file);
    if !path.exists() {
        return None;
    }
    let certs = common::read_certs(&path);
    let der = &certs[row.cert_index];
    let facts = cert_facts(der).unwrap();
    let sct = &facts.embedded_scts[row.sct_index];
    assert_eq!((sct.log_id, sct.timestamp), (row.log_id, row.timestamp), "{}", row.file);
    let Some((_, key)) = fx.keys.get(&sct.log_id) else { return Some(false) };
    let tbs = strip_ct_extensions(&tbs_of_cert(der).unwrap()).unwrap();
    let candidates = issuer_candidates(fx, &certs, row.cert_index);
    Some(
        candidates.iter().any(|ikh| common::ring_verify(key, &precert_sct_signed_data(sct, ikh, &tbs), &sct.signature)),
    )
}

/// Every VALID SCT of the vector file that is present in the data verifies; the signed data
/// comes from this crate, the signature check from `ring` directly.
#[test]
fn valid_vectors_verify_signed_data() {
    let Some(fx) = fixture() else { return };
    let rows = rows(&fx.root);
    assert_eq!(rows.len(), 338);
    let (mut verified, mut missing_file, mut failed) = (0, 0, Vec::new());
    for row in rows.iter().filter(|r| r.result == "VALID") {
        match verifies_with_ring(fx, row) {
            None => missing_file += 1,
            Some(true) => verified += 1,
            Some(false) => failed.push(format!("{} #{}", row.file, row.sct_index)),
        }
    }
    eprintln!("VALID rows: {verified} verified, {missing_file} with the certificate file absent");
    assert!(failed.is_empty(), "did not verify: {failed:#?}");
    assert_eq!(verified + missing_file, 57);
    assert!(verified >= 40, "{verified}");
}

/// The same rows through the public [`verify_embedded_scts`] with `ctwatch_ct`'s `LogKey`.
#[test]
fn valid_vectors_verify_through_log_keys() {
    let Some(fx) = fixture() else { return };
    let key_for = |id: &[u8; 32]| fx.keys.get(id).and_then(|(_, spki)| LogKey::from_spki_der(spki).ok());
    let (mut verified, mut files) = (0, std::collections::BTreeSet::new());
    for row in rows(&fx.root).iter().filter(|r| r.result == "VALID") {
        let path = fx.root.join(&row.file);
        if !path.exists() {
            continue;
        }
        let certs = common::read_certs(&path);
        let candidates = issuer_candidates(fx, &certs, row.cert_index);
        let ok = candidates.iter().any(|ikh| {
            let verdicts = verify_embedded_scts(&certs[row.cert_index], ikh, &key_for).unwrap();
            matches!(verdicts[row.sct_index], SctVerdict::Valid { log_id, timestamp } if log_id == row.log_id && timestamp == row.timestamp)
        });
        assert!(ok, "{} SCT {} did not verify", row.file, row.sct_index);
        verified += 1;
        files.insert(row.file.clone());
    }
    eprintln!("verify_embedded_scts: {verified} VALID SCTs in {} files verified", files.len());
    assert!(verified >= 40, "{verified}");
}

/// Boulder's good final certificate: both SCTs (Nimbus2023, Argon2023) verify with Let's
/// Encrypt R3's key; the altered bad final certificate's SCTs do not.
#[test]
fn boulder_final_scts() {
    let Some(fx) = fixture() else { return };
    let key_for = |id: &[u8; 32]| fx.keys.get(id).and_then(|(_, spki)| LogKey::from_spki_der(spki).ok());
    let dir = fx.root.join("certs_real_world/boulder_precert_final_pairs");
    let good = &common::read_certs(&dir.join("good/final.pem"))[0];
    let bad = &common::read_certs(&dir.join("bad/final.pem"))[0];

    let r3 = fx.issuers.candidates(&cert_facts(good).unwrap());
    assert_eq!(r3.len(), 1, "exactly one Let's Encrypt R3 key");
    let verdicts = verify_embedded_scts(good, &r3[0], &key_for).unwrap();
    assert_eq!(verdicts.len(), 2);
    let names: Vec<_> = verdicts
        .iter()
        .map(|v| match v {
            SctVerdict::Valid { log_id, .. } => fx.keys[log_id].0.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["Cloudflare 'Nimbus2023' Log", "Google 'Argon2023' log"]);

    // Wrong issuer key: both invalid.
    let wrong = [7u8; 32];
    let verdicts = verify_embedded_scts(good, &wrong, &key_for).unwrap();
    assert!(verdicts.iter().all(|v| matches!(v, SctVerdict::Invalid { .. })), "{verdicts:?}");

    // The bad pair: known logs, R3's key, and still invalid.
    let bad_issuer = fx.issuers.candidates(&cert_facts(bad).unwrap());
    assert_eq!(bad_issuer, r3);
    let verdicts = verify_embedded_scts(bad, &r3[0], &key_for).unwrap();
    assert_eq!(verdicts.len(), 2);
    assert!(verdicts.iter().all(|v| matches!(v, SctVerdict::Invalid { .. })), "{verdicts:?}");

    // No log keys at all: every SCT is from an unknown log.
    let verdicts = verify_embedded_scts(good, &r3[0], &|_| None).unwrap();
    assert!(verdicts.iter().all(|v| matches!(v, SctVerdict::UnknownLog { .. })), "{verdicts:?}");
}

/// How the INVALID rows fare (they are not guaranteed negatives, so this only reports).
#[test]
fn invalid_vectors_report() {
    let Some(fx) = fixture() else { return };
    let mut counts: HashMap<Option<bool>, usize> = HashMap::new();
    for row in rows(&fx.root).iter().filter(|r| r.result == "INVALID") {
        *counts.entry(verifies_with_ring(fx, row)).or_default() += 1;
    }
    eprintln!("INVALID rows: {counts:?} (None = file absent, true = verified here)");
    assert_eq!(counts.get(&Some(true)), None, "an SCT the oracle marked INVALID verifies here");
}
