use super::*;
use crate::testkeys::{self, TestCa};
use rcgen::{
    CertificateRevocationListParams, CrlDistributionPoint, CrlIssuingDistributionPoint, CrlScope, KeyIdMethod,
    RevocationReason, RevokedCertParams, SerialNumber,
};
use time::OffsetDateTime;

const THIS_UPDATE: i64 = 1_730_000_000;

fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t).unwrap()
}

struct Revoked<'a> {
    serial: &'a [u8],
    time: i64,
    reason: Option<RevocationReason>,
}

fn make_crl(
    ca: &TestCa,
    number: u64,
    this_update: i64,
    revoked: &[Revoked<'_>],
    idp: Option<CrlIssuingDistributionPoint>,
) -> Vec<u8> {
    let params = CertificateRevocationListParams {
        this_update: at(this_update),
        next_update: at(this_update + 7 * 86_400),
        crl_number: SerialNumber::from_slice(&number.to_be_bytes()),
        issuing_distribution_point: idp,
        revoked_certs: revoked
            .iter()
            .map(|r| RevokedCertParams {
                serial_number: SerialNumber::from_slice(r.serial),
                revocation_time: at(r.time),
                reason_code: r.reason,
                invalidity_date: None,
            })
            .collect(),
        key_identifier_method: KeyIdMethod::Sha256,
    };
    params.signed_by(&ca.issuer).unwrap().der().to_vec()
}

fn simple_crl(ca: &TestCa, number: u64) -> Vec<u8> {
    make_crl(
        ca,
        number,
        THIS_UPDATE,
        &[
            Revoked { serial: &[0x01, 0x02], time: THIS_UPDATE - 100, reason: Some(RevocationReason::KeyCompromise) },
            Revoked { serial: &[0x7f], time: THIS_UPDATE - 50, reason: None },
            Revoked { serial: &[0x00, 0x80], time: THIS_UPDATE - 10, reason: Some(RevocationReason::Superseded) },
        ],
        None,
    )
}

#[test]
fn valid_crls_for_every_supported_algorithm() {
    for alg in [
        &rcgen::PKCS_ECDSA_P256_SHA256,
        &rcgen::PKCS_ECDSA_P384_SHA384,
        &rcgen::PKCS_ED25519,
        &rcgen::PKCS_RSA_SHA256,
        &rcgen::PKCS_RSA_SHA384,
        &rcgen::PKCS_RSA_SHA512,
    ] {
        let ca = testkeys::test_ca("CRL CA", alg);
        let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
        assert!(issuer.subject_key_id.is_some());
        let crl =
            parse_crl(&simple_crl(&ca, 42), &issuer, &CrlLimits::default()).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(crl.issuer_spki_sha256, ctwatch_cert::facts::spki_sha256_of_cert(&ca.cert_der).unwrap());
        assert_eq!(crl.issuer, "CN=CRL CA, O=ctwatch tests");
        assert_eq!(crl.number.as_deref(), Some([42u8].as_slice()));
        assert_eq!(crl.number_string(), "42");
        assert_eq!((crl.this_update, crl.next_update), (THIS_UPDATE, Some(THIS_UPDATE + 7 * 86_400)));
        assert!(!crl.is_delta);
        assert_eq!(crl.idp, None);
        assert_eq!(
            crl.entries,
            vec![
                RevokedEntry {
                    serial: vec![1, 2],
                    revoked_at: THIS_UPDATE - 100,
                    reason: Some(1),
                    invalidity_date: None
                },
                RevokedEntry { serial: vec![0x7f], revoked_at: THIS_UPDATE - 50, reason: None, invalidity_date: None },
                RevokedEntry {
                    serial: vec![0, 0x80],
                    revoked_at: THIS_UPDATE - 10,
                    reason: Some(4),
                    invalidity_date: None
                },
            ]
        );
        assert!(!crl.is_stale(THIS_UPDATE + 7 * 86_400));
        assert!(crl.is_stale(THIS_UPDATE + 7 * 86_400 + 1));
    }
}

#[test]
fn serials_match_the_certificates_serials() {
    let ca = testkeys::test_ca("Serial CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let key = testkeys::key_for(&rcgen::PKCS_ECDSA_P256_SHA256);
    let cert = testkeys::leaf(&ca, "serial.example", &key, &[0x00, 0x80, 0x01]);
    let facts = ctwatch_cert::facts::cert_facts(&cert).unwrap();
    let der = make_crl(
        &ca,
        1,
        THIS_UPDATE,
        &[Revoked { serial: &[0x00, 0x80, 0x01], time: THIS_UPDATE, reason: None }],
        None,
    );
    let crl = parse_crl(&der, &IssuerKey::from_cert_der(&ca.cert_der).unwrap(), &CrlLimits::default()).unwrap();
    assert_eq!(crl.entries[0].serial, facts.serial);
}

#[test]
fn partitioned_crl_idp() {
    let ca = testkeys::test_ca("Partition CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let idp = CrlIssuingDistributionPoint {
        distribution_point: CrlDistributionPoint { uris: vec!["http://crl.example/p/7.crl".to_owned()] },
        scope: Some(CrlScope::UserCertsOnly),
    };
    let der = make_crl(&ca, 3, THIS_UPDATE, &[], Some(idp));
    let crl = parse_crl(&der, &IssuerKey::from_cert_der(&ca.cert_der).unwrap(), &CrlLimits::default()).unwrap();
    assert_eq!(
        crl.idp,
        Some(IssuingDistributionPoint {
            uris: vec!["http://crl.example/p/7.crl".to_owned()],
            only_user_certs: true,
            only_ca_certs: false,
            only_some_reasons: false,
        })
    );
    assert!(crl.entries.is_empty());
}

#[test]
fn wrong_signer_and_wrong_issuer() {
    let ca = testkeys::test_ca("Same Name CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let impostor = testkeys::test_ca("Same Name CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let other_name = testkeys::test_ca("Other CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let der = simple_crl(&impostor, 1);
    let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
    // The key identifiers differ first.
    assert!(matches!(parse_crl(&der, &issuer, &CrlLimits::default()), Err(CrlError::AuthorityKeyIdMismatch { .. })));
    // Without a subjectKeyIdentifier to compare, the signature itself fails.
    let no_ski = IssuerKey { subject_key_id: None, ..issuer.clone() };
    assert_eq!(parse_crl(&der, &no_ski, &CrlLimits::default()), Err(CrlError::BadSignature));
    // A CRL from a differently named CA.
    let err = parse_crl(&simple_crl(&other_name, 1), &issuer, &CrlLimits::default()).unwrap_err();
    assert_eq!(
        err,
        CrlError::WrongIssuer {
            crl_issuer: "CN=Other CA, O=ctwatch tests".into(),
            expected: "CN=Same Name CA, O=ctwatch tests".into()
        }
    );
    // An RSA-signed CRL checked against an EC issuer key of the same name.
    let rsa = testkeys::test_ca("Same Name CA", &rcgen::PKCS_RSA_SHA256);
    let err = parse_crl(&simple_crl(&rsa, 1), &no_ski, &CrlLimits::default()).unwrap_err();
    assert!(matches!(err, CrlError::UnsupportedSignatureAlgorithm { .. }), "{err}");
    assert!(matches!(IssuerKey::from_cert_der(b"not a cert"), Err(CrlError::BadIssuerCertificate(_))));
}

#[test]
fn tampering_breaks_the_signature() {
    let ca = testkeys::test_ca("Tamper CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
    let der = simple_crl(&ca, 5);
    // Change the keyCompromise reason (ENUMERATED 1) to superseded (4) in the TBS.
    let pos = der.windows(3).position(|w| w == [0x0a, 0x01, 0x01]).unwrap();
    let mut tampered = der.clone();
    tampered[pos + 2] = 4;
    assert_eq!(parse_crl(&tampered, &issuer, &CrlLimits::default()), Err(CrlError::BadSignature));
    // Flip the last byte of the signature.
    let mut tampered = der.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert_eq!(parse_crl(&tampered, &issuer, &CrlLimits::default()), Err(CrlError::BadSignature));
    // Trailing bytes.
    let mut trailing = der.clone();
    trailing.push(0);
    assert!(matches!(parse_crl(&trailing, &issuer, &CrlLimits::default()), Err(CrlError::Malformed(_))));
}

#[test]
fn truncated_and_garbage_input_never_panics() {
    let ca = testkeys::test_ca("Garbage CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
    let der = simple_crl(&ca, 9);
    for cut in 0..der.len() {
        assert!(parse_crl(&der[..cut], &issuer, &CrlLimits::default()).is_err(), "cut {cut}");
    }
    // Every single-byte corruption is rejected or, if it still verifies, cannot have changed
    // the signed content.
    for i in 0..der.len() {
        let mut bad = der.clone();
        bad[i] ^= 0x55;
        let r = parse_crl(&bad, &issuer, &CrlLimits::default());
        assert!(
            r.is_err(),
            "byte {i} of {}: {:02x?} {r:?}",
            der.len(),
            &der[i.saturating_sub(8)..(i + 8).min(der.len())]
        );
    }
    let mut state = 0x1234_5678u32;
    for len in [0usize, 1, 2, 16, 300] {
        let garbage: Vec<u8> = (0..len)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        assert!(parse_crl(&garbage, &issuer, &CrlLimits::default()).is_err());
    }
}

#[test]
fn huge_crls_are_bounded() {
    let ca = testkeys::test_ca("Huge CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
    let serials: Vec<[u8; 4]> = (0u32..1_000).map(|i| (i + 1).to_be_bytes()).collect();
    let revoked: Vec<Revoked<'_>> = serials
        .iter()
        .map(|s| Revoked { serial: s, time: THIS_UPDATE - 1, reason: Some(RevocationReason::Superseded) })
        .collect();
    let der = make_crl(&ca, 11, THIS_UPDATE, &revoked, None);
    let crl = parse_crl(&der, &issuer, &CrlLimits::default()).unwrap();
    assert_eq!(crl.entries.len(), 1_000);
    let limits = CrlLimits { max_bytes: der.len() - 1, max_entries: 10_000 };
    assert_eq!(parse_crl(&der, &issuer, &limits), Err(CrlError::TooLarge { size: der.len(), limit: der.len() - 1 }));
    let limits = CrlLimits { max_bytes: der.len(), max_entries: 999 };
    assert_eq!(parse_crl(&der, &issuer, &limits), Err(CrlError::TooManyEntries { count: 1_000, limit: 999 }));
    // Size is checked before parsing: an oversized garbage blob is TooLarge, not Malformed.
    let blob = vec![0u8; 100];
    assert!(matches!(
        parse_crl(&blob, &issuer, &CrlLimits { max_bytes: 99, max_entries: 1 }),
        Err(CrlError::TooLarge { .. })
    ));
}

#[test]
fn crl_number_history() {
    let ca = testkeys::test_ca("History CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let issuer = IssuerKey::from_cert_der(&ca.cert_der).unwrap();
    let parse = |n: u64, t: i64| parse_crl(&make_crl(&ca, n, t, &[], None), &issuer, &CrlLimits::default()).unwrap();
    let url = "http://crl.example/ca.crl";
    let mut state = CrlState::new();
    assert_eq!(state.observe(url, &parse(10, THIS_UPDATE), 1), Ok(CrlProgress::First));
    assert_eq!(state.observe(url, &parse(10, THIS_UPDATE), 2), Ok(CrlProgress::Unchanged));
    assert_eq!(state.observe(url, &parse(300, THIS_UPDATE + 3_600), 3), Ok(CrlProgress::Newer));
    assert_eq!(
        state.observe(url, &parse(299, THIS_UPDATE + 7_200), 4),
        Err(CrlError::CrlNumberWentBackwards { url: url.into(), previous: "300".into(), found: "299".into() })
    );
    assert_eq!(
        state.observe(url, &parse(300, THIS_UPDATE + 7_200), 5),
        Err(CrlError::CrlNumberRepeated { url: url.into(), number: "300".into() })
    );
    // Errors leave the history at the highest CRL seen.
    assert_eq!(state.by_url[url].number.as_deref(), Some([1u8, 44].as_slice()));
    assert_eq!(state.by_url[url].fetched_at, 3);
    // Another URL has its own history.
    assert_eq!(state.observe("http://crl.example/other.crl", &parse(1, THIS_UPDATE), 6), Ok(CrlProgress::First));
    // Without numbers, thisUpdate must not go backwards.
    let mut unnumbered = parse(1, THIS_UPDATE);
    unnumbered.number = None;
    let mut s = CrlState::new();
    assert_eq!(s.observe(url, &unnumbered, 1), Ok(CrlProgress::First));
    let older = ParsedCrl { this_update: THIS_UPDATE - 1, ..unnumbered.clone() };
    assert!(matches!(s.observe(url, &older, 2), Err(CrlError::CrlNumberWentBackwards { .. })));
    let newer = ParsedCrl { this_update: THIS_UPDATE + 1, ..unnumbered };
    assert_eq!(s.observe(url, &newer, 3), Ok(CrlProgress::Newer));
    // The state persists as JSON.
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<CrlState>(&json).unwrap(), state);
}

/// The real CRLs in pkilint's test set parse as far as their (unknown) issuer's key.
#[test]
fn real_pkilint_crls_parse() {
    let Some(dir) = ctwatch_testdata::data_dir("cert_lint_oracles/pkilint") else { return };
    let mut stack = vec![dir];
    let mut seen = 0;
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("crltest") {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            let pem = x509_parser::pem::Pem::iter_from_buffer(&text).next().unwrap().unwrap();
            let (_, crl) = CertificateRevocationList::from_der(&pem.contents).unwrap();
            // An issuer with the CRL's own name but an unrelated key: everything up to the
            // signature is checked, and the signature then fails.
            let issuer = IssuerKey {
                subject_der: crl.tbs_cert_list.issuer.as_raw().to_vec(),
                spki_der: rcgen::PublicKeyData::subject_public_key_info(&testkeys::key_for(&rcgen::PKCS_RSA_SHA256)),
                subject_key_id: None,
            };
            let err = parse_crl(&pem.contents, &issuer, &CrlLimits::default()).unwrap_err();
            assert!(
                matches!(
                    err,
                    CrlError::BadSignature | CrlError::UnsupportedSignatureAlgorithm { .. } | CrlError::IndirectCrl
                ),
                "{}: {err}",
                path.display()
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 3);
}
