//! Real RFC 6962 `get-entries` responses.

use base64::Engine;
use ctwatch_ct::merkle;
use ctwatch_ct::wire::{EntryType, SignedEntry, decode_extra_data, decode_leaf_input};
use x509_parser::prelude::{FromDer, X509Certificate};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// (leaf_input, extra_data) pairs of a get-entries response.
fn entries(path: &std::path::Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                B64.decode(e["leaf_input"].as_str().unwrap()).unwrap(),
                B64.decode(e["extra_data"].as_str().unwrap()).unwrap(),
            )
        })
        .collect()
}

fn subject(der: &[u8]) -> String {
    let (rest, cert) = X509Certificate::from_der(der).unwrap();
    assert!(rest.is_empty());
    cert.subject().to_string()
}

#[test]
fn four_entries_decode_like_the_manifest() {
    let Some(dir) = ctwatch_testdata::data_dir("ct_rfc6962/ctgo_scanner_four_entries") else {
        return;
    };
    let manifest = std::fs::read_to_string(dir.join("entries_manifest.csv")).unwrap();
    let rows: Vec<Vec<&str>> = manifest.lines().skip(1).map(|l| l.splitn(6, ',').collect()).collect();
    let entries = entries(&dir.join("get-entries_0-3.json"));
    assert_eq!(entries.len(), 4);
    assert_eq!(rows.len(), 4);
    for ((leaf_input, extra_data), row) in entries.iter().zip(&rows) {
        let entry = decode_leaf_input(leaf_input).unwrap();
        assert_eq!(entry.encode_leaf_input(), *leaf_input, "re-encoding is byte-exact");
        assert_eq!(entry.timestamp.to_string(), row[1]);
        assert_eq!(row[2], "0");
        let SignedEntry::X509(cert) = &entry.signed_entry else {
            panic!("expected an x509 entry");
        };
        assert_eq!(B64.encode(merkle::leaf_hash(leaf_input)), row[3]);
        assert_eq!(hex::encode(ctwatch_ct::sha256(cert)), row[4]);
        let extra = decode_extra_data(EntryType::X509, extra_data).unwrap();
        assert!(extra.pre_certificate.is_none());
        assert!(!extra.chain.is_empty());
        for chain_cert in &extra.chain {
            X509Certificate::from_der(chain_cert).unwrap();
        }
        assert_eq!(
            ctwatch_ct::wire::encode_extra_data(EntryType::X509, &extra),
            *extra_data,
            "extra_data re-encoding is byte-exact"
        );
        // Truncated inputs fail.
        assert!(decode_leaf_input(&leaf_input[..leaf_input.len() - 1]).is_err());
        assert!(decode_extra_data(EntryType::X509, &extra_data[..extra_data.len() - 1]).is_err());
        // An x509 entry's extra_data is not a valid precert extra_data here.
        assert!(decode_extra_data(EntryType::Precert, extra_data).is_err());
    }
    let first = decode_leaf_input(&entries[0].0).unwrap();
    let SignedEntry::X509(cert) = &first.signed_entry else { unreachable!() };
    assert!(subject(cert).contains("CN=mail.google.com"), "{}", subject(cert));
}

#[test]
fn argon2018_entries_match_expected() {
    let Some(dir) = ctwatch_testdata::data_dir("ct_rfc6962/ctgo_argon2018_entries_1_2") else {
        return;
    };
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("expected.json")).unwrap()).unwrap();
    let expected = expected.as_array().unwrap();
    let entries = entries(&dir.join("get-entries_1-2.json"));
    assert_eq!(entries.len(), 2);
    assert_eq!(expected.len(), 2);

    // Entry 1: x509.
    let (leaf_input, extra_data) = &entries[0];
    let entry = decode_leaf_input(leaf_input).unwrap();
    assert_eq!(expected[0]["entry_type"], "x509_entry");
    assert_eq!(entry.timestamp, expected[0]["timestamp_ms"].as_u64().unwrap());
    let SignedEntry::X509(cert) = &entry.signed_entry else {
        panic!("entry 1 should be x509");
    };
    assert!(subject(cert).contains("O=Google Certificate Transparency"));
    let extra = decode_extra_data(EntryType::X509, extra_data).unwrap();
    assert_eq!(extra.chain.len(), 2);
    assert!(subject(&extra.chain[0]).contains("Merge Delay Intermediate 1"));
    assert!(subject(&extra.chain[1]).contains("Merge Delay Monitor Root"));

    // Entry 2: precert, with issuer_key_hash = SHA-256 of the intermediate's SPKI.
    let (leaf_input, extra_data) = &entries[1];
    let entry = decode_leaf_input(leaf_input).unwrap();
    assert_eq!(entry.encode_leaf_input(), *leaf_input);
    assert_eq!(expected[1]["entry_type"], "precert_entry");
    assert_eq!(entry.timestamp, expected[1]["timestamp_ms"].as_u64().unwrap());
    let SignedEntry::Precert { issuer_key_hash, tbs_certificate } = &entry.signed_entry else {
        panic!("entry 2 should be a precert");
    };
    assert_eq!(hex::encode(issuer_key_hash), expected[1]["issuer_key_hash_hex"].as_str().unwrap());
    assert_eq!(tbs_certificate.len() as u64, expected[1]["tbs_len"].as_u64().unwrap());
    let extra = decode_extra_data(EntryType::Precert, extra_data).unwrap();
    let pre = extra.pre_certificate.as_ref().unwrap();
    assert!(subject(pre).contains("2.5.4.5=1502376196213708") || subject(pre).contains("1502376196213708"));
    assert_eq!(extra.chain.len(), 2);
    let (_, intermediate) = X509Certificate::from_der(&extra.chain[0]).unwrap();
    assert_eq!(ctwatch_ct::sha256(intermediate.public_key().raw), *issuer_key_hash);
    assert_eq!(ctwatch_ct::wire::encode_extra_data(EntryType::Precert, &extra), *extra_data);
    // The precert's extra_data is not a valid x509 extra_data.
    assert!(decode_extra_data(EntryType::X509, extra_data).is_err());
}
