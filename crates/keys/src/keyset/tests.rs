use super::*;
use crate::testkeys;
use ctwatch_cert::der;

fn entry(fp: KeyFingerprints, source: KeySource, learned_at: i64) -> CompromisedKey {
    CompromisedKey { fingerprints: fp, source, learned_at, evidence: serde_json::json!({ "t": learned_at }) }
}

fn crl_source(issuer: u8, serial: &[u8], revocation_time: i64) -> KeySource {
    KeySource::Crl {
        issuer_spki_sha256: [issuer; 32],
        crl_url: "http://crl.example/ca.crl".to_owned(),
        serial: serial.to_vec(),
        revocation_time,
    }
}

/// The same RSA key with rsaEncryption parameters absent instead of NULL: another SPKI hash,
/// the same material hash.
fn rsa_spki_without_null(modulus: &[u8], exponent: &[u8]) -> Vec<u8> {
    let canonical = crate::spki::rsa_spki(modulus, exponent);
    let with_null = der::read_tlv(&canonical).unwrap().0;
    let mut r = der::Reader::new(with_null.content);
    let _alg = r.read(der::TAG_SEQUENCE).unwrap();
    let bits = r.read(der::TAG_BIT_STRING).unwrap();
    let mut alg = Vec::new();
    der::write_tlv(&mut alg, der::TAG_OID, crate::spki::OID_RSA);
    let mut body = Vec::new();
    der::write_tlv(&mut body, der::TAG_SEQUENCE, &alg);
    body.extend_from_slice(bits.raw);
    let mut out = Vec::new();
    der::write_tlv(&mut out, der::TAG_SEQUENCE, &body);
    out
}

#[test]
fn fingerprints_match_cert_facts_for_generated_certs() {
    let ca = testkeys::test_ca("Fingerprint CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    for alg in
        [&rcgen::PKCS_ECDSA_P256_SHA256, &rcgen::PKCS_ECDSA_P384_SHA384, &rcgen::PKCS_ED25519, &rcgen::PKCS_RSA_SHA256]
    {
        let key = testkeys::key_for(alg);
        let cert = testkeys::leaf(&ca, "fp.example", &key, &[0x11]);
        let facts = ctwatch_cert::facts::cert_facts(&cert).unwrap();
        let spki = ctwatch_cert::facts::spki_der_of_cert(&cert).unwrap();
        let fp = KeyFingerprints::from_spki_der(&spki).unwrap();
        assert_eq!(fp, KeyFingerprints::from_cert_facts(&facts), "{alg:?}");
        assert!(fp.material_sha256.is_some());
        // rcgen's public_key_der is the same SPKI.
        assert_eq!(fp.spki_sha256, ctwatch_ct::sha256(&rcgen::PublicKeyData::subject_public_key_info(&key)));
    }
}

#[test]
fn fingerprints_match_cert_facts_for_real_certs() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/google_ct_python_testdata") else { return };
    let mut compared = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let ders: Vec<Vec<u8>> = match path.extension().and_then(|e| e.to_str()) {
            Some("der") => vec![bytes],
            Some("pem") => {
                x509_parser::pem::Pem::iter_from_buffer(&bytes).filter_map(|p| p.ok()).map(|p| p.contents).collect()
            }
            _ => continue,
        };
        for der in ders {
            let Ok(facts) = ctwatch_cert::facts::cert_facts(&der) else { continue };
            let spki = ctwatch_cert::facts::spki_der_of_cert(&der).unwrap();
            match KeyFingerprints::from_spki_der(&spki) {
                Ok(fp) => assert_eq!(fp, KeyFingerprints::from_cert_facts(&facts), "{}", path.display()),
                Err(_) => assert_eq!(facts.key_material_sha256, None, "{}", path.display()),
            }
            compared += 1;
        }
    }
    assert!(compared >= 25, "only {compared} certificates compared");
}

