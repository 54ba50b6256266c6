use super::*;
use crate::testkeys;
use rcgen::PublicKeyData;

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// RFC 8410 section 10.3's example Ed25519 private key and its public key.
const RFC8410_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n-----END PRIVATE KEY-----\n";
const RFC8410_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";

#[test]
fn hex_lines_comments_and_bad_lines() {
    let a = "ab".repeat(32);
    let b = "CD".repeat(32);
    let text = format!(
        "# pwnedkeys export\n\n  {a}  \r\n{b} # from a CA blocklist\nnot a hash\n{}\n{a}0\n\t# indented comment\n",
        &a[..62]
    );
    let report = parse_import(text.as_bytes());
    assert_eq!(report.keys.len(), 2);
    assert_eq!(report.keys[0].line, 3);
    assert_eq!(report.keys[0].kind, ImportKind::SpkiSha256Hex);
    assert_eq!(report.keys[0].fingerprints, KeyFingerprints::from_spki_sha256([0xab; 32]));
    assert_eq!(report.keys[1].fingerprints.spki_sha256, [0xcd; 32]);
    assert_eq!(report.keys[1].spki_der, None);
    assert_eq!(report.problems.iter().map(|p| p.line).collect::<Vec<_>>(), vec![5, 6, 7]);
    assert!(report.problems[0].message.contains("not a hash"));
    // Non-UTF-8 bytes are a bad line, not a failure.
    let report = parse_import(b"\xff\xfe\n");
    assert_eq!((report.keys.len(), report.problems.len()), (0, 1));
    assert_eq!(parse_import(b""), ImportReport::default());
}

#[test]
fn pem_public_keys_certificates_and_requests() {
    let ca = testkeys::test_ca("Import CA", &rcgen::PKCS_ECDSA_P256_SHA256);
    let key = testkeys::key_for(&rcgen::PKCS_ECDSA_P256_SHA256);
    let spki = key.subject_public_key_info();
    let cert = testkeys::leaf(&ca, "import.example", &key, &[7]);
    let csr = rcgen::CertificateParams::new(vec!["import.example".to_owned()])
        .unwrap()
        .serialize_request(&key)
        .unwrap()
        .der()
        .to_vec();
    let text = format!(
        "intro text is a bad line\n{}{}{}{}",
        pem("PUBLIC KEY", &spki),
        pem("CERTIFICATE", &cert),
        pem("CERTIFICATE REQUEST", &csr),
        pem("NEW CERTIFICATE REQUEST", &csr)
    );
    let report = parse_import(text.as_bytes());
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let kinds: Vec<ImportKind> = report.keys.iter().map(|k| k.kind).collect();
    assert_eq!(
        kinds,
        vec![
            ImportKind::PublicKey,
            ImportKind::Certificate,
            ImportKind::CertificateRequest,
            ImportKind::CertificateRequest
        ]
    );
    let expected = KeyFingerprints::from_spki_der(&spki).unwrap();
    for k in &report.keys {
        assert_eq!(k.fingerprints, expected);
        assert_eq!(k.spki_der.as_deref(), Some(spki.as_slice()));
    }
    assert_eq!(report.keys[0].line, 2);
    let facts = ctwatch_cert::facts::cert_facts(&cert).unwrap();
    assert_eq!(KeyFingerprints::from_cert_facts(&facts), expected);
}

#[test]
fn rsa_keys_in_every_form_give_one_fingerprint() {
    let key = testkeys::key_for(&rcgen::PKCS_RSA_SHA256);
    let spki = key.subject_public_key_info();
    let crate::spki::PublicKey::Rsa { modulus, exponent } = crate::spki::parse_spki(&spki).unwrap() else {
        panic!("not RSA")
    };
    let mut pkcs1 = Vec::new();
    let mut numbers = Vec::new();
    crate::spki::write_unsigned_integer(&mut numbers, &modulus);
    crate::spki::write_unsigned_integer(&mut numbers, &exponent);
    der::write_tlv(&mut pkcs1, der::TAG_SEQUENCE, &numbers);
    let text = format!(
        "{}{}{}{}",
        testkeys::RSA_PKCS8_PEM,
        testkeys::RSA_PKCS1_PEM,
        pem("RSA PUBLIC KEY", &pkcs1),
        pem("PUBLIC KEY", &spki)
    );
    let report = parse_import(text.as_bytes());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let kinds: Vec<ImportKind> = report.keys.iter().map(|k| k.kind).collect();
    assert_eq!(
        kinds,
        vec![ImportKind::PrivateKey, ImportKind::RsaPrivateKey, ImportKind::RsaPublicKey, ImportKind::PublicKey]
    );
    let expected = KeyFingerprints::from_spki_der(&spki).unwrap();
    for k in &report.keys {
        assert_eq!(k.fingerprints, expected, "{:?}", k.kind);
    }
}

