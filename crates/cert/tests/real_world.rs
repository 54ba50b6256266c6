//! Facts, identity and precert TBS reconstruction against real certificates from the shared
//! test data (skipped when it is absent).

mod common;

use ctwatch_cert::facts::{CertError, ValidationType, cert_facts, spki_der_of_cert, spki_sha256_of_cert};
use ctwatch_cert::identity::{
    certificate_identity, is_precert_signing_ca, precert_leaf_tbs, strip_ct_extensions, tbs_of_cert,
};
use std::path::Path;

/// The python-cryptography manifest: subject, issuer and notBefore agree for every certificate
/// it could parse; the 7 it rejected are handled without panicking, as documented below.
#[test]
fn google_ct_python_testdata_manifest() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/google_ct_python_testdata") else {
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("manifest.csv")).unwrap();
    let rows = common::parse_csv(&manifest);
    assert_eq!(rows[0], ["file", "idx", "subject", "issuer", "not_before", "strict_parse_error"]);
    let mut checked = 0;
    let mut lenient = 0;
    for row in &rows[1..] {
        let [file, idx, subject, issuer, not_before, strict_error] = row.as_slice() else {
            panic!("bad manifest row {row:?}")
        };
        let certs = common::read_certs(&dir.join(file));
        let der = &certs[idx.parse::<usize>().unwrap()];
        let result = cert_facts(der);
        if strict_error.is_empty() {
            let facts = result.unwrap_or_else(|e| panic!("{file}: {e}"));
            // The manifest truncates names to 100 characters.
            assert!(facts.subject.starts_with(subject.as_str()), "{file}: {:?} vs {subject:?}", facts.subject);
            assert!(facts.issuer.starts_with(issuer.as_str()), "{file}: {:?} vs {issuer:?}", facts.issuer);
            assert_eq!(&common::ymd(facts.not_before), not_before, "{file}");
            assert!(facts.not_after > facts.not_before, "{file}");
            checked += 1;
            continue;
        }
        lenient += 1;
        match file.as_str() {
            // BER indefinite lengths are not DER: the walker refuses them.
            "asn1_indefinite_length_encoding.pem" => {
                assert!(matches!(result, Err(CertError::Parse(_))), "{file}: {result:?}")
            }
            "cert_bad_utf8_subject.pem" => {
                let facts = result.unwrap();
                assert!(facts.field_errors.iter().any(|e| e.starts_with("subject: invalid UTF-8")), "{facts:?}");
                assert!(facts.subject.contains('\u{fffd}'), "{}", facts.subject);
                assert!(facts.issuer.contains("O="), "{}", facts.issuer);
            }
            "negative_serial.pem" => {
                let facts = result.unwrap();
                assert!(facts.serial[0] & 0x80 != 0, "serial kept verbatim, negative: {:02x?}", facts.serial);
                assert_eq!(facts.common_names, ["*.nyc.gov"]);
                assert!(facts.field_errors.is_empty(), "{:?}", facts.field_errors);
            }
            // Rejected by the strict parser for encodings (BOOLEAN 0x01, explicit defaults, odd
            // INTEGERs) that do not stop a monitor from reading the fields.
            _ => {
                let facts = result.unwrap_or_else(|e| panic!("{file}: {e}"));
                assert!(facts.subject.contains("CN="), "{file}: {}", facts.subject);
                assert_eq!(facts.key_algorithm, "rsa", "{file}");
                assert!(facts.not_after > facts.not_before, "{file}");
            }
        }
    }
    assert_eq!(checked, 27);
    assert_eq!(lenient, 7);
}

fn facts_of(dir: &Path, file: &str) -> ctwatch_cert::facts::CertFacts {
    cert_facts(&common::read_certs(&dir.join(file))[0]).unwrap()
}

