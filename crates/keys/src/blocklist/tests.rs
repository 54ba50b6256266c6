use super::*;
use crate::testkeys;
use rcgen::PublicKeyData;

#[test]
fn fingerprint_lines() {
    let spki = testkeys::key_for(&rcgen::PKCS_ECDSA_P256_SHA256).subject_public_key_info();
    let other = testkeys::key_for(&rcgen::PKCS_ED25519).subject_public_key_info();
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &other);
    let text = format!(
        "# comment\n{}\n{}  # sha1\n\n0123456789abcdef0123\nzz\n{}\n",
        hex::encode(ctwatch_ct::sha256(&spki)),
        hex::encode(sha1.as_ref()),
        "ab".repeat(31)
    );
    let mut list = KeyBlocklist::new();
    assert!(list.is_empty());
    let problems = list.add_fingerprint_lines(&text);
    assert_eq!(problems.iter().map(|p| p.line).collect::<Vec<_>>(), vec![6, 7]);
    assert_eq!(list.len(), 3);
    assert_eq!(list.check_spki(&spki), Some(BlocklistHit::SpkiSha256));
    assert_eq!(list.check_spki(&other), Some(BlocklistHit::SpkiSha1));
    let unlisted = testkeys::key_for(&rcgen::PKCS_ECDSA_P256_SHA256).subject_public_key_info();
    assert_eq!(list.check_spki(&unlisted), None);
    assert_eq!(list.check_spki(b"garbage"), None);
}

#[test]
fn debian_entry_matches_openssl_output() {
    // A tiny modulus: "Modulus=C1\n" → SHA-1 → last 20 hex digits.
    let spki = crate::spki::rsa_spki(&[0x00, 0xc1], &[3]);
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, b"Modulus=C1\n");
    assert_eq!(debian_blacklist_line(&spki), Some(hex::encode(&digest.as_ref()[10..])));
    assert_eq!(debian_blacklist_line(&crate::spki::ed25519_spki(&[1; 32])), None);
}

#[test]
fn debian_weak_key_sample() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata/keys") else { return };
    let report = crate::import::parse_import(&std::fs::read(dir.join("rsa-debianweak.key")).unwrap());
    let spki = report.keys[0].spki_der.clone().unwrap();
    // `openssl rsa -RSAPublicKey_in -noout -modulus | sha1sum | cut -c21-40` on the sample.
    assert_eq!(debian_blacklist_line(&spki).as_deref(), Some("b7ead9492dfd921fc4f9"));
    let mut list = KeyBlocklist::new();
    assert!(list.add_fingerprint_lines("# blacklist.RSA-2048\nb7ead9492dfd921fc4f9\n").is_empty());
    assert_eq!(list.check_spki(&spki), Some(BlocklistHit::DebianWeakKey));
    // The weak-key checks cannot see it: it is an ordinary-looking key.
    assert!(crate::weak::WeakKeyChecker::default().check_spki(&spki).unwrap().is_empty());
}

#[test]
fn badkeys_records_and_lookup() {
    let rsa = testkeys::key_for(&rcgen::PKCS_RSA_SHA256).subject_public_key_info();
    let ec = testkeys::key_for(&rcgen::PKCS_ECDSA_P384_SHA384).subject_public_key_info();
    let mut records = [badkeys_record(&rsa, 7).unwrap(), badkeys_record(&ec, 9).unwrap()];
    // The RSA record is the first 15 bytes of the material hash.
    let material = crate::keyset::KeyFingerprints::from_spki_der(&rsa).unwrap().material_sha256.unwrap();
    assert_eq!(records[0][..15], material[..15]);
    records.sort();
    let mut data = records.concat();
    let mut list = KeyBlocklist::new();
    assert_eq!(list.add_badkeys_blocklist(&data), Ok(2));
    assert_eq!(list.check_spki(&rsa), Some(BlocklistHit::Badkeys { id: 7 }));
    assert_eq!(list.check_spki(&ec), Some(BlocklistHit::Badkeys { id: 9 }));
    assert_eq!(list.check_spki(&testkeys::key_for(&rcgen::PKCS_ECDSA_P384_SHA384).subject_public_key_info()), None);
    // The compressed form of the same EC point has the same x and so the same record.
    let crate::spki::PublicKey::Ec { point, .. } = crate::spki::parse_spki(&ec).unwrap() else { panic!() };
    let y_odd = point.last().unwrap() & 1;
    let mut compressed = vec![2 + y_odd];
    compressed.extend_from_slice(&point[1..49]);
    let compressed_spki = crate::spki::ec_spki(crate::spki::OID_P384, &compressed);
    assert_eq!(list.check_spki(&compressed_spki), Some(BlocklistHit::Badkeys { id: 9 }));
    // Broken files.
    data.push(0);
    assert_eq!(KeyBlocklist::new().add_badkeys_blocklist(&data), Err(BlocklistError::BadLength(33)));
    records.reverse();
    assert_eq!(KeyBlocklist::new().add_badkeys_blocklist(&records.concat()), Err(BlocklistError::Unsorted(1)));
    assert_eq!(badkeys_record(&crate::spki::ed25519_spki(&[1; 32]), 1), None);
}

#[test]
fn badkeys_hash_of_the_rfc_example_ec_key() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata/keys") else { return };
    let report = crate::import::parse_import(&std::fs::read(dir.join("ec-p256-rfc-example.key")).unwrap());
    let spki = report.keys[0].spki_der.clone().unwrap();
    // SHA-256 over the x coordinate 9b318cd5…4b8047, first 15 bytes, computed independently.
    let record = badkeys_record(&spki, 3).unwrap();
    assert_eq!(hex::encode(&record[..15]), "f9109dc651a11992575b3ec496aded");
    assert_eq!(record[15], 3);
}
