use super::*;
use crate::reports;
use crate::table::RowError;

/// 64 hex digits made of one repeated byte.
fn fp(b: u8) -> String {
    hex::encode_upper([b; 32])
}

/// A V5-style report: columns in an unusual order, an unknown column, CRLF endings, a byte order
/// mark, a name with doubled quotes, a JSON array spanning lines and a multi-line CP field.
fn v5_text() -> String {
    format!(
        "\u{feff}SHA-256 Fingerprint,Unknown Column,CA Owner,Certificate Name,Certificate Record Type,\
Subordinate CA Owner,Parent SHA-256 Fingerprint,Subject Key Identifier,Revocation Status,\
JSON Array of All Full CRL URLs,JSON Array of Partitioned CRLs,Derived Trust Bits,TLS Capable\r\n\
{root},x,\"Example \"\"Trust\"\" Ltd.\",Example Root,Root Certificate,,,AQID,,\"[\"\"http://crl.example/root.crl\"\"]\",,,True\r\n\
{int},\"line one\r\nline two\",\"Example \"\"Trust\"\" Ltd.\",\"Example TLS CA, G1\",Intermediate Certificate,Other Operator,{root},BAUG,Revoked,\
\"[\r\n  \"\"http://crl.example/a.crl\"\",\r\n  \"\"http://crl.example/b.crl\"\"\r\n]\",\"[\"\"http://crl.example/p1.crl\"\", \"\"http://crl.example/a.crl\"\"]\",,\r\n\
{smime},,Mail Co,Mail CA,Intermediate Certificate,,{root},,,,,Secure Email,\r\n\
{derived},,Mail Co,Web CA,Intermediate Certificate,,{root},,,,,Server Authentication;Client Authentication,\r\n",
        root = fp(1),
        int = fp(2),
        smime = fp(3),
        derived = fp(4),
    )
}

#[test]
fn v5_records_with_quotes_json_and_multiline_fields() {
    let Report::CertificateRecords(p) = read_report(v5_text().as_bytes()).unwrap() else { panic!("wrong kind") };
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    assert_eq!(p.rows.len(), 4);
    let root = &p.rows[0];
    assert_eq!(root.ca_owner, "Example \"Trust\" Ltd.");
    assert_eq!(root.sha256_fingerprint, [1; 32]);
    assert_eq!(root.subject_key_identifier, Some(vec![1, 2, 3]));
    assert_eq!(root.crl_urls, vec!["http://crl.example/root.crl"]);
    assert_eq!(root.tls, TlsCapability::Capable);
    assert_eq!(root.parent_sha256_fingerprint, None);
    let int = &p.rows[1];
    assert_eq!(int.name, "Example TLS CA, G1");
    assert_eq!(int.operator(), "Other Operator");
    assert_eq!(int.parent_sha256_fingerprint, Some([1; 32]));
    assert_eq!(int.revocation_status.as_deref(), Some("Revoked"));
    // Full CRLs first, then partitioned ones, without the duplicate.
    assert_eq!(int.crl_urls, vec!["http://crl.example/a.crl", "http://crl.example/b.crl", "http://crl.example/p1.crl"]);
    // Without a `TLS Capable` value the derived trust bits decide.
    assert_eq!(int.tls, TlsCapability::Unknown);
    assert_eq!(p.rows[2].tls, TlsCapability::Unknown);
    assert_eq!(p.rows[3].tls, TlsCapability::TrustBits);
}

#[test]
fn malformed_v5_rows_are_reported_with_line_numbers_and_the_rest_kept() {
    let text = format!(
        "CA Owner,SHA-256 Fingerprint,JSON Array of All Full CRL URLs,TLS Capable,Subject Key Identifier\n\
A,{good},,True,\n\
B,not-hex,,True,\n\
C,{good},\"[\"\"unterminated\",True,\n\
D,{good},\"[\"\"http://x/\"\",\n\"\"http://y/\"\"]\",Maybe,\n\
E,{good},,True,***\n\
,{good},,True,\n\
F,{good}\n",
        good = fp(9)
    );
    let p = reports::read_certificate_records(text.as_bytes()).unwrap();
    assert_eq!(p.rows.len(), 1);
    let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 7, 8, 9], "{:?}", p.errors);
    assert!(p.errors[0].reason.contains("SHA-256 Fingerprint"), "{}", p.errors[0]);
    assert!(p.errors[1].reason.contains("JSON"), "{}", p.errors[1]);
    assert!(p.errors[2].reason.contains("Maybe"), "{}", p.errors[2]);
    assert!(p.errors[3].reason.contains("base64"), "{}", p.errors[3]);
    assert!(p.errors[4].reason.contains("CA Owner"), "{}", p.errors[4]);
    assert!(p.errors[5].reason.contains("fields"), "{}", p.errors[5]);
}

