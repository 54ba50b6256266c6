//! One failing and at least one passing generated certificate for every registered lint.

use crate::support::*;
use ctwatch_lint::{LintStatus, registry};
use rcgen::{
    BasicConstraints, CrlDistributionPoint, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, KeyUsagePurpose,
    SanType,
};

/// A generated certificate and what one lint must say about it.
#[derive(Debug)]
pub struct Case {
    pub lint: &'static str,
    /// True: the lint must fail (warn or error, by its severity); false: it must pass.
    pub fails: bool,
    pub what: &'static str,
    pub der: Vec<u8>,
    pub entry: Entry,
}

fn fail(lint: &'static str, what: &'static str, der: Vec<u8>) -> Case {
    Case { lint, fails: true, what, der, entry: Entry::default() }
}

fn pass(lint: &'static str, what: &'static str, der: Vec<u8>) -> Case {
    Case { lint, fails: false, what, der, entry: Entry::default() }
}

fn with(mut case: Case, entry: Entry) -> Case {
    case.entry = entry;
    case
}

/// Base parameters changed by `f`, signed.
fn variant(f: impl FnOnce(&mut rcgen::CertificateParams)) -> Vec<u8> {
    let mut p = base_params();
    f(&mut p);
    build(&p)
}

/// The base certificate changed at the DER level by `f`.
fn surgery(f: impl FnOnce(&mut Parts)) -> Vec<u8> {
    let mut parts = Parts::of(&build(&base_params()));
    f(&mut parts);
    parts.der()
}

fn with_names(names: &[&str]) -> Vec<u8> {
    variant(|p| p.subject_alt_names.extend(names.iter().map(|n| dns(n))))
}

fn with_validity(not_before: i64, seconds: i64) -> Vec<u8> {
    variant(|p| {
        p.not_before = time_at(not_before);
        p.not_after = time_at(not_before + seconds - 1);
    })
}

fn with_policy(policy: &[u8], subject: &[(DnType, &str)]) -> Vec<u8> {
    variant(|p| {
        p.custom_extensions[0] = custom(ARCS_CP, false, policies(policy, Some("http://cps.example.net/")));
        let mut dn = DistinguishedName::new();
        for (t, v) in subject {
            dn.push(t.clone(), *v);
        }
        p.distinguished_name = dn;
    })
}

fn precert(extra: &[rcgen::CustomExtension]) -> Vec<u8> {
    variant(|p| p.custom_extensions.extend(extra.iter().cloned()))
}

/// A P-384 certificate whose curve OID is changed to secp256k1 (1.3.132.0.10, same length).
fn secp256k1_cert() -> Vec<u8> {
    let mut parts = Parts::of(&build_p384(&base_params()));
    let p384 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let at = parts.spki.windows(p384.len()).position(|w| w == p384).expect("P-384 OID in SPKI");
    parts.spki[at + p384.len() - 1] = 0x0a;
    parts.der()
}

/// An SCT-list extension value (OCTET STRING of a TLS list) with one well-formed v1 SCT.
fn sct_list_value() -> Vec<u8> {
    let mut sct = vec![0u8];
    sct.extend([0x42; 32]);
    sct.extend(1_748_736_000_000u64.to_be_bytes());
    sct.extend([0, 0, 4, 3]);
    let signature = tlv(0x30, &[tlv(0x02, &[0x11; 32]), tlv(0x02, &[0x22; 32])].concat());
    sct.extend(u16::try_from(signature.len()).unwrap().to_be_bytes());
    sct.extend(signature);
    let mut list = u16::try_from(sct.len() + 2).unwrap().to_be_bytes().to_vec();
    list.extend(u16::try_from(sct.len()).unwrap().to_be_bytes());
    list.extend(sct);
    tlv(0x04, &list)
}

/// An RSA certificate with the given keyUsage BIT STRING TLV.
fn rsa_with_ku(bits: &[u8]) -> Vec<u8> {
    let mut parts = Parts::of(&rsa_cert(2048, 65537));
    let ku = parts.find_extension(&[0x55, 0x1d, 0x0f]).expect("keyUsage");
    let mut content = tlv(0x06, &[0x55, 0x1d, 0x0f]);
    content.extend(tlv(0x01, &[0xff]));
    content.extend(tlv(0x04, bits));
    parts.extensions[ku] = tlv(0x30, &content);
    parts.der()
}

const ECDSA_SHA256_WITH_NULL: &[u8] =
    &[0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02, 0x05, 0x00];
