//! The lint registry and the checks.
//!
//! A check returns an [`Outcome`]: `Pass`, `NotApplicable` (the requirement does not concern
//! this certificate, or the field it reads could not be decoded), or `Fail` with what was found.
//! Whether a failure is a warning or an error is the lint's [`LintSeverity`]; whether the lint is
//! in force is decided by notBefore against its effective dates, outside the check.

mod extensions;
mod general;
mod keys;
mod names;

use crate::{Check, LintInfo, LintSeverity};

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The certificate meets the requirement.
    Pass,
    /// The requirement does not concern this certificate; the text says why when that is not
    /// obvious (an undecodable field).
    NotApplicable(Option<&'static str>),
    /// The certificate fails the requirement; the text says what was found.
    Fail(String),
}

/// Shorthand for a not-applicable outcome without explanation.
pub(crate) const NA: Outcome = Outcome::NotApplicable(None);

/// DER content bytes of the OIDs the checks match.
pub(crate) mod oid {
    pub const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
    pub const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];
    pub const KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x0f];
    pub const EXT_KEY_USAGE: &[u8] = &[0x55, 0x1d, 0x25];
    pub const CERTIFICATE_POLICIES: &[u8] = &[0x55, 0x1d, 0x20];
    pub const CRL_DISTRIBUTION_POINTS: &[u8] = &[0x55, 0x1d, 0x1f];
    pub const AUTHORITY_INFO_ACCESS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x01];
    pub const CT_POISON: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x03];
    pub const CT_SCT_LIST: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0xd6, 0x79, 0x02, 0x04, 0x02];
    /// id-qt-cps, 1.3.6.1.5.5.7.2.1.
    pub const QT_CPS: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x02, 0x01];
    /// rsaEncryption, 1.2.840.113549.1.1.1.
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    /// id-ecPublicKey, 1.2.840.10045.2.1.
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    /// secp256r1 (P-256), 1.2.840.10045.3.1.7.
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    /// secp384r1 (P-384), 1.3.132.0.34.
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    /// secp521r1 (P-521), 1.3.132.0.35.
    pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    /// Signature algorithms with SHA-1, MD5 or MD2 digests.
    pub const WEAK_SIGNATURES: &[(&[u8], &str)] = &[
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x05], "sha1WithRSAEncryption"),
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x04], "md5WithRSAEncryption"),
        (&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x02], "md2WithRSAEncryption"),
        (&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x01], "ecdsa-with-SHA1"),
        (&[0x2a, 0x86, 0x48, 0xce, 0x38, 0x04, 0x03], "dsa-with-sha1"),
    ];
    /// Subject attribute types.
    pub const AT_COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];
    pub const AT_COUNTRY: &[u8] = &[0x55, 0x04, 0x06];
    pub const AT_ORGANIZATION: &[u8] = &[0x55, 0x04, 0x0a];
}

/// Effective dates (Unix seconds, 00:00 UTC), named after the rule that set them.
pub(crate) mod date {
    /// RFC 3280 (2002-04-01).
    pub const RFC3280: i64 = 1_017_619_200;
    /// RFC 5280 (2008-05-01).
    pub const RFC5280: i64 = 1_209_600_000;
    /// BR 1.0 in force (2012-07-01).
    pub const BR_1_0: i64 = 1_341_100_800;
    /// BR 1.1.3: RSA public exponent rules (2013-02-21).
    pub const BR_1_1_3: i64 = 1_361_404_800;
    /// RFC 6962 (2013-06-01).
    pub const RFC6962: i64 = 1_370_044_800;
    /// BR 1.3.0: certificates must be v3 (2015-04-16).
    pub const BR_1_3_0: i64 = 1_429_142_400;
    /// No SHA-1 for subscriber certificates (2016-01-01).
    pub const NO_SHA1: i64 = 1_451_606_400;
    /// Ballot 164: 64 bits of CSPRNG output in serial numbers (2016-09-30).
    pub const SERIAL_ENTROPY: i64 = 1_475_193_600;
    /// Mozilla Root Store Policy 2.4: RSA modulus divisible by 8 (2017-02-28).
    pub const MOZILLA_2_4: i64 = 1_488_240_000;
    /// Ballot SC12 sunset: no underscores in dNSNames (2019-04-01).
    pub const NO_UNDERSCORES: i64 = 1_554_076_800;
    /// 398-day maximum validity (2020-09-01).
    pub const VALIDITY_398: i64 = 1_598_918_400;
    /// BR 1.8.0: commonName must be a SAN value verbatim (2021-08-25).
    pub const BR_1_8_0: i64 = 1_629_849_600;
    /// BR 2.0.0 / ballot SC62 profiles (2023-09-15).
    pub const BR_2_0_0: i64 = 1_694_736_000;
    /// Ballot SC-081 first milestone: 200 days (2026-03-15).
    pub const SC081_200: i64 = 1_773_532_800;
    /// Ballot SC-081 second milestone: 100 days (2027-03-15).
    pub const SC081_100: i64 = 1_805_068_800;
    /// Ballot SC-081 third milestone: 47 days (2029-03-15).
    pub const SC081_47: i64 = 1_868_227_200;
}