#[test]
fn insert_outcomes_and_earliest_time() {
    let mut set = CompromisedKeySet::new();
    let fp = KeyFingerprints { spki_sha256: [1; 32], material_sha256: Some([2; 32]) };
    assert_eq!(set.insert(entry(fp, crl_source(9, &[1], 100), 500)), InsertOutcome::NewKey);
    assert_eq!(set.insert(entry(fp, crl_source(9, &[1], 100), 600)), InsertOutcome::Known);
    assert_eq!(set.insert(entry(fp, crl_source(9, &[1], 100), 400)), InsertOutcome::Earlier);
    assert_eq!(set.len(), 1);
    assert_eq!(set.iter().next().unwrap().learned_at, 400);
    assert_eq!(set.iter().next().unwrap().evidence, serde_json::json!({ "t": 400 }));
    assert_eq!(set.insert(entry(fp, KeySource::Manual, 700)), InsertOutcome::NewSource);
    assert_eq!(set.insert(entry(fp, KeySource::Import { file: "a.txt".into() }, 50)), InsertOutcome::NewSource);
    assert_eq!(set.len(), 3);
    // Earliest first.
    let found = set.lookup(&fp);
    assert_eq!(found.iter().map(|k| k.learned_at).collect::<Vec<_>>(), vec![50, 400, 700]);
    // Known by material only (another encoding): a new source, not a new key.
    let other_encoding = KeyFingerprints { spki_sha256: [3; 32], material_sha256: Some([2; 32]) };
    assert_eq!(set.insert(entry(other_encoding, KeySource::Manual, 800)), InsertOutcome::NewSource);
    assert!(!set.is_empty());
}

#[test]
fn hash_only_key_gains_its_material_hash() {
    let mut set = CompromisedKeySet::new();
    let source = KeySource::Import { file: "pwned.txt".into() };
    let hash_only = KeyFingerprints::from_spki_sha256([5; 32]);
    assert_eq!(set.insert(entry(hash_only, source.clone(), 10)), InsertOutcome::NewKey);
    let full = KeyFingerprints { spki_sha256: [5; 32], material_sha256: Some([6; 32]) };
    // Nothing matched material [6; 32] before, so stored certificates must be re-checked.
    assert_eq!(set.insert(entry(full, source.clone(), 20)), InsertOutcome::NewKey);
    assert_eq!(set.len(), 1);
    let reencoded = KeyFingerprints { spki_sha256: [7; 32], material_sha256: Some([6; 32]) };
    assert_eq!(set.lookup(&reencoded).len(), 1);
    assert_eq!(set.insert(entry(full, source, 30)), InsertOutcome::Known);
}

#[test]
fn lookup_matches_reencoded_rsa_keys_by_material() {
    let modulus = [0xc5u8; 256];
    let canonical = crate::spki::rsa_spki(&modulus, &[1, 0, 1]);
    let variant = rsa_spki_without_null(&modulus, &[1, 0, 1]);
    let e3 = crate::spki::rsa_spki(&modulus, &[3]);
    let a = KeyFingerprints::from_spki_der(&canonical).unwrap();
    let b = KeyFingerprints::from_spki_der(&variant).unwrap();
    let c = KeyFingerprints::from_spki_der(&e3).unwrap();
    assert_ne!(a.spki_sha256, b.spki_sha256);
    assert_eq!(a.material_sha256, b.material_sha256);
    assert_eq!(a.material_sha256, c.material_sha256);
    let mut set = CompromisedKeySet::new();
    set.insert(entry(a, KeySource::Manual, 1));
    assert_eq!(set.lookup(&b).len(), 1);
    assert_eq!(set.lookup(&c).len(), 1);
    let unrelated = KeyFingerprints::from_spki_der(&crate::spki::rsa_spki(&[0xc7; 256], &[1, 0, 1])).unwrap();
    assert!(set.lookup(&unrelated).is_empty());
    // A key known only by its SPKI hash does not match re-encodings.
    let mut hash_only = CompromisedKeySet::new();
    hash_only.insert(entry(KeyFingerprints::from_spki_sha256(a.spki_sha256), KeySource::Manual, 1));
    assert_eq!(hash_only.lookup(&a).len(), 1);
    assert!(hash_only.lookup(&b).is_empty());
}