const ECDSA_SHA384: &[u8] = &[0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];

pub fn cases() -> Vec<Case> {
    let base = build(&base_params());
    let nb_ms = u64::try_from(BASE_NOT_BEFORE).unwrap() * 1000;
    let hour_ms = 3_600_000;
    let precert_entry = Entry { is_precert: true, sct_timestamp_ms: None };
    let poison = custom(ARCS_POISON, true, vec![0x05, 0x00]);
    let mut cases = vec![
        fail(
            "e_cert_unparseable",
            "SAN value is broken DER",
            variant(|p| {
                p.subject_alt_names.clear();
                p.custom_extensions.push(custom(ARCS_SAN, false, vec![0x30, 0x05, 0x82, 0x01]));
            }),
        ),
        pass("e_cert_unparseable", "base", base.clone()),
        fail("e_invalid_certificate_version", "v2", surgery(|c| c.version = Some(vec![0xa0, 0x03, 0x02, 0x01, 0x01]))),
        pass("e_invalid_certificate_version", "base", base.clone()),
        fail(
            "e_ext_duplicate_extension",
            "two extKeyUsage",
            surgery(|c| {
                let eku = c.find_extension(&[0x55, 0x1d, 0x25]).expect("EKU");
                c.extensions.push(c.extensions[eku].clone());
            }),
        ),
        pass("e_ext_duplicate_extension", "base", base.clone()),
        fail(
            "e_serial_number_not_positive",
            "negative",
            surgery(|c| c.serial = tlv(0x02, &[0x80, 1, 2, 3, 4, 5, 6, 7, 8])),
        ),
        fail("e_serial_number_not_positive", "zero", surgery(|c| c.serial = tlv(0x02, &[0x00]))),
        pass("e_serial_number_not_positive", "base", base.clone()),
        fail("e_serial_number_longer_than_20_octets", "21 octets", surgery(|c| c.serial = tlv(0x02, &[0x11; 21]))),
        pass("e_serial_number_longer_than_20_octets", "20 octets", surgery(|c| c.serial = tlv(0x02, &[0x71; 20]))),
        fail(
            "e_serial_number_longer_than_20_octets",
            "20 value octets and a sign octet",
            surgery(|c| {
                let mut v = vec![0x00];
                v.extend([0x91; 20]);
                c.serial = tlv(0x02, &v);
            }),
        ),
        fail("w_serial_number_low_entropy", "4 octets", surgery(|c| c.serial = tlv(0x02, &[1, 2, 3, 4]))),
        pass("w_serial_number_low_entropy", "base", base.clone()),
        fail("e_sub_cert_or_sub_ca_using_sha1", "sha1WithRSA", surgery(|c| c.set_signature_algorithm(SHA1_WITH_RSA))),
        pass("e_sub_cert_or_sub_ca_using_sha1", "base", base.clone()),
        fail(
            "e_signature_algorithm_encoding_not_allowed",
            "ECDSA with NULL parameters",
            surgery(|c| c.set_signature_algorithm(ECDSA_SHA256_WITH_NULL)),
        ),
        pass("e_signature_algorithm_encoding_not_allowed", "base", base.clone()),
        pass("e_signature_algorithm_encoding_not_allowed", "RSA", rsa_cert(2048, 65537)),
        fail(
            "e_cert_sig_alg_not_match_tbs_sig_alg",
            "outer SHA-384",
            surgery(|c| c.signature_algorithm = ECDSA_SHA384.to_vec()),
        ),
        pass("e_cert_sig_alg_not_match_tbs_sig_alg", "base", base.clone()),
        fail("e_spki_algorithm_encoding_not_allowed", "secp256k1", secp256k1_cert()),
        pass("e_spki_algorithm_encoding_not_allowed", "P-256", base.clone()),
        pass("e_spki_algorithm_encoding_not_allowed", "P-384", build_p384(&base_params())),
        pass("e_spki_algorithm_encoding_not_allowed", "RSA", rsa_cert(2048, 65537)),
        fail("e_rsa_mod_less_than_2048_bits", "1024 bits", rsa_cert(1024, 65537)),
        pass("e_rsa_mod_less_than_2048_bits", "2048 bits", rsa_cert(2048, 65537)),
        fail("e_mp_modulus_must_be_divisible_by_8", "2052 bits", rsa_cert(2052, 65537)),
        pass("e_mp_modulus_must_be_divisible_by_8", "3072 bits", rsa_cert(3072, 65537)),
        fail("e_rsa_public_exponent_not_odd", "65536", rsa_cert(2048, 65536)),
        pass("e_rsa_public_exponent_not_odd", "65537", rsa_cert(2048, 65537)),
        fail("e_rsa_public_exponent_too_small", "1", rsa_cert(2048, 1)),
        pass("e_rsa_public_exponent_too_small", "3", rsa_cert(2048, 3)),
        fail("w_rsa_public_exponent_not_in_range", "3", rsa_cert(2048, 3)),
        fail("w_rsa_public_exponent_not_in_range", "65536 + 0", rsa_cert(2048, 65536)),
        pass("w_rsa_public_exponent_not_in_range", "65537", rsa_cert(2048, 65537)),
        fail("e_ec_improper_curves", "secp256k1", secp256k1_cert()),
        pass("e_ec_improper_curves", "P-384", build_p384(&base_params())),
        fail("e_validity_time_not_positive", "notAfter before notBefore", with_validity(BASE_NOT_BEFORE, -DAY)),
        pass("e_validity_time_not_positive", "base", base.clone()),
        fail(
            "e_tls_server_cert_valid_time_longer_than_398_days",
            "398 d + 1 s",
            with_validity(BASE_NOT_BEFORE, 398 * DAY + 1),
        ),
        pass(
            "e_tls_server_cert_valid_time_longer_than_398_days",
            "398 d exactly",
            with_validity(BASE_NOT_BEFORE, 398 * DAY),
        ),
        fail(
            "w_tls_server_cert_valid_time_longer_than_397_days",
            "397 d + 1 s",
            with_validity(BASE_NOT_BEFORE, 397 * DAY + 1),
        ),
        pass("w_tls_server_cert_valid_time_longer_than_397_days", "397 d", with_validity(BASE_NOT_BEFORE, 397 * DAY)),
    ];
    // The SC-081 schedule: each limit, checked in its own period.
    for (nb, e_lint, w_lint, days) in [
        (
            1_780_272_000,
            "e_server_cert_valid_time_longer_than_200_days",
            "w_server_cert_valid_time_longer_than_199_days",
            200,
        ),
        (
            1_811_808_000,
            "e_server_cert_valid_time_longer_than_100_days",
            "w_server_cert_valid_time_longer_than_99_days",
            100,
        ),
        (
            1_874_966_400,
            "e_server_cert_valid_time_longer_than_47_days",
            "w_server_cert_valid_time_longer_than_46_days",
            47,
        ),
    ] {
        cases.push(fail(e_lint, "limit + 1 s", with_validity(nb, days * DAY + 1)));
        cases.push(pass(e_lint, "limit", with_validity(nb, days * DAY)));
        cases.push(fail(w_lint, "limit - 1 d + 1 s", with_validity(nb, (days - 1) * DAY + 1)));
        cases.push(pass(w_lint, "limit - 1 d", with_validity(nb, (days - 1) * DAY)));
    }
    cases.extend([
        with(
            fail("e_sub_cert_not_before_far_from_sct", "SCT 49 h after notBefore", base.clone()),
            Entry { is_precert: false, sct_timestamp_ms: Some(nb_ms + 49 * hour_ms) },
        ),
        with(
            fail("e_sub_cert_not_before_far_from_sct", "SCT 49 h before notBefore", base.clone()),
            Entry { is_precert: false, sct_timestamp_ms: Some(nb_ms - 49 * hour_ms) },
        ),
        with(
            pass("e_sub_cert_not_before_far_from_sct", "SCT 1 h after notBefore", base.clone()),
            Entry { is_precert: false, sct_timestamp_ms: Some(nb_ms + hour_ms) },
        ),
        fail(
            "e_cab_dv_subject_invalid_values",
            "DV with L",
            with_policy(OID_DV, &[(DnType::LocalityName, "Springfield"), (DnType::CommonName, "www.example.com")]),
        ),
        pass("e_cab_dv_subject_invalid_values", "DV with C and CN", base.clone()),
        fail(
            "e_cab_dv_conflicts_with_org",
            "DV with O",
            with_policy(OID_DV, &[(DnType::OrganizationName, "Example"), (DnType::CommonName, "www.example.com")]),
        ),
        pass("e_cab_dv_conflicts_with_org", "base", base.clone()),
        fail("e_cab_ov_requires_org", "OV without O", with_policy(OID_OV, &[(DnType::CommonName, "www.example.com")])),
        pass(
            "e_cab_ov_requires_org",
            "OV with O",
            with_policy(OID_OV, &[(DnType::OrganizationName, "Example"), (DnType::CommonName, "www.example.com")]),
        ),
        fail(
            "e_subject_common_name_not_exactly_from_san",
            "CN elsewhere",
            with_policy(OID_DV, &[(DnType::CommonName, "other.example.com")]),
        ),
        pass("e_subject_common_name_not_exactly_from_san", "base", base.clone()),
        fail("e_ext_san_missing", "no SAN", variant(|p| p.subject_alt_names.clear())),
        pass("e_ext_san_missing", "base", base.clone()),
        fail(
            "e_sub_cert_san_prohibited_type",
            "rfc822Name",
            variant(|p| p.subject_alt_names.push(SanType::Rfc822Name("a@example.com".try_into().unwrap()))),
        ),
        pass(
            "e_sub_cert_san_prohibited_type",
            "dNSName and iPAddress",
            variant(|p| p.subject_alt_names.push(SanType::IpAddress([8, 8, 8, 8].into()))),
        ),
        fail(
            "e_ev_san_ip_address_present",
            "EV with iPAddress",
            variant(|p| {
                p.custom_extensions[0] = custom(ARCS_CP, false, policies(OID_EV, None));
                p.subject_alt_names.push(SanType::IpAddress([8, 8, 8, 8].into()));
            }),
        ),
        pass(
            "e_ev_san_ip_address_present",
            "EV with dNSNames",
            variant(|p| p.custom_extensions[0] = custom(ARCS_CP, false, policies(OID_EV, None))),
        ),
        fail("e_underscore_not_permissible_in_dnsname", "a_b", with_names(&["a_b.example.com"])),
        pass("e_underscore_not_permissible_in_dnsname", "base", base.clone()),
        fail("e_dnsname_bad_character_in_label", "leading hyphen", with_names(&["-a.example.com"])),
        fail("e_dnsname_bad_character_in_label", "space", with_names(&["a b.example.com"])),
        pass(
            "e_dnsname_bad_character_in_label",
            "hyphen inside, wildcard",
            with_names(&["a-b.example.com", "*.example.com"]),
        ),
        fail("e_dnsname_empty_label", "double dot", with_names(&["a..example.com"])),
        fail("e_dnsname_empty_label", "trailing dot", with_names(&["example.com."])),
        pass("e_dnsname_empty_label", "base", base.clone()),
        fail("e_dnsname_label_too_long", "64 octets", with_names(&[&format!("{}.example.com", "a".repeat(64))])),
        pass("e_dnsname_label_too_long", "63 octets", with_names(&[&format!("{}.example.com", "a".repeat(63))])),
        fail(
            "e_ext_san_dns_name_too_long",
            "254 octets",
            with_names(&[&format!(
                "{}.{}.{}.{}.example.com",
                "a".repeat(60),
                "b".repeat(60),
                "c".repeat(60),
                "d".repeat(59)
            )]),
        ),
        pass(
            "e_ext_san_dns_name_too_long",
            "253 octets",
            with_names(&[&format!(
                "{}.{}.{}.{}.example.com",
                "a".repeat(60),
                "b".repeat(60),
                "c".repeat(60),
                "d".repeat(58)
            )]),
        ),
        fail("e_dnsname_wildcard_only_in_left_label", "inner wildcard", with_names(&["www.*.example.com"])),
        pass("e_dnsname_wildcard_only_in_left_label", "leftmost wildcard", with_names(&["*.example.com"])),
        fail("e_dnsname_left_label_wildcard_correct", "partial wildcard", with_names(&["w*.example.com"])),
        pass("e_dnsname_left_label_wildcard_correct", "leftmost wildcard", with_names(&["*.example.com"])),
        fail("e_dnsname_is_ip_address", "dotted quad", with_names(&["192.0.2.1"])),
        pass("e_dnsname_is_ip_address", "base", base.clone()),
        fail("w_dnsname_uppercase", "WWW", with_names(&["WWW.example.com"])),
        pass("w_dnsname_uppercase", "base", base.clone()),
        fail("e_dnsname_not_valid_tld", ".local", with_names(&["server.local"])),
        pass("e_dnsname_not_valid_tld", "ccTLD and onion", with_names(&["example.co.uk", "abc.onion"])),
        fail(
            "e_ext_san_contains_reserved_ip",
            "10.0.0.1",
            variant(|p| p.subject_alt_names.push(SanType::IpAddress([10, 0, 0, 1].into()))),
        ),
        pass(
            "e_ext_san_contains_reserved_ip",
            "8.8.8.8",
            variant(|p| p.subject_alt_names.push(SanType::IpAddress([8, 8, 8, 8].into()))),
        ),
        fail(
            "e_sub_cert_basic_constraints_not_critical",
            "non-critical",
            variant(|p| {
                p.is_ca = IsCa::NoCa;
                p.custom_extensions.push(custom(ARCS_BC, false, vec![0x30, 0x00]));
            }),
        ),
        pass("e_sub_cert_basic_constraints_not_critical", "critical", base.clone()),
        fail(
            "e_sub_cert_not_is_ca",
            "cA without keyCertSign",
            variant(|p| p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained)),
        ),
        pass("e_sub_cert_not_is_ca", "base", base.clone()),
        fail(
            "e_sub_cert_key_usage_cert_sign_bit_set",
            "keyCertSign",
            variant(|p| p.key_usages.push(KeyUsagePurpose::KeyCertSign)),
        ),
        pass("e_sub_cert_key_usage_cert_sign_bit_set", "base", base.clone()),
        fail(
            "e_sub_cert_key_usage_crl_sign_bit_set",
            "cRLSign",
            variant(|p| p.key_usages.push(KeyUsagePurpose::CrlSign)),
        ),
        pass("e_sub_cert_key_usage_crl_sign_bit_set", "base", base.clone()),
        fail(
            "e_sub_cert_ecdsa_ku_missing_digital_signature",
            "keyAgreement only",
            variant(|p| p.key_usages = vec![KeyUsagePurpose::KeyAgreement]),
        ),
        pass("e_sub_cert_ecdsa_ku_missing_digital_signature", "base", base.clone()),
        fail(
            "e_sub_cert_ecdsa_ku_prohibited",
            "keyEncipherment",
            variant(|p| p.key_usages.push(KeyUsagePurpose::KeyEncipherment)),
        ),
        pass(
            "e_sub_cert_ecdsa_ku_prohibited",
            "digitalSignature and keyAgreement",
            variant(|p| p.key_usages.push(KeyUsagePurpose::KeyAgreement)),
        ),
        fail("e_sub_cert_rsa_ku_prohibited", "RSA with keyAgreement", rsa_with_ku(&[0x03, 0x02, 0x03, 0x88])),
        pass(
            "e_sub_cert_rsa_ku_prohibited",
            "RSA with digitalSignature, keyEncipherment",
            rsa_with_ku(&[0x03, 0x02, 0x05, 0xa0]),
        ),
        fail("e_sub_cert_eku_missing", "no EKU", variant(|p| p.extended_key_usages.clear())),
        pass("e_sub_cert_eku_missing", "base", base.clone()),
        fail(
            "e_sub_cert_eku_server_auth_missing",
            "clientAuth only",
            variant(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth]),
        ),
        pass("e_sub_cert_eku_server_auth_missing", "base", base.clone()),
        fail(
            "e_sub_cert_eku_any_present",
            "anyEKU",
            variant(|p| p.extended_key_usages.push(ExtendedKeyUsagePurpose::Any)),
        ),
        pass("e_sub_cert_eku_any_present", "base", base.clone()),
        fail(
            "e_sub_cert_certificate_policies_missing",
            "no policies",
            variant(|p| drop(p.custom_extensions.remove(0))),
        ),
        pass("e_sub_cert_certificate_policies_missing", "base", base.clone()),
        fail(
            "e_sub_cert_reserved_policy_oid_missing",
            "private OID only",
            variant(|p| p.custom_extensions[0] = custom(ARCS_CP, false, policies(&[0x2a, 0x03, 0x04], None))),
        ),
        pass("e_sub_cert_reserved_policy_oid_missing", "base", base.clone()),
        fail(
            "e_invalid_cps_uri",
            "ftp",
            variant(|p| {
                p.custom_extensions[0] = custom(ARCS_CP, false, policies(OID_DV, Some("ftp://cps.example.net/")))
            }),
        ),
        fail(
            "e_invalid_cps_uri",
            "no scheme",
            variant(|p| p.custom_extensions[0] = custom(ARCS_CP, false, policies(OID_DV, Some("www.example.net/cps")))),
        ),
        pass("e_invalid_cps_uri", "http", base.clone()),
        pass(
            "e_invalid_cps_uri",
            "https",
            variant(|p| {
                p.custom_extensions[0] = custom(ARCS_CP, false, policies(OID_DV, Some("HTTPS://cps.example.net/")))
            }),
        ),
        fail("e_sub_cert_aia_missing", "no AIA", variant(|p| drop(p.custom_extensions.remove(1)))),
        pass("e_sub_cert_aia_missing", "base", base.clone()),
        fail(
            "e_aia_ocsp_must_have_http_only",
            "https OCSP",
            variant(|p| {
                p.custom_extensions[1] =
                    custom(ARCS_AIA, false, aia("https://ocsp.example.net", "http://ca.example.net/"))
            }),
        ),
        pass("e_aia_ocsp_must_have_http_only", "base", base.clone()),
        fail(
            "e_aia_ca_issuers_must_have_http_only",
            "ldap caIssuers",
            variant(|p| {
                p.custom_extensions[1] =
                    custom(ARCS_AIA, false, aia("http://ocsp.example.net", "ldap://ca.example.net/"))
            }),
        ),
        pass("e_aia_ca_issuers_must_have_http_only", "base", base.clone()),
        fail(
            "e_subscribers_crl_distribution_points_are_http",
            "ldap CRL",
            variant(|p| {
                p.crl_distribution_points = vec![CrlDistributionPoint { uris: vec!["ldap://crl.example.net/".into()] }]
            }),
        ),
        pass("e_subscribers_crl_distribution_points_are_http", "base", base.clone()),
        with(
            fail("e_precert_poison_missing_or_not_critical", "precert entry without poison", base.clone()),
            precert_entry,
        ),
        with(
            fail(
                "e_precert_poison_missing_or_not_critical",
                "non-critical poison",
                precert(&[custom(ARCS_POISON, false, vec![0x05, 0x00])]),
            ),
            precert_entry,
        ),
        with(
            pass("e_precert_poison_missing_or_not_critical", "critical poison", precert(std::slice::from_ref(&poison))),
            precert_entry,
        ),
        with(
            fail(
                "e_precert_with_sct_list",
                "poison and SCT list",
                precert(&[poison.clone(), custom(ARCS_SCT_LIST, false, sct_list_value())]),
            ),
            precert_entry,
        ),
        with(pass("e_precert_with_sct_list", "poison only", precert(&[poison])), precert_entry),
    ]);
    cases
}