/// A registry entry with no end date.
#[allow(clippy::too_many_arguments)]
const fn def(
    name: &'static str,
    zlint: Option<&'static str>,
    pkilint: Option<&'static str>,
    severity: LintSeverity,
    citation: &'static str,
    effective: i64,
    description: &'static str,
    check: Check,
) -> LintInfo {
    LintInfo { name, zlint, pkilint, citation, severity, effective, ineffective: None, description, check }
}

/// The same entry, replaced by a later rule for certificates with notBefore at or after `end`.
const fn until(info: LintInfo, end: i64) -> LintInfo {
    LintInfo { ineffective: Some(end), ..info }
}

use LintSeverity::{Error as E, Warn as W};

/// Every lint, grouped by what it reads.
pub(crate) static REGISTRY: &[LintInfo] = &[
    // ---- Structure and encoding
    def(
        "e_cert_unparseable",
        None,
        Some("itu.invalid_asn1_syntax"),
        E,
        "RFC 5280 4.1; BR 7.1 (certificates are DER X.509)",
        0,
        "The certificate, or one of its extensions, is not valid DER X.509 (x509-parser rejects it).",
        general::unparseable,
    ),
    def(
        "e_invalid_certificate_version",
        Some("e_invalid_certificate_version"),
        Some("pkix.certificate_version_is_not_v3"),
        E,
        "BR 7.1.1",
        date::BR_1_3_0,
        "The certificate is not X.509 v3.",
        general::version_not_v3,
    ),
    def(
        "e_ext_duplicate_extension",
        Some("e_ext_duplicate_extension"),
        Some("pkix.duplicate_extension"),
        E,
        "RFC 5280 4.2",
        0,
        "An extension appears more than once.",
        extensions::duplicate_extension,
    ),
    def(
        "e_serial_number_not_positive",
        Some("e_serial_number_not_positive"),
        Some("pkix.certificate_serial_number_out_of_range"),
        E,
        "RFC 5280 4.1.2.2; BR 7.1",
        date::RFC3280,
        "The serial number is zero or negative.",
        general::serial_not_positive,
    ),
    def(
        "e_serial_number_longer_than_20_octets",
        Some("e_serial_number_longer_than_20_octets"),
        Some("pkix.certificate_serial_number_out_of_range"),
        E,
        "RFC 5280 4.1.2.2",
        date::RFC3280,
        "The serial number's minimal DER encoding needs more than 20 octets.",
        general::serial_too_long,
    ),
    def(
        "w_serial_number_low_entropy",
        None,
        None,
        W,
        "BR 7.1 (at least 64 bits of CSPRNG output)",
        date::SERIAL_ENTROPY,
        "The serial number's value has fewer than 8 octets, so it cannot hold 64 random bits.",
        general::serial_low_entropy,
    ),
    // ---- Signature and key algorithms
    def(
        "e_sub_cert_or_sub_ca_using_sha1",
        Some("e_sub_cert_or_sub_ca_using_sha1"),
        None,
        E,
        "BR 7.1.3.2.1",
        date::NO_SHA1,
        "The certificate is signed with SHA-1 (or MD5/MD2).",
        general::weak_signature_hash,
    ),
    def(
        "e_signature_algorithm_encoding_not_allowed",
        Some("e_signature_algorithm_not_supported"),
        Some("cabf.serverauth.prohibited_signature_algorithm_encoding"),
        E,
        "BR 7.1.3.2.1",
        date::BR_2_0_0,
        "The signature AlgorithmIdentifier is not one of the byte-exact encodings BR 7.1.3.2 allows.",
        general::signature_encoding,
    ),
    def(
        "e_cert_sig_alg_not_match_tbs_sig_alg",
        None,
        Some("pkix.certificate_signature_algorithm_mismatch"),
        E,
        "RFC 5280 4.1.1.2",
        date::RFC5280,
        "Certificate.signatureAlgorithm differs from TBSCertificate.signature.",
        general::signature_mismatch,
    ),
    def(
        "e_spki_algorithm_encoding_not_allowed",
        None,
        Some("cabf.serverauth.prohibited_subject_public_key_algorithm_encoding"),
        E,
        "BR 7.1.3.1",
        date::BR_2_0_0,
        "The SubjectPublicKeyInfo AlgorithmIdentifier is not one of the byte-exact encodings BR 7.1.3.1 allows.",
        keys::spki_encoding,
    ),
    def(
        "e_rsa_mod_less_than_2048_bits",
        Some("e_rsa_mod_less_than_2048_bits"),
        Some("cabf.rsa_modulus_invalid_length"),
        E,
        "BR 6.1.5",
        0,
        "The RSA modulus is shorter than 2048 bits.",
        keys::rsa_modulus_short,
    ),
    def(
        "e_mp_modulus_must_be_divisible_by_8",
        Some("e_mp_modulus_must_be_divisible_by_8"),
        Some("cabf.rsa_modulus_invalid_length"),
        E,
        "BR 6.1.5; Mozilla Root Store Policy 5.1",
        date::MOZILLA_2_4,
        "The RSA modulus size in bits is not a multiple of 8.",
        keys::rsa_modulus_not_multiple_of_8,
    ),
    def(
        "e_rsa_public_exponent_not_odd",
        Some("e_rsa_public_exponent_not_odd"),
        Some("cabf.rsa_exponent_prohibited_value"),
        E,
        "BR 6.1.6",
        date::BR_1_1_3,
        "The RSA public exponent is even.",
        keys::rsa_exponent_even,
    ),
    def(
        "e_rsa_public_exponent_too_small",
        Some("e_rsa_public_exponent_too_small"),
        Some("cabf.rsa_exponent_prohibited_value"),
        E,
        "BR 6.1.6",
        date::BR_1_1_3,
        "The RSA public exponent is less than 3.",
        keys::rsa_exponent_small,
    ),
    def(
        "w_rsa_public_exponent_not_in_range",
        Some("w_rsa_public_exponent_not_in_range"),
        Some("cabf.rsa_exponent_not_in_recommended_range"),
        W,
        "BR 6.1.6",
        date::BR_1_1_3,
        "The RSA public exponent is outside 2^16+1 ..= 2^256-1.",
        keys::rsa_exponent_range,
    ),
    def(
        "e_ec_improper_curves",
        Some("e_ec_improper_curves"),
        Some("cabf.serverauth.prohibited_subject_public_key_algorithm_encoding"),
        E,
        "BR 6.1.5",
        0,
        "The EC key is not on P-256, P-384 or P-521.",
        keys::ec_curve,
    ),
    // ---- Validity
    def(
        "e_validity_time_not_positive",
        Some("e_validity_time_not_positive"),
        Some("pkix.certificate_negative_validity_period"),
        E,
        "RFC 5280 4.1.2.5",
        0,
        "notAfter is before notBefore.",
        general::validity_negative,
    ),
    until(
        def(
            "e_tls_server_cert_valid_time_longer_than_398_days",
            Some("e_tls_server_cert_valid_time_longer_than_398_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_398_days"),
            E,
            "BR 6.3.2",
            date::VALIDITY_398,
            "The validity period (notAfter - notBefore + 1 s) exceeds 398 days.",
            general::validity_over_398,
        ),
        date::SC081_200,
    ),
    until(
        def(
            "w_tls_server_cert_valid_time_longer_than_397_days",
            Some("w_tls_server_cert_valid_time_longer_than_397_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_397_days"),
            W,
            "BR 6.3.2",
            date::VALIDITY_398,
            "The validity period exceeds 397 days.",
            general::validity_over_397,
        ),
        date::SC081_200,
    ),
    until(
        def(
            "e_server_cert_valid_time_longer_than_200_days",
            Some("e_server_cert_valid_time_longer_than_200_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_200_days"),
            E,
            "BR 6.3.2 (ballot SC-081)",
            date::SC081_200,
            "The validity period exceeds 200 days.",
            general::validity_over_200,
        ),
        date::SC081_100,
    ),
    until(
        def(
            "w_server_cert_valid_time_longer_than_199_days",
            Some("w_server_cert_valid_time_longer_than_199_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_199_days"),
            W,
            "BR 6.3.2 (ballot SC-081)",
            date::SC081_200,
            "The validity period exceeds 199 days.",
            general::validity_over_199,
        ),
        date::SC081_100,
    ),
    until(
        def(
            "e_server_cert_valid_time_longer_than_100_days",
            Some("e_server_cert_valid_time_longer_than_100_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_100_days"),
            E,
            "BR 6.3.2 (ballot SC-081)",
            date::SC081_100,
            "The validity period exceeds 100 days.",
            general::validity_over_100,
        ),
        date::SC081_47,
    ),
    until(
        def(
            "w_server_cert_valid_time_longer_than_99_days",
            Some("w_server_cert_valid_time_longer_than_99_days"),
            Some("cabf.serverauth.certificate_validity_period_exceeds_99_days"),
            W,
            "BR 6.3.2 (ballot SC-081)",
            date::SC081_100,
            "The validity period exceeds 99 days.",
            general::validity_over_99,
        ),
        date::SC081_47,
    ),
    def(
        "e_server_cert_valid_time_longer_than_47_days",
        Some("e_server_cert_valid_time_longer_than_47_days"),
        Some("cabf.serverauth.certificate_validity_period_exceeds_47_days"),
        E,
        "BR 6.3.2 (ballot SC-081)",
        date::SC081_47,
        "The validity period exceeds 47 days.",
        general::validity_over_47,
    ),
    def(
        "w_server_cert_valid_time_longer_than_46_days",
        Some("w_server_cert_valid_time_longer_than_46_days"),
        Some("cabf.serverauth.certificate_validity_period_exceeds_46_days"),
        W,
        "BR 6.3.2 (ballot SC-081)",
        date::SC081_47,
        "The validity period exceeds 46 days.",
        general::validity_over_46,
    ),
    def(
        "e_sub_cert_not_before_far_from_sct",
        None,
        None,
        E,
        "BR 7.1.2.7 (notBefore within 48 hours of signing)",
        date::BR_2_0_0,
        "notBefore is more than 48 hours before or after the CT timestamp (entry or earliest embedded SCT).",
        general::not_before_far_from_sct,
    ),
    // ---- Subject
    def(
        "e_cab_dv_subject_invalid_values",
        Some("e_cab_dv_subject_invalid_values"),
        Some("cabf.serverauth.dv.unknown_attribute_present"),
        E,
        "BR 7.1.2.7.2",
        date::BR_2_0_0,
        "A DV certificate's subject has attributes other than countryName and commonName.",
        general::dv_subject_attributes,
    ),
    def(
        "e_cab_dv_conflicts_with_org",
        Some("e_cab_dv_conflicts_with_org"),
        None,
        E,
        "BR 7.1.6.4 (1.x numbering); BR 7.1.2.7.2",
        date::BR_1_0,
        "A DV certificate's subject has organizationName.",
        general::dv_with_org,
    ),
    def(
        "e_cab_ov_requires_org",
        Some("e_cab_ov_requires_org"),
        Some("cabf.serverauth.ov.organization_name_attribute_absent"),
        E,
        "BR 7.1.2.7.3",
        date::BR_1_0,
        "An OV certificate's subject has no organizationName.",
        general::ov_without_org,
    ),
    def(
        "e_subject_common_name_not_exactly_from_san",
        Some("e_subject_common_name_not_exactly_from_san"),
        Some("cabf.serverauth.subscriber_common_name_unknown_source"),
        E,
        "BR 7.1.4.3",
        date::BR_1_8_0,
        "A subject commonName is not byte-for-byte one of the SAN dNSName or iPAddress values.",
        names::cn_not_in_san,
    ),
    // ---- subjectAltName
    def(
        "e_ext_san_missing",
        Some("e_ext_san_missing"),
        Some("cabf.serverauth.subscriber.subject_altname_extension_absent"),
        E,
        "BR 7.1.2.7.12",
        date::BR_1_0,
        "There is no subjectAltName extension.",
        names::san_missing,
    ),
    def(
        "e_sub_cert_san_prohibited_type",
        None,
        Some("cabf.serverauth.prohibited_san_type"),
        E,
        "BR 7.1.2.7.12",
        date::BR_1_0,
        "The subjectAltName has a GeneralName other than dNSName or iPAddress.",
        names::san_prohibited_type,
    ),
    def(
        "e_ev_san_ip_address_present",
        Some("e_ev_san_ip_address_present"),
        Some("cabf.ev_guidelines.prohibited_san_type"),
        E,
        "EV Guidelines 9.2.1 / 9.8.1",
        0,
        "An EV certificate's subjectAltName has a GeneralName other than dNSName.",
        names::ev_san_not_dns,
    ),
    def(
        "e_underscore_not_permissible_in_dnsname",
        Some("e_underscore_not_permissible_in_dnsname"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 7.1.4.2.1 (ballot SC12)",
        date::NO_UNDERSCORES,
        "A dNSName contains an underscore.",
        names::underscore,
    ),
    def(
        "e_dnsname_bad_character_in_label",
        Some("e_dnsname_bad_character_in_label"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 7.1.2.7.12; RFC 5280 4.2.1.6 (preferred name syntax)",
        date::BR_1_0,
        "A dNSName label has a character other than letters, digits and hyphen, or starts or ends with a hyphen.",
        names::bad_label_character,
    ),
    def(
        "e_dnsname_empty_label",
        Some("e_dnsname_empty_label"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 7.1.2.7.12; RFC 5280 4.2.1.6",
        date::BR_1_0,
        "A dNSName is empty or has an empty label (leading, trailing or double dot).",
        names::empty_label,
    ),
    def(
        "e_dnsname_label_too_long",
        Some("e_dnsname_label_too_long"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 7.1.2.7.12; RFC 1034 3.1",
        date::BR_1_0,
        "A dNSName label is longer than 63 octets.",
        names::label_too_long,
    ),
    def(
        "e_ext_san_dns_name_too_long",
        Some("e_ext_san_dns_name_too_long"),
        Some("pkix.dnsname_domain_name_too_long"),
        E,
        "RFC 5280 4.2.1.6; RFC 1034 3.1",
        date::RFC5280,
        "A dNSName is longer than 253 octets.",
        names::name_too_long,
    ),
    def(
        "e_dnsname_wildcard_only_in_left_label",
        Some("e_dnsname_wildcard_only_in_left_label"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 1.6.1 (Wildcard Domain Name); BR 7.1.2.7.12",
        date::BR_1_0,
        "A dNSName has `*` in a label other than the leftmost.",
        names::wildcard_not_leftmost,
    ),
    def(
        "e_dnsname_left_label_wildcard_correct",
        Some("e_dnsname_left_label_wildcard_correct"),
        Some("cabf.serverauth.invalid_dnsname_syntax"),
        E,
        "BR 1.6.1 (Wildcard Domain Name); BR 7.1.2.7.12",
        date::BR_1_0,
        "A dNSName's leftmost label has `*` but is not exactly `*` (a partial-label wildcard).",
        names::partial_wildcard,
    ),
    def(
        "e_dnsname_is_ip_address",
        None,
        None,
        E,
        "BR 7.1.2.7.12 (IP addresses go in iPAddress)",
        date::BR_1_0,
        "A dNSName is an IP address written as text.",
        names::dns_name_is_ip,
    ),
    def(
        "w_dnsname_uppercase",
        None,
        None,
        W,
        "RFC 4343; RFC 5280 4.2.1.6 (names compare case-insensitively; lowercase is the canonical form)",
        0,
        "A dNSName has uppercase letters.",
        names::uppercase,
    ),
    def(
        "e_dnsname_not_valid_tld",
        Some("e_dnsname_not_valid_tld"),
        Some("cabf.internal_domain_name"),
        E,
        "BR 4.2.2; BR 7.1.2.7.12 (Internal Names)",
        date::BR_1_0,
        "A dNSName's rightmost label is not a public top-level domain (an Internal Name).",
        names::internal_name,
    ),
    def(
        "e_ext_san_contains_reserved_ip",
        Some("e_ext_san_contains_reserved_ip"),
        Some("cabf.internal_ip_address"),
        E,
        "BR 4.2.2; BR 7.1.2.7.12 (Reserved IP Addresses)",
        date::BR_1_0,
        "A SAN iPAddress is a reserved (private, loopback, documentation, ...) address.",
        names::reserved_ip,
    ),
    // ---- basicConstraints, keyUsage, extKeyUsage
    def(
        "e_sub_cert_basic_constraints_not_critical",
        Some("e_sub_cert_basic_constraints_not_critical"),
        Some("cabf.serverauth.subscriber.non_critical_basic_constraints_extension"),
        E,
        "BR 7.1.2.7.6",
        date::BR_2_0_0,
        "basicConstraints is present and not critical.",
        extensions::basic_constraints_not_critical,
    ),
    def(
        "e_sub_cert_not_is_ca",
        Some("e_sub_cert_not_is_ca"),
        Some("cabf.serverauth.subscriber_basic_constraints_ca_bit_set"),
        E,
        "BR 7.1.2.7.8",
        date::BR_1_0,
        "basicConstraints cA is TRUE in a certificate without keyCertSign.",
        extensions::is_ca,
    ),
    def(
        "e_sub_cert_key_usage_cert_sign_bit_set",
        Some("e_sub_cert_key_usage_cert_sign_bit_set"),
        Some("cabf.serverauth.subscriber_prohibited_ku_present"),
        E,
        "BR 7.1.2.7.11",
        date::BR_1_0,
        "keyUsage has keyCertSign.",
        extensions::ku_cert_sign,
    ),
    def(
        "e_sub_cert_key_usage_crl_sign_bit_set",
        Some("e_sub_cert_key_usage_crl_sign_bit_set"),
        Some("cabf.serverauth.subscriber_prohibited_ku_present"),
        E,
        "BR 7.1.2.7.11",
        date::BR_1_0,
        "keyUsage has cRLSign.",
        extensions::ku_crl_sign,
    ),
    def(
        "e_sub_cert_ecdsa_ku_missing_digital_signature",
        None,
        Some("cabf.serverauth.subscriber_required_ku_missing"),
        E,
        "BR 7.1.2.7.11",
        date::BR_2_0_0,
        "An ECDSA certificate's keyUsage lacks digitalSignature.",
        extensions::ecdsa_ku_no_digital_signature,
    ),
    def(
        "e_sub_cert_ecdsa_ku_prohibited",
        Some("e_ecdsa_allowed_ku"),
        Some("cabf.serverauth.subscriber_prohibited_ku_present"),
        E,
        "BR 7.1.2.7.11",
        date::BR_2_0_0,
        "An ECDSA certificate's keyUsage has bits other than digitalSignature and keyAgreement.",
        extensions::ku_prohibited_for_ecdsa,
    ),
    def(
        "e_sub_cert_rsa_ku_prohibited",
        None,
        Some("cabf.serverauth.subscriber_prohibited_ku_present"),
        E,
        "BR 7.1.2.7.11",
        date::BR_2_0_0,
        "An RSA certificate's keyUsage has bits other than digitalSignature, keyEncipherment and dataEncipherment.",
        extensions::ku_prohibited_for_rsa,
    ),
    def(
        "e_sub_cert_eku_missing",
        Some("e_sub_cert_eku_missing"),
        Some("cabf.serverauth.subscriber.extended_key_usage_extension_absent"),
        E,
        "BR 7.1.2.7.10",
        date::BR_1_0,
        "There is no extKeyUsage extension.",
        extensions::eku_missing,
    ),
    def(
        "e_sub_cert_eku_server_auth_missing",
        Some("e_sub_cert_eku_check"),
        Some("cabf.serverauth.subscriber.serverauth_eku_absent"),
        E,
        "BR 7.1.2.7.10",
        date::BR_1_0,
        "extKeyUsage does not include id-kp-serverAuth.",
        extensions::eku_no_server_auth,
    ),
    def(
        "e_sub_cert_eku_any_present",
        None,
        Some("cabf.serverauth.subscriber.anyeku_eku_present"),
        E,
        "BR 7.1.2.7.10",
        date::BR_2_0_0,
        "extKeyUsage includes anyExtendedKeyUsage.",
        extensions::eku_any,
    ),
    // ---- Policies, AIA, CRL DP
    def(
        "e_sub_cert_certificate_policies_missing",
        Some("e_sub_cert_certificate_policies_missing"),
        Some("cabf.serverauth.subscriber.certificate_policies_extension_absent"),
        E,
        "BR 7.1.2.7.9",
        date::BR_1_0,
        "There is no certificatePolicies extension.",
        extensions::policies_missing,
    ),
    def(
        "e_sub_cert_reserved_policy_oid_missing",
        None,
        Some("cabf.serverauth.subscriber_missing_reserved_policy_oid"),
        E,
        "BR 7.1.2.7.9; BR 7.1.6.1",
        date::BR_2_0_0,
        "certificatePolicies has no CA/Browser Forum reserved policy (2.23.140.1.2.x or 2.23.140.1.1).",
        extensions::reserved_policy_missing,
    ),
    def(
        "e_invalid_cps_uri",
        Some("e_invalid_cps_uri"),
        Some("cabf.cps_uri_is_not_http"),
        E,
        "BR 7.1.2.7.9 (CPS URI: HTTP or HTTPS URL)",
        date::BR_2_0_0,
        "A CPS URI policy qualifier is not an http or https URL.",
        extensions::cps_uri_not_http,
    ),
    def(
        "e_sub_cert_aia_missing",
        Some("e_sub_cert_aia_missing"),
        Some("cabf.serverauth.subscriber.authority_info_access_extension_absent"),
        E,
        "BR 7.1.2.7.7",
        date::BR_1_0,
        "There is no authorityInformationAccess extension.",
        extensions::aia_missing,
    ),
    def(
        "e_aia_ocsp_must_have_http_only",
        Some("e_aia_ocsp_must_have_http_only"),
        Some("cabf.serverauth.aia_location_uri_not_http"),
        E,
        "BR 7.1.2.7.7",
        date::BR_2_0_0,
        "An id-ad-ocsp access location is not an http URL.",
        extensions::aia_ocsp_not_http,
    ),
    def(
        "e_aia_ca_issuers_must_have_http_only",
        Some("e_aia_ca_issuers_must_have_http_only"),
        Some("cabf.serverauth.aia_location_uri_not_http"),
        E,
        "BR 7.1.2.7.7",
        date::BR_2_0_0,
        "An id-ad-caIssuers access location is not an http URL.",
        extensions::aia_ca_issuers_not_http,
    ),
    def(
        "e_subscribers_crl_distribution_points_are_http",
        Some("e_subscribers_crl_distribution_points_are_http"),
        Some("cabf.serverauth.crldp_dpname_prohibited_uri_scheme"),
        E,
        "BR 7.1.2.11.2",
        date::BR_2_0_0,
        "A cRLDistributionPoints URI is not an http URL.",
        extensions::crl_dp_not_http,
    ),
    // ---- Precertificates
    def(
        "e_precert_poison_missing_or_not_critical",
        None,
        Some("pkix.ct_precert_poison_extension_not_critical"),
        E,
        "RFC 6962 3.1",
        date::RFC6962,
        "A precertificate lacks the CT poison extension, or has it non-critical or not NULL.",
        extensions::poison,
    ),
    def(
        "e_precert_with_sct_list",
        Some("e_precert_with_sct_list"),
        Some("pkix.ct_precert_poison_and_sctlist_extensions_present"),
        E,
        "RFC 6962 3.3",
        date::RFC6962,
        "A precertificate carries an embedded SCT list.",
        extensions::precert_with_sct_list,
    ),
];

/// The lints whose failure is decided by the given closure over the certificate's SAN values; a
/// shared shape for the dNSName lints.
pub(crate) fn first_failing<'n>(
    names: impl IntoIterator<Item = &'n String>,
    fails: impl Fn(&str) -> bool,
) -> Option<&'n str> {
    names.into_iter().map(String::as_str).find(|n| fails(n))
}