#[test]
fn from_spki_der_rejects_garbage() {
    assert!(KeyFingerprints::from_spki_der(&[]).is_err());
    assert!(KeyFingerprints::from_spki_der(&[0x30, 0x03, 0x02, 0x01]).is_err());
    // An RSA key with a negative exponent still has its modulus hash, like CertFacts.
    let mut numbers = Vec::new();
    der::write_tlv(&mut numbers, der::TAG_INTEGER, &[0x00, 0xc1, 0x01]);
    der::write_tlv(&mut numbers, der::TAG_INTEGER, &[0x81]);
    let mut key = Vec::new();
    der::write_tlv(&mut key, der::TAG_SEQUENCE, &numbers);
    let spki = {
        let mut out = Vec::new();
        let mut alg = Vec::new();
        der::write_tlv(&mut alg, der::TAG_OID, crate::spki::OID_RSA);
        alg.extend_from_slice(&[5, 0]);
        let mut body = Vec::new();
        der::write_tlv(&mut body, der::TAG_SEQUENCE, &alg);
        let mut bits = vec![0];
        bits.extend_from_slice(&key);
        der::write_tlv(&mut body, der::TAG_BIT_STRING, &bits);
        der::write_tlv(&mut out, der::TAG_SEQUENCE, &body);
        out
    };
    let fp = KeyFingerprints::from_spki_der(&spki).unwrap();
    assert_eq!(fp.material_sha256, Some(ctwatch_ct::sha256(&[0xc1, 0x01])));
}

#[test]
fn classify_reuse_itruschina_pattern() {
    // 2018: CA revoked serial 01 as keyCompromise; ctwatch saw the CRL in 2019.
    let key = KeyFingerprints { spki_sha256: [1; 32], material_sha256: Some([2; 32]) };
    let mut set = CompromisedKeySet::new();
    set.insert(entry(key, crl_source(9, &[1], 1_545_000_000), 1_550_000_000));
    let matches = set.lookup(&key);
    // A 2020 certificate from the same issuer with the same key: a confirmed BR violation.
    let ctx =
        ReuseContext { issuer_spki_sha256: [9; 32], same_ca_issuers: &[], serial: &[2], not_before: 1_600_000_000 };
    let a = classify_reuse(&ctx, &matches).unwrap();
    assert_eq!(a.class, ReuseClass::BrViolation);
    assert!(a.confirmed);
    assert_eq!(a.known_since, 1_545_000_000);
    assert_eq!(a.matches, 1);
    // Between revocationDate and ctwatch's sighting: still a violation by the CA's own date,
    // but not confirmed by ctwatch.
    let ctx2 = ReuseContext { not_before: 1_548_000_000, ..ctx };
    let a = classify_reuse(&ctx2, &matches).unwrap();
    assert_eq!((a.class, a.confirmed), (ReuseClass::BrViolation, false));
    // Issued before the revocation: suspect (the cert predates the compromise record).
    let ctx3 = ReuseContext { not_before: 1_545_000_000, ..ctx };
    assert_eq!(classify_reuse(&ctx3, &matches).unwrap().class, ReuseClass::Suspect);
    // Another issuing CA of the same CA owner counts as the same CA.
    let ctx4 = ReuseContext { issuer_spki_sha256: [8; 32], same_ca_issuers: &[[9; 32]], ..ctx };
    assert_eq!(classify_reuse(&ctx4, &matches).unwrap().class, ReuseClass::BrViolation);
    // An unrelated CA: suspect.
    let ctx5 = ReuseContext { issuer_spki_sha256: [7; 32], same_ca_issuers: &[[6; 32]], ..ctx };
    let a = classify_reuse(&ctx5, &matches).unwrap();
    assert_eq!((a.class, a.known_since), (ReuseClass::Suspect, 1_550_000_000));
    // The revoked certificate itself is not reuse.
    let own = ReuseContext { serial: &[1], ..ctx };
    assert_eq!(classify_reuse(&own, &matches), None);
    // Non-CRL sources are suspect even when learned long before.
    let mut set = CompromisedKeySet::new();
    set.insert(entry(key, KeySource::Import { file: "pwnedkeys.txt".into() }, 1_000));
    set.insert(entry(key, KeySource::WeakKey { check: crate::weak::WeakCheck::Roca }, 2_000));
    let a = classify_reuse(&ctx, &set.lookup(&key)).unwrap();
    assert_eq!((a.class, a.known_since, a.matches), (ReuseClass::Suspect, 1_000, 2));
    assert_eq!(classify_reuse(&ctx, &[]), None);
}