#[test]
fn missing_required_columns_fail_the_report_and_optional_ones_do_not() {
    let err = reports::read_certificate_records("CA Owner,Certificate Name\nA,B\n".as_bytes()).unwrap_err();
    assert!(err.to_string().contains("SHA-256 Fingerprint"), "{err}");
    let p =
        reports::read_certificate_records(format!("CA Owner,SHA-256 Fingerprint\nA,{}\n", fp(5)).as_bytes()).unwrap();
    assert_eq!(p.rows[0].crl_urls, Vec::<String>::new());
    assert_eq!(p.rows[0].tls, TlsCapability::Unknown);
    assert!(matches!(read_report("Foo,Bar\n1,2\n".as_bytes()), Err(CcadbError::UnknownReport)));
}

#[test]
fn an_unterminated_quote_at_the_end_is_an_error_not_a_panic() {
    let text = format!("CA Owner,SHA-256 Fingerprint\nA,{}\n\"B,", fp(1));
    let p = reports::read_certificate_records(text.as_bytes()).unwrap();
    assert_eq!(p.rows.len(), 1);
    assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
}

#[test]
fn included_roots_report_uses_websites_trust_bit() {
    let text = format!(
        "\"Owner\",\"Common Name or Certificate Name\",\"SHA-256 Fingerprint\",\"Trust Bits\"\n\
\"Web Co\",\"Web Root\",\"{}\",\"Websites;Email\"\n\"Mail Co\",\"Mail Root\",\"{}\",\"Email\"\n",
        fp(1),
        fp(2)
    );
    let Report::IncludedRoots(p) = read_report(text.as_bytes()).unwrap() else { panic!("wrong kind") };
    assert_eq!(p.rows[0].tls, TlsCapability::TrustBits);
    assert_eq!(p.rows[0].name, "Web Root");
    assert_eq!(p.rows[1].tls, TlsCapability::NotCapable);
}

#[test]
fn pem_rows_are_checked_against_their_fingerprint() {
    // DER of a tiny SEQUENCE stands in for a certificate: the parser only decodes and hashes.
    let der = [0x30u8, 3, 2, 1, 1];
    let good = hex::encode_upper(<[u8; 32]>::from(sha2::Sha256::digest(der)));
    let text = format!(
        "SHA-256 Fingerprint,X.509 Certificate (PEM)\n\
{good},\"-----BEGIN CERTIFICATE-----\n\nMAMCAQE=\n-----END CERTIFICATE-----\"\n\
{bad},\"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\"\n\
{good},\"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\"\n\
{good},no pem here\n",
        bad = fp(7)
    );
    let Report::Pems(p) = read_report(text.as_bytes()).unwrap() else { panic!("wrong kind") };
    assert_eq!(
        p.rows,
        vec![PemRecord { sha256_fingerprint: <[u8; 32]>::from(sha2::Sha256::digest(der)), der: der.to_vec() }]
    );
    let lines: Vec<u64> = p.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![6, 9, 12]);
    assert!(p.errors[0].reason.contains("hashes to"), "{}", p.errors[0]);
}

#[test]
fn ski_table_rows_need_32_byte_hashes() {
    let text = "Subject Key Identifier,SHA-256(Subject Public Key Info)\n\
AQID,AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=\nAQID,AgIC\n";
    let Report::SkiSpki(p) = read_report(text.as_bytes()).unwrap() else { panic!("wrong kind") };
    assert_eq!(p.rows, vec![SkiSpki { subject_key_identifier: vec![1, 2, 3], spki_sha256: [2; 32] }]);
    assert_eq!(
        p.errors,
        vec![RowError { line: 3, reason: "`SHA-256(Subject Public Key Info)` has 3 bytes, expected 32".into() }]
    );
}

#[test]
fn caa_identifiers_split_on_any_separator_and_reject_junk() {
    let text = "Subject,Recognized CAA Domains\n\
Chunghwa Telecom,\"pki.hinet.net\ntls.hinet.net.; PKI.HINET.NET\"\n\
Nobody,\n\
Bad,\"exa mple.com, <script>\"\n";
    let Report::CaaIdentifiers(p) = read_report(text.as_bytes()).unwrap() else { panic!("wrong kind") };
    assert_eq!(p.rows[0].domains, vec!["pki.hinet.net", "tls.hinet.net"]);
    assert!(p.rows[1].domains.is_empty());
    assert_eq!(p.errors.len(), 1);
    assert_eq!(p.errors[0].line, 5);
}
