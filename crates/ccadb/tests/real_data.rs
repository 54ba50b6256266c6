//! The real CCADB-derived files in the shared data directory: crt.sh's PEM reports and SKI →
//! SPKI table, and Mozilla's IncludedCACertificateReport (December 2023). Facts asserted here
//! were checked by hand against the files (with openssl and Python's `cryptography`).

use ctwatch_ccadb::{MapBuilder, OwnerMap, OwnerSource, Report, read_report};
use std::path::Path;

fn read(path: &Path) -> Report {
    let file = std::fs::File::open(path).unwrap();
    read_report(std::io::BufReader::new(file)).unwrap()
}

fn hash(hex_text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    hex::decode_to_slice(hex_text, &mut out).unwrap();
    out
}

const HIPKI_ROOT_SPKI: &str = "79caaf5347e6e4a94c8e78a98496fc74020f809ede13f220fab6104c8ded329f";
const HIPKI_OV_TLS_SPKI: &str = "856329438c6e3bf235b367ca22be7ac477d6ceb69a38ce5a6747c6730a13d7ad";

#[test]
fn mozilla_included_roots_report() {
    let Some(dir) = ctwatch_testdata::data_dir("ccadb/mozilla_IncludedCACertificateReport_2023") else { return };
    let Report::IncludedRoots(p) = read(&dir.join("IncludedCACertificateReport.csv")) else {
        panic!("not recognised as the included-roots report")
    };
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows.len(), 165);
    let hipki = p.rows.iter().find(|r| r.name == "HiPKI Root CA - G1").unwrap();
    assert_eq!(hipki.ca_owner, "Chunghwa Telecom");
    assert_eq!(hipki.sha256_fingerprint, hash("f015ce3cc239bfef064be9f1d2c417e1a0264a0a94be1f0c8d121864eb6949cc"));
    assert!(hipki.tls.is_capable());
    // Trust bits: 88 "Websites;Email", 58 "Websites", 19 "Email".
    assert_eq!(p.rows.iter().filter(|r| r.tls.is_capable()).count(), 146);
}

#[test]
fn ski_table_maps_the_hipki_ov_tls_ca_key() {
    let Some(dir) = ctwatch_testdata::data_dir("ccadb/crtsh_ccadb_data_2026-08") else { return };
    let Report::SkiSpki(p) = read(&dir.join("ski_spkisha256.csv")) else { panic!("not the SKI table") };
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows.len(), 8035);
    use base64::Engine as _;
    let ski = base64::engine::general_purpose::STANDARD.decode("NY/CLojeMxPbDiFjzlQutoJMpYM=").unwrap();
    let row = p.rows.iter().find(|r| r.subject_key_identifier == ski).unwrap();
    assert_eq!(row.spki_sha256, hash(HIPKI_OV_TLS_SPKI));
}

/// The map built from every real file: Mozilla's roots give owners, the PEMs give keys and the
/// chain from each intermediate up to an owned root.
#[test]
fn real_map_attributes_hipki_issuers_to_chunghwa_telecom() {
    let Some(moz) = ctwatch_testdata::data_dir("ccadb/mozilla_IncludedCACertificateReport_2023") else { return };
    let Some(crtsh) = ctwatch_testdata::data_dir("ccadb/crtsh_ccadb_data_2026-08") else { return };
    let mut builder = MapBuilder::default();
    builder.add(read(&moz.join("IncludedCACertificateReport.csv")));
    builder.add(read(&crtsh.join("ski_spkisha256.csv")));
    let mut pem_rows = 0;
    let mut pem_errors = Vec::new();
    let mut files: Vec<_> =
        std::fs::read_dir(crtsh.join("AllCertificatePEMsCSVFormat")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert_eq!(files.len(), 33);
    for f in files {
        let report = read(&f);
        let (rows, _) = report.counts();
        pem_rows += rows;
        pem_errors.extend(report.errors().iter().map(|e| format!("{}: {e}", f.display())));
        builder.add(report);
    }
    // 10,229 rows, every fingerprint matching its certificate; PEMs with a blank line after
    // BEGIN (nine in the 2025 file) still decode.
    assert!(pem_errors.is_empty(), "{pem_errors:?}");
    assert_eq!(pem_rows, 10_229);
    let (map, summary) = builder.build();
    // 12 fingerprints appear in two yearly files; x509-parser reads all 10,217 certificates,
    // including the ones stricter parsers refuse (negative serials, bad PrintableStrings).
    assert_eq!(summary.pem_certificates, 10_217);
    assert_eq!(summary.certificate_records, 165);
    assert_eq!(summary.owners, 55);
    assert_eq!(summary.issuers, 5_255);
    assert_eq!(summary.chain_derived_issuers, 5_090);
    assert_eq!(summary.tls_capable_issuers, 3_717);
    // Certificates chaining only to roots outside Mozilla's 2023 store have no known owner.
    assert_eq!(
        summary.skipped.get("CA certificate without a record and without an ancestor whose owner is known"),
        Some(&3_796)
    );

    let root = map.issuer(&hash(HIPKI_ROOT_SPKI)).unwrap();
    assert_eq!(root.owners, vec!["Chunghwa Telecom"]);
    assert_eq!(root.owner_source, OwnerSource::Record);
    assert!(root.tls_capable);
    let ov = map.issuer(&hash(HIPKI_OV_TLS_SPKI)).unwrap();
    assert_eq!(ov.owners, vec!["Chunghwa Telecom"]);
    assert_eq!(ov.owner_source, OwnerSource::Chain);
    assert_eq!(ov.names, vec!["HiPKI OV TLS CA - G1"]);
    assert!(ov.tls_capable);
    assert!(map.issuers_of_owner("chunghwa telecom").len() > 2);
    assert_eq!(map.suggest_owner("Chunghwa"), Some("Chunghwa Telecom"));

    let back = OwnerMap::from_json(&map.to_json()[..]).unwrap();
    assert_eq!(back.issuer(&hash(HIPKI_OV_TLS_SPKI)), Some(ov));
}