#[test]
fn google_ct_python_testdata_fields() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/google_ct_python_testdata") else {
        return;
    };

    let null = facts_of(&dir, "null_chars.pem");
    assert_eq!(null.common_names, ["null.python.org\\0example.org"]);
    assert!(null.subject.contains("CN=null.python.org\\00example.org"), "{}", null.subject);
    assert!(null.dns_names.iter().any(|d| d == "altnull.python.org\\0example.com"), "{:?}", null.dns_names);
    assert!(null.field_errors.iter().any(|e| e.contains("dNSName 0 contains NUL")), "{:?}", null.field_errors);
    assert!(null.field_errors.iter().any(|e| e.starts_with("subject CN")), "{:?}", null.field_errors);

    let ip = facts_of(&dir, "invalid_ip.pem");
    assert!(ip.field_errors.iter().any(|e| e.contains("iPAddress 0 has 8 bytes")), "{:?}", ip.field_errors);

    let multi_cn = facts_of(&dir, "multiple_cn.pem");
    // Certificate order, not RFC 4514 order.
    assert_eq!(multi_cn.common_names, ["www.rd.io", "rdio.com", "rd.io", "api.rdio.com", "api.rd.io", "www.rdio.com"]);
    assert!(multi_cn.subject.starts_with("CN=www.rdio.com,OU=COMODO EV Multi-Domain SSL,O=Rdio\\, Inc."));

    let ec = facts_of(&dir, "ecdsa_cert.pem");
    assert_eq!(ec.key_algorithm, "ecdsa");
    assert_eq!(ec.key_bits, Some(256));
    assert_eq!(ec.key_curve.as_deref(), Some("1.2.840.10045.3.1.7"));
    assert!(ec.subject.contains("O=株式会社ディレクターズ"), "{}", ec.subject);

    let dsa = facts_of(&dir, "dsa_with_sha256.der");
    assert_eq!(dsa.key_algorithm, "dsa");
    assert_eq!(dsa.key_bits, Some(2048));
    assert_eq!(dsa.key_material_sha256, None);

    let google = facts_of(&dir, "google_cert.pem");
    assert_eq!(google, facts_of(&dir, "google_cert.der"));
    assert_eq!((google.key_algorithm.as_str(), google.key_bits), ("ecdsa", Some(256)));
    assert_eq!(
        google.crl_distribution_points,
        ["http://www.gstatic.com/GoogleInternetAuthority/GoogleInternetAuthority.crl"]
    );
    assert!(google.ocsp_urls.is_empty());
    assert!(google.dns_names.contains(&"*.google.com".to_owned()), "{:?}", google.dns_names);
    assert!(google.dns_names.len() > 40, "{}", google.dns_names.len());
    assert_eq!(google.common_names, ["*.google.com"]);
    assert!(!google.is_ca && !google.is_precert);
    assert!(google.field_errors.is_empty(), "{:?}", google.field_errors);

    let aia = facts_of(&dir, "aia.pem");
    assert_eq!(aia.ca_issuer_urls, ["http://pki.google.com/GIAG2.crt"]);
    assert_eq!(aia.ocsp_urls, ["http://clients1.google.com/ocsp"]);
    assert_eq!(aia.crl_distribution_points, ["http://pki.google.com/GIAG2.crl"]);
    assert_eq!(aia.key_bits, Some(2048));
    assert!(aia.authority_key_id.as_ref().is_some_and(|k| k.len() == 20));
    assert!(aia.subject_key_id.as_ref().is_some_and(|k| k.len() == 20));

    let ev = common::read_certs(&dir.join("ev_chain.pem"));
    let leaf = cert_facts(&ev[0]).unwrap();
    assert_eq!(leaf.validation_type, ValidationType::Unknown, "{:?}", leaf.policy_oids); // pre-CA/B OIDs
    assert!(leaf.policy_oids.contains(&"2.16.840.1.113733.1.7.23.6".to_owned()), "{:?}", leaf.policy_oids);
    let intermediate = cert_facts(&ev[1]).unwrap();
    assert!(intermediate.is_ca);
    // The intermediate's AKI is the root's SKI.
    assert_eq!(intermediate.authority_key_id, cert_facts(&ev[2]).unwrap().subject_key_id);

    let v1 = facts_of(&dir, "v1_cert.pem");
    assert!(v1.authority_key_id.is_none() && v1.dns_names.is_empty() && v1.field_errors.is_empty());
    assert_eq!(v1.key_bits, Some(1024));

    let policies = facts_of(&dir, "multiple_policies.pem");
    assert!(policies.policy_oids.len() >= 2, "{:?}", policies.policy_oids);
}