#[test]
fn ec_and_ed25519_private_keys() {
    // rcgen/ring PKCS#8 for P-256 carries the public key.
    let key = testkeys::key_for(&rcgen::PKCS_ECDSA_P384_SHA384);
    let report = parse_import(key.serialize_pem().as_bytes());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.keys[0].spki_der.as_deref(), Some(key.subject_public_key_info().as_slice()));
    // Ed25519 PKCS#8 v1 (no public key): derived from the seed, as in RFC 8410.
    let report = parse_import(format!("{RFC8410_PRIVATE}{RFC8410_PUBLIC}").as_bytes());
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.keys.len(), 2);
    assert_eq!(report.keys[0].fingerprints, report.keys[1].fingerprints);
    // SEC1 with curve and public key.
    let point = {
        let crate::spki::PublicKey::Ec { point, .. } =
            crate::spki::parse_spki(&testkeys::key_for(&rcgen::PKCS_ECDSA_P256_SHA256).subject_public_key_info())
                .unwrap()
        else {
            panic!()
        };
        point
    };
    let sec1 = |with_curve: bool, with_point: bool| {
        let mut body = Vec::new();
        der::write_tlv(&mut body, der::TAG_INTEGER, &[1]);
        der::write_tlv(&mut body, der::TAG_OCTET_STRING, &[0x42; 32]);
        if with_curve {
            let mut oid = Vec::new();
            der::write_tlv(&mut oid, der::TAG_OID, crate::spki::OID_P256);
            der::write_tlv(&mut body, 0xa0, &oid);
        }
        if with_point {
            let mut bits = vec![0];
            bits.extend_from_slice(&point);
            let mut bs = Vec::new();
            der::write_tlv(&mut bs, der::TAG_BIT_STRING, &bits);
            der::write_tlv(&mut body, 0xa1, &bs);
        }
        let mut out = Vec::new();
        der::write_tlv(&mut out, der::TAG_SEQUENCE, &body);
        pem("EC PRIVATE KEY", &out)
    };
    let report = parse_import(format!("{}{}{}", sec1(true, true), sec1(true, false), sec1(false, true)).as_bytes());
    assert_eq!(report.keys.len(), 1);
    assert_eq!(
        report.keys[0].spki_der.as_deref(),
        Some(crate::spki::ec_spki(crate::spki::OID_P256, &point).as_slice())
    );
    assert_eq!(report.problems.len(), 2);
    assert!(report.problems[0].message.contains("deriving it is not supported"), "{}", report.problems[0].message);
    assert!(report.problems[1].message.contains("named curve"));
}

#[test]
fn broken_pem_blocks_are_reported() {
    let text = "\
-----BEGIN PUBLIC KEY-----
!!!!
-----END PUBLIC KEY-----
-----BEGIN RSA PRIVATE KEY-----
Proc-Type: 4,ENCRYPTED
DEK-Info: AES-128-CBC,00
AAAA
-----END RSA PRIVATE KEY-----
-----BEGIN OPENSSH PRIVATE KEY-----
AAAA
-----END OPENSSH PRIVATE KEY-----
-----BEGIN CERTIFICATE-----
MAA=
-----END CERTIFICATE-----
-----BEGIN PUBLIC KEY-----
AAAA
-----END PRIVATE KEY-----
-----BEGIN PRIVATE KEY-----
MAA=
";
    let report = parse_import(text.as_bytes());
    assert!(report.keys.is_empty());
    let lines: Vec<usize> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![1, 4, 9, 12, 17, 18], "{:#?}", report.problems);
    assert!(report.problems[1].message.contains("encrypted"));
    assert!(report.problems[2].message.contains("not supported"));
    assert!(report.problems[5].message.contains("no END"));
}

#[test]
fn to_compromised_keeps_file_and_line() {
    let report = parse_import(format!("\n{}\n", "01".repeat(32)).as_bytes());
    let keys = report.to_compromised("keys.txt", 1_700_000_000);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].source, KeySource::Import { file: "keys.txt".into() });
    assert_eq!(keys[0].learned_at, 1_700_000_000);
    assert_eq!(keys[0].evidence, serde_json::json!({ "file": "keys.txt", "line": 2, "given_as": "spki_sha256_hex" }));
}

#[test]
fn every_truncation_of_a_pem_file_is_safe() {
    let text = format!("{}{}", testkeys::RSA_PKCS1_PEM, RFC8410_PRIVATE);
    let der_body = base64::engine::general_purpose::STANDARD.decode(RFC8410_PRIVATE.lines().nth(1).unwrap()).unwrap();
    for cut in 0..der_body.len() {
        let report = parse_import(pem("PRIVATE KEY", &der_body[..cut]).as_bytes());
        assert!(report.keys.is_empty(), "cut {cut}");
    }
    for cut in (0..text.len()).step_by(7) {
        let _ = parse_import(&text.as_bytes()[..cut]);
    }
}

/// Every badkeys sample file can be fed to the importer; the PEM samples of supported types
/// give keys, and the unsupported ones give problems rather than panics.
#[test]
fn badkeys_samples_import() {
    let Some(dir) = ctwatch_testdata::data_dir("compromised_keys/badkeys_testdata/keys") else { return };
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() { stack.push(path) } else { files.push(path) }
        }
    }
    let mut with_keys = 0;
    for path in &files {
        let report = parse_import(&std::fs::read(path).unwrap());
        if !report.keys.is_empty() {
            with_keys += 1;
        }
    }
    let name = |n: &str| dir.join(n);
    let keys_of = |n: &str| parse_import(&std::fs::read(name(n)).unwrap()).keys;
    for f in [
        "rsa-fermat.crt",
        "rsa-fermat.csr",
        "rsa-fermat-pkcs8.key",
        "rsa-roca.key",
        "ec-p256-rfc-example.key",
        "x448-ok.key",
    ] {
        assert_eq!(keys_of(f).len(), 1, "{f}");
    }
    // The RFC 8410 example key in the badkeys set is the one above.
    let ed = keys_of("ed25519-rfc-example.key");
    let rfc = parse_import(RFC8410_PUBLIC.as_bytes()).keys;
    assert_eq!(ed.first().map(|k| k.fingerprints), rfc.first().map(|k| k.fingerprints));
    assert!(keys_of("defect/public-fragment.key").is_empty());
    assert!(keys_of("defect/private-fragment.key").is_empty());
    assert!(with_keys >= 30, "{with_keys} of {} files gave keys", files.len());
}