#[test]
fn base_certificate_passes_every_lint() {
    let base = build(&base_params());
    let facts = ctwatch_cert::facts::cert_facts(&base).unwrap();
    let input = ctwatch_lint::LintInput { der: &base, facts: &facts, is_precert: false, sct_timestamp_ms: None };
    let results = ctwatch_lint::lint(&input);
    assert_eq!(results.len(), registry().len());
    let bad: Vec<_> =
        results.iter().filter(|r| r.status.is_failure()).map(|r| (r.lint.name, r.detail.clone())).collect();
    assert!(bad.is_empty(), "{bad:?}");
    assert!(ctwatch_lint::failures(&input).is_empty());
}

#[test]
fn every_lint_has_a_failing_and_a_passing_case() {
    let cases = cases();
    let mut problems = Vec::new();
    for case in &cases {
        let result = result_of(&case.der, case.entry, case.lint);
        let expected = if case.fails { result.lint.severity.failure_status() } else { LintStatus::Pass };
        if result.status != expected {
            problems.push(format!(
                "{} [{}]: expected {:?}, got {:?} ({:?})",
                case.lint, case.what, expected, result.status, result.detail
            ));
        }
        // failures() must agree with lint() on whether this lint failed.
        let facts = ctwatch_cert::facts::cert_facts(&case.der).unwrap();
        let input = ctwatch_lint::LintInput {
            der: &case.der,
            facts: &facts,
            is_precert: case.entry.is_precert,
            sct_timestamp_ms: case.entry.sct_timestamp_ms,
        };
        let in_failures = ctwatch_lint::failures(&input).iter().any(|r| r.lint.name == case.lint);
        if in_failures != result.status.is_failure() {
            problems.push(format!("{} [{}]: failures() disagrees with lint()", case.lint, case.what));
        }
    }
    for info in registry() {
        for fails in [true, false] {
            if !cases.iter().any(|c| c.lint == info.name && c.fails == fails) {
                problems.push(format!("{}: no {} case", info.name, if fails { "failing" } else { "passing" }));
            }
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}
