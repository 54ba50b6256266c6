use super::*;
use crate::read_report;

fn fp(b: u8) -> String {
    hex::encode_upper([b; 32])
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Records of two owners; SPKIs come from the SKI table (no PEMs): a root and a TLS intermediate
/// of "Example Trust", an S/MIME-only intermediate, a record whose SKI is unknown, and an
/// externally operated subordinate CA.
fn builder() -> MapBuilder {
    let v5 = format!(
        "CA Owner,Subordinate CA Owner,Certificate Name,SHA-256 Fingerprint,Parent SHA-256 Fingerprint,\
Subject Key Identifier,JSON Array of All Full CRL URLs,TLS Capable,Revocation Status\n\
Example Trust,,Example Root,{r},,{s1},,True,\n\
Example Trust,,Example TLS CA,{i},{r},{s2},\"[\"\"http://crl.example/tls.crl\"\"]\",True,\n\
Example Trust,,Example Mail CA,{m},{r},{s3},,False,Revoked\n\
Example Trust,,Lost CA,{l},{r},{s9},,True,\n\
Example Trust,Sub Operator,Sub TLS CA,{x},{r},{s4},,True,\n",
        r = fp(1),
        i = fp(2),
        m = fp(3),
        l = fp(4),
        x = fp(5),
        s1 = b64(&[1]),
        s2 = b64(&[2]),
        s3 = b64(&[3]),
        s4 = b64(&[4]),
        s9 = b64(&[9]),
    );
    let mut ski = String::from("Subject Key Identifier,SHA-256(Subject Public Key Info)\n");
    for k in 1..=4u8 {
        ski.push_str(&format!("{},{}\n", b64(&[k]), b64(&[0x10 + k; 32])));
    }
    let caa = "Subject,Recognized CAA Domains\n\
Example Trust,example-trust.test\n\
Example Root,root-only.test\n\
Sub Operator,sub.test\n\
Nobody Known,nobody.test\n";
    let mut b = MapBuilder::default();
    for text in [v5, ski, caa.to_string()] {
        b.add(read_report(text.as_bytes()).unwrap());
    }
    b
}

#[test]
fn records_join_the_ski_table_into_issuers_by_spki() {
    let (map, summary) = builder().build();
    assert_eq!(summary.certificate_records, 5);
    assert_eq!(summary.issuers, 4);
    assert_eq!(summary.owners, 2);
    assert_eq!(summary.tls_capable_issuers, 3);
    assert_eq!(summary.skipped.get(SKIP_NO_SPKI), Some(&1));
    assert_eq!(summary.skipped.get(SKIP_CAA), Some(&1));

    let tls = map.issuer(&[0x12; 32]).unwrap();
    assert_eq!(tls.owners, vec!["Example Trust"]);
    assert_eq!(tls.names, vec!["Example TLS CA"]);
    assert_eq!(tls.crl_urls, vec!["http://crl.example/tls.crl"]);
    assert_eq!(tls.certificates, vec![[2; 32]]);
    assert!(tls.tls_capable && !tls.revoked);
    let mail = map.issuer(&[0x13; 32]).unwrap();
    assert!(!mail.tls_capable && mail.revoked);
    // The subordinate CA belongs to its operator, not to the owner of its root.
    assert_eq!(map.issuer(&[0x14; 32]).unwrap().owners, vec!["Sub Operator"]);
    assert_eq!(map.issuers_of_owner("example trust").len(), 3);
    assert_eq!(map.issuers_of_owner("SUB OPERATOR").len(), 1);
    assert!(map.issuers_of_owner("Example").is_empty());
    assert_eq!(map.tls_capable_issuers().count(), 3);
}

#[test]
fn caa_identifiers_attach_to_owners_and_certificates_and_spread_down_one_owner() {
    let (map, _) = builder().build();
    assert_eq!(map.owner("Example Trust").unwrap().caa_identifiers, vec!["example-trust.test"]);
    let root = map.issuer(&[0x11; 32]).unwrap();
    assert_eq!(root.caa_identifiers, vec!["root-only.test"]);
    // The root's identifier reaches its own intermediates but not the external subordinate CA.
    let tls = map.issuer(&[0x12; 32]).unwrap();
    assert_eq!(map.caa_identifiers_for(tls), vec!["root-only.test", "example-trust.test"]);
    let sub = map.issuer(&[0x14; 32]).unwrap();
    assert_eq!(map.caa_identifiers_for(sub), vec!["sub.test"]);
}

#[test]
fn the_map_survives_a_json_round_trip_and_rejects_other_files() {
    let (map, _) = builder().build();
    let json = map.to_json();
    let back = OwnerMap::from_json(&json[..]).unwrap();
    assert_eq!(back.issuers(), map.issuers());
    assert_eq!(back.owners(), map.owners());
    assert_eq!(back.issuers_of_owner("Example Trust").len(), 3);
    let err = OwnerMap::from_json(&br#"{"format":"other","owners":[],"issuers":[]}"#[..]).unwrap_err();
    assert!(err.to_string().contains("other"), "{err}");
    assert!(OwnerMap::from_json(&b"not json"[..]).is_err());
    let bad_hash = br#"{"format":"ctwatch-ccadb-map/1","owners":[],"issuers":[{"spki_sha256":"zz","owners":[],
        "owner_source":"record","names":[],"certificates":[],"subject_key_identifiers":[],"caa_identifiers":[],
        "crl_urls":[],"tls_capable":true,"revoked":false}]}"#;
    assert!(OwnerMap::from_json(&bad_hash[..]).is_err());
}

#[test]
fn owner_suggestions_find_near_misses_only() {
    let (map, _) = builder().build();
    assert_eq!(map.suggest_owner("Exampel Trust"), Some("Example Trust"));
    assert_eq!(map.suggest_owner("sub"), Some("Sub Operator"));
    assert_eq!(map.suggest_owner("Completely Different"), None);
    assert_eq!(map.suggest_owner(""), None);
}

#[test]
fn edit_distance_counts_single_character_edits() {
    assert_eq!(edit_distance("kitten", "sitting"), 3);
    assert_eq!(edit_distance("", "abc"), 3);
    assert_eq!(edit_distance("same", "same"), 0);
}

#[test]
fn v5_wins_over_the_included_roots_report_for_the_same_certificate() {
    let mut b = builder();
    let moz = format!(
        "Owner,Common Name or Certificate Name,SHA-256 Fingerprint,Trust Bits\nOther Name,Root,{},Email\n",
        fp(1)
    );
    b.add(read_report(moz.as_bytes()).unwrap());
    let (map, summary) = b.build();
    assert_eq!(summary.certificate_records, 5);
    assert_eq!(map.issuer(&[0x11; 32]).unwrap().owners, vec!["Example Trust"]);
    assert!(map.owner("Other Name").is_none());
}