#[test]
fn set_round_trips_through_json() {
    let mut set = CompromisedKeySet::new();
    let fp = KeyFingerprints { spki_sha256: [0xab; 32], material_sha256: Some([0xcd; 32]) };
    set.insert(entry(fp, crl_source(9, &[0, 0x80], 100), 5));
    set.insert(entry(
        KeyFingerprints::from_spki_sha256([1; 32]),
        KeySource::WeakKey { check: crate::weak::WeakCheck::Fermat },
        6,
    ));
    let json = serde_json::to_value(&set).unwrap();
    assert_eq!(json[0]["fingerprints"]["spki_sha256"], serde_json::json!("ab".repeat(32)));
    assert_eq!(json[0]["source"]["kind"], "crl");
    assert_eq!(json[0]["source"]["serial"], "0080");
    assert_eq!(json[1]["source"], serde_json::json!({ "kind": "weak_key", "check": "fermat" }));
    assert_eq!(json[1]["fingerprints"]["material_sha256"], serde_json::Value::Null);
    let back: CompromisedKeySet = serde_json::from_value(json).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(back.lookup(&fp).len(), 1);
    assert_eq!(back.lookup(&KeyFingerprints { spki_sha256: [0; 32], material_sha256: Some([0xcd; 32]) }).len(), 1);
    assert!(
        serde_json::from_str::<CompromisedKeySet>(
            r#"[{"fingerprints":{"spki_sha256":"zz"},"source":{"kind":"manual"},"learned_at":1,"evidence":null}]"#
        )
        .is_err()
    );
}

#[test]
fn entries_from_crl_and_weak_findings() {
    let crl = crate::crl::ParsedCrl {
        issuer_spki_sha256: [9; 32],
        issuer: "CN=Test CA".into(),
        number: Some(vec![1, 0]),
        this_update: 1_000,
        next_update: Some(2_000),
        idp: None,
        is_delta: false,
        entries: vec![
            crate::crl::RevokedEntry { serial: vec![1], revoked_at: 900, reason: Some(1), invalidity_date: Some(800) },
            crate::crl::RevokedEntry { serial: vec![2], revoked_at: 950, reason: Some(4), invalidity_date: None },
        ],
    };
    let kc: Vec<_> = crl.key_compromise_entries().collect();
    assert_eq!(kc.len(), 1);
    let fp = KeyFingerprints { spki_sha256: [1; 32], material_sha256: Some([2; 32]) };
    let key = CompromisedKey::from_crl_entry(&crl, "http://crl.example/a.crl", kc[0], fp, 1_100);
    assert_eq!(
        key.source,
        KeySource::Crl {
            issuer_spki_sha256: [9; 32],
            crl_url: "http://crl.example/a.crl".into(),
            serial: vec![1],
            revocation_time: 900
        }
    );
    assert_eq!(key.evidence["crl_number"], "256");
    assert_eq!(key.evidence["invalidity_date"], 800);
    let finding =
        crate::weak::WeakFinding { check: crate::weak::WeakCheck::Fermat, factor: Some(vec![3]), detail: "d".into() };
    let weak = CompromisedKey::from_weak_finding(&finding, fp, 5).unwrap();
    assert_eq!(weak.source, KeySource::WeakKey { check: crate::weak::WeakCheck::Fermat });
    assert_eq!(weak.evidence["factor"], "03");
    let warning =
        crate::weak::WeakFinding { check: crate::weak::WeakCheck::Exponent, factor: None, detail: "e".into() };
    assert_eq!(CompromisedKey::from_weak_finding(&warning, fp, 5), None);
}