/// SPKI helpers agree with `cert_facts`, and the RSA key material matches a manual reading.
#[test]
fn spki_helpers_agree() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/google_ct_python_testdata") else {
        return;
    };
    let der = &common::read_certs(&dir.join("aia.pem"))[0];
    let facts = cert_facts(der).unwrap();
    let spki = spki_der_of_cert(der).unwrap();
    assert_eq!(ctwatch_ct::sha256(&spki), facts.spki_sha256);
    assert_eq!(spki_sha256_of_cert(der).unwrap(), facts.spki_sha256);
    // rsaEncryption SPKI: 30 82 01 22 | 30 0d <alg> | 03 82 01 0f 00 | 30 82 01 0a 02 82 01 01 00 <256 bytes>
    let modulus_start = spki.windows(5).position(|w| w == [0x02, 0x82, 0x01, 0x01, 0x00]).unwrap() + 5;
    assert_eq!(facts.key_material_sha256, Some(ctwatch_ct::sha256(&spki[modulus_start..modulus_start + 256])));
    assert_eq!(facts.key_bits, Some(2048));
}

/// Let's Encrypt precert/final pairs: the good pair shares its identity, the bad pair does not.
#[test]
fn boulder_precert_final_identity() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/boulder_precert_final_pairs") else {
        return;
    };
    let identity = |sub: &str, file: &str| {
        let der = &common::read_certs(&dir.join(sub).join(file))[0];
        (certificate_identity(&tbs_of_cert(der).unwrap()).unwrap(), der.clone())
    };
    let (good_pre, good_pre_der) = identity("good", "precert.pem");
    let (good_final, good_final_der) = identity("good", "final.pem");
    assert_eq!(good_pre, good_final);
    // The stripped final TBS is exactly what the precert's log entry carries.
    assert_eq!(
        strip_ct_extensions(&tbs_of_cert(&good_final_der).unwrap()).unwrap(),
        precert_leaf_tbs(&good_pre_der, None).unwrap()
    );
    let pre = cert_facts(&good_pre_der).unwrap();
    let fin = cert_facts(&good_final_der).unwrap();
    assert!(pre.is_precert && !fin.is_precert);
    assert!(pre.embedded_scts.is_empty());
    assert_eq!(fin.embedded_scts.len(), 2);
    assert_eq!(fin.embedded_scts[0].timestamp, 1686844904316);
    assert_eq!(fin.embedded_scts[1].timestamp, 1686844904437);
    assert_eq!(pre.serial, fin.serial);
    assert_eq!(pre.dns_names, ["housetrainingpuppy.info"]);
    assert_eq!(pre.validation_type, ValidationType::Dv);
    assert_eq!(fin.issuer, "CN=R3,O=Let's Encrypt,C=US");

    let (bad_pre, _) = identity("bad", "precert.pem");
    let (bad_final, _) = identity("bad", "final.pem");
    assert_ne!(bad_pre, bad_final);
    assert_ne!(bad_pre, good_pre);
}

/// The ctclient vector: a precert issued by a Precertificate Signing CA, byte for byte.
#[test]
fn precert_signing_ca_vector() {
    let Some(dir) = ctwatch_testdata::data_dir("ct_rfc6962/ctclient_precert_signing_ca_vector") else {
        return;
    };
    let certs = common::read_certs(&dir.join("precert-signing-ca.pem"));
    assert_eq!(certs.len(), 4);
    let expected = std::fs::read(dir.join("precert-signing.ca.tbs")).unwrap();
    assert!(is_precert_signing_ca(&certs[1]));
    assert!(
        !is_precert_signing_ca(&certs[0]) && !is_precert_signing_ca(&certs[2]) && !is_precert_signing_ca(&certs[3])
    );
    assert!(cert_facts(&certs[0]).unwrap().is_precert);
    let tbs = precert_leaf_tbs(&certs[0], Some(&certs[1])).unwrap();
    assert_eq!(tbs.len(), expected.len());
    assert_eq!(tbs, expected);
    // Without the signing CA the issuer and AKI are left alone, which is not what the log signed.
    assert_ne!(precert_leaf_tbs(&certs[0], None).unwrap(), expected);
    // An ordinary CA given as "signing CA" is ignored.
    assert_eq!(precert_leaf_tbs(&certs[0], Some(&certs[2])).unwrap(), precert_leaf_tbs(&certs[0], None).unwrap());
}

