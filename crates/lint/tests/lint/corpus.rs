//! Real certificates: every lint runs without panicking on every certificate in the shared data,
//! and a few known properties of real certificates are found.

use crate::support::{Entry, Parts, base_params, build};
use base64::Engine as _;
use ctwatch_cert::facts::cert_facts;
use ctwatch_lint::{LintInput, LintOptions, LintStatus, failures, lint, lint_with, registry};
use std::path::{Path, PathBuf};

/// The DER of each `CERTIFICATE` PEM block in `text`.
pub fn pem_certificates(text: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut body: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line == "-----BEGIN CERTIFICATE-----" {
            body = Some(String::new());
        } else if line == "-----END CERTIFICATE-----" {
            if let Some(b64) = body.take() {
                out.push(base64::engine::general_purpose::STANDARD.decode(b64).expect("PEM body is base64"));
            }
        } else if let Some(b) = body.as_mut() {
            b.push_str(line);
        }
    }
    out
}

/// Every file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() { stack.push(path) } else { out.push(path) }
        }
    }
    out.sort();
    out
}

/// The certificates in a file: PEM blocks, or the whole file for `.der`.
fn certificates_in(path: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(path).expect("readable file");
    if path.extension().is_some_and(|e| e == "der") {
        return vec![bytes];
    }
    pem_certificates(&String::from_utf8_lossy(&bytes))
}

/// Lint every certificate in the files; returns (certificates linted, facts failures).
fn lint_all(files: &[PathBuf]) -> (usize, usize) {
    let (mut linted, mut unreadable) = (0, 0);
    for path in files {
        for der in certificates_in(path) {
            let Ok(facts) = cert_facts(&der) else {
                unreadable += 1;
                continue;
            };
            for is_precert in [false, true] {
                let input =
                    LintInput { der: &der, facts: &facts, is_precert, sct_timestamp_ms: Some(1_700_000_000_000) };
                let all = lint(&input);
                assert_eq!(all.len(), registry().len(), "{}", path.display());
                let failed: Vec<_> = all.iter().filter(|r| r.status.is_failure()).map(|r| r.lint.name).collect();
                let fast: Vec<_> = failures(&input).iter().map(|r| r.lint.name).collect();
                assert_eq!(failed, fast, "{}: lint() and failures() disagree", path.display());
            }
            linted += 1;
        }
    }
    (linted, unreadable)
}

#[test]
fn real_world_certificates_lint_without_panics() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world") else { return };
    let (linted, unreadable) = lint_all(&files_under(&dir));
    println!("certs_real_world: {linted} certificates linted, {unreadable} not decodable by cert_facts");
    assert!(linted >= 30, "{linted}");
}

#[test]
fn pkilint_corpus_lints_without_panics() {
    let Some(dir) = ctwatch_testdata::data_dir("cert_lint_oracles/pkilint/integration_certificate") else { return };
    let (linted, unreadable) = lint_all(&files_under(&dir));
    println!("pkilint corpus: {linted} certificates linted, {unreadable} not decodable by cert_facts");
    assert!(linted >= 400, "{linted}");
}

/// Status of one lint on the first certificate of a real file, judged by today's rules.
fn real_status(dir: &Path, file: &str, lint_name: &str) -> LintStatus {
    let der = certificates_in(&dir.join(file)).into_iter().next().expect("a certificate");
    let facts = cert_facts(&der).expect("facts");
    let input = LintInput { der: &der, facts: &facts, is_precert: false, sct_timestamp_ms: None };
    let options = LintOptions { ignore_effective_dates: true };
    lint_with(&input, &options).into_iter().find(|r| r.lint.name == lint_name).expect("registered").status
}

#[test]
fn known_properties_of_real_certificates() {
    let Some(dir) = ctwatch_testdata::data_dir("certs_real_world/google_ct_python_testdata") else { return };
    assert_eq!(real_status(&dir, "v1_cert.pem", "e_invalid_certificate_version"), LintStatus::Error);
    assert_eq!(real_status(&dir, "negative_serial.pem", "e_serial_number_not_positive"), LintStatus::Error);
    assert_eq!(real_status(&dir, "google_cert.pem", "e_serial_number_not_positive"), LintStatus::Pass);
    assert_eq!(real_status(&dir, "google_cert.pem", "e_sub_cert_or_sub_ca_using_sha1"), LintStatus::Error);
    assert_eq!(real_status(&dir, "ecdsa_cert.pem", "e_ec_improper_curves"), LintStatus::Pass);

    // A 2010-2014 certificate is judged by the rules of its time by default.
    let der = certificates_in(&dir.join("google_cert.pem")).remove(0);
    let facts = cert_facts(&der).unwrap();
    let input = LintInput { der: &der, facts: &facts, is_precert: false, sct_timestamp_ms: None };
    let sha1 = lint(&input).into_iter().find(|r| r.lint.name == "e_sub_cert_or_sub_ca_using_sha1").unwrap();
    assert_eq!(sha1.status, LintStatus::NotEffective);

    let Some(pairs) = ctwatch_testdata::data_dir("certs_real_world/boulder_precert_final_pairs") else { return };
    for (file, is_precert) in [("good/precert.pem", true), ("good/final.pem", false)] {
        let der = certificates_in(&pairs.join(file)).remove(0);
        let facts = cert_facts(&der).unwrap();
        let input = LintInput { der: &der, facts: &facts, is_precert, sct_timestamp_ms: None };
        let failed: Vec<_> = failures(&input).iter().map(|r| r.lint.name).collect();
        // A real 2023 Let's Encrypt certificate: compliant but for its 64-bit-plus serial... none.
        assert!(failed.is_empty(), "{file}: {failed:?}");
        let poison =
            lint(&input).into_iter().find(|r| r.lint.name == "e_precert_poison_missing_or_not_critical").unwrap();
        assert_eq!(poison.status, if is_precert { LintStatus::Pass } else { LintStatus::NotApplicable });
    }
}

#[test]
fn truncated_and_corrupted_certificates_never_panic() {
    let der = build(&base_params());
    let entry = Entry::default();
    let check = |bytes: &[u8]| {
        if let Ok(facts) = cert_facts(bytes) {
            let input =
                LintInput { der: bytes, facts: &facts, is_precert: entry.is_precert, sct_timestamp_ms: Some(0) };
            let _ = lint(&input);
            let _ = failures(&input);
        }
    };
    for cut in 0..der.len() {
        check(&der[..cut]);
    }
    let mut copy = der.clone();
    for i in 0..copy.len() {
        for x in [0x00, 0xff, 0x80, 0x01] {
            let old = copy[i];
            copy[i] = x;
            check(&copy);
            copy[i] = old;
        }
    }
    // A certificate with 2,000 extensions: linear, no panic, the duplicate found.
    let mut parts = Parts::of(&der);
    let first = parts.extensions[0].clone();
    parts.extensions.extend(std::iter::repeat_n(first, 2000));
    let big = parts.der();
    let facts = cert_facts(&big).unwrap();
    let input = LintInput { der: &big, facts: &facts, is_precert: false, sct_timestamp_ms: None };
    assert!(failures(&input).iter().any(|r| r.lint.name == "e_ext_duplicate_extension"));
}