fn u24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// Argon2018 entry #2 is a precert entry: its `tbs_certificate` is the reconstruction from the
/// `pre_certificate` in extra_data, and its issuer_key_hash is the issuer's SPKI hash.
#[test]
fn argon2018_precert_entry() {
    let Some(dir) = ctwatch_testdata::data_dir("ct_rfc6962/ctgo_argon2018_entries_1_2") else {
        return;
    };
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("get-entries_1-2.json")).unwrap()).unwrap();
    let entries = json["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);

    // Entry #1: x509_entry; the leaf certificate decodes.
    let leaf = common::b64(entries[0]["leaf_input"].as_str().unwrap());
    assert_eq!(&leaf[10..12], &[0, 0]);
    let cert_len = u24(&leaf[12..15]);
    let facts = cert_facts(&leaf[15..15 + cert_len]).unwrap();
    assert_eq!(facts.subject, "2.5.4.5=1502368995753162,O=Google Certificate Transparency,L=London,C=GB");

    // Entry #2: precert_entry.
    let leaf = common::b64(entries[1]["leaf_input"].as_str().unwrap());
    assert_eq!((leaf[0], leaf[1]), (0, 0));
    assert_eq!(u64::from_be_bytes(leaf[2..10].try_into().unwrap()), 1502376196240);
    assert_eq!(&leaf[10..12], &[0, 1]);
    let issuer_key_hash = &leaf[12..44];
    let tbs_len = u24(&leaf[44..47]);
    let logged_tbs = &leaf[47..47 + tbs_len];
    assert_eq!(tbs_len, 731);

    let extra = common::b64(entries[1]["extra_data"].as_str().unwrap());
    let pre_len = u24(&extra[0..3]);
    let precert = &extra[3..3 + pre_len];
    let chain_bytes = &extra[3 + pre_len + 3..];
    assert_eq!(chain_bytes.len(), u24(&extra[3 + pre_len..]));
    let mut chain = Vec::new();
    let mut rest = chain_bytes;
    while !rest.is_empty() {
        let n = u24(rest);
        chain.push(&rest[3..3 + n]);
        rest = &rest[3 + n..];
    }
    assert_eq!(chain.len(), 2);

    assert!(!is_precert_signing_ca(chain[0]));
    assert_eq!(precert_leaf_tbs(precert, None).unwrap(), logged_tbs);
    assert_eq!(precert_leaf_tbs(precert, Some(chain[0])).unwrap(), logged_tbs);
    assert_eq!(spki_sha256_of_cert(chain[0]).unwrap(), issuer_key_hash);
    assert_eq!(
        certificate_identity(logged_tbs).unwrap(),
        certificate_identity(&tbs_of_cert(precert).unwrap()).unwrap()
    );
    let facts = cert_facts(precert).unwrap();
    assert!(facts.is_precert);
    assert_eq!(facts.subject, "2.5.4.5=1502376196213708,O=Google Certificate Transparency,L=London,C=GB");
}

/// Every certificate in the shared data decodes without panicking; the well-formed ones also
/// pass the strict identity path, and the stripped TBS re-parses.
#[test]
fn no_input_panics() {
    let Some(root) = ctwatch_testdata::data_dir("") else {
        return;
    };
    let mut files = Vec::new();
    for sub in ["certs_real_world", "cert_lint_oracles", "ct_rfc6962", "ct_log_accepted_roots", "compromised_keys"] {
        collect_files(&root.join(sub), &mut files);
    }
    let mut certs = 0;
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let ders = if path.extension().is_some_and(|e| e == "der") {
            vec![bytes]
        } else if bytes.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            common::pem_certs(&bytes)
        } else {
            continue;
        };
        for der in ders {
            certs += 1;
            let _ = cert_facts(&der);
            if let Ok(tbs) = tbs_of_cert(&der) {
                let stripped = strip_ct_extensions(&tbs).unwrap();
                assert_eq!(strip_ct_extensions(&stripped).unwrap(), stripped, "{}", path.display());
                let _ = precert_leaf_tbs(&der, Some(&der));
            }
        }
    }
    assert!(certs > 400, "{certs}");
}

fn collect_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}
